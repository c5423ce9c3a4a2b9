"""Clustering settings search on the tuning data only: wikinews_medium + one half of the UCI stories.

The scored sets must not choose the settings, so this script only ever scores:

* ``wikinews_medium`` (the tuning set), and
* the UCI tuning half: the UCI stories sorted by id, every other one (``--uci-half 0``);
  ``--uci-half 1`` scores the held-out half instead — run it once, to report, not to choose.

* with ``--proxy N``, N "many small stories" windows: wikinews_medium together with the UCI tuning
  half thinned to a seeded geometric number of articles per story (mean 3.3, like the wikinews sets):
  about 100 stories of ~3 articles in one window, the regime where story merging can over-merge,
  built from tuning data only (UCI's own stories average ~70 articles and reward merging).

``wikinews_big`` is never read. Each set is clustered as one window with ``cluster_window`` (the
re-clustering stage): the re-timed sets span 36 h, inside the 72 h window, so the final scheduled
re-clustering of ``newsflow eval`` sees exactly this window and ends with the same partition in a
fraction of the time (confirm a chosen setting with ``newsflow eval`` before relying on it).
Embeddings come from the configured store's cache (``NEWSFLOW_STATE_DIR``), like ``newsflow eval``.

    newsflow eval --make-input /tmp/evalin
    python benchmarks/clustering_tune.py /tmp/evalin --grid recluster_merge_threshold=0.25,0.3 \\
        --grid recluster_group_merge_threshold=0.3,0.35
"""

from __future__ import annotations

import argparse
import itertools
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.evaluation.eval_data import read_jsonl
from clustering.evaluation.evaluate import parse_article
from clustering.evaluation.metrics import score
from clustering.reclustering.recluster import ReclusterParams, cluster_window
from clustering.representation.represent import RepresentParams, SparseVectoriser, represent
from newsflow.records.doc import Doc
from newsflow.settings import Settings, load_settings

Labelled = tuple[list[Doc], dict[str, str]]


def load_set(path: Path, half: int | None = None) -> Labelled:
    """Docs and gold stories of an eval input; with ``half``, only every other story (sorted ids)."""
    parsed = [parse_article(line, n) for n, line in enumerate(read_jsonl(path), 1)]
    if half is not None:
        keep = set(sorted({str(s) for _, s in parsed})[half::2])
        parsed = [(d, s) for d, s in parsed if s in keep]
    return [d for d, _ in parsed], {d.id: str(s) for d, s in parsed}


def thinned_mix(medium: Labelled, uci: Labelled, seed: int, mean_size: float = 3.3) -> Labelled:
    """``medium`` plus a seeded geometric(1/mean_size) sample of each ``uci`` story, one window by time."""
    rng = np.random.default_rng(seed)
    docs, gold = uci
    by_story: dict[str, list[Doc]] = defaultdict(list)
    for doc in docs:
        by_story[gold[doc.id]].append(doc)
    keep: set[str] = set()
    for story in sorted(by_story):
        members = by_story[story]
        size = min(len(members), int(rng.geometric(1 / mean_size)))
        keep.update(members[i].id for i in rng.choice(len(members), size=size, replace=False))
    mixed = sorted(medium[0] + [d for d in docs if d.id in keep], key=lambda d: d.published)
    labels = {k: f"w{v}" for k, v in medium[1].items()} | {k: f"u{gold[k]}" for k in keep}
    return mixed, labels


def bcubed(docs: list[Doc], gold: dict[str, str], settings: Settings, embedder: CachedEmbedder) -> dict[str, Any]:
    dense = embedder.embed([d.dense_text(settings) for d in docs])
    batch = represent(docs, dense, SparseVectoriser(settings.sparse_features), RepresentParams.from_settings(settings))
    labels = cluster_window(batch, ReclusterParams.from_settings(settings))
    pred = {d.id: (str(x) if x >= 0 else f"single-{d.id}") for d, x in zip(docs, labels.tolist(), strict=True)}
    return score(gold, pred)


def parse_grid(items: list[str], base: Settings) -> list[dict[str, Any]]:
    """``name=v1,v2`` items → every combination, values typed like the setting."""
    axes: list[tuple[str, list[Any]]] = []
    for item in items:
        name, _, values = item.partition("=")
        if name not in Settings.model_fields:
            raise SystemExit(f"unknown setting {name!r}")
        kind = type(getattr(base, name))
        axes.append((name, [kind(v) for v in values.split(",")]))
    return [dict(zip([n for n, _ in axes], combo, strict=True)) for combo in itertools.product(*[v for _, v in axes])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input_dir", type=Path, help="folder written by `newsflow eval --make-input`")
    parser.add_argument("--grid", action="append", default=[], help="setting=v1,v2 (repeatable)")
    parser.add_argument("--uci-half", type=int, choices=(0, 1), default=0, help="0: tuning half, 1: held-out half")
    parser.add_argument("--proxy", type=int, default=0, help="also score N medium + thinned-UCI windows (seeds 0..N-1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = load_settings()
    embedder = CachedEmbedder(Embedder(base), _cache(base))
    sets = {
        "wikinews_medium": load_set(args.input_dir / "wikinews_medium.jsonl"),
        f"uci_half{args.uci_half}": load_set(args.input_dir / "uci.jsonl", args.uci_half),
    }
    proxies = {f"mix{seed}": thinned_mix(sets["wikinews_medium"], load_set(args.input_dir / "uci.jsonl", 0), seed)
               for seed in range(args.proxy)}  # fmt: skip
    for update in parse_grid(args.grid, base) or [{}]:
        settings = base.model_copy(update=update)
        f1 = {name: float(bcubed(docs, gold, settings, embedder)["bcubed_f1"]) for name, (docs, gold) in sets.items()}
        mean = sum(f1.values()) / len(f1)
        line = [str(update), *(f"{k}={v:.4f}" for k, v in f1.items()), f"mean={mean:.4f}"]
        if proxies:
            mix = [float(bcubed(docs, gold, settings, embedder)["bcubed_f1"]) for docs, gold in proxies.values()]
            line.append(f"mix_mean={sum(mix) / len(mix):.4f} (min {min(mix):.4f})")
        print(" ".join(line), flush=True)


def diagnostic_setup(doc: str) -> tuple[Path, Settings, CachedEmbedder]:
    """Command line of the diagnostics over ``--make-input``'s folder: the folder, settings, embedder."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("input_dir", type=Path, help="folder written by `newsflow eval --make-input`")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    return args.input_dir, settings, CachedEmbedder(Embedder(settings), _cache(settings))


def _cache(settings: Settings) -> Any:
    from newsflow.store.database import open_store
    from newsflow.store.embeddings_repo import SqlVectorCache

    return SqlVectorCache(open_store(settings))


if __name__ == "__main__":
    main()
