"""Two workers of one consumer group share the partitions, so one story's articles reach both:
each takes in what the other stored, and the story stays one topic (SQLite, no broker)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, select

from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.processor import BatchProcessor, RawMessage
from newsflow.settings import Settings
from newsflow.store import memberships_repo, schema
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import STORIES, T0, record, revise, story_records
from tests.unit.clustering.test_online_revisions import story_topic
from tests.unit.clustering.test_processor import memberships, messages

NOW = T0 + timedelta(hours=3)


def two_workers(settings: Settings, embedder: Embedder) -> tuple[BatchProcessor, BatchProcessor]:
    engine = open_store(settings)
    cached = CachedEmbedder(embedder, SqlVectorCache(engine))
    workers = (
        BatchProcessor(settings, engine, cached, lambda: NOW),
        BatchProcessor(settings, engine, cached, lambda: NOW),
    )
    for w in workers:
        w.reload(NOW)  # both start on an empty store, as a group's workers do
    return workers


def count_reloads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Full rebuilds of the online state from here on (an id collision or a move forces one)."""
    calls: list[int] = []
    original = BatchProcessor.reload

    def counted(self: BatchProcessor, now: datetime) -> None:
        calls.append(1)
        original(self, now)

    monkeypatch.setattr(BatchProcessor, "reload", counted)
    return calls


def run_alternating(workers: tuple[BatchProcessor, BatchProcessor], batch: int = 2) -> None:
    """Batches of the interleaved stories handed to the two workers in turn (offsets stay distinct)."""
    msgs = messages(story_records())
    for k, start in enumerate(range(0, len(msgs), batch)):
        workers[k % 2].process(msgs[start : start + batch])


def topics_per_story(engine: Engine) -> dict[str, set[int]]:
    by_story: dict[str, set[int]] = {}
    for article_id, topic_id in memberships(engine).items():
        by_story.setdefault(article_id.split("-")[0], set()).add(topic_id)
    return by_story


def placed_by_one_worker(settings: Settings, embedder: Embedder) -> int:
    alone = settings.model_copy(update={"state_dir": settings.state_dir / "alone"})
    engine = open_store(alone)
    one = BatchProcessor(alone, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: NOW)
    msgs = messages(story_records())
    for start in range(0, len(msgs), 2):
        one.process(msgs[start : start + 2])
    return len(memberships(one.engine))


def test_two_workers_place_a_stream_like_one(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_workers(settings, embedder)
    reloads = count_reloads(monkeypatch)
    run_alternating((a, b))
    by_story = topics_per_story(a.engine)
    assert set(by_story) == set(STORIES) and all(len(t) == 1 for t in by_story.values()), by_story
    stored = memberships(a.engine)
    assert len(stored) == placed_by_one_worker(settings, embedder)  # nothing left waiting that one would place
    assert reloads == []  # no topic id taken twice, so no rebuild of the online state
    with a.engine.connect() as conn:
        topic_ids = {r.id for r in conn.execute(select(schema.topics.c.id))}
        seqs = [r.write_seq for r in conn.execute(select(schema.topic_memberships.c.write_seq))]
    assert topic_ids == set().union(*by_story.values()) and None not in seqs
    # The worker that wrote last knows every membership; the other agrees with the store on all it knows.
    assert a.clusterer is not None and b.clusterer is not None
    last, other = (b, a) if (len(story_records()) + 1) // 2 % 2 == 0 else (a, b)
    assert last.clusterer is not None and other.clusterer is not None
    assert last.clusterer.member_of == stored
    assert other.clusterer.member_of.items() <= stored.items()


def test_without_taking_in_the_other_writer_the_workers_collide_or_leave_articles_waiting(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure the above guards against, on the same stream: stale state makes a worker start
    topics under ids the other took (each a rollback and a full rebuild) or miss topics to join."""
    monkeypatch.setattr(BatchProcessor, "_absorb_other_writers", lambda self, now: None)
    a, b = two_workers(settings, embedder)
    reloads = count_reloads(monkeypatch)
    run_alternating((a, b))
    assert reloads or len(memberships(a.engine)) < placed_by_one_worker(settings, embedder)


def test_a_member_moved_by_another_writer_rebuilds_the_online_state(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_workers(settings, embedder)
    msgs = messages(story_records())
    a.process(msgs[:9])
    b.process(msgs[9:11])  # takes in what a stored
    assert b.clusterer is not None
    moved, old_topic = next(iter(b.clusterer.member_of.items()))
    new_topic = next(t for t in set(b.clusterer.member_of.values()) if t != old_topic)
    with a.engine.begin() as conn:  # another group's writer places it elsewhere
        memberships_repo.write_memberships(conn, [memberships_repo.Membership(moved, new_topic, 0.9, "online")], NOW)
    reloads = count_reloads(monkeypatch)
    b.process(msgs[11:13])
    assert reloads == [1] and b.clusterer is not None and b.clusterer.member_of[moved] == new_topic


# --- removals: a revision that leaves its topic -------------------------------------------------------

OFF_TOPIC = "Heavy snow closes mountain passes in the Alps"  # fits none of the stories


def late_article(offset: int) -> list[RawMessage]:
    """One new article, so that a worker runs a batch (and looks at the others' writes first)."""
    return messages([record(f"late-{offset}", "Local library extends its weekend opening hours", NOW)], offset)


def test_a_member_another_worker_revised_out_of_its_topic_leaves_the_online_state_here_too(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_workers(settings, embedder)
    sent = {r.id: r for r in story_records()}
    msgs = messages(list(sent.values()))
    a.process(msgs[:9])
    b.process(msgs[9:])  # takes in what a stored: b holds every member
    unicredit, members = story_topic(memberships(a.engine), "unicredit")
    victim = members[-1]
    assert b.clusterer is not None and b.clusterer.member_of[victim] == unicredit
    reloads = count_reloads(monkeypatch)
    a.process(messages([revise(sent[victim], OFF_TOPIC)], 100))  # a's revision leaves the topic
    assert victim not in memberships(a.engine) and reloads == []  # a's own removal: no rebuild

    b.process(late_article(101))
    assert reloads == [1] and b.clusterer is not None
    assert victim not in b.clusterer.member_of and b.clusterer.member_of == memberships(b.engine)
    # b's centroid of the topic counts what one built fresh from the store counts.
    fresh = BatchProcessor(settings, b.engine, b.embedder, lambda: NOW)
    fresh.reload(NOW)
    assert fresh.clusterer is not None
    here, there = b.clusterer.topics, fresh.clusterer.topics
    assert here.size(unicredit) == there.size(unicredit) == len(members) - 1
    assert np.allclose(here.sums[here.row_of[unicredit]], there.sums[there.row_of[unicredit]], atol=1e-5)


def test_a_worker_does_not_rebuild_on_its_own_removal(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = two_workers(settings, embedder)
    sent = {r.id: r for r in story_records()}
    a.process(messages(list(sent.values())))
    victim = story_topic(memberships(a.engine), "unicredit")[1][-1]
    reloads = count_reloads(monkeypatch)
    looked = a._seen_seq
    a.process(messages([revise(sent[victim], OFF_TOPIC)], 100))
    with a.engine.connect() as conn:
        removal = memberships_repo.last_write_seq(conn)
        assert memberships_repo.changes_since(conn, looked)[-1].removed
    assert removal > looked and a._seen_seq == removal  # nobody wrote in between: its own write not read back
    a._seen_seq = looked  # as if another writer had committed between its look and its write
    a.process(late_article(101))  # it reads its own removal back and passes over it
    assert reloads == [] and a._seen_seq >= removal  # it went on past its removal
    assert a.clusterer is not None and victim not in a.clusterer.member_of
