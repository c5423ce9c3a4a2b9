"""HDBSCAN over the neighbour graph instead of over all pairs.

HDBSCAN is a minimum spanning tree of the mutual-reachability distances, turned into a condensed
tree whose most stable clusters are selected. The tree is built here from the ``KnnGraph``'s
edges (``scipy.sparse.csgraph.minimum_spanning_tree``, O(edges)), and the ``hdbscan`` package's
own condensing and selection (``_hdbscan_linkage.label``, ``hdbscan_._tree_to_labels``) turn it
into labels — with the graph holding every pair this is exactly ``hdbscan.HDBSCAN`` on the
precomputed distances (a unit test checks it). The package's sparse-matrix path would do the same
but walks the graph element by element in Python, which is minutes for a large window.

Distances are Euclidean between the unit feature rows (√(2 − 2·sim)), as the kd-tree path used.
Core distances follow ``hdbscan_min_samples`` as the package counts them (the point itself is its
first sample). Parts of the window the graph leaves unconnected are joined at the largest
distance the graph knows, so they split off at the top of the tree as the package would see them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from clustering.reclustering.neighbours import KnnGraph
from newsflow.settings import Settings

_MIN_DISTANCE = 1e-9  # the spanning tree reads 0 as "no edge": duplicates sit this close instead


def mutual_reachability(graph: KnnGraph, min_samples: int) -> sp.csr_matrix:
    """Symmetric sparse matrix of mutual-reachability distances over the graph's edges."""
    n = graph.n
    dist = np.sqrt(np.clip(2.0 - 2.0 * graph.sim.astype(np.float64), 0.0, None))
    core = np.zeros(n)
    if min_samples > 1 and graph.index.shape[1] >= min_samples - 1:
        core = np.where(graph.index[:, min_samples - 2] >= 0, dist[:, min_samples - 2], np.inf)
    i, j, _ = graph.edges()
    d = dist[graph.index >= 0]
    reach = np.maximum(np.maximum(d, core[i]), core[j])
    ok = np.isfinite(reach)
    lo, hi = np.minimum(i, j)[ok], np.maximum(i, j)[ok]
    reach = np.maximum(reach[ok], _MIN_DISTANCE)
    # One value per pair: both directions carry the same distance up to float rounding; keep the smaller.
    order = np.lexsort((reach, hi, lo))
    lo, hi, reach = lo[order], hi[order], reach[order]
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return sp.csr_matrix((reach[first], (lo[first], hi[first])), shape=(n, n))


def _connect_components(reach: sp.csr_matrix) -> sp.csr_matrix:
    """Join the graph's separate parts at its largest distance, each part to the first one."""
    parts, comp = connected_components(reach, directed=False)
    if parts <= 1:
        return reach
    top = float(reach.data.max()) if reach.nnz else 1.0
    _, first_row = np.unique(comp, return_index=True)  # each part's first row
    bridge = sp.csr_matrix(
        (np.full(parts - 1, np.nextafter(top, np.inf)), (np.full(parts - 1, first_row[0]), first_row[1:])),
        shape=reach.shape,
    )
    return sp.csr_matrix(reach + bridge)


def single_linkage_tree(graph: KnnGraph, min_samples: int) -> np.ndarray:
    """The package's single-linkage format ((n−1) × 4) from the spanning tree of the graph."""
    from hdbscan._hdbscan_linkage import label

    reach = _connect_components(mutual_reachability(graph, min_samples))
    mst = sp.coo_matrix(minimum_spanning_tree(reach))
    edges = np.column_stack([mst.row, mst.col, mst.data]).astype(np.float64)
    edges = edges[np.lexsort((edges[:, 1], edges[:, 0], edges[:, 2]))]
    return np.asarray(label(edges))


@dataclass(frozen=True)
class HdbscanParams:
    """HDBSCAN's own knobs: the smallest cluster, the samples a core distance counts, eom or leaf selection."""

    hdbscan_min_cluster_size: int
    hdbscan_min_samples: int
    hdbscan_selection: str

    @classmethod
    def from_settings(cls, settings: Settings) -> HdbscanParams:
        return cls(
            hdbscan_min_cluster_size=settings.hdbscan_min_cluster_size,
            hdbscan_min_samples=settings.hdbscan_min_samples,
            hdbscan_selection=settings.hdbscan_selection,
        )


def graph_hdbscan_labels(graph: KnnGraph, params: HdbscanParams) -> np.ndarray:
    """HDBSCAN labels (-1: noise) of the graph's rows, with the configured cluster size and selection."""
    from hdbscan.hdbscan_ import _tree_to_labels

    n = graph.n
    if n < max(params.hdbscan_min_cluster_size, 2):
        return np.full(n, -1, dtype=np.int64)
    tree = single_linkage_tree(graph, params.hdbscan_min_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = _tree_to_labels(
            None, tree, params.hdbscan_min_cluster_size, params.hdbscan_selection, False, False
        )[0]
    return np.asarray(labels, dtype=np.int64)
