"""The worker's BLAS thread cap takes effect (and 0 leaves the library default alone)."""

from __future__ import annotations

import numpy as np  # noqa: F401  (loads the BLAS library threadpoolctl inspects)
from threadpoolctl import threadpool_info, threadpool_limits

from clustering.threads import limit_blas_threads


def _blas_threads() -> list[int]:
    return [int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_limit_blas_threads_caps_every_blas_pool_and_zero_keeps_them() -> None:
    with threadpool_limits(limits=2, user_api="blas"):  # restores the original limits afterwards
        before = _blas_threads()
        assert before, "numpy's BLAS should be visible to threadpoolctl"
        limit_blas_threads(0)
        assert _blas_threads() == before
        limit_blas_threads(1)
        assert set(_blas_threads()) == {1}
