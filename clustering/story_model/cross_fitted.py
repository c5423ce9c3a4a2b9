"""The shipped same-story model: the mean of models each trained without one fold of the stories.

Every probability cut is chosen by cross-validation grouped by story (``benchmarks/same_story_cv.py``):
the stream is clustered with a model trained on the *other* folds' stories. A model trained on fewer
stories meets fewer hard negatives — fewer same-subject stories on the same days — and is surer that
a pair tells one story. So a single model trained on every story is stricter than the models the
cuts were chosen with: on the German stream, replayed with the same cuts, its B-cubed recall was
0.70 against 0.76–0.84 with fold models, though it had seen those very stories.

The mean of ``members`` models, member k trained without the stories of fold k (cross-validation
bagging), is a model of the kind the cuts were chosen for, and averages away the variance of a
fit on a few stories (the German set has 14). Its members' folds are drawn with a salt of their
own, independent of a cross-validation's folds, so a cross-validation can train an ensemble per fold.

Members are calibrated on their own training pairs, which are easier than pairs among every story:
on pairs of stories it never saw, a member's 0.7–0.8 are 65 % same-story. So the ensemble maps the
members' mean probability by a strictly increasing map fitted on exactly those pairs (every
training pair scored by the member that never saw its story). The order of probabilities is kept,
so the cuts in the settings are those of the uncalibrated mean mapped the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from clustering.embedding.embed import CachedEmbedder
from clustering.representation.represent import Batch
from clustering.story_model.same_story import SameStoryModel, ensemble_of
from clustering.story_model.same_story_train import (
    CrossValidation,
    Pairs,
    labelled_streams,
    reliability_table,
    story_fold,
    stream_pairs,
    train,
)
from newsflow.settings import Settings

log = logging.getLogger(__name__)
MEMBER_SALT = "member:"  # member folds: independent of cross-validation folds (``story_fold``'s salt)
CANDIDATES = 6  # as ``train``'s default: the pairs the reliability is measured on are the training pairs


def member_fold(story: str, members: int) -> int:
    """The member that trains without ``story``."""
    return story_fold(story, members, MEMBER_SALT)


Streams = dict[str, tuple[Batch, list[str]]]  # stream name → its represented articles and their stories
Map = tuple[tuple[float, ...], tuple[float, ...]]  # points of a calibration map


def train_ensemble(
    settings: Settings, paths: Sequence[Path], embedder: CachedEmbedder, members: int,
    keep: Callable[[str], bool] | None = None, kind: str = "lr",
) -> tuple[SameStoryModel, CrossValidation]:  # fmt: skip
    """The ensemble of ``members`` trained on labelled stream files (``keep``: which stories to use)."""

    def read(keep_story: Callable[[str], bool]) -> Streams:
        return labelled_streams(settings, paths, embedder, lambda s: (keep is None or keep(s)) and keep_story(s))

    return fit_ensemble(read, embedder.model_id, members, settings.random_seed, kind)


def fit_ensemble(
    read: Callable[[Callable[[str], bool]], Streams], embedding_model: str, members: int, seed: int = 42,
    kind: str = "lr",
) -> tuple[SameStoryModel, CrossValidation]:  # fmt: skip
    """``members`` models, member k trained on ``read``'s streams without the stories of member fold k
    (each represented anew: frequencies of its own stories), and their held-out reliability."""
    if members < 2:
        raise ValueError("an ensemble needs at least two members (one model: `train`)")
    streams = read(lambda _story: True)
    if not streams:
        raise ValueError("no labelled articles to train on")
    fitted: list[SameStoryModel] = []
    for k in range(members):

        def outside(story: str, k: int = k) -> bool:
            return member_fold(story, members) != k

        part = read(outside)
        model, _ = train(part, embedding_model, seed=seed, kind=kind)
        log.info("train: member %d of %d fitted on %d pairs", k + 1, members, model.meta["pairs"])
        fitted.append(model)
    cv, calibration = held_out_calibration(streams, fitted, seed)
    meta = {"kind": kind, "members": members, "member_pairs": [m.meta["pairs"] for m in fitted], "cv": cv.as_dict(),
            "cv_scoring": "each pair scored by the member that never saw its story, calibrated on the other members' "
                          "pairs"}  # fmt: skip
    return ensemble_of(fitted, meta, calibration), cv


def held_out_calibration(streams: Streams, fitted: Sequence[SameStoryModel], seed: int) -> tuple[CrossValidation, Map]:
    """The map that calibrates the members' probabilities on pairs of stories they never saw (every
    training pair scored by the member without its story), and the reliability of that map
    cross-fitted: each member fold's pairs mapped by a map fitted on the other folds' pairs."""
    from sklearn.metrics import log_loss, roc_auc_score

    pairs = Pairs()
    for name, (batch, stories) in streams.items():
        stream_pairs(batch, stories, name, pairs, CANDIDATES, seed)
    x, y, groups, weight = pairs.arrays()
    fold = np.array([member_fold(g, len(fitted)) for g in groups])
    p = np.zeros(len(y))
    for k, model in enumerate(fitted):
        p[fold == k] = model.predict_proba(x[fold == k])
    calibrated = np.zeros(len(y))
    for k in range(len(fitted)):
        xs, ys = strictly_monotone_map(p[fold != k], y[fold != k], weight[fold != k])
        calibrated[fold == k] = np.interp(p[fold == k], xs, ys)
    cv = CrossValidation(
        float(log_loss(y, np.clip(calibrated, 1e-9, 1 - 1e-9), sample_weight=weight)),
        float(roc_auc_score(y, calibrated, sample_weight=weight)),
        reliability_table(calibrated, y, weight),
    )
    return cv, strictly_monotone_map(p, y, weight)


def strictly_monotone_map(p: np.ndarray, y: np.ndarray, weight: np.ndarray) -> Map:
    """Isotonic regression of ``y`` on ``p`` through its blocks' centres (centred isotonic regression):
    strictly increasing, so the order of probabilities and the decisions between them are kept and
    only their values move."""
    from sklearn.isotonic import IsotonicRegression

    fitted = IsotonicRegression(y_min=0.0, y_max=1.0).fit(p, y, sample_weight=weight).predict(p)
    levels = np.unique(fitted)
    centres = np.array([np.average(p[fitted == v], weights=weight[fitted == v]) for v in levels])
    xs, ys = [0.0], [0.0]  # from 0 to 1 through the centres of the blocks strictly inside
    for c, v in zip(centres, levels, strict=True):
        if xs[-1] < c < 1.0 and ys[-1] < v < 1.0:
            xs.append(float(c))
            ys.append(float(v))
    xs.append(1.0)
    ys.append(1.0)
    return tuple(np.round(xs, 6).tolist()), tuple(np.round(ys, 6).tolist())
