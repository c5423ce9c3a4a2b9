"""``recluster_now`` on PostgreSQL with the real broker: stable ids, lineage in the store and on topic-events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from clustering.jobs import recluster_now
from clustering.worker import run_worker
from newsflow.contracts import TopicEventRecord, decode
from newsflow.kafka import make_producer, publish, topic_names
from newsflow.settings import Settings
from newsflow.store import lineage_repo, schema
from newsflow.store.database import open_store
from tests.integration.test_worker import NOW, _read_all, _snapshot
from tests.unit.clustering.stories import STORIES, record, story_records

pytestmark = pytest.mark.integration


def test_recluster_in_postgres_keeps_ids_publishes_lineage_and_fades(
    kafka_settings: Settings, postgres_settings: Settings
) -> None:
    settings = postgres_settings
    names = topic_names(settings)
    producer = make_producer(settings)
    publish(producer, names.articles, [(r.id, r) for r in story_records()], timeout_s=30)
    run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: NOW)
    engine = open_store(settings)
    with engine.connect() as conn:
        online = {r.article_id: r.topic_id for r in conn.execute(select(schema.topic_memberships))}

    report = recluster_now(settings, NOW)
    assert report.clusters == 3 and report.events_pending == 0 and report.new_topics == []
    with engine.connect() as conn:
        after = {r.article_id: r.topic_id for r in conn.execute(select(schema.topic_memberships))}
        topics = {r.id: r for r in conn.execute(select(schema.topics))}
        recorded = lineage_repo.events_of(conn)
    assert all(after[a] == t for a, t in online.items())  # online ids survive the re-clustering
    assert {len({after[f"{s}-{k}"] for k in range(len(v))}) for s, v in STORIES.items()} == {1}
    assert all(t.label and t.keywords and t.representative_title for t in topics.values())
    on_kafka = [decode(TopicEventRecord, m.value) for m in _read_all(settings, names.topic_events, len(recorded))]
    assert sorted((e.topic_id, e.kind.value) for e in on_kafka) == sorted((e.topic_id, e.kind.value) for e in recorded)

    before = _snapshot(engine)
    again = recluster_now(settings, NOW)  # the same interval once more (a retried DAG run)
    assert again.changed_memberships == 0 and again.events == {}
    assert _snapshot(engine) == before

    late = record("flappy-late", "Flappy Bird creator says the game returns in August", NOW + timedelta(hours=60))
    publish(producer, names.articles, [(late.id, late)], timeout_s=30)
    producer.close()
    faded = recluster_now(settings, NOW + timedelta(hours=52))
    assert faded.events == {"faded": 3}
    # Topic memory: the worker joins the late article to its faded story online and revives it.
    run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: NOW + timedelta(hours=60))
    recluster_now(settings, NOW + timedelta(hours=61))  # keeps it there, with no second event
    with engine.connect() as conn:
        kinds = {(e.topic_id, e.kind.value) for e in lineage_repo.events_of(conn) if e.at >= late.published}
        flappy = conn.execute(
            select(schema.topic_memberships.c.topic_id).where(schema.topic_memberships.c.article_id == "flappy-late")
        ).scalar_one()
    assert kinds == {(after["flappy-0"], "revived")} and flappy == after["flappy-0"]
