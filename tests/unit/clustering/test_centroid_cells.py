"""The coarse inverted file over topic centroids: a few cells probed, the same best topic found."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from clustering.online.centroid_cells import CentroidCells
from clustering.online.centroids import CentroidIndex
from clustering.representation.represent import SimilarityWeights

DIM, FEATURES = 64, 2**10
WEIGHTS = SimilarityWeights(dense=1.0, sparse=0.0, decay_hours=0.0)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def subjects_and_topics(rng: np.random.Generator, n_topics: int) -> np.ndarray:
    """Topic centroids grouped by subject, as news topics are (several stories per subject)."""
    subjects = unit(rng.normal(size=(max(1, n_topics // 20), DIM)))
    return unit(subjects[rng.integers(len(subjects), size=n_topics)] + 0.6 * unit(rng.normal(size=(n_topics, DIM))))


def index_of(centroids: np.ndarray, min_topics: int, probe: int = 8) -> CentroidIndex:
    index = CentroidIndex(DIM, FEATURES, cells=CentroidCells(min_topics, probe, seed=1))
    empty = sp.csr_matrix((len(centroids), FEATURES), dtype=np.float32)
    ones = np.ones(len(centroids))
    index.add_many(list(range(1, len(centroids) + 1)), centroids, empty, ones, ones, ones)
    return index


def best(index: CentroidIndex, query: np.ndarray) -> int | None:
    return index.best(query, sp.csr_matrix((1, FEATURES), dtype=np.float32), 1.0, WEIGHTS, k=4)[0]


def test_cells_find_the_same_topic_as_a_full_search_while_comparing_a_fraction_of_topics() -> None:
    rng = np.random.default_rng(3)
    centroids = subjects_and_topics(rng, 3000)
    indexed, full = index_of(centroids, min_topics=1000), index_of(centroids, min_topics=10**9)
    assert indexed.cells.active and not full.cells.active and len(indexed.cells.centres) == 55  # ≈ √3000
    targets = rng.integers(len(centroids), size=400)
    queries = unit(centroids[targets] + 0.25 * unit(rng.normal(size=(len(targets), DIM))))
    same = [best(indexed, q) == best(full, q) for q in queries]
    assert np.mean(same) >= 0.98
    compared = [len(indexed.cells.candidates(q)) for q in queries]
    assert np.mean(compared) < len(centroids) / 3  # 8 of 55 cells


def test_rows_follow_their_centroid_when_updated_or_removed() -> None:
    rng = np.random.default_rng(5)
    centroids = subjects_and_topics(rng, 1200)
    index = index_of(centroids, min_topics=1000)
    for topic_id in rng.choice(np.arange(1, 1201), size=300, replace=False).tolist():
        pull = unit(rng.normal(size=DIM))
        index.update(topic_id, 5 * pull, sp.csr_matrix((1, FEATURES), dtype=np.float32), 1.0)
    for topic_id in range(1, 101):
        index.remove(topic_id)
    cells = index.cells
    assert cells.centres is not None
    placed = sorted(row for members in cells.rows for row in members)
    assert placed == sorted(2 * list(index.row_of.values()))  # every live topic in exactly two cells
    for row, in_cells in cells.cell_of.items():
        assert in_cells == tuple(sorted(np.argsort(-(cells.centres @ index.unit[row]))[:2].tolist()))


def test_cells_are_rebuilt_once_the_topics_have_doubled() -> None:
    rng = np.random.default_rng(7)
    index = index_of(subjects_and_topics(rng, 1000), min_topics=1000)
    assert index.cells.built_for == 1000 and len(index.cells.centres) == 32
    more = subjects_and_topics(rng, 1000)
    for k, centroid in enumerate(more):
        index.add(2000 + k, centroid[None, :], sp.csr_matrix((1, FEATURES), dtype=np.float32), np.ones(1))
    best(index, more[0])
    assert index.cells.built_for == 2000 and len(index.cells.centres) == 45
