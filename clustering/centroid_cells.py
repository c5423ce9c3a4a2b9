"""A coarse inverted file over topic centroids: the online candidate search probes a few cells
instead of every topic once there are thousands of them.

The cells are the centres of a spherical k-means over the topics' unit centroids, about √T of them
for T topics. Each topic row lives in the cell whose centre is nearest its centroid and moves when
an update moves the centroid. A query is compared with the √T centres, then with the topics of the
``probe`` nearest cells — O(√T·d) per article instead of O(T·d). The cells are rebuilt whenever the
number of topics has doubled since the last build, so they follow the topics as the window turns.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from clustering.neighbours import kmeans_centres, nearest_centre

_BLOCK = 4096  # rows per block of the k-means assignment


class CentroidCells:
    def __init__(self, min_topics: int, probe: int, seed: int) -> None:
        self.min_topics = min_topics
        self.probe = max(1, probe)
        self.seed = seed
        self.centres: np.ndarray | None = None  # (cells, d) unit rows; None: too few topics, search them all
        self.cell_of: dict[int, int] = {}  # topic row → cell
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
        nearest = nearest_centre(unit[rows], self.centres, _BLOCK)
        self.rows = [set() for _ in range(cells)]
        self.cell_of = {}
        for row, cell in zip(rows.tolist(), nearest.tolist(), strict=True):
            self.cell_of[row] = cell
            self.rows[cell].add(row)
        self.built_for = len(rows)

    def place(self, row: int, unit_row: np.ndarray) -> None:
        """Put ``row`` in the cell nearest its (new) centroid."""
        if self.centres is None:
            return
        cell = int(np.argmax(self.centres @ unit_row))
        old = self.cell_of.get(row)
        if old == cell:
            return
        if old is not None:
            self.rows[old].discard(row)
        self.cell_of[row] = cell
        self.rows[cell].add(row)

    def drop(self, row: int) -> None:
        old = self.cell_of.pop(row, None)
        if old is not None:
            self.rows[old].discard(row)

    def candidates(self, query: np.ndarray) -> np.ndarray:
        """Topic rows in the ``probe`` cells whose centres are nearest ``query``."""
        assert self.centres is not None
        probe = min(self.probe, len(self.centres))
        nearest = np.argpartition(-(self.centres @ query), probe - 1)[:probe]
        members = itertools.chain.from_iterable(self.rows[c] for c in nearest.tolist())
        return np.fromiter(members, dtype=np.int64)
