"""Gradient-boosted trees for the same-story model, scored with numpy alone.

scikit-learn's ``HistGradientBoostingClassifier`` learns the trees (``fit_trees``); the artifact keeps
each tree as flat node arrays (feature, threshold, children, leaf value), and ``TreeEnsemble`` scores
a batch of pairs by walking every tree at once, one level per step — a few vectorised lookups per
level instead of a Python loop per tree, so scoring a topic's candidates online costs microseconds
and needs no scikit-learn at run time.

Why trees at all: the similarities interact in ways a logistic regression over a fixed set of
products does not capture (a TF-IDF cosine means more between two headlines than between a headline
and a long topic; a day's gap matters for small topics, not large ones). On the labelled pairs,
grouped by story, depth-3 trees lowered the log loss of online joins on the sparse and aggregator
streams by a sixth; whole replays held out (``benchmarks/same_story_cv.py --kind trees``) did not
move, so the regression stays the default and the trees are an option (``newsflow train --kind trees``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

TREE_PARAMS = {"max_iter": 100, "learning_rate": 0.1, "max_depth": 3, "min_samples_leaf": 100}


@dataclass(frozen=True)
class TreeEnsemble:
    """Trees as padded (n_trees, n_nodes) arrays; ``left == -1`` marks a leaf. ``decision`` is the
    log-odds: ``baseline`` plus each tree's leaf value."""

    feature: np.ndarray  # int64
    threshold: np.ndarray  # float64: go left when x[feature] <= threshold
    left: np.ndarray  # int64, -1 at leaves
    right: np.ndarray  # int64
    value: np.ndarray  # float64 leaf values
    baseline: float
    depth: int

    def decision(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        n_trees = self.feature.shape[0]
        node = np.zeros((n_trees, x.shape[0]), dtype=np.int64)
        tree = np.arange(n_trees)[:, None]
        rows = np.arange(x.shape[0])[None, :]
        for _ in range(self.depth):
            leaf = self.left[tree, node] < 0
            go_left = x[rows, self.feature[tree, node]] <= self.threshold[tree, node]
            nxt = np.where(go_left, self.left[tree, node], self.right[tree, node])
            node = np.where(leaf, node, nxt)
        return self.baseline + self.value[tree, node].sum(axis=0)

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "depth": self.depth, "feature": self.feature.tolist(),
                "threshold": self.threshold.tolist(), "left": self.left.tolist(), "right": self.right.tolist(),
                "value": self.value.tolist()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any], n_features: int) -> TreeEnsemble:
        """Raises ValueError (the caller names the artifact) on arrays that do not describe trees."""
        feature, left, right = (np.asarray(data[k], dtype=np.int64) for k in ("feature", "left", "right"))
        threshold, value = (np.asarray(data[k], dtype=np.float64) for k in ("threshold", "value"))
        shape = feature.shape
        if len(shape) != 2 or any(a.shape != shape for a in (left, right, threshold, value)):
            raise ValueError("tree arrays of different shapes")
        inner = left >= 0
        if (feature[inner] < 0).any() or (feature[inner] >= n_features).any():
            raise ValueError("a split on a feature the model does not have")
        if (left[inner] >= shape[1]).any() or (right[inner] < 0).any() or (right[inner] >= shape[1]).any():
            raise ValueError("a child outside its tree")
        if not (np.isfinite(threshold[inner]).all() and np.isfinite(value).all()):
            raise ValueError("non-finite thresholds or leaf values")
        return cls(feature, threshold, left, right, value, float(data["baseline"]), int(data["depth"]))


def fit_trees(x: np.ndarray, y: np.ndarray, weight: np.ndarray, seed: int = 42) -> TreeEnsemble:
    """Boosted trees on (x, y) with sample weights; fixed size, no early stopping (deterministic)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(**TREE_PARAMS, early_stopping=False, random_state=seed)
    model.fit(x, y, sample_weight=weight)
    return _export(model)


def _export(model: Any) -> TreeEnsemble:
    """Flatten scikit-learn's fitted predictors (one per boosting round) into padded arrays."""
    nodes = [round_[0].nodes for round_ in model._predictors]
    width = max(len(n) for n in nodes)
    shape = (len(nodes), width)
    feature, left, right = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    threshold, value = np.zeros(shape), np.zeros(shape)
    left[:] = -1
    depth = 0
    for t, tree in enumerate(nodes):
        k = len(tree)
        leaf = tree["is_leaf"].astype(bool)
        feature[t, :k] = np.where(leaf, 0, tree["feature_idx"].astype(np.int64))
        threshold[t, :k] = np.where(leaf, 0.0, tree["num_threshold"].astype(np.float64))
        left[t, :k] = np.where(leaf, -1, tree["left"].astype(np.int64))
        right[t, :k] = np.where(leaf, -1, tree["right"].astype(np.int64))
        value[t, :k] = np.where(leaf, tree["value"].astype(np.float64), 0.0)
        depth = max(depth, int(tree["depth"].max()))
    baseline = float(np.ravel(model._baseline_prediction)[0])
    return TreeEnsemble(feature, threshold, left, right, value, baseline, depth)
