"""``python -m newsflow.infra.dag_check``: parse dags/ with Airflow's DagBag and print the result.

Runs in its own process with the Airflow environment already set (``AIRFLOW_HOME`` must be in
place before ``airflow`` is first imported). The last stdout line is JSON:
``{"dags": [...], "import_errors": {file: error}}``; Airflow may log anything before it.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.1 kept it in airflow.models
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    errors = {str(path): str(error).strip() for path, error in bag.import_errors.items()}
    sys.stdout.write("\n" + json.dumps({"dags": sorted(bag.dag_ids), "import_errors": errors}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
