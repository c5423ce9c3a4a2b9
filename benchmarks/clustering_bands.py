"""What a similarity between two story cores means on each labelled set (a diagnostic, chooses nothing).

Re-clustering first finds HDBSCAN cores, then merges cores whose mean pairwise similarity clears a
cut. Whether one cut can serve every set depends on how often two cores at a given similarity tell
the same story. For each set this script runs the re-clustering's own features, neighbour graph and
HDBSCAN, takes every pair of cores whose mean pairwise similarity (the configured dense + sparse
mix) is at least 0.15, and prints per similarity band how many such pairs there are and the share
whose majority stories agree (each article weighted as the clustering weighs it: headline or
full text). Where one set's share rises with similarity and another's stays low
at the same similarity, no single cut (and no setting chosen without the answers) fits both.

    newsflow eval --make-input /tmp/evalin
    python benchmarks/clustering_bands.py /tmp/evalin
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.clustering_tune import diagnostic_setup, load_set
from clustering.embedding.embed import CachedEmbedder
from clustering.reclustering.graph_hdbscan import graph_hdbscan_labels
from clustering.reclustering.joint_features import neighbour_graph
from clustering.reclustering.recluster import ReclusterParams
from clustering.representation.represent import RepresentParams, SparseVectoriser, represent
from newsflow.settings import Settings

BANDS = ((0.15, 0.20), (0.20, 0.25), (0.25, 0.30), (0.30, 0.35), (0.35, 0.40), (0.40, 0.45), (0.45, 0.50),
         (0.50, 0.60), (0.60, 1.01))  # fmt: skip
FLOOR = BANDS[0][0]


def core_pairs(path: Path, half: int | None, settings: Settings, embedder: CachedEmbedder) -> np.ndarray:
    """Rows (mean cross similarity, same majority story 0/1) for core pairs at similarity ≥ ``FLOOR``."""
    docs, gold = load_set(path, half)
    batch = represent(docs, embedder.embed([d.dense_text(settings) for d in docs]),
                      SparseVectoriser(settings.sparse_features), RepresentParams.from_settings(settings))  # fmt: skip
    params = ReclusterParams.from_settings(settings)
    labels = graph_hdbscan_labels(neighbour_graph(batch, params.features, params.neighbours), params.hdbscan)
    stories = np.array([gold[d.id] for d in docs])
    cores = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    majority = [Counter(stories[c].tolist()).most_common(1)[0][0] for c in cores]
    # Core sums of the rows scaled by their weights' roots: mean pairwise similarity = product / sizes.
    rd, rs = batch.roots[:, 0], batch.roots[:, 1]
    dense = np.stack([(batch.dense[c] * rd[c, None]).sum(0) for c in cores])
    sparse = np.vstack([np.asarray(batch.sparse[c].multiply(rs[c, None]).sum(0)) for c in cores])
    sizes = np.array([len(c) for c in cores], dtype=float)
    mean = (dense @ dense.T + sparse @ sparse.T) / np.outer(sizes, sizes)
    a, b = np.nonzero(np.triu(mean >= FLOOR, 1))
    same = np.array([majority[i] == majority[j] for i, j in zip(a.tolist(), b.tolist(), strict=True)], dtype=float)
    return np.column_stack([mean[a, b], same]) if len(a) else np.zeros((0, 2))


def main() -> None:
    input_dir, settings, embedder = diagnostic_setup(__doc__)
    sets = {
        "wikinews_medium": (input_dir / "wikinews_medium.jsonl", None),
        "wikinews_big": (input_dir / "wikinews_big.jsonl", None),
        "uci tuning half": (input_dir / "uci.jsonl", 0),
        "uci": (input_dir / "uci.jsonl", None),
    }
    print(f"{'set':<16} " + " ".join(f"{lo:.2f}-{min(hi, 1.0):.2f}".rjust(13) for lo, hi in BANDS))
    for name, (path, half) in sets.items():
        rows = core_pairs(path, half, settings, embedder)
        cells = []
        for lo, hi in BANDS:
            band = rows[(rows[:, 0] >= lo) & (rows[:, 0] < hi)] if len(rows) else rows
            cells.append(f"{band[:, 1].mean():.2f} of {len(band)}".rjust(13) if len(band) else "-".rjust(13))
        print(f"{name:<16} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    main()
