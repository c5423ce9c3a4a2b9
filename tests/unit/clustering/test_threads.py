"""BLAS thread caps take effect (0 leaves the library default alone) and change no result."""

from __future__ import annotations

import numpy as np  # (also loads the BLAS library threadpoolctl inspects)
from threadpoolctl import threadpool_info, threadpool_limits

from clustering.reclustering.recluster import ReclusterParams, cluster_window
from clustering.threads import SMALL_WINDOW_ROWS, blas_threads, limit_blas_threads, window_threads
from newsflow.settings import Settings
from tests.unit.clustering.test_recluster_graph import as_batch, stories


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


def test_blas_threads_caps_inside_the_block_only() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with blas_threads(1):
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before
        with blas_threads(0):
            assert _blas_threads() == before


def test_small_windows_recluster_on_one_thread_large_ones_on_the_default() -> None:
    assert window_threads(300) == 1
    assert window_threads(SMALL_WINDOW_ROWS) == 1
    assert window_threads(SMALL_WINDOW_ROWS + 1) == 0


def test_one_blas_thread_gives_the_same_clusters() -> None:
    """The cap only changes speed: a window with headline words re-clusters to the same labels."""
    x, truth = stories(n_stories=12, per=8, dim=48, spread=0.6, seed=3)
    words = [f"story{t} shared{t % 3} filler{i % 5}" for i, t in enumerate(truth.tolist())]
    batch = as_batch(x, words)
    settings = Settings(sparse_features=2**12)
    with threadpool_limits(limits=2, user_api="blas"):
        default = cluster_window(batch, ReclusterParams.from_settings(settings))
        with blas_threads(1):
            single = cluster_window(batch, ReclusterParams.from_settings(settings))
    assert (default >= 0).sum() > len(truth) // 2, "the window should form clusters for the comparison to mean anything"
    assert np.array_equal(single, default)
