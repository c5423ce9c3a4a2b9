"""Forward passes started ahead of need, on one background thread.

The worker spends about half of each batch on work around the model (tokens for TF-IDF, the online
assignment, PostgreSQL, topic summaries), on one thread, while onnxruntime's forward pass is what
keeps both cores busy. With a batch polled ahead, the model can encode the next batch's texts while
the current batch is assigned and stored (onnxruntime releases the GIL during ``run``). Nothing else
changes: the vectors come back through ``Embedder.encode`` when the batch is processed, in order, so
the cache, the near-copy reuse and the error isolation behave as before; a text computed ahead but
never asked for (its batch turned out to be stored already, or a near-copy borrowed its original's
vector) only cost time, and is dropped when the next batch is started.

A failed forward pass ahead is not an error here: the batch's own ``encode`` then runs those texts
again in line, where a failure is isolated article by article as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

log = logging.getLogger(__name__)


class Lookahead:
    """Texts encoded ahead by ``forward`` on a background thread; ``take`` hands back those asked for."""

    def __init__(self, forward: Callable[[list[str]], np.ndarray], keep: int = 2) -> None:
        self._forward = forward
        self._keep = keep  # passes held at once: the batch being processed and the one polled ahead
        self._pool: ThreadPoolExecutor | None = None
        self._passes: list[tuple[set[str], Future[dict[str, np.ndarray]]]] = []  # oldest first
        self.served = 0  # rows handed back from a pass run ahead

    def start(self, texts: Sequence[str]) -> None:
        """Encode ``texts`` in the background, after the passes already queued; beyond ``keep`` passes
        the oldest is dropped with whatever nobody took from it."""
        distinct = list(dict.fromkeys(texts))
        if not distinct:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-ahead")
        self._passes.append((set(distinct), self._pool.submit(self._run, distinct)))
        del self._passes[: -self._keep]

    def _run(self, texts: list[str]) -> dict[str, np.ndarray]:
        try:
            vectors = self._forward(texts)
        except Exception as exc:  # the batch's own encode meets the error again, in line
            log.debug("forward pass ahead failed (%s); the batch encodes its texts in line", exc)
            return {}
        return dict(zip(texts, vectors, strict=True))

    def take(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Row → vector for the rows of ``texts`` computed ahead (waiting for a pass that is still
        running and holds any of them); each text computed ahead is handed out once."""
        rows: dict[int, np.ndarray] = {}
        for pending, future in self._passes:
            if pending.isdisjoint(texts):
                continue
            ready = future.result()
            for i, text in enumerate(texts):
                if i not in rows and text in pending and text in ready:
                    rows[i] = ready.pop(text)
                    pending.discard(text)
        self._passes = [(pending, future) for pending, future in self._passes if pending]
        self.served += len(rows)
        return rows

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._passes = []
