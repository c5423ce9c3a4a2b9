"""The rows the neighbour graph is built over: dense embedding and reduced TF-IDF, one unit vector per article.

The dense embeddings and a TruncatedSVD of the sparse TF-IDF, each row scaled by the square roots of
its article's weights (``SimilarityWeights``: headline or full text) so that dot products approximate
the pair's weighted ``dense·cos + sparse·cos``; unit rows, float32, optionally reduced with PCA
(``recluster_dims``, 0: none). Deterministic: ``random_seed`` seeds the SVD and the PCA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import PCA, TruncatedSVD

from clustering.reclustering.agglomerate import Compact
from clustering.reclustering.neighbours import KnnGraph, NeighbourParams, knn_graph
from clustering.representation.represent import Batch
from newsflow.settings import Settings

_SVD_OVERSAMPLES = 10  # scikit-learn's default for the randomised SVD


@dataclass(frozen=True)
class FeatureParams:
    """The reductions of the features: SVD components of the TF-IDF (and the rows it learns from), PCA
    dimensions (0: none), and their seed."""

    recluster_sparse_dims: int
    recluster_svd_rows: int
    recluster_dims: int
    random_seed: int

    @classmethod
    def from_settings(cls, settings: Settings) -> FeatureParams:
        return cls(
            recluster_sparse_dims=settings.recluster_sparse_dims, recluster_svd_rows=settings.recluster_svd_rows,
            recluster_dims=settings.recluster_dims, random_seed=settings.random_seed,
        )  # fmt: skip


def features(batch: Batch, params: FeatureParams) -> np.ndarray:
    """Unit float32 rows whose dot products approximate the weighted dense + sparse similarity."""
    n, d = batch.dense.shape
    k = min(params.recluster_sparse_dims, n - 1, batch.sparse.shape[1] - 1)
    compact = Compact.of(batch.sparse)  # the hashed columns the window uses
    used = compact.columns
    k = min(k, len(used) - 1) if batch.roots[:, 1].any() and len(used) > 2 else 0
    k = k if k >= 2 else 0
    # One float32 array filled in place: a large window's features are its biggest allocation.
    x = np.empty((n, d + k), dtype=np.float32)
    np.multiply(batch.dense, batch.roots[:, :1].astype(np.float32), out=x[:, :d])  # each row's own weights
    if k:
        # Only the hashed columns the window uses: the SVD's cost follows them, not the hashing space.
        reduced = _sparse_projection(compact.local.csr(), k, params)  # (``batch.sparse[:, used]``, bit for bit)
        norms = np.linalg.norm(reduced, axis=1, keepdims=True)
        x[:, d:] = batch.roots[:, 1:].astype(np.float32) * reduced / np.where(norms > 0, norms, 1.0)
        del reduced
    x /= np.maximum(np.sqrt(np.einsum("ij,ij->i", x, x)), 1e-12)[:, None]  # no window-sized temporary
    dims = min(params.recluster_dims, n - 1, x.shape[1])
    if params.recluster_dims and dims >= 2 and dims < x.shape[1]:
        x = PCA(n_components=dims, random_state=params.random_seed, svd_solver="full").fit_transform(x)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(x, dtype=np.float32)


def _sparse_projection(window: sp.csr_matrix, k: int, params: FeatureParams) -> np.ndarray:
    """The rows on ``k`` leading singular directions of the window (U_k·Σ_k).

    A randomised SVD (large windows learn the components from a seeded sample of rows, then every
    row is projected). Where its sketch of ``k`` + oversampling columns would span every row anyway
    (small windows: a quiet stream, a spread-out evaluation), the same projection comes exactly and
    in a millisecond from the eigenvectors of the rows' Gram matrix, instead of tens of milliseconds
    of QR over the window's terms.
    """
    n = window.shape[0]
    if n <= k + _SVD_OVERSAMPLES:
        values, vectors = np.linalg.eigh((window @ window.T).toarray().astype(np.float64))
        top = np.argsort(values)[::-1][:k]
        return (vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))).astype(np.float32)
    svd = TruncatedSVD(n_components=k, n_oversamples=_SVD_OVERSAMPLES, random_state=params.random_seed)
    if n <= params.recluster_svd_rows:  # (fit_transform projects the rows it learnt from as transform would)
        return np.asarray(svd.fit_transform(window), dtype=np.float32)
    rows = np.random.default_rng(params.random_seed).permutation(n)[: params.recluster_svd_rows]
    svd.fit(window[np.sort(rows)])
    return np.asarray(svd.transform(window), dtype=np.float32)


def neighbour_graph(batch: Batch, params: FeatureParams, neighbours: NeighbourParams) -> KnnGraph:
    """The neighbour graph (``neighbours.py``) over the batch's features."""
    return knn_graph(features(batch, params), batch.sparse, neighbours)
