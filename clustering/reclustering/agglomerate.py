"""Agglomeration over candidate pairs: merge mutually most similar clusters, round after round.

Both tidy-up steps of re-clustering are agglomerations: average linkage over HDBSCAN's cores and
noise points, and the merging of established stories by centroid similarity. Neither needs a
clusters² matrix: a pair can only qualify when its members are neighbours in the window's graph
(or, for centroids, when the centroids are neighbours), so only those candidate pairs are scored.

Each round scores the candidate pairs, lets every cluster pick its most similar partner (ties: the
lower id), and merges the pairs that picked each other above the threshold — for average linkage
that is the reciprocal-nearest-neighbour scheme, which gives the same clusters as merging the
best pair one at a time. Merged clusters keep the lower id, their sums are added, their candidate
pairs are united and rescored; other pairs keep their scores.

Similarities come from member sums, never from member pairs: with the bilinear dense + sparse
similarity the mean pairwise similarity of two clusters is the product of their means (times the
time decay of the gap between their spans), and a centroid similarity is the cosine of the sums.

Re-clustering a small window (a quiet stream, a replay of months) runs these rounds thousands of
times on matrices of a few dozen rows, where scipy.sparse's per-operation checks and conversions
cost far more than the arithmetic. The sparse sums are therefore added, folded and multiplied
by scipy.sparse's own kernels (``_sparsetools``) on the raw CSR arrays: the same kernels on the
same arrays in the same order as its operators, so the same bits (unit tests compare them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import DTypeLike
from scipy.sparse import _sparsetools

from clustering.representation.csr import csr_from_arrays
from clustering.representation.represent import Batch, SimilarityWeights

log = logging.getLogger(__name__)
_PAIR_BLOCK = 16_384  # pairs scored at once (bounds the gathered rows)
_INT32_MAX = int(np.iinfo(np.int32).max)


_DOTS_CHUNK = 8192  # candidate pairs whose sparse dot products are taken at once


@dataclass
class ClusterSums:
    """Per cluster (ids 0..m−1): member count, dense and sparse sums, first and last hour.

    Each member's vectors enter the sums scaled by the square roots of its weights (``Batch.roots``),
    so a product of two clusters' sums is the sum of their members' pairwise weighted similarities.
    """

    size: np.ndarray
    dense: np.ndarray  # (m, d) float32
    sparse: sp.csr_matrix  # (m, F) float32
    first: np.ndarray
    last: np.ndarray
    roots: np.ndarray  # (m, 2) sums of the members' weight roots (their means weigh centroid pairs)
    long: np.ndarray  # (m,) sums of the members' ``Batch.long`` (headline 0 … full text 1)
    foreign: np.ndarray  # (m,) sums of the members' ``Batch.foreign`` (not in English)
    # ``sparse`` over only the columns it uses (which merges never add to), for the kernels: theirs
    # work space grows with the columns. Rebuilt when ``sparse`` is not the matrix it was made from.
    _compact: Compact | None = field(default=None, repr=False, compare=False)
    # Called with (keep, gone) after each merge: whoever follows members (``pairwise.PairwiseVeto``).
    on_merge: list[Callable[[np.ndarray, np.ndarray], None]] = field(default_factory=list, repr=False, compare=False)

    def compact(self) -> Compact:
        if self._compact is None or self._compact.full is not self.sparse:
            self._compact = Compact.of(self.sparse)
        return self._compact

    def sparse_dots(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Dot products of the sparse sums of clusters ``a[i]`` and ``b[i]`` (float64): bit for bit
        ``np.asarray(sparse[a].multiply(sparse[b]).sum(axis=1), dtype=np.float64).ravel()``."""
        local = self.compact().local
        if len(a) <= _DOTS_CHUNK:
            return row_products(local.take(a), local.take(b))
        # In chunks: both sides' rows are copied for every pair, which for a 100k window's ~170k
        # candidate pairs of large clusters was half a gigabyte at once (each pair's dot is its own).
        parts = [row_products(local.take(a[i : i + _DOTS_CHUNK]), local.take(b[i : i + _DOTS_CHUNK]))
                 for i in range(0, len(a), _DOTS_CHUNK)]  # fmt: skip
        return np.concatenate(parts)

    def sparse_norms(self) -> np.ndarray:
        """Each cluster's sparse sum's length (float64), as ``sparse_dots`` of every cluster with itself."""
        local = self.compact().local
        return np.sqrt(row_products(local, local))

    @classmethod
    def of(cls, batch: Batch, groups: np.ndarray, m: int) -> ClusterSums:
        """Sums of the rows of ``batch`` by ``groups`` (every row in 0..m−1)."""
        grouping = grouping_matrix(groups, m)
        member = grouping.csr()
        first = np.full(m, np.inf)
        last = np.full(m, -np.inf)
        np.minimum.at(first, groups, batch.hours)
        np.maximum.at(last, groups, batch.hours)
        rows = Compact.of(batch.sparse)
        sparse = rows.replaced(_scaled_sums(grouping, batch.roots[:, 1], rows.local))
        return cls(
            size=np.bincount(groups, minlength=m).astype(np.float64),
            dense=np.asarray(member @ (batch.dense * batch.roots[:, :1].astype(np.float32)), dtype=np.float32),
            sparse=sparse.full,
            first=first,
            last=last,
            roots=np.asarray(member @ batch.roots, dtype=np.float64),
            long=np.bincount(groups, weights=batch.long, minlength=m).astype(np.float64),
            foreign=np.bincount(groups, weights=batch.foreign, minlength=m).astype(np.float64),
            _compact=sparse,
        )

    def merge(self, keep: np.ndarray, gone: np.ndarray) -> None:
        """Add cluster ``gone[i]`` into ``keep[i]`` (the ids in ``keep`` and ``gone`` are all distinct)."""
        m = len(self.size)
        into = np.arange(m)
        into[gone] = keep
        self.size = np.bincount(into, weights=self.size, minlength=m)
        self.size[gone] = 0
        self.dense[keep] += self.dense[gone]
        self.dense[gone] = 0.0
        compact = self.compact()
        folded = csr_matmul(grouping_matrix(into, m), compact.local, np.float32)  # fold @ sparse
        self._compact = compact.replaced(folded)
        self.sparse = self._compact.full
        self.roots[keep] += self.roots[gone]
        self.roots[gone] = 0.0
        self.long[keep] += self.long[gone]
        self.long[gone] = 0.0
        self.foreign[keep] += self.foreign[gone]
        self.foreign[gone] = 0.0
        for listener in self.on_merge:
            listener(keep, gone)
        self.first[keep] = np.minimum(self.first[keep], self.first[gone])
        self.last[keep] = np.maximum(self.last[keep], self.last[gone])


PairScore = Callable[[ClusterSums, np.ndarray, np.ndarray], np.ndarray]


def mean_similarity(weights: SimilarityWeights) -> PairScore:
    """Average pairwise similarity of two clusters' members (average linkage)."""

    def score(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        scale = 1.0 / (sums.size[a] * sums.size[b])
        return _combined(sums, a, b, weights, scale, scale, np.ones(len(a)), np.ones(len(a)))  # weights in the sums

    return score


def with_group_margin(score: PairScore, margin: float) -> PairScore:
    """``score`` lowered by ``margin`` for pairs of two groups (2+ members each): a two-level cut.

    A single article joins a group at the agglomeration's threshold, while two groups must clear
    it by ``margin``: one article's similarity to a story is the evidence it belongs there, but two
    groups that are only loosely similar on average are more often two stories on one subject
    (two earthquakes, two elections) than one story. Pruning stays valid: a merged pair's raw
    score is a weighted mean of its parts' and the margin only grows as groups form.
    """
    if margin <= 0:
        return score

    def lowered(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raw = score(sums, a, b)
        groups = (sums.size[a] >= 2) & (sums.size[b] >= 2)
        return np.where(groups, raw - margin, raw)

    return lowered


def with_length_threshold(score: PairScore, threshold: float, threshold_long: float) -> PairScore:
    """``score`` shifted so that agglomerating at ``threshold`` merges a pair of full-text clusters
    at ``threshold_long`` instead (between: by the pair's mean ``long`` share).

    Full texts lean on TF-IDF, whose cosines run lower than the embedding's, so the same evidence
    gives a lower combined similarity than between headlines; the cut follows the scale.
    """
    if threshold_long == threshold:
        return score

    def shifted(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        long = (sums.long[a] / np.maximum(sums.size[a], 1.0) + sums.long[b] / np.maximum(sums.size[b], 1.0)) / 2
        return score(sums, a, b) + (threshold - threshold_long) * long

    return shifted


def centroid_similarity(weights: SimilarityWeights) -> PairScore:
    """Cosine of two clusters' dense sums and of their sparse sums, combined with the time decay."""

    def score(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        dn = np.linalg.norm(sums.dense, axis=1).astype(np.float64)
        sn = sums.sparse_norms()
        dense_scale = 1.0 / np.maximum(dn[a] * dn[b], 1e-12)
        sparse_scale = np.where((sn[a] > 0) & (sn[b] > 0), 1.0 / np.maximum(sn[a] * sn[b], 1e-24), 0.0)
        mean_roots = sums.roots / np.maximum(sums.size, 1.0)[:, None]
        coef = mean_roots[a] * mean_roots[b]  # cosines lose the weights: the clusters' mean weights
        return _combined(sums, a, b, weights, dense_scale, sparse_scale, coef[:, 0], coef[:, 1])

    return score


def _combined(
    sums: ClusterSums, a: np.ndarray, b: np.ndarray, weights: SimilarityWeights,
    dense_scale: np.ndarray, sparse_scale: np.ndarray, dense_coef: np.ndarray, sparse_coef: np.ndarray,
) -> np.ndarray:  # fmt: skip
    out = np.empty(len(a), dtype=np.float64)
    for s in range(0, len(a), _PAIR_BLOCK):
        x, y = a[s : s + _PAIR_BLOCK], b[s : s + _PAIR_BLOCK]
        dense = np.einsum("ij,ij->i", sums.dense[x], sums.dense[y]).astype(np.float64)
        sparse = sums.sparse_dots(x, y)
        gap = np.maximum(np.maximum(sums.first[x] - sums.last[y], sums.first[y] - sums.last[x]), 0.0)
        block = slice(s, s + _PAIR_BLOCK)
        out[block] = weights.combine(
            dense * dense_scale[block], sparse * sparse_scale[block], gap, dense_coef[block], sparse_coef[block]
        )
    return out


def canonical_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct unordered pairs (lower id first), self pairs dropped, sorted."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    ok = lo != hi
    if not ok.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = lo[ok].astype(np.int64), hi[ok].astype(np.int64)
    span = int(hi.max()) + 1
    keys = np.unique(lo * span + hi)  # one integer per pair: sorts as (lo, hi) does
    return keys // span, keys % span


def _mutual_best(a: np.ndarray, b: np.ndarray, sims: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose clusters picked each other as most similar partner (ties: the lower id)."""
    node = np.concatenate([a, b])
    other = np.concatenate([b, a])
    s = np.concatenate([sims, sims])
    order = np.lexsort((other, -s, node))
    node, other = node[order], other[order]
    first = np.ones(len(node), dtype=bool)
    first[1:] = node[1:] != node[:-1]
    best = np.full(m, -1, dtype=np.int64)
    best[node[first]] = other[first]
    mutual = (best[a] == b) & (best[b] == a)
    return a[mutual], b[mutual]


def agglomerate(
    sums: ClusterSums, a: np.ndarray, b: np.ndarray, score: PairScore, threshold: float, *,
    prune: bool, max_rounds: int,
) -> np.ndarray:  # fmt: skip
    """Merge mutually best candidate pairs at or above ``threshold`` until none is left.

    Returns, per starting cluster, the id of the cluster it ended in. ``prune`` drops pairs below
    the threshold for good — right for average linkage, whose merged similarity is a weighted mean
    of the parts' and so cannot rise above the threshold when none of the parts is.
    """
    m = len(sums.size)
    into = np.arange(m)
    a, b = canonical_pairs(a, b)
    sims = score(sums, a, b)
    for _ in range(max_rounds):
        if prune:
            keep = sims >= threshold
            a, b, sims = a[keep], b[keep], sims[keep]
        ok = sims >= threshold
        keep_ids, gone_ids = _mutual_best(a[ok], b[ok], sims[ok], m)
        if len(keep_ids) == 0:
            break
        sums.merge(keep_ids, gone_ids)
        step = np.arange(m)
        step[gone_ids] = keep_ids
        into = step[into]
        changed = np.zeros(m, dtype=bool)
        changed[keep_ids] = True
        changed[gone_ids] = True
        touched = changed[a] | changed[b]
        na, nb = canonical_pairs(step[a[touched]], step[b[touched]])
        a = np.concatenate([a[~touched], na])
        b = np.concatenate([b[~touched], nb])
        sims = np.concatenate([sims[~touched], score(sums, na, nb)])
    else:
        log.warning("agglomeration stopped after %d rounds with pairs left above %.2f", max_rounds, threshold)
    return into


# --- scipy.sparse's kernels on raw CSR arrays (see the module docstring) ----------------------------


@dataclass(frozen=True)
class CsrRows:
    """A CSR matrix as its arrays, without scipy's object (and its checks) around them."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_cols: int

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> CsrRows:
        return cls(matrix.indptr, matrix.indices, matrix.data, matrix.shape[1])

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def csr(self) -> sp.csr_matrix:
        return csr_from_arrays(self.data, self.indices, self.indptr, (self.n_rows, self.n_cols))

    def take(self, rows: np.ndarray) -> CsrRows:
        """``matrix[rows]``: each row's entries in their stored order, as scipy's row indexing copies them."""
        indptr = self.indptr.astype(np.int64)
        starts = indptr[rows]
        lengths = indptr[np.asarray(rows) + 1] - starts
        out = np.zeros(len(starts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=out[1:])
        at = np.repeat(starts - out[:-1], lengths) + np.arange(out[-1], dtype=np.int64)
        return CsrRows(out, self.indices[at], self.data[at], self.n_cols)


@dataclass(frozen=True)
class Compact:
    """A CSR matrix (``full``) and the same rows over only the columns ``columns`` (``local``; sorted,
    so each row's entries keep their order and sortedness: the kernels give the same bits on both)."""

    full: sp.csr_matrix
    columns: np.ndarray
    local: CsrRows

    @classmethod
    def of(cls, full: sp.csr_matrix) -> Compact:
        columns = np.unique(full.indices)
        index = _index_dtype(len(columns), full.nnz)
        local = CsrRows(full.indptr.astype(index), np.searchsorted(columns, full.indices).astype(index), full.data,
                      len(columns))  # fmt: skip
        return cls(full, columns, local)

    def replaced(self, local: CsrRows) -> Compact:
        """The same columns with other rows (``local`` uses no other column)."""
        shape = (local.n_rows, self.full.shape[1])
        full = csr_from_arrays(local.data, self.columns[local.indices], local.indptr, shape)
        return Compact(full, self.columns, local)


def _index_dtype(*sizes: int) -> type[np.signedinteger]:
    """int32 where the sizes allow, as scipy.sparse picks: its kernels run many times slower on int64."""
    return np.int32 if max(sizes, default=0) < _INT32_MAX else np.int64


def grouping_matrix(groups: np.ndarray, m: int) -> CsrRows:
    """The (m, len(groups)) 0/1 matrix with row g holding the columns of group g, in ascending order:
    what ``csr_matrix((ones, (groups, arange)))`` builds, without the detour through COO."""
    index = _index_dtype(len(groups), m)
    indptr = np.zeros(m + 1, dtype=index)
    np.cumsum(np.bincount(groups, minlength=m), out=indptr[1:])
    columns = np.argsort(groups, kind="stable").astype(index)
    return CsrRows(indptr, columns, np.ones(len(groups), dtype=np.float32), len(groups))


def row_products(a: CsrRows, b: CsrRows) -> np.ndarray:
    """Row-wise dot products of two row-aligned CSR matrices, as float64:
    ``np.asarray(A.multiply(B).sum(axis=1), dtype=np.float64).ravel()``, bit for bit."""
    if a.n_rows != b.n_rows or a.n_cols != b.n_cols:  # (the kernels trust their arguments: no reads out of bounds)
        raise ValueError(f"row-wise products of {a.n_rows} × {a.n_cols} and {b.n_rows} × {b.n_cols}")
    n, size = a.n_rows, len(a.indices) + len(b.indices)
    index = _index_dtype(a.n_cols, size)
    ap, aj, bp, bj = (x.astype(index, copy=False) for x in (a.indptr, a.indices, b.indptr, b.indices))
    cp = np.empty(n + 1, dtype=index)
    cj = np.empty(size, dtype=index)
    cx = np.empty(size, dtype=np.result_type(a.data, b.data))
    _sparsetools.csr_elmul_csr(n, a.n_cols, ap, aj, a.data, bp, bj, b.data, cp, cj, cx)
    out = np.zeros(n, dtype=cx.dtype)  # (scipy sums float32 entries in float32)
    rows = np.flatnonzero(np.diff(cp))
    if len(rows):
        out[rows] = np.add.reduceat(cx[: cp[-1]], cp[rows])
    return out.astype(np.float64)


def csr_minus(a: CsrRows, b: CsrRows) -> CsrRows:
    """``A - B`` of two CSR matrices of one shape, bit for bit (scipy's kernel, its entry order, no zeros)."""
    if a.n_rows != b.n_rows or a.n_cols != b.n_cols:  # (as in ``row_products``)
        raise ValueError(f"cannot subtract {b.n_rows} × {b.n_cols} from {a.n_rows} × {a.n_cols}")
    size = len(a.indices) + len(b.indices)
    index = _index_dtype(a.n_cols, size)
    ap, aj, bp, bj = (x.astype(index, copy=False) for x in (a.indptr, a.indices, b.indptr, b.indices))
    cp = np.empty(a.n_rows + 1, dtype=index)
    cj = np.empty(size, dtype=index)
    cx = np.empty(size, dtype=np.result_type(a.data, b.data))
    _sparsetools.csr_minus_csr(a.n_rows, a.n_cols, ap, aj, a.data, bp, bj, b.data, cp, cj, cx)
    end = int(cp[-1])
    return CsrRows(cp, cj[:end], cx[:end], a.n_cols)


def csr_matmul(left: CsrRows, right: CsrRows, dtype: DTypeLike) -> CsrRows:
    """``csr_matrix(left @ right, dtype=dtype)``, bit for bit (each row's entries in the kernel's order)."""
    if left.n_cols != right.n_rows:  # (as in ``row_products``)
        raise ValueError(f"cannot multiply {left.n_rows} × {left.n_cols} by {right.n_rows} × {right.n_cols}")
    m, n_cols = left.n_rows, right.n_cols
    work = np.result_type(left.data, right.data)
    index = _index_dtype(n_cols, left.n_cols, len(left.indices), len(right.indices))
    lp, lj, rp, rj = (x.astype(index, copy=False) for x in (left.indptr, left.indices, right.indptr, right.indices))
    nnz = _sparsetools.csr_matmat_maxnnz(m, n_cols, lp, lj, rp, rj)
    if _index_dtype(nnz) is not index:
        index = np.int64
        lp, lj, rp, rj = (x.astype(index) for x in (lp, lj, rp, rj))
    cp = np.empty(m + 1, dtype=index)
    cj = np.empty(nnz, dtype=index)
    cx = np.empty(nnz, dtype=work)
    _sparsetools.csr_matmat(m, n_cols, lp, lj, left.data.astype(work), rp, rj, right.data.astype(work), cp, cj, cx)
    end = int(cp[-1])
    return CsrRows(cp, cj[:end], cx[:end].astype(dtype), n_cols)


def _scaled_sums(member: CsrRows, weights: np.ndarray, sparse: CsrRows) -> CsrRows:
    """``csr_matrix(member @ (sp.diags(weights) @ sparse), dtype=np.float32)``, bit for bit."""
    n = len(weights)
    kept = weights != 0  # (a diagonal matrix in CSR holds no explicit zeros)
    index = _index_dtype(n)
    indptr = np.zeros(n + 1, dtype=index)
    np.cumsum(kept, out=indptr[1:])
    diagonal = CsrRows(indptr, np.flatnonzero(kept).astype(index), weights[kept], n)
    return csr_matmul(member, csr_matmul(diagonal, sparse, np.result_type(weights, sparse.data)), np.float32)
