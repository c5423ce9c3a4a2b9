"""Topic centroids as matrices: the index online assignment searches.

Rows hold each active topic's dense sum (and its unit-length centroid), sparse sum, member
count and time span. ``best`` finds the most similar topic for one article: a matrix-vector
product over the dense centroids picks ``k`` candidates, which are re-ranked with the full
similarity (dense + sparse + time decay). With many topics (``assign_index_min_topics``) that
product covers only the topics in the nearest cells of a coarse inverted file
(``centroid_cells.py``), so the cost grows with √topics, not with topics. Rows are reused after
removal, and the arrays grow by doubling, so adding a topic is amortised O(d). ``retract`` takes a
member out again (a revised article's old revision); a topic left with no member is removed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from clustering.online.centroid_cells import CentroidCells
from clustering.representation.csr import csr_from_arrays
from clustering.representation.represent import SimilarityWeights, gap_to_span

# Scores candidates from their parts instead of ``SimilarityWeights.combine``: (dense cosines,
# sparse cosines, hours to each topic's span, member counts) → one score per candidate.
PartsScorer = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]

# Sparse sums below this after a retraction are float residue (or the drift of document frequencies
# since the member was added): dropped, so that the sum keeps no ghost terms. Unit rows' entries are
# orders of magnitude larger.
_RESIDUE = 1e-6


def _csr_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Row ``k`` of a CSR matrix as a 1×n CSR matrix: ``matrix[k]`` without scipy's general indexing,
    which dominated start-up and every replayed re-clustering (thousands of topics each time)."""
    start, end = matrix.indptr[k], matrix.indptr[k + 1]
    indptr = np.array([0, end - start], dtype=matrix.indptr.dtype)
    return csr_from_arrays(matrix.data[start:end].copy(), matrix.indices[start:end].copy(), indptr,
                           (1, matrix.shape[1]))  # fmt: skip


def stack_rows(rows: list[sp.csr_matrix]) -> sp.csr_matrix:
    """``sp.vstack(rows).tocsr()`` of 1×n CSR rows (the same arrays: scipy's stack concatenates them too),
    without its format checks: online assignment stacks its candidates once per article."""
    if not rows:
        return sp.vstack(rows).tocsr()  # (what scipy says about nothing to stack)
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([r.indptr[-1] for r in rows], out=indptr[1:])
    index = np.int32 if indptr[-1] < np.iinfo(np.int32).max else np.int64
    return csr_from_arrays(
        np.concatenate([r.data for r in rows]), np.concatenate([r.indices for r in rows]).astype(index, copy=False),
        indptr.astype(index), (len(rows), rows[0].shape[1]),
    )  # fmt: skip


def _sparse_row_norm(row: sp.csr_matrix) -> float:
    """The L2 norm of a canonical 1×n CSR row, summed as ``row.multiply(row).sum()`` sums (one pairwise
    reduction over the stored values), so the figures stay bit-identical, without two temporaries."""
    if not row.has_canonical_format:
        row.sum_duplicates()
    return float(np.sqrt(np.add.reduce(row.data * row.data)))


class CentroidIndex:
    def __init__(self, dim: int, n_features: int, capacity: int = 256, cells: CentroidCells | None = None) -> None:
        self.cells = cells or CentroidCells(min_topics=2**62, probe=1, seed=0)  # default: always search all
        self.dim = dim
        self.n_features = n_features
        self.sums = np.zeros((capacity, dim), dtype=np.float32)
        self.unit = np.zeros((capacity, dim), dtype=np.float32)
        self.count = np.zeros(capacity, dtype=np.int64)
        self.first = np.zeros(capacity, dtype=np.float64)
        self.last = np.zeros(capacity, dtype=np.float64)
        self.used = np.zeros(capacity, dtype=bool)
        self.sparse: list[sp.csr_matrix | None] = [None] * capacity
        self.sparse_norm = np.zeros(capacity, dtype=np.float64)
        self.topic_at: list[int | None] = [None] * capacity
        self.row_of: dict[int, int] = {}
        self._free: list[int] = list(range(capacity - 1, -1, -1))

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self.row_of

    def __len__(self) -> int:
        return len(self.row_of)

    def ids(self) -> list[int]:
        return sorted(self.row_of)

    def _grow(self) -> None:
        old = len(self.used)
        new = old * 2
        for name in ("sums", "unit"):
            grown = np.zeros((new, self.dim), dtype=np.float32)
            grown[:old] = getattr(self, name)
            setattr(self, name, grown)
        for name in ("count", "first", "last", "used", "sparse_norm"):
            arr = getattr(self, name)
            grown = np.zeros(new, dtype=arr.dtype)
            grown[:old] = arr
            setattr(self, name, grown)
        self.sparse.extend([None] * old)
        self.topic_at.extend([None] * old)
        self._free.extend(range(new - 1, old - 1, -1))

    def _claim_row(self, topic_id: int) -> int:
        """A free row for ``topic_id`` (its old row released first), marked used."""
        if topic_id in self.row_of:
            self.remove(topic_id)
        if not self._free:
            self._grow()
        row = self._free.pop()
        self.row_of[topic_id] = row
        self.topic_at[row] = topic_id
        self.used[row] = True
        return row

    def add(self, topic_id: int, dense: np.ndarray, sparse: sp.csr_matrix, hours: np.ndarray) -> None:
        """Install (or replace) a topic from its members' rows."""
        row = self._claim_row(topic_id)
        self.sums[row] = dense.sum(axis=0)
        self.count[row] = dense.shape[0]
        self.first[row] = float(np.min(hours))
        self.last[row] = float(np.max(hours))
        self.sparse[row] = sp.csr_matrix(sparse.sum(axis=0), dtype=np.float32)
        self._refresh(row)

    def add_many(self, topic_ids: list[int], dense_sums: np.ndarray, sparse_sums: sp.csr_matrix,
                 counts: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:  # fmt: skip
        """Install many topics from precomputed member sums (row k belongs to ``topic_ids[k]``)."""
        for k, topic_id in enumerate(topic_ids):
            row = self._claim_row(topic_id)
            self.sums[row] = dense_sums[k]
            self.count[row] = counts[k]
            self.first[row] = first[k]
            self.last[row] = last[k]
            self.sparse[row] = _csr_row(sparse_sums, k)
            self._refresh(row)
        self._build_cells_if_due()  # at start-up, not on the first article

    def update(self, topic_id: int, dense: np.ndarray, sparse: sp.csr_matrix, hours: float) -> None:
        """Add one member to a topic."""
        row = self.row_of[topic_id]
        self.sums[row] += dense
        self.count[row] += 1
        self.first[row] = min(self.first[row], hours)
        self.last[row] = max(self.last[row], hours)
        self.sparse[row] = (self.sparse[row] + sparse).tocsr()
        self._refresh(row)

    def retract(self, topic_id: int, dense: np.ndarray, sparse: sp.csr_matrix) -> int:
        """Take one member out of a topic (the inverse of ``update``); the members left, 0: topic removed.

        First/last hours stay as they are: without every member's time the span cannot shrink, and a
        span too wide only softens the time decay for this topic until the next reload rebuilds it.
        """
        row = self.row_of[topic_id]
        self.count[row] -= 1
        if self.count[row] <= 0:
            self.remove(topic_id)  # no member left: not a live centroid any more
            return 0
        self.sums[row] -= dense
        remaining = (self.sparse[row] - sparse).tocsr()
        remaining.data[remaining.data < _RESIDUE] = 0.0
        remaining.eliminate_zeros()
        self.sparse[row] = remaining
        self._refresh(row)
        return int(self.count[row])

    def remove(self, topic_id: int) -> None:
        row = self.row_of.pop(topic_id)
        self.used[row] = False
        self.unit[row] = 0.0
        self.sparse[row] = None
        self.topic_at[row] = None
        self._free.append(row)
        self.cells.drop(row)

    def _refresh(self, row: int) -> None:
        norm = float(np.linalg.norm(self.sums[row]))
        self.unit[row] = self.sums[row] / norm if norm > 0 else 0.0
        s = self.sparse[row]
        self.sparse_norm[row] = _sparse_row_norm(s) if s is not None else 0.0
        self.cells.place(row, self.unit[row])

    def _build_cells_if_due(self) -> None:
        if self.cells.due(len(self.row_of)):
            self.cells.build(self.unit, np.flatnonzero(self.used))

    def _dense_candidates(self, dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ``k`` topics with the most similar dense centroids (searched in the nearest
        cells once there are cells), and those similarities."""
        self._build_cells_if_due()
        rows = self.cells.candidates(dense) if self.cells.active else np.empty(0, dtype=np.int64)
        if len(rows):
            sims = self.unit[rows] @ dense
            top = np.argpartition(-sims, min(k, len(rows)) - 1)[:k]
            return rows[top], sims[top]
        # No cells (or the probed ones emptied): every topic, in place — no copy of the matrix.
        sims = self.unit @ dense
        sims[~self.used] = -np.inf
        top = np.argpartition(-sims, min(k, len(self.row_of)) - 1)[:k]
        top = top[np.isfinite(sims[top])]
        return top, sims[top]

    def centroid(self, topic_id: int) -> np.ndarray:
        return self.unit[self.row_of[topic_id]].copy()

    def size(self, topic_id: int) -> int:
        return int(self.count[self.row_of[topic_id]])

    def best(
        self, dense: np.ndarray, sparse: sp.csr_matrix, hours: float, weights: SimilarityWeights, k: int,
        scorer: PartsScorer | None = None,
    ) -> tuple[int | None, float]:  # fmt: skip
        """``(topic id, score)`` of the best-scoring topic, or ``(None, 0.0)`` when there is none; the
        score is the combined similarity, or what ``scorer`` makes of its parts."""
        if not self.row_of:
            return None, 0.0
        cand, dense_sims = self._dense_candidates(dense, k)
        sims = self._score(cand, dense_sims, sparse, hours, weights, scorer)
        j = int(np.argmax(sims))
        return self.topic_at[int(cand[j])], float(sims[j])

    def similarity(
        self, topic_id: int, dense: np.ndarray, sparse: sp.csr_matrix, hours: float, weights: SimilarityWeights,
        scorer: PartsScorer | None = None,
    ) -> float:  # fmt: skip
        """The score of one article for one topic (what ``best`` ranks by)."""
        row = np.array([self.row_of[topic_id]])
        return float(self._score(row, self.unit[row] @ dense, sparse, hours, weights, scorer)[0])

    def _score(
        self, cand: np.ndarray, dense_sims: np.ndarray, sparse: sp.csr_matrix, hours: float, weights: SimilarityWeights,
        scorer: PartsScorer | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Dense + sparse + time similarity of one article to the topics in rows ``cand``."""
        rows = stack_rows([self.sparse[c] for c in cand])
        norms = self.sparse_norm[cand]
        dots = np.asarray((rows @ sparse.T).todense()).ravel()
        sparse_sims = np.divide(dots, norms, out=np.zeros_like(dots, dtype=np.float64), where=norms > 0)
        gap = gap_to_span(hours, self.first[cand], self.last[cand])
        if scorer is not None:
            span = self.last[cand] - self.first[cand]
            return scorer(np.asarray(dense_sims, dtype=np.float64), sparse_sims, gap, self.count[cand], span)
        return weights.combine(dense_sims, sparse_sims, gap)
