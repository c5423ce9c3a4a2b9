"""How far apart the gold stories are in newsflow's own representation (a diagnostic that reads the answers).

For each set it builds the representation the clustering uses (the embedding of title + lead and
the TF-IDF, weighted per article as ``SimilarityWeights`` does; no time decay, since the re-timed
sets carry no time signal) and prints, from the answers:

* ``same title``: articles whose normalised title occurs verbatim in another gold story — no
  text-only method can put both copies right;
* ``near pairs``: pairs from different stories at similarity 0.9 or more (near-duplicates);
* ``1-NN same``: the share of articles whose most similar article belongs to their own story;
* ``k-NN vote``: B-cubed P / R / F1 of labelling every article with the majority story of its k
  most similar articles (k: the median story size less one, at most five, at least one), *knowing
  every other article's story* — a supervised reference for what the representation separates
  locally, not a bound and never a setting.

Compare with what ``newsflow eval`` scores on the same file: where the streaming clustering comes
close to the supervised vote, the remaining errors are in the representation (or the labels), not in
the clustering.

    newsflow eval --make-input /tmp/evalin
    python benchmarks/clustering_separability.py /tmp/evalin
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.clustering_tune import diagnostic_setup, load_set
from clustering.embedding.embed import CachedEmbedder
from clustering.evaluation.metrics import score
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from clustering.representation.text import normalise
from newsflow.records.doc import Doc
from newsflow.settings import Settings

SETS = ("uci", "wikinews_big", "wikinews_medium", "wikinews_big_dated")
NEAR = 0.9
MAX_VOTERS = 5


def joint_similarity(batch: Batch) -> np.ndarray:
    """Pairwise weighted dense + sparse similarity (each article's weights, as the clustering uses them)."""
    dense = batch.dense * batch.roots[:, :1].astype(np.float32)
    sparse = (batch.sparse.multiply(batch.roots[:, 1:].astype(np.float32))).tocsr()
    return np.asarray(dense @ dense.T + (sparse @ sparse.T).toarray(), dtype=np.float64)


def separability(docs: list[Doc], gold: dict[str, str], sim: np.ndarray) -> dict[str, float]:
    """The figures described in the module docstring for one set."""
    stories = np.array([gold[d.id] for d in docs])
    np.fill_diagonal(sim, -np.inf)
    by_title: dict[str, set[str]] = defaultdict(set)
    for d in docs:
        by_title[normalise(d.title).strip()].add(gold[d.id])
    same_title = sum(1 for d in docs if len(by_title[normalise(d.title).strip()]) > 1)
    near = int(np.sum((sim >= NEAR) & (stories[:, None] != stories[None, :])) // 2)
    voters = int(np.clip(np.median(list(Counter(stories).values())) - 1, 1, MAX_VOTERS))
    nearest = np.argsort(-sim, axis=1)[:, :voters]
    vote = {d.id: Counter(stories[nearest[i]]).most_common(1)[0][0] for i, d in enumerate(docs)}
    scores = score(gold, vote)
    return {
        "articles": len(docs), "stories": len(set(stories)), "same_title": same_title, "near_pairs": near,
        "voters": voters, "nn_same": float(np.mean(stories[nearest[:, 0]] == stories)),
        "vote_p": scores["bcubed_p"], "vote_r": scores["bcubed_r"], "vote_f1": scores["bcubed_f1"],
    }  # fmt: skip


def represent_set(docs: list[Doc], embedder: CachedEmbedder, settings: Settings) -> Batch:
    vectoriser = SparseVectoriser(settings.sparse_features)
    dense = embedder.embed([d.dense_text(settings) for d in docs])
    return represent(docs, dense, vectoriser, RepresentParams.from_settings(settings))  # IDF over the whole set


def main() -> None:
    input_dir, settings, embedder = diagnostic_setup(__doc__)
    print(f"{'set':<18} {'articles':>8} {'stories':>7} {'same title':>10} {'near pairs':>10} {'1-NN same':>9}"
          f" {'k':>2} {'k-NN vote P / R / F1 (with answers)':>36}")  # fmt: skip
    for name in SETS:
        path = input_dir / f"{name}.jsonl"
        if not path.exists():
            print(f"{name:<18} (no {path})")
            continue
        docs, gold = load_set(path)
        batch = represent_set(docs, embedder, settings)
        f = separability(docs, gold, joint_similarity(batch))
        print(f"{name:<18} {f['articles']:>8} {f['stories']:>7} {f['same_title']:>10} {f['near_pairs']:>10}"
              f" {f['nn_same']:>9.3f} {f['voters']:>2} {f['vote_p']:>14.3f} / {f['vote_r']:.3f} / {f['vote_f1']:.3f}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
