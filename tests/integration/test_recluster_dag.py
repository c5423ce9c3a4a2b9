"""The ``recluster_topics`` DAG run in-process with ``dag.test()`` over a store filled by the worker's batch step."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import select

from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.processor import BatchProcessor, RawMessage
from newsflow.contracts import TopicEventRecord, decode
from newsflow.kafka import topic_names
from newsflow.settings import Settings
from newsflow.store import lineage_repo, schema
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.integration.test_worker import _read_all
from tests.unit.clustering.stories import story_records

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "recluster_topics.py"


def load_dag_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("recluster_topics_dag_under_test", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dag_shape() -> None:
    dag = load_dag_module().recluster_topics()
    assert dag.dag_id == "recluster_topics" and dag.catchup is False and dag.max_active_runs == 1
    assert set(dag.task_ids) == {"recluster", "publish_events"}
    assert dag.get_task("publish_events").upstream_task_ids == {"recluster"}


def test_dag_reclusters_the_store_and_publishes_lineage(
    kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = kafka_settings
    for key, value in {
        "NEWSFLOW_STATE_DIR": str(settings.state_dir),
        "NEWSFLOW_DATABASE_URL": settings.database_url,
        "NEWSFLOW_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
    }.items():
        monkeypatch.setenv(key, value)
    engine = open_store(settings)
    now = datetime.now(UTC)
    records = story_records(start=now - timedelta(hours=3))
    processor = BatchProcessor(
        settings, engine, CachedEmbedder(Embedder(settings), SqlVectorCache(engine)), lambda: now
    )
    processor.process([RawMessage("a", 0, k, r.id, r.to_bytes()) for k, r in enumerate(records)])

    run = load_dag_module().recluster_topics().test()
    assert run.state == "success"
    with engine.connect() as conn:
        assert lineage_repo.pending(conn) == []
        topic_ids = {r.topic_id for r in conn.execute(select(schema.topic_memberships))}
        recorded = lineage_repo.events_of(conn)
    assert len(topic_ids) == 3
    events = [
        decode(TopicEventRecord, m.value)
        for m in _read_all(settings, topic_names(settings).topic_events, len(recorded))
    ]
    assert sorted((e.topic_id, e.kind) for e in events) == sorted((e.topic_id, e.kind) for e in recorded)
