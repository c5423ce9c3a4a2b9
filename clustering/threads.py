"""Thread limits for the clustering's linear algebra.

Online assignment multiplies one vector by the centroid matrix per article: a few hundred
microseconds of work, where a multi-threaded BLAS only adds hand-over and spin-waiting — and on a
busy machine (the embedder's own threads, other processes) that made assignment 3-4x slower
(`benchmarks/clustering_assignment.py` under load: p50 7.9 ms with the default threads, 2.3 ms
with one). The same holds for re-clustering a small window: its SVD, neighbour search and
linkage work on matrices of a few hundred rows (a 300 × 1,500 TruncatedSVD: 8 ms on one thread,
27 ms on two), while from about 20,000 rows the second thread pays (`clustering_recluster.py`:
11.2 s on one, 9.6 s on two). Results are the same either way.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

SMALL_WINDOW_ROWS = 2000  # windows up to this size re-cluster on one BLAS thread (see above)


def limit_blas_threads(threads: int) -> None:
    """Cap BLAS threads for the rest of this process (0 leaves the library default)."""
    if threads <= 0:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    log.debug("BLAS limited to %d thread(s)", threads)


@contextmanager
def blas_threads(threads: int) -> Iterator[None]:
    """Cap BLAS threads inside the block (0: leave them as they are)."""
    if threads <= 0:
        yield
        return
    with _controller().limit(limits=threads, user_api="blas"):
        yield


def window_threads(rows: int) -> int:
    """BLAS threads for re-clustering a window of ``rows`` articles (0: the library default)."""
    return 1 if rows <= SMALL_WINDOW_ROWS else 0


@functools.cache
def _controller() -> Any:
    """One inspection of the loaded BLAS libraries (a fresh ``threadpool_limits`` re-scans them)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
