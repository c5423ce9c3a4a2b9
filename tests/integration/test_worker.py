"""The clustering worker against the real broker and PostgreSQL: topics form, replays change nothing,
poison messages land on the dead-letter topic with their reason, lineage events reach topic-events."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer
from sqlalchemy import Engine, select

from clustering.worker import run_worker
from newsflow.contracts import DeadLetterRecord, TopicEventRecord, decode
from newsflow.kafka import make_producer, publish, topic_names
from newsflow.settings import Settings
from newsflow.store import schema
from newsflow.store.database import open_store
from tests.unit.clustering.stories import STORIES, T0, record, story_records

pytestmark = pytest.mark.integration
NOW = T0 + timedelta(hours=3)
POISON = [b"{definitely not json", record("blank", " -- ").to_bytes()]


def _read_all(settings: Settings, topic: str, want: int, timeout_s: float = 20.0) -> list[Any]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < want and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                got.extend(batch)
    finally:
        consumer.close()
    return got


def _produce(settings: Settings) -> None:
    names = topic_names(settings)
    producer = make_producer(settings)
    try:
        publish(producer, names.articles, [(r.id, r) for r in story_records()], timeout_s=30)
        raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
        for k, payload in enumerate(POISON):
            raw.send(names.articles, key=f"poison-{k}".encode(), value=payload)
        raw.flush(timeout=30)
        raw.close()
    finally:
        producer.close()


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = (schema.articles, schema.topics, schema.topic_memberships, schema.lineage_events, schema.embeddings)
    with engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t))), key=repr) for t in tables}


def test_worker_forms_topics_in_postgres_and_a_replay_changes_nothing(
    kafka_settings: Settings, postgres_settings: Settings
) -> None:
    settings = postgres_settings.model_copy(update={"worker_batch_size": 8})
    _produce(settings)
    report = run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: NOW)
    assert (report.consumed, report.stored, report.dead_lettered) == (17, 15, 2)
    assert report.batches >= 2 and report.topics_created >= 3
    assert 0 < report.first_message_at <= report.last_batch_at <= time.time()  # the busy span, for benchmarks

    engine = open_store(settings)
    with engine.connect() as conn:
        members = {r.article_id: r.topic_id for r in conn.execute(select(schema.topic_memberships))}
        topic_ids = [r.id for r in conn.execute(select(schema.topics.c.id))]
        unpublished = conn.execute(select(schema.lineage_events).where(schema.lineage_events.c.published_at.is_(None)))
        assert list(unpublished) == []
    story_topics = {s: {t for a, t in members.items() if a.startswith(s)} for s in STORIES}
    assert all(len(t) == 1 for t in story_topics.values()) and len(set.union(*story_topics.values())) == 3

    names = topic_names(settings)
    dead = [decode(DeadLetterRecord, m.value) for m in _read_all(settings, names.deadletter, 2)]
    assert sorted(d.stage for d in dead) == ["decode", "validate"]
    assert {d.payload for d in dead if d.stage == "decode"} == {POISON[0].decode()}
    assert all(d.source_topic == names.articles and d.offset is not None and d.reason for d in dead)
    events = [decode(TopicEventRecord, m.value) for m in _read_all(settings, names.topic_events, len(topic_ids))]
    assert sorted(e.topic_id for e in events if e.kind == "born") == sorted(topic_ids)

    before = _snapshot(engine)
    # Same group again: offsets were committed after the store write, so there is nothing to read.
    again = run_worker(settings, until_idle=True, idle_timeout_s=2.0, clock=lambda: NOW + timedelta(hours=1))
    assert again.consumed == 0
    # A new group starts from the earliest offset: every message is delivered a second time.
    replay = run_worker(
        settings.model_copy(update={"kafka_consumer_group": "clustering-replay"}),
        until_idle=True, idle_timeout_s=3.0, clock=lambda: NOW + timedelta(hours=1),
    )  # fmt: skip
    assert (replay.consumed, replay.skipped, replay.stored, replay.topics_created) == (17, 15, 0, 0)
    assert _snapshot(engine) == before


def test_sigterm_finishes_the_batch_commits_and_exits(kafka_settings: Settings) -> None:
    import os
    import signal
    import threading

    from newsflow.store.articles_repo import count_articles

    settings = kafka_settings.model_copy(update={"worker_batch_size": 4})
    _produce(settings)
    engine = open_store(settings)

    def stop_when_stored() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if count_articles(conn) > 0:
                    break
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_when_stored, daemon=True).start()
    report = run_worker(settings, clock=lambda: NOW)  # no until_idle: only the signal stops it
    assert report.stopped_by == "signal" and report.stored >= 1
    with engine.connect() as conn:
        assert count_articles(conn) == report.stored  # every consumed batch was stored before exit
    rest = run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: NOW)
    assert report.consumed + rest.consumed == 17  # committed offsets: nothing read twice, nothing lost
    assert rest.skipped == 0
