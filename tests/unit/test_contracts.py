from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsflow.contracts import ArticleRecord, DeadLetterRecord, TopicEventKind, TopicEventRecord, TopicNames, decode
from newsflow.errors import RecordError


def _article(**overrides: object) -> ArticleRecord:
    fields: dict[str, object] = {
        "id": "a1",
        "url": "https://www.welt.de/politik/article1.html",
        "title": "Trump und Putin vereinbaren Verhandlungen",
        "summary": "Erst Putin, dann Selenskyj.",
        "published": datetime(2025, 2, 13, 9, 30, tzinfo=UTC),
        "fetched": datetime(2025, 2, 13, 10, 0, tzinfo=UTC),
        "language": "de",
        "outlet": "welt.de",
        "feed": "welt",
        "content_hash": "abc",
    }
    fields.update(overrides)
    return ArticleRecord(**fields)  # type: ignore[arg-type]


def test_article_round_trips_through_bytes_with_schema_and_version() -> None:
    article = _article()
    payload = article.to_bytes()
    assert b'"schema":"article"' in payload and b'"version":1' in payload
    assert decode(ArticleRecord, payload) == article


def test_timestamps_are_normalised_to_utc_and_naive_ones_refused() -> None:
    cet = timezone(timedelta(hours=1))
    article = _article(published=datetime(2025, 2, 13, 10, 30, tzinfo=cet))
    assert article.published == datetime(2025, 2, 13, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone"):
        _article(published=datetime(2025, 2, 13, 10, 30))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"schema": "alert", "version": 1}', "expected schema 'article'"),
        (b'{"schema": "article", "version": 99}', "unsupported article version 99"),
        (b'{"schema": "article", "version": 1, "id": "x"}', "invalid article: url: Field required"),
    ],
)
def test_decode_names_what_is_wrong(payload: bytes, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        decode(ArticleRecord, payload)


def test_unknown_fields_are_refused_not_dropped() -> None:
    body = _article().to_bytes().replace(b'"id":"a1"', b'"id":"a1","surprise":1')
    with pytest.raises(RecordError, match="surprise"):
        decode(ArticleRecord, body)


def test_text_for_embedding_uses_title_and_lead() -> None:
    assert _article().text_for_embedding == "Trump und Putin vereinbaren Verhandlungen. Erst Putin, dann Selenskyj."
    assert _article(summary="", content="").text_for_embedding == "Trump und Putin vereinbaren Verhandlungen"


def test_topic_names_share_one_prefix() -> None:
    names = TopicNames(prefix="t1.")
    assert names.all() == ["t1.news.articles", "t1.news.deadletter", "t1.news.topic-events", "t1.news.alerts"]
    assert TopicNames().articles == "news.articles"


def test_other_records_round_trip() -> None:
    now = datetime(2025, 2, 13, tzinfo=UTC)
    event = TopicEventRecord(topic_id=3, kind=TopicEventKind.MERGED, related=[7], article_count=12, at=now)
    assert decode(TopicEventRecord, event.to_bytes()) == event
    dead = DeadLetterRecord(
        source_topic="news.articles", payload="{}", error_type="RecordError", reason="x", stage="decode", failed_at=now
    )
    assert decode(DeadLetterRecord, dead.to_bytes()) == dead
