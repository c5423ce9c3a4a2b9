"""Training the same-story model from labelled streams (``newsflow train``).

Pairs come the way decisions come. Each labelled stream is walked in publication order; each
arriving article is paired with

* the stories told so far (each the group of its earlier articles): its own story, if it has
  begun, and the ``candidates`` most alike other stories — hard negatives, mostly of the same
  subject and the same days, since they are what online assignment would weigh it against;
* the ``candidates`` most alike earlier single articles (and the nearest earlier one of its own
  story): the decision that seeds a topic from two waiting articles;

and at the end every story of two or more articles is split in time (its earlier part against its
later part: a cluster continuing, or two clusters of one story to merge) and set against the parts
of the ``candidates`` most alike other stories (``SPLIT_ROUNDS`` times: in time order, or at random).
Each source stream and each kind of decision (join, seed, merge) weighs the same in the fit, so
6,000 headlines do not drown 140 German articles, nor article pairs the cluster merges.

Cross-validation is grouped by story (``GroupKFold`` on the story of a pair's first side): no
article's own story is in the fold that scores it. Its out-of-fold probabilities give the log loss,
the AUC and the reliability table (mean predicted vs observed rate per probability bin) stored with
the artifact.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from clustering.embedding.embed import CachedEmbedder
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from clustering.story_model.same_story import FEATURES, SameStoryModel, pair_features
from clustering.story_model.trees import fit_trees
from newsflow.records.doc import Doc
from newsflow.settings import Settings

log = logging.getLogger(__name__)
KINDS = ("lr", "trees")  # a logistic regression, or boosted trees (``newsflow train --kind``)
SPLIT_ROUNDS = 4  # cluster-level splits per story: merges are most of the re-clustering's decisions


@dataclass
class Pairs:
    """Feature rows with their labels, the story that groups each row, its source and weight."""

    x: list[np.ndarray] = field(default_factory=list)
    y: list[np.ndarray] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)  # "stream/decision": each weighs the same in the fit

    def add(self, x: np.ndarray, y: np.ndarray, group: str, source: str, decision: str = "join") -> None:
        self.x.append(x)
        self.y.append(y.astype(np.int8))
        self.group.extend([group] * len(y))
        self.source.extend([f"{source}/{decision}"] * len(y))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        x = np.vstack(self.x) if self.x else np.zeros((0, len(FEATURES)))
        y = np.concatenate(self.y) if self.y else np.zeros(0, dtype=np.int8)
        source = np.array(self.source)
        counts = {s: int((source == s).sum()) for s in set(self.source)}
        weight = np.array([len(y) / (len(counts) * counts[s]) for s in self.source]) if len(y) else np.zeros(0)
        return x, y, np.array(self.group), weight


def _cos_rows(matrix: np.ndarray, norms: np.ndarray, vector: np.ndarray) -> np.ndarray:
    return np.divide(matrix @ vector, norms, out=np.zeros(matrix.shape[0]), where=norms > 0)


class _Groups:
    """Running sums of each story's articles so far (dense, compact sparse, span, long share)."""

    def __init__(self, n_stories: int, dim: int, n_terms: int) -> None:
        self.dense = np.zeros((n_stories, dim))
        self.sparse = np.zeros((n_stories, n_terms))
        self.size = np.zeros(n_stories)
        self.first = np.full(n_stories, np.inf)
        self.last = np.full(n_stories, -np.inf)
        self.long = np.zeros(n_stories)
        self.foreign = np.zeros(n_stories)

    def add(self, s: int, dense: np.ndarray, sparse: np.ndarray, hours: float, long: float, foreign: float) -> None:
        self.dense[s] += dense
        self.sparse[s] += sparse
        self.size[s] += 1
        self.first[s] = min(self.first[s], hours)
        self.last[s] = max(self.last[s], hours)
        self.long[s] += long
        self.foreign[s] += foreign


def stream_pairs(batch: Batch, stories: Sequence[str], source: str, pairs: Pairs, candidates: int, seed: int) -> None:
    """Add the pairs of one labelled stream (rows of ``batch`` in publication order) to ``pairs``."""
    n = len(batch)
    story_ids = {s: k for k, s in enumerate(dict.fromkeys(stories))}
    own = np.array([story_ids[s] for s in stories])
    used = np.unique(batch.sparse.indices)
    sparse = sp.csr_matrix(batch.sparse[:, used], dtype=np.float64)  # compact: the stream's terms only
    dense = batch.dense.astype(np.float64)
    groups = _Groups(len(story_ids), dense.shape[1], len(used))
    for i in range(n):
        s = int(own[i])
        row = sparse[i].toarray().ravel()
        seen = np.flatnonzero(groups.size > 0)
        if len(seen):
            dn = np.linalg.norm(groups.dense[seen], axis=1)
            d = _cos_rows(groups.dense[seen], dn, dense[i])
            pick = set(seen[np.argsort(-d)[:candidates]].tolist()) | ({s} if groups.size[s] else set())
            rows = np.array(sorted(pick))
            at = np.searchsorted(seen, rows)
            sn = np.linalg.norm(groups.sparse[rows], axis=1)
            gap = np.maximum(np.maximum(groups.first[rows] - batch.hours[i], batch.hours[i] - groups.last[rows]), 0)
            long = (batch.long[i] + groups.long[rows] / groups.size[rows]) / 2
            foreign = (batch.foreign[i] + groups.foreign[rows] / groups.size[rows]) / 2
            x = pair_features(d[at], _cos_rows(groups.sparse[rows], sn, row), gap, 1.0, groups.size[rows], long,
                              foreign)  # fmt: skip
            pairs.add(x, rows == s, f"{source}:{stories[i]}", source)
        if i:  # earlier single articles: the seeding decision
            d = dense[:i] @ dense[i]
            near = np.argsort(-d)[:candidates]
            mine = np.flatnonzero(own[:i] == s)
            if len(mine):
                near = np.union1d(near, mine[np.argmax(d[mine])])
            gap = np.abs(batch.hours[near] - batch.hours[i])
            long = (batch.long[near] + batch.long[i]) / 2
            foreign = (batch.foreign[near] + batch.foreign[i]) / 2
            x = pair_features(d[near], sparse[near] @ row, gap, 1.0, 1.0, long, foreign)
            pairs.add(x, own[near] == s, f"{source}:{stories[i]}", source, "seed")
        groups.add(s, dense[i], row, float(batch.hours[i]), float(batch.long[i]), float(batch.foreign[i]))
    for round_ in range(SPLIT_ROUNDS):
        _split_pairs(batch, own, list(story_ids), dense, sparse, source, pairs, candidates, seed + round_)


def _split_pairs(
    batch: Batch, own: np.ndarray, names: list[str], dense: np.ndarray, sparse: sp.csr_matrix,
    source: str, pairs: Pairs, candidates: int, seed: int,
) -> None:  # fmt: skip
    """Cluster-level pairs: each story's earlier part against its later part and other stories' parts."""
    rng = np.random.default_rng(seed)
    parts: list[tuple[int, np.ndarray]] = []
    for s in range(len(names)):
        rows = np.flatnonzero(own == s)  # in time order
        if len(rows) >= 2:  # in time order (a cluster continuing), or at random (two clusters of one story)
            cut = int(rng.integers(1, len(rows)))
            shuffled = rows if rng.random() < 0.5 else rng.permutation(rows)
            parts += [(s, np.sort(shuffled[:cut])), (s, np.sort(shuffled[cut:]))]
        elif len(rows) == 1:
            parts.append((s, rows))
    if len(parts) < 2:
        return
    sums = np.array([dense[r].sum(axis=0) for _, r in parts])
    unit = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    ssum = np.vstack([np.asarray(sparse[r].sum(axis=0)).ravel() for _, r in parts])
    snorm = np.linalg.norm(ssum, axis=1)
    first = np.array([batch.hours[r].min() for _, r in parts])
    last = np.array([batch.hours[r].max() for _, r in parts])
    size = np.array([len(r) for _, r in parts], dtype=np.float64)
    long = np.array([batch.long[r].mean() for _, r in parts])
    foreign = np.array([batch.foreign[r].mean() for _, r in parts])
    story = np.array([s for s, _ in parts])
    sim = unit @ unit.T
    for a in range(len(parts)):
        sim[a, a] = -np.inf
        others = np.argsort(-sim[a])[:candidates]
        mates = np.flatnonzero((story == story[a]) & (np.arange(len(parts)) != a))
        bs = np.union1d(others, mates)
        bs = bs[bs > a]  # each unordered pair once
        if len(bs) == 0:
            continue
        sp_cos = np.divide(ssum[bs] @ ssum[a], snorm[bs] * snorm[a], out=np.zeros(len(bs)),
                           where=(snorm[bs] * snorm[a]) > 0)  # fmt: skip
        gap = np.maximum(np.maximum(first[bs] - last[a], first[a] - last[bs]), 0.0)
        x = pair_features(sim[a, bs], sp_cos, gap, size[a], size[bs], (long[a] + long[bs]) / 2,
                          (foreign[a] + foreign[bs]) / 2)
        pairs.add(x, story[bs] == story[a], f"{source}:{names[story[a]]}", source, "merge")


def labelled_batch(docs: list[Doc], dense: np.ndarray, settings: Settings) -> Batch:
    """A stream's representation, frequencies counted over the whole stream."""
    params = RepresentParams.from_settings(settings)
    return represent(docs, dense, SparseVectoriser(settings.sparse_features), params, observe=True)


@dataclass
class CrossValidation:
    log_loss: float
    auc: float
    reliability: list[dict[str, float]]  # per probability bin: mean predicted, observed rate, pairs

    def as_dict(self) -> dict[str, object]:
        return {"log_loss": self.log_loss, "auc": self.auc, "reliability": self.reliability}


def fit(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray, embedding_model: str, c: float = 1.0, kind: str = "lr"
) -> SameStoryModel:
    """A logistic regression over standardised features (``kind`` "lr"), or boosted trees ("trees",
    ``trees.py``) with the regression kept beside them for reading."""
    from sklearn.linear_model import LogisticRegression

    if kind not in KINDS:
        raise ValueError(f"unknown same-story model kind {kind!r} (one of {', '.join(KINDS)})")
    mean = np.average(x, axis=0, weights=weight)
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=weight))
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000)
    lr.fit((x - mean) / scale, y, sample_weight=weight)
    trees = fit_trees(x, y, weight) if kind == "trees" else None
    return SameStoryModel(
        embedding_model, mean, scale, lr.coef_[0].astype(np.float64), float(lr.intercept_[0]), trees=trees
    )


def reliability_table(p: np.ndarray, y: np.ndarray, weight: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    out: list[dict[str, float]] = []
    edges = np.linspace(0.0, 1.0, bins + 1)
    at = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    for b in range(bins):
        m = at == b
        if m.sum() == 0:
            continue
        w = weight[m]
        out.append({"low": float(edges[b]), "high": float(edges[b + 1]),
                    "predicted": float(np.average(p[m], weights=w)),
                    "observed": float(np.average(y[m], weights=w)), "pairs": int(m.sum())})  # fmt: skip
    return out


def calibration_map(raw: np.ndarray, y: np.ndarray, weight: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Points of a monotone map from raw to calibrated probabilities (isotonic regression)."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y, sample_weight=weight)
    xs, ys = np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)
    xs, ys = np.concatenate([[0.0], xs, [1.0]]), np.concatenate([[ys[0]], ys, [ys[-1]]])
    return tuple(xs.round(6).tolist()), tuple(ys.round(6).tolist())


def cross_validate(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, weight: np.ndarray, folds: int = 5, c: float = 1.0,
    kind: str = "lr",
) -> tuple[CrossValidation, np.ndarray]:  # fmt: skip
    """Out-of-fold raw scores with folds grouped by story; the reliability and log loss are of
    calibrated probabilities whose map was fitted on the *other* folds' scores (cross-fitted)."""
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import GroupKFold

    raw = np.zeros(len(y))
    splits = list(GroupKFold(n_splits=folds).split(x, y, groups))
    for train, test in splits:
        raw[test] = fit(x[train], y[train], weight[train], "cv", c, kind).raw_proba(x[test])
    calibrated = np.zeros(len(y))
    for train, test in splits:
        xs, ys = calibration_map(raw[train], y[train], weight[train])
        calibrated[test] = np.interp(raw[test], xs, ys)
    cv = CrossValidation(
        float(log_loss(y, np.clip(calibrated, 1e-9, 1 - 1e-9), sample_weight=weight)),
        float(roc_auc_score(y, calibrated, sample_weight=weight)),
        reliability_table(calibrated, y, weight),
    )
    return cv, raw


def train(
    streams: dict[str, tuple[Batch, list[str]]], embedding_model: str, *, candidates: int = 6, folds: int = 5,
    seed: int = 42, kind: str = "lr",
) -> tuple[SameStoryModel, CrossValidation]:  # fmt: skip
    """Pairs from each named stream, grouped cross-validation, then the model fitted on every pair."""
    pairs = Pairs()
    for name, (batch, stories) in streams.items():
        before = len(pairs.group)
        stream_pairs(batch, stories, name, pairs, candidates, seed)
        log.info("train: %s gave %d pairs", name, len(pairs.group) - before)
    x, y, groups, weight = pairs.arrays()
    if len(set(y.tolist())) < 2 or len(set(groups.tolist())) < folds:
        raise ValueError("training needs pairs of both kinds from at least as many stories as folds")
    cv, raw = cross_validate(x, y, groups, weight, folds, kind=kind)
    model = fit(x, y, weight, embedding_model, kind=kind)
    calibration = calibration_map(raw, y, weight)
    per_source: dict[str, int] = defaultdict(int)
    for s in pairs.source:
        per_source[s] += 1
    meta = {"kind": kind, "pairs": len(y), "positives": int(y.sum()), "streams": dict(per_source), "cv": cv.as_dict(),
            "coefficients": dict(zip(FEATURES, model.coef.round(4).tolist(), strict=True))}  # fmt: skip
    return SameStoryModel(embedding_model, model.mean, model.scale, model.coef, model.intercept, meta=meta,
                          calibration=calibration, trees=model.trees), cv  # fmt: skip



def read_stream(path: Path, keep: Callable[[str], bool] | None = None) -> tuple[list[Doc], list[str]]:
    """A labelled ``newsflow eval`` input in publication order (``keep``: which stories to use)."""
    from clustering.evaluation.eval_data import read_jsonl
    from clustering.evaluation.evaluate import parse_article

    rows = [parse_article(line, n) for n, line in enumerate(read_jsonl(path), 1)]
    rows = [(d, s) for d, s in rows if s is not None and (keep is None or keep(s))]
    rows.sort(key=lambda r: (r[0].published, r[0].id))
    return [d for d, _ in rows], [str(s) for _, s in rows]


def labelled_streams(
    settings: Settings, paths: Sequence[Path], embedder: CachedEmbedder, keep: Callable[[str], bool] | None = None
) -> dict[str, tuple[Batch, list[str]]]:
    """Each labelled stream (named by its file's stem) represented, with its articles' stories."""
    streams: dict[str, tuple[Batch, list[str]]] = {}
    for path in paths:
        docs, stories = read_stream(path, keep)
        if docs:
            dense = embedder.embed([d.dense_text(settings) for d in docs])
            streams[path.stem] = (labelled_batch(docs, dense, settings), stories)
    return streams


def train_from_files(
    settings: Settings, paths: Sequence[Path], embedder: CachedEmbedder, keep: Callable[[str], bool] | None = None,
    kind: str = "lr",
) -> tuple[SameStoryModel, CrossValidation]:  # fmt: skip
    """Train on labelled streams (each file one stream, named by its stem)."""
    streams = labelled_streams(settings, paths, embedder, keep)
    if not streams:
        raise ValueError("no labelled articles to train on")
    return train(streams, embedder.model_id, seed=settings.random_seed, kind=kind)


def story_fold(story: str, folds: int, salt: str = "") -> int:
    """A story's fold, stable across runs and machines (for cross-validation by story). A mixed
    stream's ``set:story`` ids fall in the fold of the set's own ``story``. Another ``salt`` draws
    folds independent of these (an ensemble's members inside a cross-validation fold)."""
    base = story.rsplit(":", 1)[-1]
    return int(hashlib.sha1((salt + base).encode("utf-8")).hexdigest()[:8], 16) % folds
