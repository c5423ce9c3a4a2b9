"""The acknowledged producer without a broker: nothing counts as published until every send is acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kafka.errors import KafkaTimeoutError

from newsflow.contracts import ArticleRecord
from newsflow.errors import BrokerUnavailableError
from newsflow.kafka import publish
from tests.unit.kafka.fakes import FakeProducer

AT = datetime(2025, 2, 13, 9, 30, tzinfo=UTC)


def _article(n: int) -> tuple[str, ArticleRecord]:
    article = ArticleRecord(
        id=f"a{n}", url=f"https://example.org/{n}", title=f"Article {n}", published=AT, fetched=AT,
        outlet="example.org", feed="example", content_hash=f"h{n}",
    )  # fmt: skip
    return article.id, article


def test_publish_sends_keyed_records_flushes_once_and_counts_them() -> None:
    producer = FakeProducer()
    assert publish(producer, "news.articles", [_article(1), _article(2)], timeout_s=1) == 2
    assert [(t, k) for t, k, _ in producer.sent] == [("news.articles", b"a1"), ("news.articles", b"a2")]
    assert producer.flushed == 1


def test_an_unacknowledged_send_is_the_broker_being_unavailable() -> None:
    producer = FakeProducer(refuse=KafkaTimeoutError("no ack"))
    with pytest.raises(BrokerUnavailableError) as caught:
        publish(producer, "news.articles", [_article(1)], timeout_s=1)
    assert str(caught.value) == "publishing to news.articles failed: KafkaTimeoutError: KafkaTimeoutError: no ack"
