"""Periodic re-clustering of the window: HDBSCAN over a reduced joint representation, then tidying.

1. Features: the dense embeddings and a TruncatedSVD of the sparse TF-IDF, each scaled by the square
   root of its weight so that dot products approximate ``dense_weight·cos + sparse_weight·cos``;
   rows normalised and reduced with PCA (``recluster_dims``) so HDBSCAN's trees stay fast.
2. HDBSCAN (``hdbscan`` package) finds dense story cores; it is deterministic for a given input,
   and both reductions use ``random_seed``.
3. Average linkage over the cores and the noise points (``link_groups``), cut at
   ``recluster_merge_threshold``: cores of one story come together, noise points join the story
   they are closest to on average, and whatever stays alone is unassigned. Windows with more groups
   than ``recluster_max_groups`` attach noise to the nearest core first (``attach_noise``).
4. Established clusters (``story_min_size`` members or more) whose centroids are at least
   ``story_merge_threshold`` similar are merged (``merge_stories``): a big story told in many
   different headlines stays one topic.

Pure: a ``Batch`` and settings in, one label per row out (-1 unassigned).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.decomposition import PCA, TruncatedSVD

from clustering.represent import Batch, SimilarityWeights
from newsflow.settings import Settings

log = logging.getLogger(__name__)
_MAX_MERGE_ROUNDS = 50
_PRIM_MAX_POINTS = 20_000


def features(batch: Batch, settings: Settings) -> np.ndarray:
    """Rows whose dot products approximate the weighted dense + sparse similarity, reduced for HDBSCAN."""
    n = len(batch)
    parts = [np.sqrt(max(settings.dense_weight, 0.0)) * batch.dense.astype(np.float64)]
    k = min(settings.recluster_sparse_dims, n - 1, batch.sparse.shape[1] - 1)
    if settings.sparse_weight > 0 and k >= 2 and len(np.unique(batch.sparse.indices)) > 2:
        # Only the hashed columns the window uses: the SVD's cost follows them, not the hashing space.
        used = np.unique(batch.sparse.indices)
        svd = TruncatedSVD(n_components=min(k, len(used) - 1), random_state=settings.random_seed)
        reduced = svd.fit_transform(batch.sparse[:, used])
        norms = np.linalg.norm(reduced, axis=1, keepdims=True)
        parts.append(np.sqrt(settings.sparse_weight) * reduced / np.where(norms > 0, norms, 1.0))
    x = np.hstack(parts)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    dims = min(settings.recluster_dims, n - 1, x.shape[1])
    if settings.recluster_dims and dims >= 2 and dims < x.shape[1]:
        x = PCA(n_components=dims, random_state=settings.random_seed, svd_solver="full").fit_transform(x)
    return np.ascontiguousarray(x)


def hdbscan_labels(x: np.ndarray, settings: Settings) -> np.ndarray:
    import hdbscan  # heavy (numba-free but compiled); imported where it is used

    if len(x) < max(settings.hdbscan_min_cluster_size, 2):
        return np.full(len(x), -1, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hdbscan's sklearn deprecation chatter
        model = hdbscan.HDBSCAN(
            min_cluster_size=settings.hdbscan_min_cluster_size,
            min_samples=settings.hdbscan_min_samples,
            cluster_selection_method=settings.hdbscan_selection,
            metric="euclidean",
            # Same tree either way; Prim is faster on windows of a few thousand, Borůvka scales further.
            algorithm="prims_kdtree" if len(x) <= _PRIM_MAX_POINTS else "boruvka_kdtree",
            core_dist_n_jobs=1,
        )
        return np.asarray(model.fit_predict(x), dtype=np.int64)


class _Centroids:
    """Dense/sparse centroids and time spans of labelled clusters, for the tidy-up steps."""

    def __init__(self, batch: Batch, labels: np.ndarray) -> None:
        self.ids = np.array(sorted(set(labels[labels >= 0].tolist())), dtype=np.int64)
        index = {c: j for j, c in enumerate(self.ids.tolist())}
        rows = np.flatnonzero(labels >= 0)
        member = sp.csr_matrix(
            (np.ones(len(rows)), (np.array([index[c] for c in labels[rows]], dtype=np.int64), rows)),
            shape=(len(self.ids), len(batch)),
        )
        self.dense = np.asarray(member @ batch.dense, dtype=np.float64)
        self.dense /= np.maximum(np.linalg.norm(self.dense, axis=1, keepdims=True), 1e-12)
        sparse = sp.csr_matrix(member @ batch.sparse)
        norms = np.sqrt(np.asarray(sparse.multiply(sparse).sum(axis=1)).ravel())
        self.sparse = sp.csr_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ sparse)
        self.sizes = np.asarray(member.sum(axis=1)).ravel()
        at = np.array([index[c] for c in labels[rows]], dtype=np.int64)
        self.first = np.full(len(self.ids), np.inf)
        self.last = np.full(len(self.ids), -np.inf)
        np.minimum.at(self.first, at, batch.hours[rows])
        np.maximum.at(self.last, at, batch.hours[rows])


def link_groups(batch: Batch, labels: np.ndarray, settings: Settings) -> np.ndarray:
    """Average linkage over HDBSCAN's cores and its noise points, cut at ``recluster_merge_threshold``.

    Each group (a core, or one noise article) is represented by the mean of its members' dense and
    sparse vectors: with a bilinear similarity the mean pairwise similarity of two groups is the
    product of their means, so this is average linkage over articles that starts from HDBSCAN's
    cores instead of from single articles — cores of one story that HDBSCAN kept apart come
    together, and noise articles join the story they are closest to on average. Groups that stay
    alone are unassigned.
    """
    groups = labels.copy()
    noise = np.flatnonzero(groups < 0)
    first_noise = int(groups.max()) + 1 if len(groups) else 0
    groups[noise] = first_noise + np.arange(len(noise))
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    if n_groups < 2:
        return labels
    member = sp.csr_matrix((np.ones(len(groups)), (groups, np.arange(len(groups)))), shape=(n_groups, len(groups)))
    sizes = np.asarray(member.sum(axis=1)).ravel()
    mean = sp.diags(1.0 / sizes) @ member
    dense = np.asarray(mean @ batch.dense, dtype=np.float64)
    sparse = sp.csr_matrix(mean @ batch.sparse)
    first = np.full(n_groups, np.inf)
    last = np.full(n_groups, -np.inf)
    np.minimum.at(first, groups, batch.hours)
    np.maximum.at(last, groups, batch.hours)
    gap = np.maximum(np.maximum(first[:, None] - last[None, :], first[None, :] - last[:, None]), 0.0)
    sims = SimilarityWeights.from_settings(settings).combine(dense @ dense.T, (sparse @ sparse.T).toarray(), gap)
    dist = np.clip(1.0 - sims, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), "average")
    merged = fcluster(tree, 1.0 - settings.recluster_merge_threshold, "distance")[groups]
    counts = np.bincount(merged)
    return np.where(counts[merged] >= 2, merged, -1).astype(np.int64)


def merge_stories(batch: Batch, labels: np.ndarray, settings: Settings) -> np.ndarray:
    """Merge established clusters whose centroids are at least ``story_merge_threshold`` similar.

    Average linkage asks every pair of articles to be similar on average, which splits a large story
    told in many different headlines. The centroid of a cluster with ``story_min_size`` or more
    members is a steadier estimate of its story, so such clusters are compared centroid to centroid
    (cosine of the joint dense + sparse means, with time decay). Each round merges mutually best
    pairs above the threshold and recomputes the centroids, until no pair qualifies.
    """
    labels = labels.copy()
    weights = SimilarityWeights.from_settings(settings)
    for _ in range(_MAX_MERGE_ROUNDS):
        c = _Centroids(batch, labels)
        big = c.sizes >= settings.story_min_size
        if big.sum() < 2:
            break
        gap = np.maximum(np.maximum(c.first[:, None] - c.last[None, :], c.first[None, :] - c.last[:, None]), 0.0)
        sims = weights.combine(c.dense @ c.dense.T, (c.sparse @ c.sparse.T).toarray(), gap)
        sims[~big, :] = -np.inf
        sims[:, ~big] = -np.inf
        np.fill_diagonal(sims, -np.inf)
        best = sims.argmax(axis=1)
        pairs = [
            (float(sims[a, b]), a, int(b))
            for a, b in enumerate(best)
            if a < b and best[b] == a and sims[a, b] >= settings.story_merge_threshold
        ]
        if not pairs:
            break
        into = {int(c.ids[b]): int(c.ids[a]) for _, a, b in pairs}
        labels = np.array([into.get(x, x) for x in labels.tolist()], dtype=np.int64)
    return labels


def attach_noise(batch: Batch, labels: np.ndarray, settings: Settings) -> np.ndarray:
    """Noise rows join their most similar cluster if it clears ``assign_threshold``."""
    noise = np.flatnonzero(labels < 0)
    c = _Centroids(batch, labels)
    if len(noise) == 0 or len(c.ids) == 0:
        return labels
    weights = SimilarityWeights.from_settings(settings)
    h = batch.hours[noise][:, None]
    gap = np.maximum(np.maximum(c.first[None, :] - h, h - c.last[None, :]), 0.0)
    dense = batch.dense[noise].astype(np.float64) @ c.dense.T
    sparse = (batch.sparse[noise] @ c.sparse.T).toarray()
    sims = weights.combine(dense, sparse, gap)
    best = sims.argmax(axis=1)
    ok = sims[np.arange(len(noise)), best] >= settings.assign_threshold
    out = labels.copy()
    out[noise[ok]] = c.ids[best[ok]]
    return out


def cluster_window(batch: Batch, settings: Settings) -> np.ndarray:
    """One label per row of ``batch`` (-1: unassigned), deterministic for the same input and settings."""
    if len(batch) == 0:
        return np.zeros(0, dtype=np.int64)
    labels = hdbscan_labels(features(batch, settings), settings)
    cores = int(labels.max()) + 1 if len(labels) else 0
    noise = labels < 0
    if cores + int(noise.sum()) > settings.recluster_max_groups:
        # Too many groups for one linkage matrix: noise first joins a core or stays out of the linkage.
        labels = attach_noise(batch, labels, settings)
        kept = np.flatnonzero(labels >= 0)
        linked = np.full(len(labels), -1, dtype=np.int64)
        linked[kept] = link_groups(batch.select(kept.tolist()), labels[kept], settings)
        labels = linked
    else:
        labels = link_groups(batch, labels, settings)
    labels = merge_stories(batch, labels, settings)
    log.info(
        "re-clustered %d articles: %d cores → %d clusters, %d unassigned",
        len(batch), cores, len(set(labels[labels >= 0].tolist())), int((labels < 0).sum()),
    )  # fmt: skip
    return _canonical(labels)


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters by first appearance, so equal partitions get equal labels."""
    mapping: dict[int, int] = {}
    out = np.full(len(labels), -1, dtype=np.int64)
    for i, x in enumerate(labels.tolist()):
        if x >= 0:
            out[i] = mapping.setdefault(x, len(mapping))
    return out
