"""Ingestion under faults: the broker stopped while the ingest DAG publishes; a poll SIGKILLed mid-way.

Three feeds on 127.0.0.1 (one host lane, polled one after the other) with 10 known headlines each;
the second and third answer slowly, which leaves time to break things while the run is under way.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from clustering.worker import run_worker
from ingest.dedupe import article_id
from ingest.urls import canonical_url
from newsflow.records.feed import FeedSpec
from newsflow.settings import Settings
from newsflow.store import feed_health_repo, feeds_repo
from newsflow.store.database import open_store
from tests.faults.support import UCI, Expected, Services, assert_recovered, start_newsflow, wait_for
from tests.fixtures.feeds.builders import Item, rss
from tests.fixtures.feeds.kafka_read import read_articles
from tests.fixtures.feeds.server import Reply, Request, ScriptedServer

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "ingest_feeds.py"
FEEDS, PER_FEED = ("f0", "f1", "f2"), 10
SLOW_S = {"f0": 0.0, "f1": 3.0, "f2": 3.0}
T0 = datetime(2025, 2, 13, 6, 0, tzinfo=UTC)


def _headlines(n: int) -> list[str]:
    with UCI.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    titles = list(dict.fromkeys(r["TITLE"] for r in rows[1000:]))  # rows the worker tests do not use
    return titles[:n]


def _serve_feeds(server: ScriptedServer) -> tuple[list[FeedSpec], set[str]]:
    titles = iter(_headlines(len(FEEDS) * PER_FEED))
    specs, expected = [], set()
    for name in FEEDS:
        items = [
            Item(next(titles), f"http://news.test/{name}/{k}", published=T0 + timedelta(minutes=k))
            for k in range(PER_FEED)
        ]
        url = server.route(f"/{name}.xml", Reply(200, rss(items).encode(), delay_s=SLOW_S[name]))
        specs.append(FeedSpec(name, url, name.upper(), poll_interval_s=0))
        expected |= {article_id(canonical_url(i.link or ""), None, name) or "" for i in items}
    return specs, expected


@pytest.fixture
def feeds(fault_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ScriptedServer, set[str]]]:
    """The three feeds served and registered; the DAG's tasks get this test's store and topics."""
    for key, value in {
        "NEWSFLOW_STATE_DIR": str(fault_settings.state_dir),
        "NEWSFLOW_DATABASE_URL": fault_settings.database_url,
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": fault_settings.kafka_bootstrap_servers,
        "NEWSFLOW_KAFKA_TOPIC_PREFIX": fault_settings.kafka_topic_prefix,
        "NEWSFLOW_KAFKA_PARTITIONS": str(fault_settings.kafka_partitions),
        "NEWSFLOW_KAFKA_REQUEST_TIMEOUT_MS": str(fault_settings.kafka_request_timeout_ms),
        "NEWSFLOW_INGEST_PUBLISH_TIMEOUT_S": str(fault_settings.ingest_publish_timeout_s),
        "NEWSFLOW_ALLOW_PRIVATE_FEED_ADDRESSES": "true",
        "NEWSFLOW_MAX_POLL_INTERVAL_S": "0",  # every feed is due again on the re-run
    }.items():
        monkeypatch.setenv(key, value)
    engine = open_store(fault_settings)
    with ScriptedServer() as server:
        specs, expected = _serve_feeds(server)
        feeds_repo.register_feeds(engine, specs)
        yield server, expected
    engine.dispose()


def _dag() -> object:
    spec = importlib.util.spec_from_file_location("ingest_feeds_dag_under_faults", DAG_FILE)
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.ingest_feeds()
    for task in dag.tasks:
        task.retries = 0  # the re-run below is the retry; dag.test() would otherwise sit out the retry delay
    return dag


def _poll_states(run: object) -> list[str]:
    return [str(ti.state) for ti in run.get_task_instances() if ti.task_id == "poll_host"]  # type: ignore[attr-defined]


def _succeeded(settings: Settings, feed: str) -> bool:
    engine = open_store(settings, run_migrations=False)
    try:
        with engine.connect() as conn:
            return feed_health_repo.get_state(conn, feed).last_success_at is not None
    finally:
        engine.dispose()


def _assert_each_once_in_kafka_and_store(settings: Settings, expected: set[str], *, once_in_kafka: bool) -> None:
    keys = [key for key, _ in read_articles(settings, timeout_s=30)]
    assert set(keys) == expected, f"missing from Kafka: {len(expected - set(keys))}"
    if once_in_kafka:
        assert len(keys) == len(expected), "an article was published twice"
    report = run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: T0 + timedelta(hours=2))
    assert report.dead_lettered == 0
    assert_recovered(settings, Expected(expected))


def test_broker_stopped_and_restarted_while_the_ingest_dag_publishes(
    fault_settings: Settings, services: Services, feeds: tuple[ScriptedServer, set[str]]
) -> None:
    server, expected = feeds
    dag = _dag()
    broker_down = threading.Event()
    f1 = server.routes["/f1.xml"]
    assert isinstance(f1, Reply)

    def f1_after_the_outage_began(_request: Request) -> Reply:
        broker_down.wait(60)  # f1 is downloading while the broker goes down: its publish meets no broker
        return f1

    server.route("/f1.xml", f1_after_the_outage_began)

    def break_broker_after_first_feed() -> None:
        wait_for(lambda: _succeeded(fault_settings, "f0"), 60, "the first feed to be published")
        services.stop_broker()
        broker_down.set()

    breaker = threading.Thread(target=break_broker_after_first_feed, daemon=True)
    breaker.start()
    first = dag.test()  # type: ignore[attr-defined]
    breaker.join(timeout=60)
    # The run itself "succeeds" (its summary task runs on all_done); the poll task is what failed.
    assert _poll_states(first) == ["failed"], "the broker outage did not hit the run: nothing was tested"
    assert not _succeeded(fault_settings, "f1") and not _succeeded(fault_settings, "f2")

    services.start_broker()
    second = dag.test()  # type: ignore[attr-defined]
    assert second.state == "success" and _poll_states(second) == ["success"]
    # A publish cut short by the outage may have reached the broker in part: duplicates on Kafka are
    # allowed (at-least-once), the store must still hold each article once.
    _assert_each_once_in_kafka_and_store(fault_settings, expected, once_in_kafka=False)


def test_ingest_poll_killed_mid_poll_then_rerun(
    fault_settings: Settings, feeds: tuple[ScriptedServer, set[str]], tmp_path: Path
) -> None:
    server, expected = feeds
    log = tmp_path / "ingest.log"
    # `newsflow ingest once` runs the same code (ingest.runner.run_polls) as the DAG's poll task
    poller = start_newsflow(fault_settings, ["ingest", "once"], log, NEWSFLOW_MAX_POLL_INTERVAL_S="0")
    try:
        wait_for(lambda: bool(server.requests_to("/f1.xml")), 90, "the poll of the second feed to start")
        os.kill(poller.pid, signal.SIGKILL)
        assert poller.wait(timeout=10) == -signal.SIGKILL
    finally:
        if poller.poll() is None:
            poller.kill()
    assert _succeeded(fault_settings, "f0") and not _succeeded(fault_settings, "f1")

    rerun = _dag().test()  # type: ignore[attr-defined]
    assert rerun.state == "success" and _poll_states(rerun) == ["success"], log.read_text()[-2000:]
    assert len(server.requests_to("/f1.xml")) == 2  # the killed poll's feed was fetched again
    _assert_each_once_in_kafka_and_store(fault_settings, expected, once_in_kafka=True)
