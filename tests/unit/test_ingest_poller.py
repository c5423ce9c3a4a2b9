"""The poll edge without a broker: ordering of publish and record, health, backoff, auto-pause, isolation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kafka.errors import KafkaTimeoutError

from ingest.fetch import Fetcher
from ingest.poll import FeedPoller
from newsflow.contracts import ArticleRecord, decode
from newsflow.errors import BrokerUnavailableError
from newsflow.records.feed import FeedSpec
from newsflow.settings import Settings
from newsflow.store import feed_health_repo, feeds_repo
from newsflow.store.database import open_store
from newsflow.store.schema import ingest_ledger
from tests.fixtures.feeds.builders import Item, rss

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
FEED = FeedSpec("good", "http://feeds.test/good.xml", "Good", language="en", poll_interval_s=900)
BAD = FeedSpec("bad", "http://feeds.test/bad.xml", "Bad", poll_interval_s=900)
DOC = rss([Item(f"Story {i}", f"http://news.test/{i}", published=NOW - timedelta(hours=i)) for i in range(3)])


class _Future:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def get(self, timeout: float | None = None) -> None:
        if self.fail:
            raise KafkaTimeoutError("no ack")


class FakeProducer:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> _Future:
        if not self.fail:
            self.sent.append((topic, key, value))
        return _Future(self.fail)

    def flush(self, timeout: float | None = None) -> None:
        pass

    def records(self) -> list[ArticleRecord]:
        return [decode(ArticleRecord, v) for _, _, v in self.sent]


def handler(routes: dict[str, httpx.Response | Callable[[httpx.Request], httpx.Response]]) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        route = routes[request.url.path]
        return route(request) if callable(route) else route

    return answer


@pytest.fixture
def env(settings: Settings) -> Any:
    settings = settings.model_copy(update={"max_consecutive_failures": 3})
    engine = open_store(settings)
    feeds_repo.register_feeds(engine, [FEED, BAD])
    return settings, engine


def poller(env: Any, producer: FakeProducer, routes: dict[str, Any]) -> FeedPoller:
    settings, engine = env
    fetcher = Fetcher(settings, transport=httpx.MockTransport(handler(routes)), clock=lambda: NOW)
    return FeedPoller(settings, engine, producer, fetcher, clock=lambda: NOW)


def state(env: Any, name: str) -> feed_health_repo.FeedState:
    with env[1].connect() as conn:
        return feed_health_repo.get_state(conn, name)


def ledger_size(env: Any) -> int:
    with env[1].connect() as conn:
        return len(conn.execute(ingest_ledger.select()).all())


def test_nothing_is_recorded_unless_the_broker_acked(env: Any) -> None:
    routes = {"/good.xml": httpx.Response(200, content=DOC.encode(), headers={"ETag": '"v1"'})}
    with pytest.raises(BrokerUnavailableError):
        poller(env, FakeProducer(fail=True), routes).poll(FEED)
    assert ledger_size(env) == 0 and state(env, "good").etag is None  # the next poll fetches everything again
    producer = FakeProducer()
    outcome = poller(env, producer, routes).poll(FEED)
    assert outcome.outcome == "published" and outcome.published == 3
    assert [r.title for r in producer.records()] == ["Story 2", "Story 1", "Story 0"]  # oldest first
    assert {k.decode() for _, k, _ in producer.sent} == {r.id for r in producer.records()}  # keyed by id
    assert ledger_size(env) == 3 and state(env, "good").etag == '"v1"'


def test_success_schedules_the_next_poll_and_counts(env: Any) -> None:
    routes = {"/good.xml": httpx.Response(200, content=DOC.encode())}
    outcome = poller(env, FakeProducer(), routes).poll(FEED)
    assert outcome.next_poll_at == NOW + timedelta(seconds=1800)  # items 1 h apart: poll every 30 min
    routes = {"/good.xml": httpx.Response(200, content=DOC.encode(), headers={"Cache-Control": "max-age=2700"})}
    outcome = poller(env, FakeProducer(), routes).poll(FEED)
    assert outcome.next_poll_at == NOW + timedelta(seconds=2700)  # the server's max-age is honoured
    s = state(env, "good")
    assert (s.polls, s.articles_published, s.consecutive_failures, s.last_success_at) == (2, 3, 0, NOW)


def test_failure_is_named_backs_off_and_pauses_after_n(env: Any) -> None:
    routes = {"/bad.xml": httpx.Response(500)}
    delays = []
    for _ in range(3):
        outcome = poller(env, FakeProducer(), routes).poll(BAD)
        assert (
            outcome.outcome == "failed" and outcome.error == "HttpStatusError: HTTP 500 from http://feeds.test/bad.xml"
        )
        assert outcome.next_poll_at is not None
        delays.append((outcome.next_poll_at - NOW).total_seconds())
    assert delays == [900, 1800, 3600]
    s = state(env, "bad")
    assert s.consecutive_failures == 3 and s.last_error == outcome.error
    assert not feeds_repo.get_feed(env[1], "bad").enabled  # paused after max_consecutive_failures
    feeds_repo.set_enabled(env[1], "bad", True)
    assert state(env, "bad").consecutive_failures == 0


def test_retry_after_sets_the_next_poll(env: Any) -> None:
    routes = {"/bad.xml": httpx.Response(429, headers={"Retry-After": "7200"})}
    outcome = poller(env, FakeProducer(), routes).poll(BAD)
    assert outcome.error is not None and outcome.error.startswith("RateLimited: HTTP 429")
    assert outcome.next_poll_at == NOW + timedelta(seconds=7200)


def test_a_success_after_failures_resets_the_streak(env: Any) -> None:
    poller(env, FakeProducer(), {"/good.xml": httpx.Response(503)}).poll(FEED)
    assert state(env, "good").consecutive_failures == 1
    poller(env, FakeProducer(), {"/good.xml": httpx.Response(200, content=DOC.encode())}).poll(FEED)
    s = state(env, "good")
    assert s.consecutive_failures == 0 and s.last_error is not None  # kept for operators, streak over


def test_unexpected_parser_crash_is_contained(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise ValueError("parser bug")

    monkeypatch.setattr("ingest.poll.parse_feed", boom)
    outcome = poller(env, FakeProducer(), {"/good.xml": httpx.Response(200, content=DOC.encode())}).poll(FEED)
    assert outcome.error == "FeedParseError: unexpected ValueError: parser bug"


def test_skip_if_already_polled_in_this_interval(env: Any) -> None:
    routes = {"/good.xml": httpx.Response(200, content=DOC.encode())}
    poller(env, FakeProducer(), routes).poll(FEED)
    producer = FakeProducer()
    outcome = poller(env, producer, routes).poll(FEED, skip_if_polled_since=NOW - timedelta(minutes=15))
    assert outcome.outcome == "skipped" and producer.sent == []
