"""What newsflow's DAGs (``dags/``) share: their schedule arguments and the end of a run's data interval.

The DAG files import this when Airflow parses them, so it stays cheap: the standard library only at
import (the alert interval's settings are imported when that DAG asks for it; no Airflow, no torch).
It lives in the newsflow package rather than in ``dags/``: newsflow is installed wherever the DAGs
run (the image, a local or an existing Airflow), the DAG processor never takes it for a DAG file, and
the tests that load a DAG file by its path import it exactly as Airflow does.

Idempotence: every task works as of :func:`interval_end`, so a retried or cleared run sees the same
time as the first try.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
EVERY_15_MINUTES = timedelta(minutes=15)
RETRIES = 2
RETRY_DELAY = timedelta(minutes=1)


def alert_evaluation_every() -> timedelta:
    """How often ``evaluate_alerts`` runs: ``NEWSFLOW_ALERT_EVALUATE_EVERY_MINUTES``, read when the DAG is parsed."""
    # The settings module is light (pydantic only); the heavy imports stay inside the task.
    from newsflow.settings import load_settings

    return timedelta(minutes=load_settings().alert_evaluate_every_minutes)


def schedule_args(
    every: timedelta, *, timeout: timedelta, tag: str, retry_delay: timedelta = RETRY_DELAY, backoff: bool = True
) -> dict[str, Any]:
    """The ``@dag`` arguments of a newsflow DAG that runs every ``every`` (its id and docs are the DAG's own).

    Runs start at :data:`START_DATE` without catching up, one at a time (two at once would race for
    the same feeds, topic ids or alerts), each within ``timeout``. A failed task is retried
    :data:`RETRIES` times after ``retry_delay``, growing exponentially with ``backoff``. The tags are
    ``newsflow`` and ``tag``.
    """
    default_args: dict[str, Any] = {"retries": RETRIES, "retry_delay": retry_delay}
    if backoff:
        default_args["retry_exponential_backoff"] = True
    return {
        "schedule": every,
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": timeout,
        "tags": ["newsflow", tag],
        "default_args": default_args,
    }


def interval_end(context: Mapping[str, Any]) -> datetime:
    """The end of the run's data interval in UTC (else its logical date; now for a run that has neither)."""
    end = context.get("data_interval_end") or context.get("logical_date")
    return end.astimezone(UTC) if end else datetime.now(UTC)
