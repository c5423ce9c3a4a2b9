"""Topic memory: a story whose members left the re-clustering window stays joinable online.

A late article of a faded story continues it (same topic id, a ``revived`` event) in the worker
and in the evaluation alike; with the memory off it cannot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from clustering.embedding.embed import CachedEmbedder, Embedder, MemoryCache
from clustering.evaluation.evaluate import simulate
from clustering.jobs import recluster_now
from clustering.processor import BatchProcessor, RawMessage
from clustering.topic_state import lasting_topics
from clustering.window import newest_per_topic
from newsflow.contracts import ArticleRecord
from newsflow.records.doc import Doc
from newsflow.records.topic import TopicMeta, TopicStatus
from newsflow.settings import Settings
from newsflow.store import articles_repo, memberships_repo, schema, topics_repo
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import STORIES, T0, record

LATE = T0 + timedelta(hours=100)  # the story's first articles left the 72 h window; it faded after 48 h


def memory_only(settings: Settings, memory_hours: float, span_factor: float = 0.0, min_hours: float = 0.0) -> Settings:
    """The memory on or off, the stale-topic cut off: the late flappy article is unsure of its faded topic
    (0.75 <= P < 0.9, 100 h on), so with the stale cut it would wait however the memory is set."""
    return settings.model_copy(
        update={"topic_memory_hours": memory_hours, "stale_join_probability": settings.join_probability,
                "topic_memory_span_factor": span_factor, "topic_memory_min_hours": min_hours}
    )  # fmt: skip


def _process(settings: Settings, embedder: Embedder, records: list[ArticleRecord], now: datetime) -> BatchProcessor:
    engine = open_store(settings)
    worker = BatchProcessor(settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: now)
    worker.process([RawMessage("news.articles", 0, k, r.id, r.to_bytes()) for k, r in enumerate(records)])
    return worker


@pytest.mark.parametrize(
    ("memory_hours", "span_factor", "min_hours"),
    [(336.0, 0.0, 0.0), (0.0, 0.0, 0.0), (336.0, 4.0, 0.0), (336.0, 400.0, 0.0), (336.0, 4.0, 120.0)],
)
def test_a_late_article_continues_its_faded_story_only_with_memory(
    settings: Settings, embedder: Embedder, memory_hours: float, span_factor: float, min_hours: float
) -> None:
    """The early articles span 30 minutes: with a span factor of 4 the story is forgotten 2 h after its
    last one (a burst that is over) unless it is kept for at least 120 h; with 400 it is still
    remembered 100 h on."""
    settings = memory_only(settings, memory_hours, span_factor, min_hours)
    early = [record(f"flappy-{k}", t, T0 + timedelta(minutes=10 * k)) for k, t in enumerate(STORIES["flappy"][:4])]
    clusterer = _process(settings, embedder, early, T0 + timedelta(hours=1)).clusterer
    assert clusterer is not None
    story = clusterer.member_of["flappy-0"]
    assert {clusterer.member_of.get(r.id) for r in early} == {story}
    recluster_now(settings, LATE, embedder=embedder, publish_events=False)  # fades it

    late = record("flappy-4", STORIES["flappy"][4], LATE - timedelta(minutes=5), outlet="bbc.co.uk")
    _process(settings, embedder, [late], LATE)  # a restarted worker: its state comes from the store
    with open_store(settings).connect() as conn:
        joined = memberships_repo.memberships_of(conn, ["flappy-4"]).get("flappy-4")
        status = conn.execute(select(schema.topics.c.status).where(schema.topics.c.id == story)).scalar_one()
        events = select(schema.lineage_events.c.kind).where(schema.lineage_events.c.topic_id == story)
        kinds = list(conn.execute(events.order_by(schema.lineage_events.c.id)).scalars())
    if memory_hours and (span_factor != 4.0 or min_hours >= 100):
        assert joined == story and status == "active"
        assert kinds[-2:] == ["faded", "revived"]
    else:
        assert joined != story and status == "faded" and "revived" not in kinds


@pytest.mark.parametrize("memory_hours", [336.0, 0.0])
def test_a_late_article_pairs_up_with_a_lone_one_from_before_the_window_only_with_memory(
    settings: Settings, embedder: Embedder, memory_hours: float
) -> None:
    settings = settings.model_copy(update={"topic_memory_hours": memory_hours})
    lone = record("flappy-0", STORIES["flappy"][0], T0)
    other = record("sac-0", STORIES["sac"][0], T0 + timedelta(minutes=5))
    _process(settings, embedder, [lone, other], T0 + timedelta(hours=1))  # two strangers: no topic
    recluster_now(settings, LATE, embedder=embedder, publish_events=False)
    late = record("flappy-1", STORIES["flappy"][1], LATE - timedelta(minutes=5), outlet="bbc.co.uk")
    _process(settings, embedder, [late], LATE)
    with open_store(settings).connect() as conn:
        placed = memberships_repo.memberships_of(conn, ["flappy-0", "flappy-1", "sac-0"])
    if memory_hours:
        assert placed.keys() == {"flappy-0", "flappy-1"} and placed["flappy-0"] == placed["flappy-1"]
    else:
        assert placed == {}


def test_remembered_members_are_the_newest_of_each_topic_before_the_window(settings: Settings) -> None:
    remembered_members_scenario(open_store(settings))


def remembered_members_scenario(engine: Engine) -> None:
    """Shared with PostgreSQL (tests/integration/test_store_postgres.py): the per-topic cut is a window function."""
    a = [record(f"a-{k}", f"Story A part {k}", T0 + timedelta(hours=k)) for k in range(5)]
    b = [record(f"b-{k}", f"Story B part {k}", T0 + timedelta(hours=k, minutes=30)) for k in range(2)]
    lone = [record(f"z-{k}", f"Lone story {k}", T0 + timedelta(hours=k, minutes=45)) for k in range(5)]
    with engine.begin() as conn:
        articles_repo.upsert_articles(conn, a + b + lone, T0)
        topics_repo.create_topics(conn, [1, 2], T0)
        members = [memberships_repo.Membership(r.id, 1, None, "online") for r in a]
        members += [memberships_repo.Membership(r.id, 2, None, "online") for r in b]
        memberships_repo.write_memberships(conn, members, T0)
    with engine.connect() as conn:
        since, until = T0 + timedelta(hours=1), T0 + timedelta(hours=4)
        got = memberships_repo.remembered_members(conn, since, until, per_topic=2, total=10)
        capped = memberships_repo.remembered_members(conn, since, until, per_topic=2, total=2)
        unassigned = articles_repo.unassigned_ids(conn, since, until, limit=2)
        assert articles_repo.unassigned_ids(conn, since, until, limit=0) == []
    assert unassigned == ["z-3", "z-2"]  # newest first, members left out
    # [1 h, 4 h): a-1..a-3 and b-1; the newest two of topic 1, newest first over both topics.
    assert got == [("a-3", 1), ("a-2", 1), ("b-1", 2)] and capped == got[:2]
    newest_first = [("a-3", 1), ("a-2", 1), ("b-1", 2), ("a-1", 1)]
    assert newest_per_topic(newest_first, 2, 10) == got and newest_per_topic(newest_first, 2, 2) == capped


@pytest.mark.parametrize("memory_hours", [336.0, 0.0])
def test_the_evaluation_remembers_like_the_worker(settings: Settings, embedder: Embedder, memory_hours: float) -> None:
    settings = memory_only(settings, memory_hours)
    docs = [Doc(f"flappy-{k}", t, "", T0 + timedelta(minutes=10 * k)) for k, t in enumerate(STORIES["flappy"][:4])]
    docs.append(Doc("sac-0", STORIES["sac"][0], "", T0 + timedelta(hours=20)))  # alone for days, then
    docs.append(Doc("flappy-4", STORIES["flappy"][4], "", LATE))
    docs.append(Doc("sac-4", STORIES["sac"][4], "", LATE + timedelta(minutes=1)))  # a partner, 80 h later
    sim = simulate(settings, docs, CachedEmbedder(embedder, MemoryCache()))
    topics = sim.final_topics()
    assert len({topics[f"flappy-{k}"] for k in range(4)}) == 1
    assert (topics["flappy-4"] == topics["flappy-0"]) == bool(memory_hours)
    assert (topics["sac-0"] == topics["sac-4"]) == bool(memory_hours)
    assert topics["sac-0"] != topics["flappy-0"]


def test_a_burst_that_is_over_is_forgotten_and_a_long_story_is_remembered() -> None:
    now = T0 + timedelta(days=10)
    since = now - timedelta(hours=72)

    def meta(topic_id: int, first: datetime, last: datetime) -> TopicMeta:
        return TopicMeta(topic_id, TopicStatus.FADED, first, last)

    topics = {
        1: meta(1, now - timedelta(days=9), now - timedelta(hours=1)),  # members in the window
        2: meta(2, now - timedelta(days=8), now - timedelta(days=5)),  # ran 3 days, silent 5: may come back
        3: meta(3, now - timedelta(days=6), now - timedelta(days=5)),  # a one-day burst, silent 5 days
        4: meta(4, now - timedelta(days=6, hours=12), now - timedelta(days=4)),  # 2.5 days, silent 4: the edge
    }
    assert lasting_topics(topics, now, since, 2.0) == {1, 2, 4}
    assert lasting_topics(topics, now, since, 1.0) == {1}
    assert lasting_topics(topics, now, since, 0.0) == {1, 2, 3, 4}
    # However short its burst, a topic is remembered for ``min_hours`` of silence (here 5 days): a story of
    # one day's coverage may go on after a weekend (the Pope's hospital stay: 14 February, then the 18th).
    topics[5] = meta(5, now - timedelta(days=4), now - timedelta(days=4))  # one moment, silent 4 days
    assert lasting_topics(topics, now, since, 2.0, min_hours=120.0) == {1, 2, 3, 4, 5}
    assert lasting_topics(topics, now, since, 2.0, min_hours=96.0) == {1, 2, 4, 5}
    assert lasting_topics(topics, now, since, 2.0, min_hours=95.0) == {1, 2, 4}
