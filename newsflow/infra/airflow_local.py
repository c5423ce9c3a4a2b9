"""Airflow 3 with its home inside the project's state directory (SQLite metadata DB, our dags/)."""

from __future__ import annotations

from pathlib import Path

from newsflow.settings import Settings

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


def airflow_environment(settings: Settings) -> dict[str, str]:
    """Environment variables that point Airflow at the project-owned home and the repo's dags/."""
    home = settings.resolved_airflow_home
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
