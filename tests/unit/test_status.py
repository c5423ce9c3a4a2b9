"""``newsflow status`` on a SQLite store with the broker faked: each section, and how each degrades."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsflow import pipeline_status
from newsflow.cli.status_cmd import render_status
from newsflow.consumer_lag import ConsumerLagCollector
from newsflow.errors import BrokerUnavailableError
from newsflow.kafka import ConsumerLag, PartitionLag
from newsflow.records.feed import FeedSpec
from newsflow.settings import Settings
from newsflow.store import feed_health_repo, feeds_repo, schema
from newsflow.store.database import open_store
from newsflow.store.feed_health_repo import FeedState
from newsflow.store.topics_repo import record_job_run

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
DLQ_LAG = ConsumerLag("clustering-dlq-replay", "news.deadletter", [PartitionLag(0, 1, 4, 0)])
EXPLICIT = "set by NEWSFLOW_STATE_DIR (environment or .env)"
LAG = ConsumerLag("clustering", "news.articles", [PartitionLag(0, 10, 25, 0), PartitionLag(1, None, 7, 2)])


def _fill_store(settings: Settings) -> None:
    engine = open_store(settings)
    feeds_repo.register_feeds(engine, [FeedSpec(n, f"https://{n}.test/rss", n) for n in ("ok", "flaky", "dead")])
    with engine.begin() as conn:
        feed_health_repo.record_success(
            conn, "ok", FeedState(), at=NOW - timedelta(minutes=5), etag=None, last_modified=None,
            not_modified=False, published=3, next_poll_at=NOW, outcome="published",
        )  # fmt: skip
        feed_health_repo.record_success(
            conn, "flaky", FeedState(), at=NOW - timedelta(hours=2), etag=None, last_modified=None,
            not_modified=False, published=1, next_poll_at=NOW, outcome="published",
        )  # fmt: skip
        flaky = feed_health_repo.get_state(conn, "flaky")
        feed_health_repo.record_failure(conn, "flaky", flaky, at=NOW, error="FetchTimeout: read", next_poll_at=NOW)
        feeds_repo.pause_feed(conn, "dead")
        record_job_run(conn, "recluster", NOW - timedelta(minutes=10), {"topics": 4})
        for k, status in enumerate(["firing", "firing", "resolved"]):
            conn.execute(
                schema.alerts.insert().values(
                    id=f"a{k}",
                    fingerprint=f"growth:{k}",
                    topic_id=k,
                    rule="topic_growth",
                    status=status,
                    summary=f"topic {k} grows",
                    fired_at=NOW - timedelta(minutes=k),
                    details={},
                )
            )
    engine.dispose()


def test_every_section_from_the_store_and_the_broker(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill_store(settings)
    monkeypatch.setattr(pipeline_status, "consumer_lag", lambda s, group=None, topic=None: DLQ_LAG if group else LAG)
    monkeypatch.setattr(pipeline_status, "count_dead_letters", lambda s: 4)
    status = pipeline_status.collect_status(settings)
    assert status.store_ok and [s.name for s in status.sections] == list(pipeline_status.SECTIONS)
    data = status.as_dict()
    assert data["consumer_lag"]["total"] == 15 + 5  # p1 never committed: counted from its first offset
    failing = data["feeds_failing"]
    assert (failing["count"], failing["paused"], failing["feeds_total"]) == (1, 1, 3)  # paused is not failing
    assert {f["feed"]: f["consecutive_failures"] for f in failing["feeds"]} == {"flaky": 1, "dead": 0}
    assert data["last_ingest"]["last_success_at"] == (NOW - timedelta(minutes=5)).isoformat()
    assert data["last_recluster"]["last_run_at"] == (NOW - timedelta(minutes=10)).isoformat()
    assert data["alerts_firing"]["count"] == 2 and [a["id"] for a in data["alerts_firing"]["top"]] == ["a0", "a1"]
    assert data["dead_letters"] == {"count": 4, "not_replayed": 3}
    assert data["store"] == {"url": settings.database_url, "origin": f"state dir: {EXPLICIT}"}
    text = render_status(status)
    assert text.splitlines()[0] == f"store: {settings.database_url} (state dir: {EXPLICIT})"
    assert "feeds failing: 1 of 3; paused: 1" in text
    assert "consumer lag: 20 (clustering on news.articles: p0=15, p1=5)" in text
    assert "flaky: 1 failures; FetchTimeout: read" in text and "dead: paused" in text
    assert "alerts firing: 2" in text and "dead letters: 4 (3 not replayed;" in text


def _fill_many_feeds(settings: Settings, failing: int, paused: int, healthy: int, firing: int) -> None:
    """``failing`` feeds with a failure streak, ``paused`` ones (half of them after failures), ``firing`` alerts."""
    engine = open_store(settings)
    names = [f"feed-{k:02d}" for k in range(failing + paused + healthy)]
    feeds_repo.register_feeds(engine, [FeedSpec(n, f"https://{n}.test/rss", n) for n in names])
    with engine.begin() as conn:
        for k, name in enumerate(names[: failing + paused]):
            if k < failing or k % 2:
                state = feed_health_repo.get_state(conn, name)
                feed_health_repo.record_failure(conn, name, state, at=NOW, error="FetchTimeout: read", next_poll_at=NOW)
            if k >= failing:
                feeds_repo.pause_feed(conn, name)
        for k in range(firing):
            conn.execute(schema.alerts.insert().values(
                id=f"a{k}", fingerprint=f"growth:{k}", topic_id=k, rule="topic_growth", status="firing",
                summary=f"topic {k} grows", fired_at=NOW - timedelta(minutes=k), details={},
            ))  # fmt: skip
    engine.dispose()


def test_paused_and_failing_feeds_are_counted_apart_and_cut_lists_say_how_many_more(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 18 item 4: 10 failing and 16 paused of 29 read "feeds failing: 26 of 29 (16 paused)" and the list
    # stopped at 10 lines without a word
    _fill_many_feeds(settings, failing=10, paused=16, healthy=3, firing=7)
    monkeypatch.setattr(pipeline_status, "consumer_lag", lambda s, group=None, topic=None: DLQ_LAG if group else LAG)
    monkeypatch.setattr(pipeline_status, "count_dead_letters", lambda s: 0)
    status = pipeline_status.collect_status(settings)
    failing = status.as_dict()["feeds_failing"]
    assert (failing["count"], failing["paused"], failing["feeds_total"], len(failing["feeds"])) == (10, 16, 29, 26)
    assert [f["paused"] for f in failing["feeds"]] == [False] * 10 + [True] * 16  # failing first
    lines = render_status(status).splitlines()
    start = lines.index("feeds failing: 10 of 29; paused: 16")
    assert all(": 1 failures; FetchTimeout: read" in line for line in lines[start + 1 : start + 11])
    assert lines[start + 11] == "  … and 16 more (`newsflow feeds health`)"
    alerts = lines.index("alerts firing: 7")
    assert lines[alerts + 6] == "  … and 2 more (`newsflow alerts list`)"


def test_a_whole_list_has_no_more_line(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill_many_feeds(settings, failing=3, paused=2, healthy=1, firing=5)
    monkeypatch.setattr(pipeline_status, "consumer_lag", lambda s, group=None, topic=None: DLQ_LAG if group else LAG)
    monkeypatch.setattr(pipeline_status, "count_dead_letters", lambda s: 0)
    text = render_status(pipeline_status.collect_status(settings))
    assert "feeds failing: 3 of 6; paused: 2" in text and "more (" not in text
    assert "feed-03: paused after 1 failures; FetchTimeout: read" in text and "feed-04: paused; -" in text


def test_broker_down_is_one_named_line_per_section_and_the_store_still_answers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill_store(settings)

    def down(_settings: Settings, **_kw: object) -> object:
        raise BrokerUnavailableError("Kafka broker at 127.0.0.1:1 unreachable: KafkaTimeoutError")

    monkeypatch.setattr(pipeline_status, "consumer_lag", down)
    monkeypatch.setattr(pipeline_status, "count_dead_letters", down)
    status = pipeline_status.collect_status(settings)
    assert status.store_ok
    lines = render_status(status).splitlines()
    assert "consumer lag: BrokerUnavailableError: Kafka broker at 127.0.0.1:1 unreachable: KafkaTimeoutError" in lines
    assert any(line.startswith("dead letters: BrokerUnavailableError") for line in lines)
    assert status.section("alerts_firing").value == status.as_dict()["alerts_firing"]  # still read


def test_store_unreachable_fails_the_status_but_still_reports_the_broker(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_status, "consumer_lag", lambda s, group=None, topic=None: LAG)
    monkeypatch.setattr(pipeline_status, "count_dead_letters", lambda s: 0)
    unreachable = settings.model_copy(update={"database_url": "postgresql+psycopg://newsflow@127.0.0.1:1/newsflow"})
    status = pipeline_status.collect_status(unreachable)
    assert not status.store_ok and status.section("consumer_lag").value == LAG.as_dict()
    for name in pipeline_status.STORE_SECTIONS:
        assert (status.section(name).error or "").startswith("StoreUnavailableError: cannot reach the store")


def test_cli_exits_1_only_when_the_store_is_unreachable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NEWSFLOW_STATE_DIR": str(tmp_path),
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # nothing listens: broker sections degrade
        "NEWSFLOW_KAFKA_BOOTSTRAP_TIMEOUT_MS": "300",
        "NEWSFLOW_KAFKA_REQUEST_TIMEOUT_MS": "300",
    }

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "newsflow.cli", "status"]
        return subprocess.run(cmd, env={**env, **extra}, capture_output=True, text=True, timeout=120)

    missing = run()  # no store yet: status reports it and creates nothing (issue 18 item 1)
    assert missing.returncode == 1 and not tmp_path.joinpath("newsflow.db").exists()
    db = tmp_path / "newsflow.db"
    assert missing.stdout.splitlines()[0].startswith(f"store: StoreNotFoundError: {db} does not exist")
    assert "feeds failing: StoreNotFoundError (see store)" in missing.stdout
    open_store(Settings(state_dir=tmp_path)).dispose()
    ok = run()  # an empty SQLite store: reachable, so exit 0 even with the broker down
    assert ok.returncode == 0, ok.stderr[-1000:]
    assert ok.stdout.splitlines()[0] == f"store: sqlite:///{db} (state dir: {EXPLICIT})"
    assert "consumer lag: BrokerUnavailableError" in ok.stdout
    bad = run(NEWSFLOW_DATABASE_URL="postgresql+psycopg://newsflow@127.0.0.1:1/newsflow")
    assert bad.returncode == 1 and "feeds failing: StoreUnavailableError" in bad.stdout


def test_lag_is_exported_as_a_prometheus_gauge_per_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from newsflow import consumer_lag

    monkeypatch.setattr(consumer_lag, "consumer_lag", lambda s: LAG)
    registry = CollectorRegistry()
    registry.register(ConsumerLagCollector(Settings()))
    text = generate_latest(registry).decode()
    assert 'newsflow_consumer_lag{group="clustering",partition="0",topic="news.articles"} 15.0' in text
    assert 'newsflow_consumer_lag{group="clustering",partition="1",topic="news.articles"} 5.0' in text
    assert 'newsflow_dependency_up{dependency="kafka"} 1.0' in text


def test_a_broker_outage_is_a_gauge_a_scrape_sees(monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from newsflow import consumer_lag

    def down(_settings: Settings) -> None:
        raise BrokerUnavailableError("Kafka broker at 127.0.0.1:1 unreachable: NoBrokersAvailable")

    monkeypatch.setattr(consumer_lag, "consumer_lag", down)
    registry = CollectorRegistry()
    registry.register(ConsumerLagCollector(Settings()))
    text = generate_latest(registry).decode()
    assert 'newsflow_dependency_up{dependency="kafka"} 0.0' in text
    assert "newsflow_consumer_lag{" not in text  # no stale lag samples
