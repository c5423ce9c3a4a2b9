"""Boosted trees for the same-story model: export, scoring without scikit-learn, artifact, training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clustering.story_model.same_story import FEATURES, SameStoryModelError, load_model
from clustering.story_model.same_story_train import Pairs, labelled_batch, stream_pairs, train
from clustering.story_model.trees import TREE_PARAMS, TreeEnsemble, _export, fit_trees
from newsflow.settings import Settings
from tests.unit.clustering.test_same_story import _synthetic_stream


def _xor_data(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two features whose interaction decides the label: no linear model can fit it, trees can."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, len(FEATURES)))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(int)
    return x, y


def test_numpy_scoring_is_scikit_learns_decision_bit_for_bit_close() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = _xor_data()
    model = HistGradientBoostingClassifier(**TREE_PARAMS, early_stopping=False, random_state=0).fit(x, y)
    trees = _export(model)
    assert trees.feature.shape[0] == TREE_PARAMS["max_iter"] and trees.depth <= TREE_PARAMS["max_depth"]
    np.testing.assert_allclose(trees.decision(x), model.decision_function(x), rtol=0, atol=1e-12)


def test_trees_learn_an_interaction_a_regression_cannot() -> None:
    x, y = _xor_data()
    trees = fit_trees(x, y, np.ones(len(y)))
    held_x, held_y = _xor_data(seed=1)
    accuracy = np.mean((trees.decision(held_x) > 0) == (held_y == 1))
    assert accuracy > 0.95


def test_training_is_deterministic() -> None:
    x, y = _xor_data(1000)
    a, b = fit_trees(x, y, np.ones(len(y))), fit_trees(x, y, np.ones(len(y)))
    assert a.to_json() == b.to_json()


def test_a_trees_artifact_round_trips_and_malformed_trees_are_refused(tmp_path: Path) -> None:
    settings = Settings(sparse_features=2**12)
    streams = {}
    for seed in (1, 2, 3):
        docs, dense, labels = _synthetic_stream(seed)
        streams[f"s{seed}"] = (labelled_batch(docs, dense, settings), labels)
    model, cv = train(streams, "test-model", seed=0, kind="trees")
    assert model.trees is not None and model.meta["kind"] == "trees"
    assert cv.auc > 0.85
    path = tmp_path / "trees.json"
    model.save(path)
    assert json.loads(path.read_text())["version"] == 2
    loaded = load_model(str(path), "test-model")
    assert loaded is not None and loaded.trees is not None
    docs, dense, labels = _synthetic_stream(99, stories=60)
    held = Pairs()
    stream_pairs(labelled_batch(docs, dense, settings), labels, "held", held, candidates=6, seed=0)
    x, y, _, _ = held.arrays()
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert np.mean((model.predict_proba(x) >= 0.5) == (y == 1)) > 0.8  # held-out stories
    data = json.loads(path.read_text())
    data["trees"]["feature"][0][0] = len(FEATURES)  # a split on a feature that does not exist
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(SameStoryModelError, match="malformed trees"):
        load_model(str(tmp_path / "bad.json"), "test-model")
    del data["trees"]
    (tmp_path / "none.json").write_text(json.dumps(data))
    with pytest.raises(SameStoryModelError, match="malformed trees"):
        load_model(str(tmp_path / "none.json"), "test-model")


def test_an_unknown_kind_is_refused() -> None:
    settings = Settings(sparse_features=2**12)
    docs, dense, labels = _synthetic_stream(1)
    with pytest.raises(ValueError, match="unknown same-story model kind 'forest'"):
        train({"s": (labelled_batch(docs, dense, settings), labels)}, "test-model", kind="forest")


def test_a_leaf_at_the_root_scores_its_value() -> None:
    one = np.zeros((1, 1))
    stump = TreeEnsemble(one.astype(np.int64), one, -np.ones((1, 1), dtype=np.int64),
                         -np.ones((1, 1), dtype=np.int64), np.full((1, 1), 0.5), 0.25, 0)  # fmt: skip
    np.testing.assert_array_equal(stump.decision(np.zeros((3, len(FEATURES)))), np.full(3, 0.75))
