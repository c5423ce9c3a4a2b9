"""Thread limits for the worker's linear algebra.

Online assignment multiplies one vector by the centroid matrix per article: a few hundred
microseconds of work, where a multi-threaded BLAS only adds hand-over and spin-waiting — and on a
busy machine (the embedder's own threads, other processes) that made assignment 3-4x slower
(`benchmarks/clustering_assignment.py` under load: p50 7.9 ms with the default threads, 2.3 ms
with one). Re-clustering runs in its own process and keeps the default.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def limit_blas_threads(threads: int) -> None:
    """Cap BLAS threads for the rest of this process (0 leaves the library default)."""
    if threads <= 0:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    log.debug("BLAS limited to %d thread(s)", threads)
