"""evaluate_alerts: every few minutes, measure topic growth and fire, repeat or resolve alerts.

Thin on purpose: the work is ``newsflow.alerts.evaluate.evaluate_alerts`` (the same code as
``newsflow alerts evaluate``), imported inside the task so parsing this file stays cheap for the
scheduler. The interval is ``NEWSFLOW_ALERT_EVALUATE_EVERY_MINUTES`` (read when the file is parsed); the
rule's other settings come from the worker's environment (``NEWSFLOW_*``) inside the task.

Idempotence: the evaluation time is the run's data-interval end, and an alert's id is its rule,
topic and firing time, so a retried run finds the alerts it already opened and notifies nothing twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from newsflow.dag_support import alert_evaluation_every, interval_end, schedule_args

EVERY = alert_evaluation_every()


@dag(
    dag_id="evaluate_alerts",
    # One run at a time (schedule_args): two evaluations at once would both open the same alert.
    **schedule_args(EVERY, timeout=EVERY * 3, tag="alerts", retry_delay=timedelta(seconds=30), backoff=False),
    doc_md=__doc__,
)
def evaluate_alerts() -> None:
    @task
    def evaluate(**context: Any) -> dict[str, Any]:
        """Growth per topic -> alert lifecycle -> Kafka / webhook / log; everything stored."""
        from newsflow.alerts.evaluate import evaluate_alerts as run
        from newsflow.settings import load_settings

        return run(load_settings(), now=interval_end(context)).as_dict()

    evaluate()


evaluate_alerts()
