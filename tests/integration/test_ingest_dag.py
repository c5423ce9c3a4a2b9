"""The ``ingest_feeds`` DAG run in-process with ``dag.test()`` over local feeds and the real broker."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from ingest.dedupe import article_id
from ingest.urls import canonical_url
from newsflow.records.feed import FeedSpec
from newsflow.samplefeeds import build_sample_feeds, sample_feed_specs, serve_sample_feeds
from newsflow.settings import Settings
from newsflow.store import feed_health_repo, feeds_repo
from newsflow.store.database import open_store
from tests.fixtures.feeds.builders import Item, rss
from tests.fixtures.feeds.kafka_read import read_articles
from tests.fixtures.feeds.server import Reply, ScriptedServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "ingest_feeds.py"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
T0 = datetime(2025, 2, 13, 6, 0, tzinfo=UTC)


def load_dag_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ingest_feeds_dag_under_test", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dag_shape() -> None:
    module = load_dag_module()
    dag = module.ingest_feeds()
    assert dag.dag_id == "ingest_feeds" and dag.catchup is False
    assert set(dag.task_ids) == {"due_hosts", "poll_host", "summarise"}
    poll = dag.get_task("poll_host")
    assert poll.max_active_tis_per_dagrun == module.MAX_PARALLEL_HOSTS == 8 and poll.retries == 2
    assert module.MAX_REQUESTS_PER_HOST == 1


def worker_environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a worker would have: the test's store, topic prefix and the demo address policy."""
    for key, value in {
        "NEWSFLOW_STATE_DIR": str(settings.state_dir),
        "NEWSFLOW_DATABASE_URL": settings.database_url,
        "NEWSFLOW_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "NEWSFLOW_KAFKA_PARTITIONS": str(settings.kafka_partitions),
        "NEWSFLOW_ALLOW_PRIVATE_FEED_ADDRESSES": "true",
        "NEWSFLOW_MAX_POLL_INTERVAL_S": "0",  # every feed is due again on the second run
    }.items():
        monkeypatch.setenv(key, value)


def test_one_task_per_host_polls_that_hosts_feeds_in_turn(
    kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two feeds on 127.0.0.1 and one on localhost: two mapped tasks, the shared host's feeds one after the other."""
    settings = kafka_settings
    worker_environment(settings, monkeypatch)
    engine = open_store(settings)
    with ScriptedServer() as server:
        port = server.base_url.rsplit(":", 1)[1]

        def feed(name: str, host: str) -> FeedSpec:
            doc = rss([Item(f"Story {name}", f"http://news.test/{name}", published=T0)]).encode()
            server.route(f"/{name}.xml", Reply(200, doc, delay_s=0.3))  # long enough to see any overlap
            return FeedSpec(name, f"http://{host}:{port}/{name}.xml", name.upper(), poll_interval_s=0)

        feeds_repo.register_feeds(engine, [feed("a", "127.0.0.1"), feed("b", "127.0.0.1"), feed("c", "localhost")])
        run = load_dag_module().ingest_feeds().test()
        assert run.state == "success"
        polls = sorted(
            (ti.rendered_map_index, ti.state) for ti in run.get_task_instances() if ti.task_id == "poll_host"
        )
        assert polls == [("127.0.0.1", "success"), ("localhost", "success")]
        a, b = server.requests_to("/a.xml")[0], server.requests_to("/b.xml")[0]
        assert b.started >= a.finished > 0  # same host: sequential within its task
        assert len(server.requests_to("/c.xml")) == 1
    assert sorted(r.title for _, r in read_articles(settings)) == ["Story a", "Story b", "Story c"]
    with engine.connect() as conn:
        states = [feed_health_repo.get_state(conn, n) for n in "abc"]
    assert [(s.polls, s.articles_published) for s in states] == [(1, 1)] * 3
    engine.dispose()


def test_dag_publishes_each_article_once(kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = kafka_settings
    worker_environment(settings, monkeypatch)
    engine = open_store(settings)
    with serve_sample_feeds(sample="en") as samples, ScriptedServer() as broken:
        specs = sample_feed_specs(samples, top_n=2)  # welt.de, www.examiner.com, in.reuters.com
        bad = FeedSpec(
            "broken",
            broken.route("/broken.xml", Reply(200, (FIXTURES / "malformed.xml").read_bytes())),
            "Broken",
            poll_interval_s=0,
        )
        feeds_repo.register_feeds(engine, [*specs, bad])
        dag = load_dag_module().ingest_feeds()

        first = dag.test()
        assert first.state == "success"
        sample = build_sample_feeds(sample="en")
        expected = {
            article_id(canonical_url(item.link), None, spec.name) for spec in specs for item in sample[spec.name].items
        }
        published = read_articles(settings)
        assert len(published) == len(expected) == 1 + 70 + 59
        assert {key for key, _ in published} == expected
        assert {r.feed for _, r in published} == {s.name for s in specs}
        with engine.connect() as conn:
            health = feed_health_repo.get_state(conn, "broken")
        assert health.consecutive_failures == 1 and (health.last_error or "").startswith("FeedParseError")

        second = dag.test()
        assert second.state == "success"
        assert len(read_articles(settings)) == len(expected)  # nothing new, nothing twice
        with engine.connect() as conn:
            assert all(feed_health_repo.get_state(conn, s.name).not_modified == 1 for s in specs)
    engine.dispose()
