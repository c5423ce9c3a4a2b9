"""The whole path on the real engines: sample feeds on 127.0.0.1 → ingest → Kafka → worker → PostgreSQL.

The acceptance of the clustering issue: topics form from the sample feeds, and a second run over the
same messages (a new consumer group reading the topic from the start, and a second poll of the feeds)
changes nothing in the store.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from clustering.worker import run_worker
from ingest.runner import run_polls
from newsflow.samplefeeds import DEFAULT_ANCHOR, sample_feed_specs, serve_sample_feeds
from newsflow.settings import Settings
from newsflow.store import schema
from newsflow.store.database import open_store
from newsflow.store.feeds_repo import register_feeds

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _store_state(engine: Engine) -> dict[str, Any]:
    """Everything the worker writes, minus bookkeeping timestamps of the write itself."""
    with engine.connect() as conn:
        articles = sorted(conn.execute(select(schema.articles.c.id, schema.articles.c.revision)).all())
        members = sorted(
            conn.execute(select(schema.topic_memberships.c.article_id, schema.topic_memberships.c.topic_id)).all()
        )
        topics = sorted(conn.execute(select(schema.topics.c.id, schema.topics.c.article_count)).all())
        events = conn.execute(select(func.count()).select_from(schema.lineage_events)).scalar_one()
    return {"articles": articles, "memberships": members, "topics": topics, "lineage_events": events}


def test_sample_feeds_become_topics_in_postgresql_and_a_second_run_changes_nothing(
    kafka_settings: Settings, postgres_settings: Settings
) -> None:
    settings = postgres_settings.model_copy(update={"kafka_topic_prefix": kafka_settings.kafka_topic_prefix})
    engine = open_store(settings)
    with serve_sample_feeds(sample="en") as server:
        specs = sample_feed_specs(server, top_n=4)
        register_feeds(engine, specs)
        first = run_polls(settings, [s.name for s in specs])
        assert {o.outcome for o in first} == {"published"}, [o.as_dict() for o in first]
        published = sum(o.published for o in first)

        report = run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: DEFAULT_ANCHOR)
        assert report.stored == published and report.dead_lettered == 0
        state = _store_state(engine)
        assert len(state["articles"]) == published
        assert any(size >= 3 for _, size in state["topics"]), "the sample stories should form multi-article topics"
        with engine.connect() as conn:
            seed = conn.execute(select(schema.articles.c.title).where(schema.articles.c.feed_name == "welt.de")).all()
        assert len(seed) == 1 and "Putin" in seed[0].title

        again = run_polls(settings, [s.name for s in specs])
        assert sum(o.published for o in again) == 0
        assert {o.outcome for o in again} <= {"not_modified", "no_new"}

    replay = settings.model_copy(update={"kafka_consumer_group": settings.kafka_consumer_group + "-replay"})
    second = run_worker(replay, until_idle=True, idle_timeout_s=3.0, clock=lambda: DEFAULT_ANCHOR)
    assert second.consumed == published
    assert _store_state(engine) == state
    engine.dispose()
