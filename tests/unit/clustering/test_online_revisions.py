"""A revision is re-assigned online: its old revision leaves the topic's sums, the new one is re-decided.

Pure ``OnlineClusterer`` tests on synthetic vectors (the topic sums after a revision equal those of
an index built fresh from the members left), then the worker's batch step on SQLite with the real
model: the store's membership follows the revision, topic counts equal a recount, replays are inert.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import Engine, func, select

from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.online.assign import AssignParams, OnlineClusterer
from clustering.online.centroid_cells import CentroidCells
from clustering.online.centroids import CentroidIndex
from clustering.processor import BatchProcessor
from clustering.representation.represent import Batch, RepresentParams, SimilarityWeights, SparseVectoriser, represent
from newsflow.records.doc import Doc
from newsflow.settings import Settings
from newsflow.store import schema
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import T0, TOY_DIM, revise, story_records, toy_settings, toy_unit
from tests.unit.clustering.test_processor import memberships, messages, snapshot

DIM = TOY_DIM
NOW = T0 + timedelta(hours=3)


unit = toy_unit


@pytest.fixture
def cfg() -> Settings:
    return toy_settings()


# Every row in one batch, so old and new revisions share the document frequencies (exact sums).
ROWS: list[tuple[str, str, np.ndarray]] = [
    ("a1", "alpha markets rally", unit(1, 0)),  # 0  story a
    ("a2", "alpha markets rally again", unit(1, 0.05)),  # 1
    ("a3", "alpha markets steady", unit(1, 0.1)),  # 2
    ("b1", "beta storm nears coast", unit(0, 1)),  # 3  story b
    ("b2", "beta storm hits coast", unit(0.05, 1)),  # 4
    ("a3", "beta storm floods coast", unit(0.1, 1)),  # 5  a3 revised into story b
    ("a1", "gamma chess final", unit(0, 0, 1)),  # 6  a1 revised into nothing known
    ("a2", "alpha markets rally on", unit(1, 0.08)),  # 7  a2 revised, still story a
    ("a2", "delta museum opens", unit(0, 0, 0, 1)),  # 8  a2 revised into nothing known
    ("a3", "epsilon rocket launch", unit(0, 0, 0, 0, 1)),  # 9  a3 revised into nothing known
    ("c1", "gamma chess final", unit(0, 0, 1)),  # 10 waits in the pool, like a1 at row 6
]


@pytest.fixture
def rows(cfg: Settings) -> Batch:
    docs = [Doc(i, title, "", T0 + timedelta(minutes=k)) for k, (i, title, _) in enumerate(ROWS)]
    vectors = np.stack([v for _, _, v in ROWS])
    return represent(docs, vectors, SparseVectoriser(cfg.sparse_features), RepresentParams.from_settings(cfg))


def clusterer(cfg: Settings, rows: Batch) -> OnlineClusterer:
    oc = OnlineClusterer(AssignParams.from_settings(cfg), DIM)
    oc.add_topic(1, rows.select([0, 1, 2]))
    oc.add_topic(2, rows.select([3, 4]))
    return oc


def assert_sums_of(index: CentroidIndex, topic_id: int, members: Batch) -> None:
    """``topic_id``'s sums in ``index`` are those of a fresh index built from ``members``."""
    fresh = CentroidIndex(index.dim, index.n_features)
    fresh.add(topic_id, members.dense, members.sparse, members.hours)
    row, ref = index.row_of[topic_id], fresh.row_of[topic_id]
    assert index.count[row] == fresh.count[ref] == len(members)
    assert np.allclose(index.sums[row], fresh.sums[ref], atol=1e-6)
    assert np.allclose(index.unit[row], fresh.unit[ref], atol=1e-6)
    assert np.allclose(index.sparse[row].toarray(), fresh.sparse[ref].toarray(), atol=1e-6)  # type: ignore[union-attr]
    assert np.isclose(index.sparse_norm[row], fresh.sparse_norm[ref], atol=1e-6)


def test_a_revision_into_another_story_moves_the_article(cfg: Settings, rows: Batch) -> None:
    oc = clusterer(cfg, rows)
    moved = oc.revise_one(rows.row(2), rows.row(5))
    assert (moved.topic_id, moved.left) == (2, 1) and moved.similarity >= cfg.assign_threshold
    assert oc.member_of == {"a1": 1, "a2": 1, "a3": 2, "b1": 2, "b2": 2}
    assert_sums_of(oc.topics, 1, rows.select([0, 1]))
    assert_sums_of(oc.topics, 2, rows.select([3, 4, 5]))


def test_an_unchanged_revision_changes_nothing(cfg: Settings, rows: Batch) -> None:
    oc = clusterer(cfg, rows)
    state = (oc.topics.sums.copy(), oc.topics.count.copy(), dict(oc.member_of), len(oc.pool))
    later = Doc("a3", ROWS[2][1], "", T0 + timedelta(hours=5), outlet="elsewhere")  # metadata-only revision
    metadata_only = represent(
        [later], rows.dense[[2]], SparseVectoriser(cfg.sparse_features), RepresentParams.from_settings(cfg)
    )
    for new in (rows.row(2), metadata_only):
        same = oc.revise_one(rows.row(2), new)
        assert (same.topic_id, same.left, same.similarity) == (1, None, 1.0)
    assert np.array_equal(oc.topics.sums, state[0]) and np.array_equal(oc.topics.count, state[1])
    assert (oc.member_of, len(oc.pool)) == (state[2], state[3])


def test_a_revision_still_fitting_its_topic_stays_and_replaces_its_old_revision(cfg: Settings, rows: Batch) -> None:
    oc = clusterer(cfg, rows)
    stays = oc.revise_one(rows.row(1), rows.row(7))
    assert (stays.topic_id, stays.left) == (1, None) and oc.member_of["a2"] == 1
    assert_sums_of(oc.topics, 1, rows.select([0, 7, 2]))


def test_a_revision_that_fits_its_topic_is_not_pulled_to_a_slightly_better_one(cfg: Settings) -> None:
    vec = SparseVectoriser(cfg.sparse_features)
    near = [
        ("a1", unit(1, 0)),
        ("a2", unit(1, 0.05)),
        ("b1", unit(1, 0.5)),
        ("b2", unit(1, 0.55)),
        ("a2", unit(1, 0.4)),
    ]
    batch = represent(
        [Doc(i, f"t {k}", "", T0) for k, (i, _) in enumerate(near)], np.stack([v for _, v in near]), vec,
        RepresentParams.from_settings(cfg),
    )
    oc = OnlineClusterer(AssignParams.from_settings(cfg), DIM)
    oc.add_topic(1, batch.select([0, 1]))
    oc.add_topic(2, batch.select([2, 3]))
    assert oc.predict_one(batch, 4).topic_id == 2  # as a new article it would join topic 2
    assert oc.revise_one(batch.row(1), batch.row(4)).topic_id == 1  # as a member of 1 that still fits, it stays


def test_a_revision_that_fits_nothing_leaves_and_the_last_member_takes_the_topic_away(
    cfg: Settings, rows: Batch
) -> None:
    oc = clusterer(cfg, rows)
    gone = oc.revise_one(rows.row(0), rows.row(6))
    assert (gone.topic_id, gone.left) == (None, 1)
    assert "a1" not in oc.member_of and "a1" in oc.pool.slot_of
    assert_sums_of(oc.topics, 1, rows.select([1, 2]))
    assert [oc.revise_one(rows.row(k), rows.row(new)).left for k, new in ((1, 8), (2, 9))] == [1, 1]
    assert 1 not in oc.topics and oc.topic_ids == [2]  # no member left: no live centroid
    assert oc.predict_one(rows, 0).topic_id is None  # story a's old text finds no ghost of topic 1
    assert {"a1", "a2", "a3"} <= oc.pool.slot_of.keys()


def test_a_revision_that_matches_a_waiting_article_starts_a_topic_with_it(cfg: Settings, rows: Batch) -> None:
    oc = clusterer(cfg, rows)
    oc.hold(rows.select([10]))
    paired = oc.revise_one(rows.row(0), rows.row(6))
    assert paired.created and paired.partner == "c1" and paired.left == 1
    assert oc.member_of["a1"] == oc.member_of["c1"] == paired.topic_id and paired.topic_id not in (1, 2)


def test_retracting_keeps_the_cells_in_step() -> None:
    dim, features = 16, 2**8
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(12, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    no_terms = sp.csr_matrix((2, features), dtype=np.float32)
    index = CentroidIndex(dim, features, cells=CentroidCells(min_topics=4, probe=2, seed=0, copies=1))
    for t, c in enumerate(centres):
        index.add(t, np.stack([c, centres[(t + 5) % 12]]), no_terms, np.zeros(2))
    index.best(centres[0], no_terms[0], 0.0, SimilarityWeights(1.0, 0.0, 0.0), 4)  # builds the cells
    assert index.cells.active
    moved = 0
    for t in range(12):
        row, cells = index.row_of[t], index.cells.cell_of[index.row_of[t]]
        assert index.retract(t, centres[(t + 5) % 12], no_terms[0]) == 1  # back onto its own centre
        assert index.cells.cell_of[row] == tuple(index.cells._nearest(index.unit[row])[0].tolist())
        moved += index.cells.cell_of[row] != cells
    assert moved  # some centroids changed cells: the check above was not vacuous
    row = index.row_of[0]
    assert index.retract(0, centres[0], no_terms[0]) == 0
    assert 0 not in index and all(row not in cell for cell in index.cells.rows)


# --- the worker's batch step (SQLite, real model) ----------------------------------------------------


@pytest.fixture
def processor(settings: Settings, embedder: Embedder) -> BatchProcessor:
    engine = open_store(settings)
    return BatchProcessor(settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: NOW)


def counts(engine: Engine) -> tuple[dict[int, int], dict[int, int]]:
    """Stored ``article_count`` of every topic, and a SQL recount of its memberships."""
    m = schema.topic_memberships
    with engine.connect() as conn:
        stored = {
            r.id: r.article_count for r in conn.execute(select(schema.topics.c.id, schema.topics.c.article_count))
        }
        recount: dict[int, int] = dict(
            conn.execute(select(m.c.topic_id, func.count()).group_by(m.c.topic_id)).tuples().all()
        )
    return stored, {t: recount.get(t, 0) for t in stored}


def story_topic(placed: dict[str, int], story: str) -> tuple[int, list[str]]:
    """The topic holding most of ``story``'s articles, and those articles."""
    topic = Counter(t for a, t in placed.items() if a.startswith(f"{story}-")).most_common(1)[0][0]
    return topic, sorted(a for a, t in placed.items() if t == topic and a.startswith(f"{story}-"))


def test_the_worker_moves_a_revised_article_and_a_replay_changes_nothing(processor: BatchProcessor) -> None:
    sent = {r.id: r for r in story_records()}
    msgs = messages(list(sent.values()))
    for start in range(0, len(msgs), 5):
        processor.process(msgs[start : start + 5])
    placed = memberships(processor.engine)
    (sac, sac_members), (flappy, _) = story_topic(placed, "sac"), story_topic(placed, "flappy")
    assert sac != flappy and len(sac_members) >= 3
    victim = sac_members[-1]

    moved = revise(sent[victim], "Flappy Bird creator says the game will return to app stores")
    batch = messages([moved], start=100)
    processor.process(batch)
    assert memberships(processor.engine) == placed | {victim: flappy}
    stored, recount = counts(processor.engine)
    assert stored == recount and recount[sac] == len([t for t in placed.values() if t == sac]) - 1
    assert processor.clusterer is not None
    assert (
        processor.clusterer.topics.size(sac) == recount[sac]
        and processor.clusterer.topics.size(flappy) == recount[flappy]
    )

    before = snapshot(processor.engine)
    replay = processor.process(batch)
    assert replay.skipped == 1 and snapshot(processor.engine) == before
    metadata_only = revise(moved, outlet="ft.com")  # same text: the membership row is not even rewritten
    processor.process(messages([metadata_only], start=101))
    assert snapshot(processor.engine)["topic_memberships"] == before["topic_memberships"]
    stored, recount = counts(processor.engine)
    assert stored == recount


def test_the_worker_pools_a_revision_that_fits_no_topic(processor: BatchProcessor) -> None:
    sent = {r.id: r for r in story_records()}
    processor.process(messages(list(sent.values())))
    placed = memberships(processor.engine)
    unicredit, members = story_topic(placed, "unicredit")
    victim = members[-1]
    processor.process(messages([revise(sent[victim], "Heavy snow closes mountain passes in the Alps")], 50))
    assert memberships(processor.engine) == {a: t for a, t in placed.items() if a != victim}
    stored, recount = counts(processor.engine)
    assert stored == recount and recount[unicredit] == len([t for t in placed.values() if t == unicredit]) - 1
    assert processor.clusterer is not None and victim in processor.clusterer.pool.slot_of
    assert processor.clusterer.topics.size(unicredit) == recount[unicredit]
