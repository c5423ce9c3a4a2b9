"""Re-clustering on SQLite: stable ids after online assignment, idempotent re-runs, fading, worker reload."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import select

from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.jobs import catch_up, recluster_now
from clustering.processor import BatchProcessor, RawMessage
from clustering.reclustering.recluster import ReclusterParams, cluster_window
from clustering.representation.represent import RepresentParams, SparseVectoriser, represent
from newsflow.records.doc import Doc
from newsflow.settings import Settings
from newsflow.store import schema
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import STORIES, T0, record, story_records

NOW = T0 + timedelta(hours=3)


def _members(settings: Settings) -> dict[str, int]:
    with open_store(settings).connect() as conn:
        return {r.article_id: r.topic_id for r in conn.execute(select(schema.topic_memberships))}


def _events(settings: Settings) -> list[tuple[int, str, list[int]]]:
    with open_store(settings).connect() as conn:
        rows = conn.execute(select(schema.lineage_events).order_by(schema.lineage_events.c.id))
        return [(r.topic_id, r.kind, r.related) for r in rows]


def test_recluster_keeps_online_ids_and_is_idempotent(settings: Settings, embedder: Embedder) -> None:
    engine = open_store(settings)
    proc = BatchProcessor(settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: NOW)
    msgs = [RawMessage("a", 0, k, r.id, r.to_bytes()) for k, r in enumerate(story_records())]
    proc.process(msgs)
    online = _members(settings)

    report = recluster_now(settings, NOW, embedder=embedder, publish_events=False)
    assert report.window_articles == 15 and report.clusters == 3 and report.unassigned == 0
    after = _members(settings)
    story_topic = {s: {after[f"{s}-{k}"] for k in range(len(t))} for s, t in STORIES.items()}
    assert all(len(ids) == 1 for ids in story_topic.values())
    assert {a: t for a, t in online.items()} == {a: after[a] for a in online}  # online ids survive
    assert report.new_topics == [] and set(report.events) <= {"grew"}
    assert report.events_pending == len(_events(settings))  # not published: no broker in unit tests

    before = _events(settings)
    again = recluster_now(settings, NOW, embedder=embedder, publish_events=False)
    assert again.changed_memberships == 0 and again.events == {} and _events(settings) == before

    # The worker notices the re-clustering and reloads its state before the next batch.
    marker = proc._marker
    proc.process([RawMessage("a", 0, 99, "x", record("flappy-9", "Flappy Bird returns to app stores").to_bytes())])
    assert proc._marker != marker and _members(settings)["flappy-9"] == after["flappy-0"]

    faded = recluster_now(settings, NOW + timedelta(hours=49), embedder=embedder, publish_events=False)
    assert faded.events == {"faded": 3}
    with engine.connect() as conn:
        assert {r.status for r in conn.execute(select(schema.topics))} == {"faded"}


def test_cluster_window_is_deterministic(settings: Settings, embedder: Embedder) -> None:
    docs = [Doc(r.id, r.title, "", r.published) for r in story_records()]
    dense = embedder.encode([d.title for d in docs])
    representing, params = RepresentParams.from_settings(settings), ReclusterParams.from_settings(settings)
    first = cluster_window(represent(docs, dense, SparseVectoriser(settings.sparse_features), representing), params)
    again = cluster_window(represent(docs, dense, SparseVectoriser(settings.sparse_features), representing), params)
    np.testing.assert_array_equal(first, again)
    assert len(set(first.tolist()) - {-1}) == 3


def test_a_run_for_an_earlier_interval_leaves_later_articles_alone(settings: Settings, embedder: Embedder) -> None:
    """A re-run or a backfill of an earlier interval re-clusters that interval's articles, not those
    published after its end: the later ones keep their online topics, and the run counts only its own."""
    engine = open_store(settings)
    proc = BatchProcessor(settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: NOW)
    records = story_records()  # 15 articles, 7 minutes apart from T0
    proc.process([RawMessage("a", 0, k, r.id, r.to_bytes()) for k, r in enumerate(records)])
    online = _members(settings)
    early_end = T0 + timedelta(minutes=30)
    early = [r.id for r in records if r.published <= early_end]
    assert 0 < len(early) < len(records)

    report = recluster_now(settings, early_end, embedder=embedder, publish_events=False)
    assert report.window_articles == len(early)
    after = _members(settings)
    assert {a: after.get(a) for a in online if a not in early} == {a: t for a, t in online.items() if a not in early}

    assert recluster_now(settings, NOW, embedder=embedder, publish_events=False).window_articles == len(records)


def test_catch_up_runs_the_schedule_over_past_days(settings: Settings, embedder: Embedder) -> None:
    """Articles of four days arrive at once; ``catch_up`` re-clusters at the end of each day before the
    newest article, oldest first, each run over its own window only, and the last at the newest."""
    engine = open_store(settings)
    records = story_records(spacing_min=6 * 60)  # 15 articles, 6 hours apart: 84 hours
    last = records[-1].published
    proc = BatchProcessor(settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: last)
    proc.process([RawMessage("a", 0, k, r.id, r.to_bytes()) for k, r in enumerate(records)])

    reports = catch_up(settings, records[0].published, last, every=timedelta(days=1), embedder=embedder)
    assert [r.at for r in reports] == [last - timedelta(days=k) for k in (3, 2, 1, 0)]
    since = [r.at - timedelta(hours=settings.recluster_window_hours) for r in reports]
    expected = [sum(s <= rec.published <= r.at for rec in records) for s, r in zip(since, reports, strict=True)]
    assert [r.window_articles for r in reports] == expected and expected[0] < expected[-1]
    members = _members(settings)
    story_topic = {s: {members.get(f"{s}-{k}") for k in range(len(t))} for s, t in STORIES.items()}
    assert all(len(ids) == 1 and None not in ids for ids in story_topic.values()), story_topic
