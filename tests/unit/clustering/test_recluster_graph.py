"""The graph-based re-clustering: neighbour search, HDBSCAN over the graph, agglomeration over candidate pairs.

Each stage is checked against the all-pairs computation it replaces (brute-force neighbours, the
``hdbscan`` package on a full distance matrix, scipy's average linkage), and the large-window path
against known stories.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import hdbscan
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from clustering.reclustering.graph_hdbscan import graph_hdbscan_labels
from clustering.reclustering.neighbours import KnnGraph, _balanced_lists, _term_candidates, knn_graph
from clustering.reclustering.recluster import ReclusterParams, cluster_window, link_groups
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from newsflow.records.doc import Doc
from newsflow.settings import Settings
from tests.unit.clustering.stories import T0


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def stories(n_stories: int, per: int, dim: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per`` unit rows around each of ``n_stories`` random centres; rows and their story."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_stories, dim))
    truth = np.repeat(np.arange(n_stories), per)
    return unit(centres[truth] + spread * rng.standard_normal((len(truth), dim))), truth


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = {(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def brute_force(x: np.ndarray, k: int) -> np.ndarray:
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def as_batch(
    x: np.ndarray, words: list[str] | None = None, *, minutes: float = 1.0, cfg: Settings | None = None
) -> Batch:
    """Docs for the rows of ``x``; their similarity weights are those of ``cfg`` (default settings)."""
    cfg = cfg or Settings(sparse_features=2**12)
    docs = [
        Doc(f"d{i}", words[i] if words else "", "", T0 + timedelta(minutes=minutes * i), language="en")
        for i in range(len(x))
    ]
    return represent(docs, x, SparseVectoriser(cfg.sparse_features), RepresentParams.from_settings(cfg))


def dense_only(**extra: object) -> Settings:
    return Settings(  # the similarity cuts (model off): average linkage checked against scipy's
        same_story_model="off", sparse_features=2**12, dense_weight=1.0, sparse_weight=0.0, time_decay_hours=0.0,
        recluster_dims=0, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def params(cfg: Settings) -> ReclusterParams:
    return ReclusterParams.from_settings(cfg)


def test_exact_graph_is_the_brute_force_neighbours() -> None:
    x, _ = stories(20, 10, 24, 0.5, seed=1)
    cfg = dense_only(recluster_neighbours=5, recluster_block_rows=37)
    graph = knn_graph(x, sp.csr_matrix((len(x), 8)), params(cfg).neighbours)
    assert graph.index.tolist() == brute_force(x, 5).tolist()
    assert np.all(np.diff(graph.sim, axis=1) <= 0)  # most similar first


def test_inverted_file_finds_most_neighbours_and_is_deterministic() -> None:
    x, _ = stories(150, 8, 48, 0.4, seed=2)
    cfg = dense_only(
        recluster_neighbours=6, recluster_exact_neighbours_max=100, recluster_ivf_list_size=64, recluster_ivf_probe=4
    )
    empty = sp.csr_matrix((len(x), 8), dtype=np.float32)
    graph = knn_graph(x, empty, params(cfg).neighbours)
    exact = brute_force(x, 6)
    recall = np.mean([len(set(graph.index[i]) & set(exact[i])) / 6 for i in range(len(x))])
    assert recall >= 0.8  # probing 4 of 18 lists blindly would find about a quarter
    assert np.array_equal(knn_graph(x, empty, params(cfg).neighbours).index, graph.index)
    assert not np.any(graph.index == np.arange(len(x))[:, None])  # never its own neighbour


def test_rare_shared_terms_propose_neighbours() -> None:
    rows = sp.csr_matrix(
        np.array(
            [[1, 0, 0, 1], [1, 0, 0, 1], [0, 1, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]],  # term 3 is in every row
            dtype=np.float32,
        )
    )
    cand = _term_candidates(rows, 2, df_max=2, block=2)
    assert cand[0].tolist() == [1, -1] and cand[2].tolist() == [3, -1]  # the common term proposes nothing
    assert cand[4].tolist() == [-1, -1]


@pytest.mark.parametrize("min_samples", [1, 2])
def test_graph_hdbscan_is_the_package_on_a_complete_graph(min_samples: int) -> None:
    x, _ = stories(6, 8, 10, 0.35, seed=3)
    cfg = dense_only(recluster_neighbours=len(x), hdbscan_min_cluster_size=3, hdbscan_min_samples=min_samples)
    labels = graph_hdbscan_labels(knn_graph(x, sp.csr_matrix((len(x), 8)), params(cfg).neighbours), params(cfg).hdbscan)
    dist = np.sqrt(np.clip(2.0 - 2.0 * (x @ x.T).astype(np.float64), 0.0, None))
    np.fill_diagonal(dist, 0.0)
    expected = hdbscan.HDBSCAN(min_cluster_size=3, min_samples=min_samples, metric="precomputed").fit_predict(dist)
    assert same_partition(labels, expected) and (labels == -1).tolist() == (expected == -1).tolist()
    assert len(set(labels.tolist()) - {-1}) >= 4  # the case is not trivial


def test_graph_hdbscan_clusters_a_disconnected_graph() -> None:
    x, truth = stories(4, 6, 16, 0.1, seed=4)
    cfg = dense_only(recluster_neighbours=3, hdbscan_min_cluster_size=3)
    graph = knn_graph(x, sp.csr_matrix((len(x), 8)), params(cfg).neighbours)  # 3 neighbours: each story is its own part
    labels = graph_hdbscan_labels(graph, params(cfg).hdbscan)
    assert len({(a, b) for a, b in zip(labels.tolist(), truth.tolist(), strict=True)}) == 4 and -1 not in labels


def test_link_groups_is_average_linkage_cut_at_the_threshold() -> None:
    x, _ = stories(12, 5, 12, 0.8, seed=5)
    cfg = dense_only(recluster_neighbours=len(x), recluster_merge_threshold=0.35)
    batch = as_batch(x, cfg=cfg)
    linked = link_groups(batch, np.full(len(x), -1), params(cfg))
    dist = np.clip(1.0 - (x @ x.T).astype(np.float64), 0.0, None)
    np.fill_diagonal(dist, 0.0)
    flat = fcluster(linkage(squareform(dist, checks=False), "average"), 1.0 - 0.35, "distance")
    counts = np.bincount(flat)
    expected = np.where(counts[flat] >= 2, flat, -1)
    assert same_partition(linked, expected)
    assert (linked == -1).tolist() == (expected == -1).tolist() and 2 < len(set(linked.tolist())) < len(x)


def test_large_window_path_recovers_stories_deterministically() -> None:
    x, truth = stories(120, 6, 64, 0.7, seed=6)
    words = [f"name{t} story{t} the news" for t in truth.tolist()]  # each story shares two rare names
    batch = as_batch(x, words)
    # Synthetic 64-d vectors, not an embedding model's: the similarity cuts (model off) read them.
    cfg = Settings(same_story_model="off", sparse_features=2**12, recluster_exact_neighbours_max=200,
                   recluster_ivf_list_size=48)  # fmt: skip
    labels = cluster_window(batch, params(cfg))
    assert np.array_equal(cluster_window(batch, params(cfg)), labels)
    assigned = labels >= 0
    assert assigned.mean() >= 0.9
    pure = sum(int(np.bincount(truth[labels == c]).max()) for c in np.unique(labels[assigned]))
    assert pure / assigned.sum() >= 0.95
    assert len(np.unique(labels[assigned])) >= 100  # stories are not lumped together


def test_knn_graph_edges_skip_missing_neighbours() -> None:
    graph = KnnGraph(np.array([[1, -1], [0, -1]]), np.array([[0.5, -np.inf], [0.5, -np.inf]], dtype=np.float32))
    i, j, s = graph.edges()
    assert i.tolist() == [0, 1] and j.tolist() == [1, 0] and s.tolist() == [0.5, 0.5]


def test_inverted_file_lists_are_capped_and_keep_the_closest_rows() -> None:
    centres = unit(np.eye(3, 8))
    rng = np.random.default_rng(7)
    x = unit(np.tile(centres[0], (30, 1)) + 0.3 * rng.standard_normal((30, 8)))  # every row is nearest to list 0
    lists = _balanced_lists(x, centres, block=7)
    room = int(np.ceil(1.5 * 30 / 3))
    assert np.bincount(lists, minlength=3).max() <= room and np.sum(lists == 0) == room
    closeness = x @ centres[0]
    assert closeness[lists == 0].min() >= closeness[lists != 0].max()  # the most confident rows stay


def test_link_groups_cuts_full_texts_at_their_own_threshold() -> None:
    """Between full texts the linkage cuts at ``recluster_merge_threshold_long``; headlines keep the other cut."""
    x, _ = stories(12, 5, 12, 0.8, seed=5)

    def expected_at(cut: float) -> np.ndarray:
        dist = np.clip(1.0 - (x @ x.T).astype(np.float64), 0.0, None)
        np.fill_diagonal(dist, 0.0)
        flat = fcluster(linkage(squareform(dist, checks=False), "average"), 1.0 - cut, "distance")
        counts = np.bincount(flat)
        return np.where(counts[flat] >= 2, flat, -1)

    cfg = dense_only(recluster_neighbours=len(x), recluster_merge_threshold=0.35, recluster_merge_threshold_long=0.45)
    headlines = as_batch(x, cfg=cfg)
    texts = dataclasses.replace(headlines, long=np.ones(len(x)))
    assert same_partition(link_groups(headlines, np.full(len(x), -1), params(cfg)), expected_at(0.35))
    at_long = link_groups(texts, np.full(len(x), -1), params(cfg))
    assert same_partition(at_long, expected_at(0.45))
    assert not same_partition(expected_at(0.35), expected_at(0.45))  # (the two cuts do differ on these stories)
