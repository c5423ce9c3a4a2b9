"""CSR matrices from arrays the caller just built, without scipy's per-call checks.

scipy's ``csr_matrix((data, indices, indptr), shape=...)`` scans its index arrays to choose an index
dtype and checks the format on every call: about 13 µs, which a replay of months pays hundreds of
thousands of times for one-row and few-row matrices (a topic's centroid row, a cluster's rows). The
arrays newsflow hands it are already valid, so ``csr_from_arrays`` makes the very object the
constructor would make from them — the index dtype it would choose, the same uncopied arrays, the
same attributes — in well under a microsecond, and leaves every case it does not vouch for (an
empty dimension, other data types, inconsistent lengths) to the constructor.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_INT32_MAX = int(np.iinfo(np.int32).max)
_DATA_TYPES = (np.dtype(np.float32), np.dtype(np.float64))
_INDEX_TYPES = (np.dtype(np.int32), np.dtype(np.int64))
_MAXPRINT = sp.csr_matrix((1, 1)).maxprint


def _index_dtype(shape: tuple[int, int], nnz: int, indptr: np.ndarray) -> np.dtype:
    """The index dtype scipy picks for these arrays: int32 unless a dimension, or the contents of an
    int64 array (its largest value: the entry count, or a column below the width), need more."""
    if max(shape) > _INT32_MAX:
        return np.dtype(np.int64)
    if indptr.dtype == np.int64 and nnz > _INT32_MAX:
        return np.dtype(np.int64)
    return np.dtype(np.int32)


def csr_from_arrays(
    data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """``sp.csr_matrix((data, indices, indptr), shape=shape)``, the same object, without the checks."""
    n_rows, n_cols = int(shape[0]), int(shape[1])
    ok = (
        n_rows > 0 and n_cols > 0 and isinstance(data, np.ndarray) and isinstance(indices, np.ndarray)
        and isinstance(indptr, np.ndarray) and data.ndim == indices.ndim == indptr.ndim == 1
        and data.dtype in _DATA_TYPES and indices.dtype in _INDEX_TYPES and indptr.dtype in _INDEX_TYPES
        and len(indptr) == n_rows + 1 and len(data) == len(indices)
    )  # fmt: skip
    nnz = int(indptr[-1]) if ok else 0
    if not ok or indptr[0] != 0 or nnz != len(indices):
        return sp.csr_matrix((data, indices, indptr), shape=shape)
    index = _index_dtype((n_rows, n_cols), nnz, indptr)
    matrix = sp.csr_matrix.__new__(sp.csr_matrix)
    matrix.maxprint = _MAXPRINT
    matrix.indices = indices.astype(index, copy=False)
    matrix.indptr = indptr.astype(index, copy=False)
    matrix.data = data
    matrix._shape = (n_rows, n_cols)
    return matrix
