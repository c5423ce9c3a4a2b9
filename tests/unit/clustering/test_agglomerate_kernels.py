"""The agglomeration's sparse arithmetic runs scipy.sparse's kernels on raw arrays: the same bits as
scipy.sparse's operators, whatever order the rows' entries are stored in (products leave them
unsorted, and the order decides how float32 sums round)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import scipy.sparse as sp

from clustering.reclustering.agglomerate import (
    ClusterSums,
    CsrRows,
    _scaled_sums,
    canonical_pairs,
    centroid_similarity,
    csr_matmul,
    grouping_matrix,
    mean_similarity,
    row_products,
)
from clustering.representation.represent import Batch, RepresentParams, SimilarityWeights, SparseVectoriser, represent
from newsflow.records.doc import Doc
from newsflow.settings import Settings
from tests.unit.clustering.stories import T0

WORDS = [f"w{k}" for k in range(60)]


def bits(x: np.ndarray) -> tuple[str, tuple[int, ...], bytes]:
    x = np.ascontiguousarray(x)
    return str(x.dtype), x.shape, x.tobytes()


def csr_bits(m: sp.csr_matrix) -> tuple[object, ...]:
    """Everything an operation on the matrix can see: shape, row pointers, each row's order, the values."""
    return m.shape, m.indptr.tolist(), m.indices.tolist(), bits(np.asarray(m.data))


def random_csr(rng: np.random.Generator, rows: int, cols: int, *, shuffled: bool) -> sp.csr_matrix:
    m = sp.random(rows, cols, density=rng.uniform(0.02, 0.4), format="csr", dtype=np.float32, random_state=rng)
    m.data[:] = rng.uniform(0.01, 1.0, m.nnz).astype(np.float32)
    if shuffled:  # entries in any order within a row, as a product leaves them
        for r in range(rows):
            lo, hi = m.indptr[r], m.indptr[r + 1]
            order = lo + rng.permutation(hi - lo)
            m.indices[lo:hi], m.data[lo:hi] = m.indices[order], m.data[order]
        m.has_sorted_indices = False
    return m


def random_batch(rng: np.random.Generator, n: int, settings: Settings) -> Batch:
    docs = [
        Doc(f"d{i}", " ".join(rng.choice(WORDS, rng.integers(1, 9))), " ".join(rng.choice(WORDS, rng.integers(0, 400))),
            T0 + timedelta(hours=float(rng.uniform(0, 90))), language="en")
        for i in range(n)
    ]  # fmt: skip
    dense = rng.standard_normal((n, 16)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    return represent(docs, dense, SparseVectoriser(settings.sparse_features), RepresentParams.from_settings(settings))


@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_kernels_give_scipys_bits(seed: int, shuffled: bool) -> None:
    rng = np.random.default_rng(seed)
    m, cols = int(rng.integers(1, 40)), int(rng.integers(5, 3000))
    x = random_csr(rng, m, cols, shuffled=shuffled)
    a, b = rng.integers(0, m, 150), rng.integers(0, m, 150)
    expected = np.asarray(x[a].multiply(x[b]).sum(axis=1), dtype=np.float64).ravel()
    rows = CsrRows.of(x)
    assert bits(row_products(rows.take(a), rows.take(b))) == bits(expected)
    groups = rng.integers(0, max(m // 2, 1), m)
    k = int(groups.max()) + 1
    member = sp.csr_matrix((np.ones(m, dtype=np.float32), (groups, np.arange(m))), shape=(k, m))
    assert csr_bits(grouping_matrix(groups, k).csr()) == csr_bits(member)
    weights = rng.uniform(0.1, 1.0, m)
    weights[rng.random(m) < 0.2] = 0.0  # (no entry at all in the diagonal matrix)
    expected_sums = sp.csr_matrix(member @ (sp.diags(weights) @ x), dtype=np.float32)
    assert csr_bits(_scaled_sums(grouping_matrix(groups, k), weights, rows).csr()) == csr_bits(expected_sums)
    into = np.arange(m)
    gone = rng.permutation(m)[: m // 3]
    into[gone] = rng.integers(0, m, len(gone))
    fold = sp.csr_matrix((np.ones(m, dtype=np.float32), (into, np.arange(m))), shape=(m, m))
    expected_fold = sp.csr_matrix(fold @ x, dtype=np.float32)
    assert csr_bits(csr_matmul(grouping_matrix(into, m), rows, np.float32).csr()) == csr_bits(expected_fold)


def test_canonical_pairs_are_the_sorted_distinct_unordered_pairs() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 40, 500), rng.integers(0, 40, 500)
    pairs = sorted({(min(x, y), max(x, y)) for x, y in zip(a.tolist(), b.tolist(), strict=True) if x != y})
    lo, hi = canonical_pairs(a, b)
    assert list(zip(lo.tolist(), hi.tolist(), strict=True)) == pairs and lo.dtype == hi.dtype == np.int64
    assert [len(v) for v in canonical_pairs(np.array([2, 5]), np.array([2, 5]))] == [0, 0]


@pytest.mark.parametrize("seed", range(4))
def test_cluster_sums_merges_and_scores_are_the_scipy_expressions_bit_for_bit(seed: int) -> None:
    """``ClusterSums`` against the scipy.sparse expressions it stands for, through rounds of merges."""
    rng = np.random.default_rng(seed)
    settings = Settings(sparse_features=2**12, dense_weight_long=0.4, sparse_weight_long=0.6, long_text_chars=800)
    batch = random_batch(rng, 60, settings)
    m = 20
    groups = np.concatenate([np.arange(m), rng.integers(0, m, len(batch) - m)])
    sums = ClusterSums.of(batch, groups, m)
    n = len(groups)
    member = sp.csr_matrix((np.ones(n, dtype=np.float32), (groups, np.arange(n))), shape=(m, n))
    sparse = sp.csr_matrix(member @ (sp.diags(batch.roots[:, 1]) @ batch.sparse), dtype=np.float32)
    weights = SimilarityWeights.from_settings(settings)
    a, b = canonical_pairs(rng.integers(0, m, 80), rng.integers(0, m, 80))
    everyone = np.arange(m)
    for _ in range(4):
        assert csr_bits(sums.sparse) == csr_bits(sparse)
        local = sums.compact().local  # (the rows over the columns they use: the kernels see these)
        products = np.asarray(sparse[a].multiply(sparse[b]).sum(axis=1), dtype=np.float64).ravel()
        assert bits(row_products(local.take(a), local.take(b))) == bits(products)
        norms = np.asarray(sparse.multiply(sparse).sum(axis=1), dtype=np.float64).ravel()
        assert bits(row_products(local.take(everyone), local)) == bits(norms)
        fresh = ClusterSums(sums.size, sums.dense, sparse, sums.first, sums.last, sums.roots, sums.long, sums.foreign)
        assert bits(sums.sparse_dots(a, b)) == bits(products) and bits(sums.sparse_norms()) == bits(np.sqrt(norms))
        live = (sums.size[a] > 0) & (sums.size[b] > 0)
        for score in (mean_similarity(weights), centroid_similarity(weights)):
            assert bits(score(sums, a[live], b[live])) == bits(score(fresh, a[live], b[live]))
        alive = np.flatnonzero(sums.size > 0)
        if len(alive) < 2:
            break
        pick = rng.permutation(alive)[: 2 * (len(alive) // 3)]
        keep, gone = np.minimum(pick[::2], pick[1::2]), np.maximum(pick[::2], pick[1::2])
        sums.merge(keep, gone)
        into = np.arange(m)
        into[gone] = keep
        fold = sp.csr_matrix((np.ones(m, dtype=np.float32), (into, np.arange(m))), shape=(m, m))
        sparse = sp.csr_matrix(fold @ sparse, dtype=np.float32)
