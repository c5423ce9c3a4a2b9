"""The worker's per-batch topic upkeep is incremental, and gives what a full recomputation gives.

Statistics are folded in for new members (``topics_repo.add_to_stats``) and summaries read the most
recent members from ``recent_members.RecentMembers`` instead of scanning: over a randomized run of batches
— copies of real headlines at random times and outlets, revisions that change the time or outlet,
and an article another writer placed in a different topic — every topic's stored statistics equal a
recount from its members, and its stored summary equals one made from a scan of all its members.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

import clustering.processor as processor_module
from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.processor import BatchProcessor, RawMessage
from clustering.recent_members import RecentMembers
from clustering.sql_state import summaries_for
from newsflow.contracts import ArticleRecord
from newsflow.settings import Settings
from newsflow.store import memberships_repo, schema, topics_repo
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import OUTLETS, STORIES, T0, record

NOW = T0 + timedelta(hours=30)
STATS = ("article_count", "outlets", "outlet_count", "languages", "hourly_counts", "first_seen", "last_seen")
SUMMARY = ("label", "keywords", "entities", "representative_title", "representative_ids")


def messages(records: Sequence[ArticleRecord]) -> list[RawMessage]:
    return [RawMessage("news.articles", 0, None, r.id, r.to_bytes()) for r in records]


def copies(rng: random.Random, run: int, n: int) -> list[ArticleRecord]:
    """``n`` re-keyed copies of the story headlines, at random times over a day and random outlets."""
    out = []
    for k in range(n):
        story = rng.choice(sorted(STORIES))
        when = T0 + timedelta(minutes=rng.randrange(24 * 60))
        out.append(record(f"{story}-{run}-{k}", rng.choice(STORIES[story]), when, outlet=rng.choice(OUTLETS)))
    return out


def revised(old: ArticleRecord, rng: random.Random) -> ArticleRecord:
    """The next revision, with another publication time and outlet (what the statistics count)."""
    when = T0 + timedelta(minutes=rng.randrange(24 * 60))
    return record(old.id, old.title, when, revision=old.revision + 1, outlet=rng.choice(OUTLETS))


def topic_rows(engine: Engine, columns: Sequence[str]) -> dict[int, tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(schema.topics.c.id, *(schema.topics.c[c] for c in columns)))
        return {r.id: tuple(r)[1:] for r in rows}


def recounted(engine: Engine) -> dict[int, tuple[Any, ...]]:
    """Every topic's statistics recomputed from its members (rolled back: the store is left as it was)."""
    with engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(schema.topics.c.id))]
        topics_repo.refresh_stats(conn, ids, NOW)
        rows = conn.execute(select(schema.topics.c.id, *(schema.topics.c[c] for c in STATS)))
        out = {r.id: tuple(r)[1:] for r in rows}
        conn.rollback()
    return out


def scanned_summaries(processor: BatchProcessor, limit: int) -> dict[int, tuple[Any, ...]]:
    """Summaries of every active topic from a scan of all its members (no ``RecentMembers``)."""
    assert processor.clusterer is not None and processor.vectoriser is not None
    member_of = processor.clusterer.member_of
    with processor.engine.connect() as conn:
        summaries = summaries_for(
            conn, set(member_of.values()), member_of, processor.embedder, processor.vectoriser, processor.settings,
            max_members=limit,
        )  # fmt: skip
    return {t: (s.label, s.keywords, s.entities, s.representative_title, s.representative_ids)
            for t, s in summaries.items()}  # fmt: skip


def moved_by_another_writer(engine: Engine, article: ArticleRecord, topic_id: int) -> None:
    """What a second worker does: store ``article`` in ``topic_id`` and recount that topic."""
    from newsflow.store import articles_repo

    with engine.begin() as conn:
        articles_repo.upsert_articles(conn, [article], NOW)
        member = memberships_repo.Membership(article.id, topic_id, 0.9, "online")
        memberships_repo.write_memberships(conn, [member], NOW)
        topics_repo.refresh_stats(conn, [topic_id], NOW)


def racing_writer(monkeypatch: pytest.MonkeyPatch, processor: BatchProcessor, write: Callable[[], None]) -> None:
    """Run ``write`` (another writer's commit) right after the processor's next look at the store."""
    original = processor._fresh_state

    def then_write(now: datetime) -> Any:
        state = original(now)
        write()
        return state

    monkeypatch.setattr(processor, "_fresh_state", then_write)


@pytest.fixture
def small_summaries(monkeypatch: pytest.MonkeyPatch) -> int:
    """Summaries from the 3 most recent members, so the recency index drops entries in a small test."""
    monkeypatch.setattr(processor_module, "SUMMARY_MEMBERS", 3)
    return 3


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_upkeep_equals_a_full_recomputation(
    settings: Settings, embedder: Embedder, small_summaries: int, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    engine = open_store(settings)
    processor = BatchProcessor(settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: NOW)
    sent: dict[str, ArticleRecord] = {}
    moves = 0
    for run in range(8):
        batch = copies(rng, run, rng.randrange(3, 14))
        earlier = sorted(sent.values(), key=lambda r: r.id)
        if run != 4:  # (batch 4 has no revision: nothing else than the move makes its old topic recounted)
            batch += [revised(old, rng) for old in rng.sample(earlier, min(3, len(earlier)))]
        else:  # another writer puts a unicredit headline into the flappy topic while this batch is being
            # assigned (after this worker took in the others' writes): the batch's revision moves it back
            assert processor.clusterer is not None
            flappy = processor.clusterer.member_of[next(a for a in sorted(sent) if a.startswith("flappy-"))]
            stray = record(f"unicredit-{run}-stray", STORIES["unicredit"][0], T0 + timedelta(hours=3))
            batch.append(record(stray.id, stray.title, stray.published, revision=2))  # same time and outlet
        with monkeypatch.context() as patch:
            if run == 4:
                racing_writer(patch, processor, lambda s=stray, t=flappy: moved_by_another_writer(engine, s, t))
            outcome = processor.process(messages(batch))
        assert outcome.stored == len({r.id for r in batch}) and not outcome.dead_letters
        sent.update({r.id: r for r in batch})
        stored = topic_rows(engine, STATS)
        assert stored == recounted(engine), f"statistics drifted after batch {run}"
        if run >= 4:
            with engine.connect() as conn:
                where = schema.topic_memberships.c.article_id.like("%stray")
                moves += conn.execute(select(schema.topic_memberships.c.topic_id).where(where)).scalar_one() != flappy
    assert moves, "the stray article never left the topic another writer put it in: the move was not exercised"
    # A last batch of every headline again, so that every topic's summary was made with its members as they are now.
    last = [record(f"{s}-last-{k}", t, NOW) for s, titles in STORIES.items() for k, t in enumerate(titles)]
    processor.process(messages(last))
    counts = [row[0] for row in topic_rows(engine, STATS).values()]
    assert max(counts) > 2 * small_summaries  # topics outgrew the summary sample: the recency index dropped entries
    stored_summaries = {t: row for t, row in topic_rows(engine, SUMMARY).items() if row[0]}
    assert stored_summaries == {t: tuple(s) for t, s in scanned_summaries(processor, small_summaries).items()}


def test_recent_members_agree_with_a_scan_or_say_they_cannot_tell() -> None:
    rng = random.Random(7)
    recent = RecentMembers(limit=4)
    members: dict[str, int] = {}
    published: dict[str, datetime] = {}
    answered = 0
    for step in range(600):
        article, topic = f"a{rng.randrange(150)}", rng.randrange(3)
        when = T0 + timedelta(minutes=step + rng.randrange(-60, 10))  # news arrives roughly in order, some late
        if article in members and rng.random() < 0.1:
            del members[article]  # left the membership map (a reload without it)
            continue
        topic = members.setdefault(article, topic)  # members never change topic in the online map
        published[article] = when  # a new member, or a revision with another time
        recent.note(topic, article, when)
        for t in range(3):
            expected = sorted((published[a], a) for a, m in members.items() if m == t)[-4:]
            found = recent.newest(t, members)
            if found is not None:
                answered += 1
                assert found == [a for _, a in expected], f"step {step}, topic {t}"
    assert answered > 0.9 * 3 * 600  # it answers almost always: the scan is the exception
