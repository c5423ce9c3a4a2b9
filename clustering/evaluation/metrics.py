"""Clustering quality against gold story labels: B-cubed and pairwise precision/recall/F1.

The same definitions as ``shared/eval/score.py`` (the reference scorer), so ``newsflow eval`` and
the reference agree on the same files: B-cubed after Bagga & Baldwin (1998), pairwise by counting
pairs over the contingency table. Articles without a prediction count as singletons; predictions
for ids not in the gold set are ignored.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(k: int) -> float:
    return k * (k - 1) / 2


def _contingency(
    gold: Mapping[str, str], pred: Mapping[str, str]
) -> tuple[dict[str, str], Counter[tuple[str, str]], Counter[str], Counter[str]]:
    """Each gold article's cluster (a missing one: its own singleton), the (story, cluster) cell
    counts, and the sizes of stories and clusters."""
    labels = {i: pred.get(i, f"__singleton__{i}") for i in gold}
    n_ij = Counter((gold[i], labels[i]) for i in gold)
    return labels, n_ij, Counter(gold.values()), Counter(labels.values())


def score(gold: Mapping[str, str], pred: Mapping[str, str]) -> dict[str, float | int]:
    """Scores of ``pred`` (article id → cluster) against ``gold`` (article id → story)."""
    ids = list(gold)
    _, n_ij, gold_size, pred_size = _contingency(gold, pred)
    n = len(ids)
    b3_p = sum(c * c / pred_size[p] for (_, p), c in n_ij.items()) / n if n else 0.0
    b3_r = sum(c * c / gold_size[g] for (g, _), c in n_ij.items()) / n if n else 0.0
    tp = sum(_pairs(c) for c in n_ij.values())
    pred_pairs = sum(_pairs(c) for c in pred_size.values())
    gold_pairs = sum(_pairs(c) for c in gold_size.values())
    pw_p = tp / pred_pairs if pred_pairs else 1.0
    pw_r = tp / gold_pairs if gold_pairs else 1.0
    return {
        "articles": n,
        "gold_stories": len(gold_size),
        "predicted_clusters": len(pred_size),
        "predicted_of_gold": sum(1 for i in ids if i in pred),
        "bcubed_p": b3_p,
        "bcubed_r": b3_r,
        "bcubed_f1": _f1(b3_p, b3_r),
        "pairwise_p": pw_p,
        "pairwise_r": pw_r,
        "pairwise_f1": _f1(pw_p, pw_r),
    }


def bcubed_by_article(gold: Mapping[str, str], pred: Mapping[str, str]) -> dict[str, tuple[float, float]]:
    """Each gold article's B-cubed precision and recall: the share of its cluster that tells its story,
    and the share of its story in its cluster. ``score``'s B-cubed figures are their means; a mean over
    some articles only (a cross-validation fold's) still counts whole clusters and stories."""
    labels, n_ij, gold_size, pred_size = _contingency(gold, pred)
    return {
        i: (n_ij[gold[i], labels[i]] / pred_size[labels[i]], n_ij[gold[i], labels[i]] / gold_size[gold[i]])
        for i in gold
    }


def bcubed_mean(values: Mapping[str, tuple[float, float]], ids: Iterable[str] | None = None) -> dict[str, float]:
    """B-cubed precision, recall and F1 as the mean over ``ids`` (all articles by default)."""
    chosen = list(values if ids is None else ids)
    p = sum(values[i][0] for i in chosen) / len(chosen) if chosen else 0.0
    r = sum(values[i][1] for i in chosen) / len(chosen) if chosen else 0.0
    return {"bcubed_p": p, "bcubed_r": r, "bcubed_f1": _f1(p, r)}


def per_story(
    gold: Mapping[str, str], values: Mapping[str, tuple[float, float]]
) -> dict[str, tuple[int, float, float]]:
    """B-cubed precision and recall of each gold story's articles (from ``bcubed_by_article``):
    story → (articles, P, R). The overall means weigh these by story size."""
    by_story: dict[str, list[str]] = {}
    for i, story in gold.items():
        by_story.setdefault(story, []).append(i)
    out: dict[str, tuple[int, float, float]] = {}
    for story in sorted(by_story):
        mean = bcubed_mean(values, by_story[story])
        out[story] = (len(by_story[story]), mean["bcubed_p"], mean["bcubed_r"])
    return out


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        first = f.readline()
        f.seek(0)
        dialect = "excel-tab" if "\t" in first else "excel"
        return [r for r in csv.reader(f, dialect) if r]


def load_gold(path: Path) -> dict[str, str]:
    """CSV or TSV with a header naming ``id`` and ``story`` columns."""
    rows = _rows(path)
    head = [h.strip().lower() for h in rows[0]]
    i, s = head.index("id"), head.index("story")
    return {r[i]: r[s] for r in rows[1:]}


def load_pred(path: Path) -> dict[str, str]:
    """Two columns, article id and cluster; an ``id`` header line is optional."""
    rows = _rows(path)
    if rows and rows[0][0].strip().lower() in {"id", "article_id", "doc_id"}:
        rows = rows[1:]
    return {r[0]: r[1] for r in rows}
