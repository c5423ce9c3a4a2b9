"""The shipped same-story model: the mean of models each trained without one fold of the stories."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from clustering.story_model.cross_fitted import fit_ensemble, member_fold, strictly_monotone_map
from clustering.story_model.same_story import (
    FEATURES,
    SameStoryModel,
    SameStoryModelError,
    ensemble_of,
    load_model,
    pair_features,
)
from clustering.story_model.same_story_train import labelled_batch, train
from newsflow.settings import Settings
from tests.unit.clustering.test_same_story import (
    _synthetic_stream,
    assert_separates_and_is_calibrated_on_new_stories,
    dense_only_model,
)

SETTINGS = Settings(sparse_features=2**12)


def _read(seeds: tuple[int, ...]) -> Callable[[Callable[[str], bool]], dict]:
    raw = {f"s{seed}": _synthetic_stream(seed) for seed in seeds}

    def read(keep: Callable[[str], bool]) -> dict:
        streams = {}
        for name, (docs, dense, labels) in raw.items():
            rows = [i for i, story in enumerate(labels) if keep(story)]
            if rows:
                batch = labelled_batch([docs[i] for i in rows], dense[rows], SETTINGS)
                streams[name] = (batch, [labels[i] for i in rows])
        return streams

    return read


def test_an_ensemble_scores_the_mean_of_its_members_and_round_trips(tmp_path: Path) -> None:
    members = [dense_only_model(cut_at=0.7), dense_only_model(cut_at=0.8, steep=20.0, days=-1.0)]
    calibration = ((0.0, 0.5, 1.0), (0.0, 0.4, 1.0))  # the members' mean, mapped
    ensemble = ensemble_of(members, {"note": "two"}, calibration)
    x = pair_features(np.array([0.6, 0.75, 0.9]), np.zeros(3), np.array([0.0, 24.0, 72.0]), 1.0, 1.0, 0.0)
    mean = (members[0].predict_proba(x) + members[1].predict_proba(x)) / 2
    expected = np.interp(mean, *calibration)
    assert not np.allclose(expected, mean)
    np.testing.assert_allclose(ensemble.predict_proba(x), expected)
    ensemble.save(tmp_path / "e.json")
    loaded = load_model(str(tmp_path / "e.json"), "test-model")
    assert loaded is not None and len(loaded.members) == 2 and loaded.meta == {"note": "two"}
    np.testing.assert_allclose(loaded.predict_proba(x), expected)
    # Its own regression (for reading) is the members' mean in the features' units.
    assert loaded.coef[FEATURES.index("dense")] == pytest.approx(30.0)
    assert loaded.intercept == pytest.approx(-(40.0 * 0.7 + 20.0 * 0.8) / 2)


def test_an_ensemble_with_a_foreign_or_no_member_is_refused(tmp_path: Path) -> None:
    data = ensemble_of([dense_only_model(), dense_only_model()]).to_json()
    with pytest.raises(SameStoryModelError, match="trained for embedding model 'test-model'"):
        (tmp_path / "e.json").write_text(json.dumps(data))
        load_model(str(tmp_path / "e.json"), "another-model")
    other = SameStoryModel("another-model", *(np.zeros(len(FEATURES)), np.ones(len(FEATURES))),
                           np.ones(len(FEATURES)), 0.0).to_json()  # fmt: skip
    for members, match in (([data["members"][0], other], "another embedding model"), ([], "without members"),
                           ([data], "malformed member")):  # fmt: skip
        (tmp_path / "bad.json").write_text(json.dumps({**data, "members": members}))
        with pytest.raises(SameStoryModelError, match=match):
            load_model(str(tmp_path / "bad.json"), "test-model")


def test_each_member_trains_without_its_fold_and_the_ensemble_is_calibrated_on_new_stories() -> None:
    asked: list[set[str]] = []
    read = _read((1, 2, 3))

    def recording(keep: Callable[[str], bool]) -> dict:
        streams = read(keep)
        asked.append({s for _, stories in streams.values() for s in stories})
        return streams

    model, cv = fit_ensemble(recording, "test-model", members=4, seed=0)
    everything, parts = asked[0], asked[1:]
    assert len(model.members) == len(parts) == 4
    for k, stories in enumerate(parts):  # member k never saw the stories of member fold k, and saw all others
        assert stories == {s for s in everything if member_fold(s, 4) != k}
    assert cv.auc > 0.85 and sum(row["pairs"] for row in cv.reliability) > 500
    assert_separates_and_is_calibrated_on_new_stories(model, SETTINGS)


def test_member_folds_are_independent_of_cross_validation_folds() -> None:
    from clustering.story_model.same_story_train import story_fold

    stories = [f"story-{k}" for k in range(400)]
    same = sum(story_fold(s, 7) == member_fold(s, 7) for s in stories)
    assert 20 < same < 100  # about 1 in 7 by chance, not all of them
    assert member_fold("uci:story-3", 7) == member_fold("story-3", 7)  # a mixed stream's ids: the set's story


def test_one_member_is_refused_as_an_ensemble() -> None:
    with pytest.raises(ValueError, match="at least two members"):
        fit_ensemble(_read((1,)), "test-model", members=1)
    model, _ = train(_read((1,))(lambda _s: True), "test-model", seed=0)
    assert not model.members  # `train` is one model


def test_the_ensembles_map_is_strictly_increasing_and_calibrates() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    y = (rng.uniform(size=p.size) < p**2).astype(int)  # members twice too sure in the middle
    xs, ys = strictly_monotone_map(p, y, np.ones(p.size))
    assert all(b > a for a, b in itertools.pairwise(xs)) and all(b > a for a, b in itertools.pairwise(ys))
    grid = np.array([0.2, 0.5, 0.8])
    np.testing.assert_allclose(np.interp(grid, xs, ys), grid**2, atol=0.04)
    order = rng.uniform(size=500)  # a strictly increasing map keeps every comparison
    mapped = np.interp(order, xs, ys)
    assert (np.argsort(order, kind="stable") == np.argsort(mapped, kind="stable")).all()
