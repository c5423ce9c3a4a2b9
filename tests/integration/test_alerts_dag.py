"""The ``evaluate_alerts`` DAG run in-process with ``dag.test()`` over a store with one bursting topic."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from newsflow.alerts.evaluate import EVALUATE_JOB
from newsflow.contracts import AlertRecord, decode
from newsflow.kafka import topic_names
from newsflow.settings import Settings
from newsflow.store import alerts_repo, topics_repo
from newsflow.store.database import open_store
from tests.integration.test_worker import _read_all
from tests.unit.alerts.seed import add_topic, every

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "evaluate_alerts.py"


def load_dag_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("evaluate_alerts_dag_under_test", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dag_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_ALERT_EVALUATE_EVERY_MINUTES", "7")
    dag = load_dag_module().evaluate_alerts()
    assert dag.dag_id == "evaluate_alerts" and dag.catchup is False and dag.max_active_runs == 1
    assert set(dag.task_ids) == {"evaluate"}
    assert dag.schedule == timedelta(minutes=7)  # the interval is the setting, not a literal


def test_dag_fires_the_bursting_topic_and_publishes_it(
    kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = kafka_settings
    for key, value in {
        "NEWSFLOW_STATE_DIR": str(settings.state_dir),
        "NEWSFLOW_DATABASE_URL": settings.database_url,
        "NEWSFLOW_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NEWSFLOW_ALERT_WEBHOOK_URL", raising=False)
    engine = open_store(settings)
    now = datetime.now(UTC)
    add_topic(engine, 1, "Steady council story", every(now - timedelta(hours=12), now, timedelta(hours=1)))
    add_topic(engine, 2, "Storm hits the coast", every(now - timedelta(minutes=30), now - timedelta(minutes=2),
                                                       timedelta(minutes=4)))  # fmt: skip

    run = load_dag_module().evaluate_alerts().test()
    assert run.state == "success"
    with engine.connect() as conn:
        (alert,) = alerts_repo.firing_alerts(conn)
        job = topics_repo.last_job_run(conn, EVALUATE_JOB)
    assert alert.topic_id == 2 and alert.notify_count == 1
    assert job is not None and job[1]["fired"] == 1
    (message,) = _read_all(settings, topic_names(settings).alerts, 1)
    record = decode(AlertRecord, message.value)
    assert message.key == alert.fingerprint.encode() and record.alert_id == alert.id
    assert record.event == "firing" and record.label == "Storm hits the coast"
