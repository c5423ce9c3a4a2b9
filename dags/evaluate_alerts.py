"""evaluate_alerts: every few minutes, measure topic growth and fire, repeat or resolve alerts.

Thin on purpose: the work is ``newsflow.alerts.evaluate.evaluate_alerts`` (the same code as
``newsflow alerts evaluate``), imported inside the task so parsing this file stays cheap for the
scheduler. The interval is ``NEWSFLOW_ALERT_EVALUATE_EVERY_MINUTES`` (read when the file is parsed); the
rule's other settings come from the worker's environment (``NEWSFLOW_*``) inside the task.

Idempotence: the evaluation time is the run's data-interval end, and an alert's id is its rule,
topic and firing time, so a retried run finds the alerts it already opened and notifies nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task


def _every() -> timedelta:
    # The settings module is light (pydantic only); the heavy imports stay inside the task.
    from newsflow.settings import load_settings

    return timedelta(minutes=load_settings().alert_evaluate_every_minutes)


def _interval_end(context: dict[str, Any]) -> datetime:
    end = context.get("data_interval_end") or context.get("logical_date")
    return end.astimezone(UTC) if end else datetime.now(UTC)


@dag(
    dag_id="evaluate_alerts",
    schedule=_every(),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # two evaluations at once would both open the same alert
    dagrun_timeout=_every() * 3,
    tags=["newsflow", "alerts"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
)
def evaluate_alerts() -> None:
    @task
    def evaluate(**context: Any) -> dict[str, Any]:
        """Growth per topic -> alert lifecycle -> Kafka / webhook / log; everything stored."""
        from newsflow.alerts.evaluate import evaluate_alerts as run
        from newsflow.settings import load_settings

        return run(load_settings(), now=_interval_end(context)).as_dict()

    evaluate()


evaluate_alerts()
