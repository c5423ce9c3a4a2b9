"""What the DAGs share (``newsflow.dag_support``): the time a task works as of, and the ``@dag`` schedule arguments."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsflow.dag_support import EVERY_15_MINUTES, START_DATE, alert_evaluation_every, interval_end, schedule_args

BERLIN = timezone(timedelta(hours=1))
REPO = Path(__file__).resolve().parents[2]


def test_interval_end_is_the_data_interval_end_in_utc() -> None:
    context = {
        "data_interval_start": datetime(2025, 2, 13, 12, 45, tzinfo=BERLIN),
        "data_interval_end": datetime(2025, 2, 13, 13, 0, tzinfo=BERLIN),
        "logical_date": datetime(2025, 2, 13, 9, 0, tzinfo=UTC),
    }
    end = interval_end(context)
    assert end == datetime(2025, 2, 13, 12, 0, tzinfo=UTC) and end.utcoffset() == timedelta(0)
    assert str(end) == "2025-02-13 12:00:00+00:00"  # UTC itself, not the same instant in Berlin time


def test_without_a_data_interval_the_logical_date_is_used() -> None:
    # A manual run in Airflow 3 may have no data interval; its logical date is when it was triggered.
    context = {"data_interval_end": None, "logical_date": datetime(2025, 2, 13, 8, 30, tzinfo=BERLIN)}
    assert str(interval_end(context)) == "2025-02-13 07:30:00+00:00"


def test_a_run_with_neither_works_as_of_now() -> None:
    before = datetime.now(UTC)
    end = interval_end({"data_interval_end": None, "logical_date": None})
    assert before <= end <= datetime.now(UTC) and end.tzinfo is UTC


def test_schedule_args_are_what_the_dags_declared() -> None:
    assert schedule_args(EVERY_15_MINUTES, timeout=timedelta(minutes=30), tag="ingest") == {
        "schedule": timedelta(minutes=15),
        "start_date": datetime(2025, 1, 1, tzinfo=UTC),
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": timedelta(minutes=30),
        "tags": ["newsflow", "ingest"],
        "default_args": {"retries": 2, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True},
    }
    alerts = schedule_args(
        timedelta(minutes=7), timeout=timedelta(minutes=21), tag="alerts", retry_delay=timedelta(seconds=30),
        backoff=False,
    )  # fmt: skip
    assert alerts["default_args"] == {"retries": 2, "retry_delay": timedelta(seconds=30)}  # no backoff key at all
    assert (alerts["schedule"], alerts["dagrun_timeout"], alerts["start_date"]) == (
        timedelta(minutes=7), timedelta(minutes=21), START_DATE
    )  # fmt: skip
    alerts["default_args"]["retries"] = 5  # each DAG gets its own dicts
    assert schedule_args(EVERY_15_MINUTES, timeout=timedelta(minutes=1), tag="x")["default_args"]["retries"] == 2


def test_the_alert_interval_is_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_ALERT_EVALUATE_EVERY_MINUTES", "7")
    assert alert_evaluation_every() == timedelta(minutes=7)


def test_importing_it_is_cheap_for_the_dag_processor() -> None:
    """Parsing a DAG file imports this module: no Airflow, settings, store or model libraries come with it."""
    heavy = ("airflow", "pydantic", "sqlalchemy", "torch", "kafka", "newsflow.settings", "ingest", "clustering")
    code = (
        "import sys; import newsflow.dag_support; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r} or m in {heavy!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
