"""``csr_from_arrays`` makes the object scipy's constructor makes from the same arrays."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from clustering.representation.csr import csr_from_arrays


def _arrays(rng: np.random.Generator, rows: int, cols: int, data_type: type, index_type: type):
    lengths = rng.integers(0, min(cols, 6) + 1, size=rows)
    indptr = np.zeros(rows + 1, dtype=index_type)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.concatenate([np.sort(rng.choice(cols, n, replace=False)) for n in lengths] or [[]]).astype(index_type)
    data = rng.random(int(indptr[-1])).astype(data_type)
    return data, indices, indptr


@pytest.mark.parametrize("data_type", [np.float32, np.float64])
@pytest.mark.parametrize("index_type", [np.int32, np.int64])
@pytest.mark.parametrize("rows", [1, 3, 40])
def test_the_same_object_as_scipys_constructor(data_type: type, index_type: type, rows: int) -> None:
    rng = np.random.default_rng(rows)
    data, indices, indptr = _arrays(rng, rows, 2**18, data_type, index_type)
    ours = csr_from_arrays(data, indices, indptr, (rows, 2**18))
    theirs = sp.csr_matrix((data, indices, indptr), shape=(rows, 2**18))
    assert type(ours) is type(theirs) and sorted(vars(ours)) == sorted(vars(theirs))
    assert ours.shape == theirs.shape and ours.maxprint == theirs.maxprint
    for name in ("data", "indices", "indptr"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
        assert np.shares_memory(a, b) == np.shares_memory(b, {"data": data, "indices": indices, "indptr": indptr}[name])
    assert ours.indices.dtype == np.int32  # scipy narrows int64 arrays whose contents fit
    product = ours @ ours.T
    assert np.array_equal(product.toarray(), (theirs @ theirs.T).toarray())


@pytest.mark.parametrize(
    "case",
    ["empty shape", "int8 data", "short indptr", "extra entries", "list input"],
)
def test_anything_it_does_not_vouch_for_goes_to_scipy(case: str) -> None:
    data, indices, indptr = np.ones(2, np.float32), np.array([0, 3], np.int32), np.array([0, 2], np.int32)
    shape: tuple[int, int] = (1, 5)
    if case == "empty shape":
        data, indices, indptr, shape = data[:0], indices[:0], np.array([0], np.int32), (0, 5)
    elif case == "int8 data":
        data = data.astype(np.int8)
    elif case == "short indptr":
        shape = (2, 5)
    elif case == "extra entries":  # scipy prunes entries past indptr[-1]
        indptr = np.array([0, 1], np.int32)
    try:
        expected = sp.csr_matrix((data, indices, indptr), shape=shape)
    except ValueError as exc:
        with pytest.raises(ValueError, match=str(exc)[:20]):
            csr_from_arrays(data, indices, indptr, shape)
        return
    ours = csr_from_arrays(list(data) if case == "list input" else data, indices, indptr, shape)  # type: ignore[arg-type]
    assert ours.shape == expected.shape and ours.data.dtype == expected.data.dtype
    assert np.array_equal(ours.toarray(), expected.toarray())
