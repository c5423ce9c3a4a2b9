"""The k-nearest-neighbour graph of a window: the only all-pairs work re-clustering does.

Every later stage (HDBSCAN's spanning tree, the linkage of cores and noise, the story merging)
looks only at pairs this graph proposes, so nothing holds a window² matrix. Rows of ``x`` are unit
vectors and similarity is their dot product.

* Windows up to ``recluster_exact_neighbours_max`` rows: exact search, ``recluster_block_rows``
  query rows at a time against the whole window (memory: block × window floats).
* Larger windows: candidates from two cheap searches, then scored exactly and the best kept.
  - An inverted file: a few rounds of spherical k-means (seeded, on a sample) split the window
    into lists of about ``recluster_ivf_list_size`` rows (capped, so no list balloons); the rows of
    each list are compared with the rows of the ``recluster_ivf_probe`` lists whose centres are
    nearest to their own. Cost: window × probe × list size instead of window².
  - Shared rare terms: articles whose TF-IDF overlaps on terms used by at most
    ``recluster_term_df_max`` articles of the window (names, mostly). Dense search in many
    dimensions is coarse; story mates that it misses nearly always share a name.
  On synthetic 384-d stories (50k articles) the union finds about 80% of the exact 16 neighbours
  and as many same-story neighbours as the exact search.

Deterministic: ties and seeds are fixed, float32 throughout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from newsflow.settings import Settings

log = logging.getLogger(__name__)
_KMEANS_ROUNDS = 4
_LIST_SLACK = 1.5  # a list holds at most this many times the mean list size (see _balanced_lists)
_CHOICES = 4  # nearest lists a row may be placed in
_SAMPLE_PER_LIST = 16  # k-means learns its centres from this many rows per list


@dataclass(frozen=True)
class NeighbourParams:
    """The neighbour search's knobs (see the module docstring)."""

    recluster_neighbours: int
    recluster_exact_neighbours_max: int
    recluster_block_rows: int
    recluster_ivf_list_size: int
    recluster_ivf_probe: int
    recluster_term_df_max: int
    random_seed: int

    @classmethod
    def from_settings(cls, settings: Settings) -> NeighbourParams:
        return cls(
            recluster_neighbours=settings.recluster_neighbours,
            recluster_exact_neighbours_max=settings.recluster_exact_neighbours_max,
            recluster_block_rows=settings.recluster_block_rows,
            recluster_ivf_list_size=settings.recluster_ivf_list_size,
            recluster_ivf_probe=settings.recluster_ivf_probe,
            recluster_term_df_max=settings.recluster_term_df_max,
            random_seed=settings.random_seed,
        )


@dataclass(frozen=True)
class KnnGraph:
    """Row ``i``'s neighbours, most similar first: ``index[i, j]`` (-1 where missing) and ``sim[i, j]``."""

    index: np.ndarray  # (n, k) int64
    sim: np.ndarray  # (n, k) float32, -inf where missing

    @property
    def n(self) -> int:
        return int(self.index.shape[0])

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(i, j, sim)`` of every present neighbour link (directed, i → j)."""
        ok = self.index >= 0
        rows = np.broadcast_to(np.arange(self.n)[:, None], self.index.shape)
        return rows[ok], self.index[ok], self.sim[ok]


def knn_graph(x: np.ndarray, sparse: sp.csr_matrix, params: NeighbourParams) -> KnnGraph:
    """The ``recluster_neighbours`` most similar other rows of every row of ``x``.

    ``sparse`` (the rows' TF-IDF) proposes extra candidates in large windows: articles that share
    a rare term (document frequency up to ``recluster_term_df_max``), which is how story mates
    that the coarse dense search misses still find each other.
    """
    n = len(x)
    k = min(params.recluster_neighbours, n - 1)
    if k < 1:
        return KnnGraph(np.full((n, 0), -1, dtype=np.int64), np.zeros((n, 0), dtype=np.float32))
    x = np.ascontiguousarray(x, dtype=np.float32)
    if n <= params.recluster_exact_neighbours_max:
        return _exact(x, k, params.recluster_block_rows)
    dense = _inverted_file(x, k, params).index
    terms = _term_candidates(sparse, k, params.recluster_term_df_max, params.recluster_block_rows)
    graph = _rescore(x, np.hstack([dense, terms]), k, params.recluster_block_rows)
    log.debug("neighbour graph: %d rows, k=%d, approximate", n, k)
    return graph


def _top_k(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions and values of the ``k`` largest entries of each row, largest first."""
    k = min(k, sims.shape[1])
    part = np.argpartition(sims, sims.shape[1] - k, axis=1)[:, sims.shape[1] - k :]  # no negated copy
    vals = np.take_along_axis(sims, part, axis=1)
    # Sort by value, ties by column, so equal inputs give equal graphs.
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _exact(x: np.ndarray, k: int, block: int) -> KnnGraph:
    n = len(x)
    index = np.empty((n, k), dtype=np.int64)
    sim = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        stop = min(start + block, n)
        sims = x[start:stop] @ x.T
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # not its own neighbour
        index[start:stop], sim[start:stop] = _top_k(sims, k)
    return KnnGraph(index, sim)


def nearest_centre(x: np.ndarray, centres: np.ndarray, block: int) -> np.ndarray:
    nearest = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), block):
        nearest[start : start + block] = np.argmax(x[start : start + block] @ centres.T, axis=1)
    return nearest


def _spherical_kmeans(x: np.ndarray, lists: int, seed: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit centres and each row's list (nearest centre, list sizes capped)."""
    centres = kmeans_centres(x, lists, seed, block)
    return centres, _balanced_lists(x, centres, block)


def kmeans_centres(x: np.ndarray, lists: int, seed: int, block: int) -> np.ndarray:
    """``lists`` unit centres of the unit rows ``x``: spherical Lloyd rounds on a seeded sample."""
    rng = np.random.default_rng(seed)
    sample = x[np.sort(rng.choice(len(x), min(len(x), lists * _SAMPLE_PER_LIST), replace=False))]
    centres = sample[np.sort(rng.choice(len(sample), lists, replace=False))].copy()
    for _ in range(_KMEANS_ROUNDS):
        nearest = nearest_centre(sample, centres, block)
        member = sp.csr_matrix(
            (np.ones(len(sample), dtype=np.float32), (nearest, np.arange(len(sample)))), shape=(lists, len(sample))
        )
        sums = np.asarray(member @ sample, dtype=np.float32)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres = np.where(norms > 0, sums / np.where(norms > 0, norms, 1.0), centres)  # empty: keep the old centre
    return centres.astype(np.float32)


def _balanced_lists(x: np.ndarray, centres: np.ndarray, block: int) -> np.ndarray:
    """Each row's list: its nearest centre with room left, rows placed most confident first.

    K-means cells of news embeddings are uneven (a few centres attract many rows), and a list's cost
    is its size times the size of the lists it probes; a cap of ``_LIST_SLACK`` × the mean size keeps
    the search near window × probe × list size. Rows whose ``_CHOICES`` nearest lists are all full
    go to their nearest one anyway.
    """
    lists = len(centres)
    choices = min(_CHOICES, lists)
    top = np.empty((len(x), choices), dtype=np.int64)
    best = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), block):
        sims = x[start : start + block] @ centres.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :choices]
        top[start : start + block] = order
        best[start : start + block] = np.take_along_axis(sims, order[:, :1], axis=1)[:, 0]
    room = np.full(lists, int(np.ceil(_LIST_SLACK * len(x) / lists)), dtype=np.int64)
    out = top[:, 0].copy()
    for row in np.argsort(-best, kind="stable").tolist():
        for c in top[row].tolist():
            if room[c] > 0:
                out[row] = c
                break
        room[out[row]] -= 1
    return out


def _inverted_file(x: np.ndarray, k: int, params: NeighbourParams) -> KnnGraph:
    n = len(x)
    lists = max(2, n // max(params.recluster_ivf_list_size, 1))
    centres, nearest = _spherical_kmeans(x, lists, params.random_seed, params.recluster_block_rows)
    order = np.argsort(nearest, kind="stable")
    bounds = np.searchsorted(nearest[order], np.arange(lists + 1))
    members = [order[bounds[c] : bounds[c + 1]] for c in range(lists)]
    probe = min(params.recluster_ivf_probe, lists)
    centre_sims = centres @ centres.T
    np.fill_diagonal(centre_sims, np.inf)  # a list always probes itself, first
    probed = np.argsort(-centre_sims, axis=1, kind="stable")[:, :probe]
    index = np.full((n, k), -1, dtype=np.int64)
    sim = np.full((n, k), -np.inf, dtype=np.float32)
    for c in range(lists):
        queries = members[c]
        if len(queries) == 0:
            continue
        cand = np.concatenate([members[p] for p in probed[c]])  # starts with the list itself
        xc = x[cand]
        for start in range(0, len(queries), params.recluster_block_rows):
            q = queries[start : start + params.recluster_block_rows]
            sims = x[q] @ xc.T
            sims[np.arange(len(q)), np.arange(start, start + len(q))] = -np.inf  # itself
            pos, vals = _top_k(sims, k)
            index[q, : pos.shape[1]] = cand[pos]
            sim[q, : pos.shape[1]] = vals
    index[~np.isfinite(sim)] = -1
    return KnnGraph(index, sim)


def _row_top(prod: sp.csr_matrix, m: int) -> np.ndarray:
    """(rows, m) columns of the ``m`` largest values of each row of ``prod`` (-1 padded; ties: lower column)."""
    prod.sort_indices()
    rows = np.repeat(np.arange(prod.shape[0]), np.diff(prod.indptr))
    # One stable sort on row + (1 − value): rows stay apart (values are in [0, 1]), ties keep column order.
    key = rows + (1.0 - np.clip(prod.data.astype(np.float64), 0.0, 1.0)) * 0.5
    order = np.argsort(key, kind="stable")
    rank = np.arange(len(order)) - prod.indptr[rows]
    keep = rank < m
    out = np.full((prod.shape[0], m), -1, dtype=np.int64)
    out[rows[keep], rank[keep]] = prod.indices[order][keep]
    return out


def _term_candidates(sparse: sp.csr_matrix, m: int, df_max: int, block: int) -> np.ndarray:
    """Per row, the ``m`` rows with the largest TF-IDF overlap on terms at most ``df_max`` rows use."""
    n = sparse.shape[0]
    df = np.bincount(sparse.indices, minlength=sparse.shape[1])
    rare = np.flatnonzero((df > 0) & (df <= df_max))
    if len(rare) == 0:
        return np.full((n, m), -1, dtype=np.int64)
    s = sp.csr_matrix(sparse[:, rare], dtype=np.float32)
    st = sp.csr_matrix(s.T)
    out = np.empty((n, m), dtype=np.int64)
    for start in range(0, n, block):
        prod = sp.csr_matrix(s[start : start + block] @ st)
        own = np.repeat(np.arange(start, start + prod.shape[0]), np.diff(prod.indptr))
        prod.data[prod.indices == own] = 0.0  # not its own candidate
        prod.eliminate_zeros()
        out[start : start + block] = _row_top(prod, m)
    return out


def _rescore(x: np.ndarray, cand: np.ndarray, k: int, block: int) -> KnnGraph:
    """Exact similarities of each row's candidates (duplicates and gaps dropped), the best ``k`` kept."""
    n = len(x)
    cand = np.sort(cand, axis=1)
    dup = np.zeros_like(cand, dtype=bool)
    dup[:, 1:] = cand[:, 1:] == cand[:, :-1]
    missing = (cand < 0) | dup
    index = np.empty((n, k), dtype=np.int64)
    sim = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        c = cand[start : start + block]
        sims = np.matmul(x[np.maximum(c, 0)], x[start : start + block, :, None])[:, :, 0]
        sims[missing[start : start + block]] = -np.inf
        pos, vals = _top_k(sims, k)
        index[start : start + block] = np.take_along_axis(c, pos, axis=1)
        sim[start : start + block] = vals
    index[~np.isfinite(sim)] = -1
    return KnnGraph(index, sim)
