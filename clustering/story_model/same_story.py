"""The same-story model: one calibrated probability that two sides tell the same story.

Every clustering decision asks one question — does this article belong to this topic, do these two
waiting articles start one, do these two clusters merge — and answers it here, the way published
stream clusterers do (Miranda et al. 2018; Santos et al. 2022): a small classifier trained on
labelled pairs scores a pair of *sides* (an article is a side of one member, a topic or cluster a
side of many) from several similarities and time features, instead of a hand-tuned cosine cut per
call site. A cut is then a probability and means the same for every decision and every model.

Features of a pair (``pair_features``), all computable from the sums the index and the
agglomeration already keep:

* ``dense`` / ``sparse``: cosine of the two sides' dense (embedding) and TF-IDF centroids;
* their products with ``long`` (the pair's mean share of full text: 0 headline … 1 full text),
  since full texts lean on TF-IDF and headlines on the embedding;
* ``days``: log(1 + days between the two sides' time spans) and its product with ``dense`` — two
  articles on one subject days apart are usually two stories;
* ``small`` / ``large``: log of each side's member count (a centroid of many members lies closer to
  a member than two single articles to each other) and ``dense × large``;
* squares and the product of ``dense`` and ``sparse`` (evidence adds up faster than linearly);
* ``foreign``: the pair's share of articles not in English, alone and times each cosine — an
  English embedding model's cosines between German texts run on another scale (a model trained
  for a multilingual embedding learns a coefficient near 0 here).

The model is a logistic regression over standardised features, so it is a dot product at run time
(no scikit-learn needed to score) and its coefficients can be read; a monotone map fitted on
out-of-fold scores (isotonic regression, grouped by story) calibrates it, stored as points
(``newsflow train --kind trees`` scores with boosted trees instead, ``trees.py``: an option).
``newsflow train`` ships the mean of ``--members`` such models, each trained without one fold of the
stories (version 3, ``ensemble_of``; ``cross_fitted.py``): the cuts are chosen by cross-validation
with models trained on part of the stories, and one model trained on all of them is surer of fewer
pairs than those the cuts were chosen with.
It is stored as a versioned JSON artifact naming the embedding model it was trained with:
cosines of another model have another scale, so a mismatch is refused by name
(``SameStoryModelError``). ``newsflow train`` rebuilds it (``same_story_train.py``).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from clustering.story_model.trees import TreeEnsemble
from newsflow.errors import NewsflowError
from newsflow.settings import Settings

log = logging.getLogger(__name__)

ARTIFACT_VERSION = 1  # a logistic regression; version 2 adds boosted trees (``trees.py``) that replace it
TREES_VERSION = 2
ENSEMBLE_VERSION = 3  # the mean probability of several version-1 or version-2 models (``ensemble_of``)
IDENTITY = ((0.0, 1.0), (0.0, 1.0))  # a calibration map that changes nothing
BUNDLED_ARTIFACT = Path(__file__).with_name("models") / "same_story.json"
FEATURES = ("dense", "sparse", "dense_long", "sparse_long", "days", "dense_days", "small", "large", "dense_large",
            "dense_sq", "sparse_sq", "dense_sparse", "foreign", "dense_foreign", "sparse_foreign")  # fmt: skip


class SameStoryModelError(NewsflowError):
    """The same-story model is missing, unreadable, or was trained for another embedding model."""


def pair_features(
    dense: np.ndarray, sparse: np.ndarray, gap_hours: np.ndarray,
    size_a: np.ndarray | float, size_b: np.ndarray | float, long: np.ndarray | float,
    foreign: np.ndarray | float = 0.0,
) -> np.ndarray:  # fmt: skip
    """(n, len(FEATURES)) features of n pairs; sizes are member counts (1: an article); ``long`` and
    ``foreign`` are the pair's mean shares of full text and of articles not in English."""
    dense = np.asarray(dense, dtype=np.float64)
    n = dense.shape[0]
    sparse = np.broadcast_to(np.asarray(sparse, dtype=np.float64), (n,))
    long_ = np.broadcast_to(np.asarray(long, dtype=np.float64), (n,))
    days = np.log1p(np.maximum(np.broadcast_to(np.asarray(gap_hours, dtype=np.float64), (n,)), 0.0) / 24.0)
    a = np.log(np.maximum(np.broadcast_to(np.asarray(size_a, dtype=np.float64), (n,)), 1.0))
    b = np.log(np.maximum(np.broadcast_to(np.asarray(size_b, dtype=np.float64), (n,)), 1.0))
    small, large = np.minimum(a, b), np.maximum(a, b)
    other = np.broadcast_to(np.asarray(foreign, dtype=np.float64), (n,))
    return np.column_stack([dense, sparse, dense * long_, sparse * long_, days, dense * days, small, large,
                            dense * large, dense**2, sparse**2, dense * sparse, other, dense * other,
                            sparse * other])  # fmt: skip


@dataclass(frozen=True)
class SameStoryModel:
    """Standardise, dot, sigmoid. ``predict_proba`` takes ``pair_features`` rows."""

    embedding_model: str
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    features: tuple[str, ...] = FEATURES
    meta: dict[str, Any] = field(default_factory=dict)
    calibration: tuple[tuple[float, ...], tuple[float, ...]] = IDENTITY  # raw → calibrated points
    trees: TreeEnsemble | None = None  # boosted trees score the pairs instead of the regression
    # The models whose mean calibrated probability this one is (an ensemble; its own regression is
    # their mean, for reading: ``ensemble_of``).
    members: tuple[SameStoryModel, ...] = ()

    def raw_proba(self, x: np.ndarray) -> np.ndarray:
        """The classifier's own probability (before calibration)."""
        if self.trees is not None:
            z = self.trees.decision(x)
        else:
            z = ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.members:
            mean = np.mean([m.predict_proba(x) for m in self.members], axis=0)
            return np.asarray(np.interp(mean, self.calibration[0], self.calibration[1]))
        return np.interp(self.raw_proba(x), self.calibration[0], self.calibration[1])

    def proba(
        self, dense: np.ndarray, sparse: np.ndarray, gap_hours: np.ndarray,
        size_a: np.ndarray | float, size_b: np.ndarray | float, long: np.ndarray | float,
        foreign: np.ndarray | float = 0.0,
    ) -> np.ndarray:  # fmt: skip
        return self.predict_proba(pair_features(dense, sparse, gap_hours, size_a, size_b, long, foreign))

    def to_json(self) -> dict[str, Any]:
        if self.members:
            return {"kind": "newsflow-same-story", "version": ENSEMBLE_VERSION, "embedding_model": self.embedding_model,
                    "features": list(self.features), "members": [m.to_json() for m in self.members],
                    "calibration": {"mean": list(self.calibration[0]), "calibrated": list(self.calibration[1])},
                    "meta": self.meta}  # fmt: skip
        data = {
            "kind": "newsflow-same-story", "version": ARTIFACT_VERSION, "embedding_model": self.embedding_model,
            "features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
            "coef": self.coef.tolist(), "intercept": self.intercept,
            "calibration": {"raw": list(self.calibration[0]), "calibrated": list(self.calibration[1])},
            "meta": self.meta,
        }  # fmt: skip
        if self.trees is not None:
            data |= {"version": TREES_VERSION, "trees": self.trees.to_json()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "artifact") -> SameStoryModel:
        versions = (ARTIFACT_VERSION, TREES_VERSION, ENSEMBLE_VERSION)
        if data.get("kind") != "newsflow-same-story" or data.get("version") not in versions:
            raise SameStoryModelError(f"{source} is not a same-story model of version {', '.join(map(str, versions))}")
        if data["version"] == ENSEMBLE_VERSION:
            return cls._ensemble_from_json(data, source)
        if tuple(data.get("features", ())) != FEATURES:
            raise SameStoryModelError(f"{source} has features {data.get('features')}, this code computes {FEATURES}")
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(FEATURES),) for a in arrays) or not all(np.isfinite(a).all() for a in arrays):
            raise SameStoryModelError(f"{source} has malformed coefficients")
        raw, calibrated = _calibration(data, "raw", source)
        trees = None
        if data["version"] == TREES_VERSION:
            try:
                trees = TreeEnsemble.from_json(data["trees"], len(FEATURES))
            except (KeyError, TypeError, ValueError) as exc:
                raise SameStoryModelError(f"{source} has malformed trees: {exc}") from exc
        return cls(str(data["embedding_model"]), arrays[0], arrays[1], arrays[2], float(data["intercept"]),
                   meta=dict(data.get("meta") or {}), calibration=(raw, calibrated), trees=trees)  # fmt: skip

    @classmethod
    def _ensemble_from_json(cls, data: dict[str, Any], source: str) -> SameStoryModel:
        listed = data.get("members")
        if not isinstance(listed, list) or not listed:
            raise SameStoryModelError(f"{source} is an ensemble without members")
        if any(not isinstance(m, dict) or m.get("version") == ENSEMBLE_VERSION for m in listed):
            raise SameStoryModelError(f"{source} has a malformed member (an ensemble's members are single models)")
        members = [cls.from_json(m, f"{source} member {k}") for k, m in enumerate(listed)]
        embedding_model = str(data.get("embedding_model"))
        if tuple(data.get("features", ())) != FEATURES:
            raise SameStoryModelError(f"{source} has features {data.get('features')}, this code computes {FEATURES}")
        if any(m.embedding_model != embedding_model for m in members):
            raise SameStoryModelError(f"{source}: a member was trained for another embedding model")
        return ensemble_of(members, dict(data.get("meta") or {}), _calibration(data, "mean", source))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)


def _calibration(data: dict[str, Any], key: str, source: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """An artifact's calibration map: points from ``key`` (the raw or the members' mean probability) to calibrated."""
    cal = data.get("calibration") or {key: IDENTITY[0], "calibrated": IDENTITY[1]}
    try:
        xs, ys = tuple(map(float, cal[key])), tuple(map(float, cal["calibrated"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SameStoryModelError(f"{source} has a malformed calibration map: {exc}") from exc
    if len(xs) != len(ys) or len(xs) < 2 or any(b < a for a, b in itertools.pairwise(xs)):
        raise SameStoryModelError(f"{source} has a malformed calibration map")
    return xs, ys


def ensemble_of(
    members: Sequence[SameStoryModel], meta: dict[str, Any] | None = None,
    calibration: tuple[tuple[float, ...], tuple[float, ...]] = IDENTITY,
) -> SameStoryModel:  # fmt: skip
    """The model whose probability is the mean of ``members``' calibrated probabilities (all trained
    for one embedding model), mapped by ``calibration``. Its own regression, for reading only, is the
    members' mean in the features' own units."""
    if not members:
        raise SameStoryModelError("an ensemble needs at least one member")
    weights = np.array([m.coef / m.scale for m in members])
    intercepts = [m.intercept - float(m.mean @ w) for m, w in zip(members, weights, strict=True)]
    n = len(FEATURES)
    return SameStoryModel(members[0].embedding_model, np.zeros(n), np.ones(n), weights.mean(axis=0),
                          float(np.mean(intercepts)), meta=dict(meta or {}), calibration=calibration,
                          members=tuple(members))  # fmt: skip


def artifact_path(configured: str, embedding_model: str | None = None) -> Path | None:
    """The artifact a ``same_story_model`` setting names: ``bundled`` (the default: the artifact in the
    package trained for ``embedding_model``), a path, or ``off`` / empty for the legacy similarity cuts."""
    value = configured.strip()
    if value.lower() in ("", "off", "none"):
        return None
    if value.lower() != "bundled":
        return Path(value).expanduser()
    if embedding_model is None:
        return BUNDLED_ARTIFACT
    return bundled_artifacts().get(embedding_model, BUNDLED_ARTIFACT)


@lru_cache(maxsize=1)
def bundled_artifacts() -> dict[str, Path]:
    """Embedding model id → the package's artifact trained for it (``models/same_story*.json``; read
    once: every re-clustering asks)."""
    found: dict[str, Path] = {}
    for path in sorted(BUNDLED_ARTIFACT.parent.glob("same_story*.json")):
        try:
            found.setdefault(str(json.loads(path.read_text(encoding="utf-8"))["embedding_model"]), path)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a broken artifact is reported when it is the one asked for
    return found


@lru_cache(maxsize=8)
def _read(path: Path, mtime: float) -> SameStoryModel:  # mtime: a rebuilt artifact is read again
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SameStoryModelError(f"cannot read same-story model {path}: {exc}") from exc
    return SameStoryModel.from_json(data, str(path))


def load_model(configured: str, embedding_model: str) -> SameStoryModel | None:
    """The model a setting names, checked against the embedding model in use (None: off)."""
    path = artifact_path(configured, embedding_model)
    if path is None:
        return None
    if not path.is_file():
        raise SameStoryModelError(f"no same-story model at {path} (rebuild it with `newsflow train`)")
    model = _read(path, path.stat().st_mtime)
    if model.embedding_model != embedding_model:
        raise SameStoryModelError(
            f"{path} was trained for embedding model {model.embedding_model!r}, not {embedding_model!r}; "
            f"train one for it with `newsflow train --out PATH` and set NEWSFLOW_SAME_STORY_MODEL=PATH"
        )
    return model


@dataclass(frozen=True)
class SameStoryParams:
    """Which same-story model the clustering asks (``configured_model``)."""

    same_story_model: str
    embedding_model: str

    @classmethod
    def from_settings(cls, settings: Settings) -> SameStoryParams:
        return cls(same_story_model=settings.same_story_model, embedding_model=settings.embedding_model)


def configured_model(params: SameStoryParams) -> SameStoryModel | None:
    """The model ``params.same_story_model`` names, for the configured embedding model (None: off)."""
    from clustering.embedding.embed import embedding_model_id

    if artifact_path(params.same_story_model) is None:
        return None
    return load_model(params.same_story_model, embedding_model_id(params.embedding_model))
