"""The Kafka edge against the real broker: topics, the readiness probe, acknowledged produce, group consume,
commit and resume."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from newsflow.contracts import ArticleRecord, decode
from newsflow.errors import BrokerUnavailableError
from newsflow.kafka import (
    ConsumerOptions,
    commit,
    ensure_topics,
    list_topics,
    make_consumer,
    make_producer,
    poll,
    publish,
    topic_names,
)
from newsflow.settings import Settings

pytestmark = pytest.mark.integration


def _articles(first: int, count: int) -> list[tuple[str, ArticleRecord]]:
    at = datetime(2025, 2, 13, 9, 30, tzinfo=UTC)
    records = []
    for n in range(first, first + count):
        article = ArticleRecord(
            id=f"a{n}", url=f"https://example.org/{n}", title=f"Article {n}", published=at, fetched=at,
            outlet="example.org", feed="example", content_hash=f"h{n}",
        )  # fmt: skip
        records.append((article.id, article))
    return records


def _drain(consumer: KafkaConsumer, want: int, timeout_s: float = 30.0) -> list[ConsumerRecord]:
    """Poll until ``want`` records arrived or the deadline passed (the group join takes a moment)."""
    got: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            got.extend(batch)
    return got


def _ids(records: list[ConsumerRecord]) -> list[str]:
    return [decode(ArticleRecord, r.value).id for r in records]


def test_topics_are_created_idempotently(kafka_settings: Settings) -> None:
    ensure_topics(kafka_settings)  # the fixture already created them: a second call changes nothing
    admin = KafkaAdminClient(bootstrap_servers=kafka_settings.kafka_bootstrap_servers)
    try:
        existing = set(admin.list_topics())
    finally:
        admin.close()
    assert set(topic_names(kafka_settings).all()) <= existing
    assert set(topic_names(kafka_settings).all()) <= set(list_topics(kafka_settings) or [])  # the readiness probe


def test_group_consumer_resumes_after_committed_offset(kafka_settings: Settings) -> None:
    topic = topic_names(kafka_settings).articles
    options = ConsumerOptions(group_id=f"{kafka_settings.kafka_topic_prefix}group", topics=(topic,))
    producer = make_producer(kafka_settings)
    try:
        assert publish(producer, topic, _articles(0, 5), timeout_s=15) == 5  # acks=all: on the broker now

        first = make_consumer(kafka_settings, options)
        try:
            got = _drain(first, 5)
            assert _ids(got) == [f"a{n}" for n in range(5)]
            assert [r.key for r in got] == [f"a{n}".encode() for n in range(5)]
            commit(first)
        finally:
            first.close()

        assert publish(producer, topic, _articles(5, 3), timeout_s=15) == 3
    finally:
        producer.close()

    second = make_consumer(kafka_settings, options)
    try:
        got = _drain(second, 3)
        assert _ids(got) == ["a5", "a6", "a7"]  # nothing before the committed offset comes again
        partition = TopicPartition(topic, 0)
        assert second.committed(partition) == 5
        commit(second)
        assert second.committed(partition) == 8
        assert poll(second, timeout_ms=1500, max_records=10, what=topic) == []
    finally:
        second.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_broker_is_a_named_error_within_bounded_time(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={
            "kafka_bootstrap_servers": f"127.0.0.1:{_closed_port()}",
            "kafka_request_timeout_ms": 2000,
            "kafka_bootstrap_timeout_ms": 2000,
        }
    )
    assert list_topics(unreachable, timeout_ms=2000) is None  # the probe answers "not yet", it does not raise
    for attempt in (lambda: ensure_topics(unreachable), lambda: make_producer(unreachable)):
        started = time.monotonic()
        with pytest.raises(BrokerUnavailableError, match="unreachable"):
            attempt()
        assert time.monotonic() - started < 15
