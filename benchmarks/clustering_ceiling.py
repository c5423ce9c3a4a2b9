"""How far one-shot average linkage can get on each set, for several similarity designs (a diagnostic).

For each design (dense title + lead, sparse TF-IDF over the first N characters, and weighted mixes)
it clusters each whole set offline with average linkage at every cut in a grid and prints:

* ``tuned``: the cut that scores best on the tuning data (wikinews_medium for the WikiNews sets,
  the UCI tuning half for UCI), applied to the scored set — what an honest setting would give;
* ``ceiling``: the best cut chosen on the scored set's own answers — an upper bound for this
  design and this algorithm, never a setting.

It uses the project's embedder (and its cache, like ``newsflow eval``) and the project's tokens, so
the figures say what the representation allows, not what the stream does with it. It chooses no
setting: ``clustering_tune.py`` does that, on tuning data only.

    newsflow eval --make-input /tmp/evalin
    python benchmarks/clustering_ceiling.py /tmp/evalin
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import TfidfVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.clustering_tune import Labelled, diagnostic_setup, load_set
from clustering.embedding.embed import CachedEmbedder
from clustering.evaluation.metrics import score
from clustering.representation.text import tokens
from newsflow.records.doc import Doc
from newsflow.settings import Settings

CUTS = np.round(np.arange(0.04, 0.80, 0.02), 2)
DESIGNS: dict[str, dict[str, float]] = {
    "dense": {"dense": 1.0},
    "sparse 3000 chars": {"sparse3000": 1.0},
    "sparse full text": {"sparse_full": 1.0},
    "0.7 dense + 0.3 sparse 3000": {"dense": 0.7, "sparse3000": 0.3},
    "0.5 dense + 0.5 sparse 3000": {"dense": 0.5, "sparse3000": 0.5},
    "0.5 dense + 0.5 sparse full": {"dense": 0.5, "sparse_full": 0.5},
}


def similarities(docs: list[Doc], embedder: CachedEmbedder, settings: Settings) -> dict[str, np.ndarray]:
    dense = embedder.embed([d.dense_text(settings) for d in docs])
    out = {"dense": dense @ dense.T}
    for name, chars in (("sparse3000", 3000), ("sparse_full", 10**9)):
        texts = [f"{d.title}\n{d.body[:chars]}" for d in docs]
        vectoriser = TfidfVectorizer(analyzer=tokens, sublinear_tf=True)
        matrix = vectoriser.fit_transform(texts)
        out[name] = (matrix @ matrix.T).toarray()
    return out


def mix(sims: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted sum of the named similarity matrices."""
    return np.sum([w * sims[k] for k, w in weights.items()], axis=0)


def scores_by_cut(sim: np.ndarray, docs: list[Doc], gold: dict[str, str]) -> np.ndarray:
    distance = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform((distance + distance.T) / 2, checks=False), "average")
    out = []
    for cut in CUTS:
        labels = fcluster(tree, 1.0 - cut, "distance")
        out.append(score(gold, {d.id: str(x) for d, x in zip(docs, labels, strict=True)})["bcubed_f1"])
    return np.array(out, dtype=float)


def main() -> None:
    input_dir, settings, embedder = diagnostic_setup(__doc__)
    pairs: list[tuple[str, Labelled, str, Labelled]] = [
        ("wikinews_medium", load_set(input_dir / "wikinews_medium.jsonl"),
         "wikinews_big", load_set(input_dir / "wikinews_big.jsonl")),
        ("uci tuning half", load_set(input_dir / "uci.jsonl", 0), "uci", load_set(input_dir / "uci.jsonl")),
    ]  # fmt: skip
    for tune_name, (tune_docs, tune_gold), scored_name, (docs, gold) in pairs:
        tune_sims, sims = similarities(tune_docs, embedder, settings), similarities(docs, embedder, settings)
        print(f"\n{scored_name} (cut chosen on {tune_name})")
        print(f"{'design':<30} {'tuned cut':>9} {'tuned F1':>9} {'ceiling cut':>11} {'ceiling F1':>10}")
        for design, weights in DESIGNS.items():
            tuned = scores_by_cut(mix(tune_sims, weights), tune_docs, tune_gold)
            scored = scores_by_cut(mix(sims, weights), docs, gold)
            t, c = int(np.argmax(tuned)), int(np.argmax(scored))
            print(f"{design:<30} {CUTS[t]:>9.2f} {scored[t]:>9.3f} {CUTS[c]:>11.2f} {scored[c]:>10.3f}", flush=True)


if __name__ == "__main__":
    main()
