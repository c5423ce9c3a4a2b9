"""A coarse inverted file over topic centroids: the online candidate search probes a few cells
instead of every topic once there are many thousands of them.

The cells are the centres of a spherical k-means over the topics' unit centroids, about √T of them
for T topics. Each topic row lives in the two cells whose centres are nearest its centroid (with
one, topics near a cell border are missed) and moves when an update moves the centroid. A query
is compared with the √T centres, then with the topics of the ``probe`` nearest cells — O(√T·d) per
article instead of O(T·d). The search is approximate (the benchmark prints how often it agrees
with a search of every topic). The cells are rebuilt whenever the number of topics has doubled
since the last build, so they follow the topics as the window turns.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from clustering.reclustering.neighbours import kmeans_centres

_BLOCK = 4096  # rows per block of the k-means assignment


class CentroidCells:
    def __init__(self, min_topics: int, probe: int, seed: int, copies: int = 2) -> None:
        self.min_topics = min_topics
        self.probe = max(1, probe)
        self.seed = seed
        # Each topic sits in its ``copies`` nearest cells: a query near a cell border still finds it.
        self.copies = max(1, copies)
        self.centres: np.ndarray | None = None  # (cells, d) unit rows; None: too few topics, search them all
        self.cell_of: dict[int, tuple[int, ...]] = {}  # topic row → its cells
        self.rows: list[set[int]] = []  # cell → topic rows
        self.built_for = 0

    @property
    def active(self) -> bool:
        return self.centres is not None

    def due(self, n_topics: int) -> bool:
        """A (re)build is due: enough topics to need cells, and none built yet or twice as many since."""
        return n_topics >= self.min_topics and (self.centres is None or n_topics >= 2 * self.built_for)

    def build(self, unit: np.ndarray, rows: np.ndarray) -> None:
        """Cells for the topic ``rows`` of ``unit`` (unit centroids), every row placed."""
        cells = max(1, round(math.sqrt(len(rows))))
        self.centres = kmeans_centres(unit[rows], cells, self.seed, _BLOCK)
        self.rows = [set() for _ in range(cells)]
        self.cell_of = {}
        for start in range(0, len(rows), _BLOCK):
            block = rows[start : start + _BLOCK]
            for row, nearest in zip(block.tolist(), self._nearest(unit[block]).tolist(), strict=True):
                self._move(row, tuple(nearest))
        self.built_for = len(rows)

    def _nearest(self, x: np.ndarray) -> np.ndarray:
        """Each row's ``copies`` nearest cells."""
        assert self.centres is not None
        sims = np.atleast_2d(x @ self.centres.T)
        copies = min(self.copies, sims.shape[1])
        return np.sort(np.argpartition(-sims, copies - 1, axis=1)[:, :copies], axis=1)

    def place(self, row: int, unit_row: np.ndarray) -> None:
        """Put ``row`` in the cells nearest its (new) centroid."""
        if self.centres is not None:
            self._move(row, tuple(self._nearest(unit_row)[0].tolist()))

    def _move(self, row: int, cells: tuple[int, ...]) -> None:
        old = self.cell_of.get(row, ())
        if old == cells:
            return
        for cell in old:
            self.rows[cell].discard(row)
        for cell in cells:
            self.rows[cell].add(row)
        self.cell_of[row] = cells

    def drop(self, row: int) -> None:
        for cell in self.cell_of.pop(row, ()):
            self.rows[cell].discard(row)

    def candidates(self, query: np.ndarray) -> np.ndarray:
        """Topic rows in the ``probe`` cells whose centres are nearest ``query``."""
        assert self.centres is not None
        probe = min(self.probe, len(self.centres))
        nearest = np.argpartition(-(self.centres @ query), probe - 1)[:probe]
        members = set(itertools.chain.from_iterable(self.rows[c] for c in nearest.tolist()))
        return np.fromiter(members, dtype=np.int64, count=len(members))
