"""The same-story model: features, artifact, training with grouped cross-validation, calibration, use."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from clustering.embedding.embed import BUNDLED_MODEL_ID
from clustering.online.assign import AssignParams, OnlineClusterer
from clustering.reclustering.recluster import ReclusterParams
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from clustering.story_model.same_story import (
    FEATURES,
    SameStoryModel,
    SameStoryModelError,
    SameStoryParams,
    bundled_artifacts,
    configured_model,
    load_model,
    pair_features,
)
from clustering.story_model.same_story_train import (
    Pairs,
    cross_validate,
    labelled_batch,
    reliability_table,
    stream_pairs,
    train,
)
from newsflow.records.doc import Doc
from newsflow.settings import Settings
from tests.unit.clustering.stories import T0, TOY_DIM, toy_unit

DIM = 16


def dense_only_model(cut_at: float = 0.8, steep: float = 40.0, days: float = 0.0) -> SameStoryModel:
    """P = sigmoid(steep · (dense − cut_at) + days · log1p(gap days)): a model with readable behaviour."""
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index("dense")] = steep
    coef[FEATURES.index("days")] = days
    return SameStoryModel("test-model", np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, -steep * cut_at)


def test_features_follow_the_pair() -> None:
    x = pair_features(np.array([0.9, 0.9]), np.array([0.5, 0.5]), np.array([0.0, 48.0]), 1.0, np.array([1.0, 8.0]), 0.0)
    assert x.shape == (2, len(FEATURES))
    days = FEATURES.index("days")
    assert x[0, days] == 0.0 and x[1, days] == pytest.approx(np.log1p(2.0))
    assert x[1, FEATURES.index("large")] == pytest.approx(np.log(8.0))
    assert x[0, FEATURES.index("dense_sparse")] == pytest.approx(0.45)


def test_artifact_round_trip_and_refusals(tmp_path: Path) -> None:
    model = dense_only_model()
    path = tmp_path / "m.json"
    model.save(path)
    loaded = load_model(str(path), "test-model")
    assert loaded is not None
    x = pair_features(np.array([0.7, 0.85]), np.zeros(2), np.zeros(2), 1.0, 1.0, 0.0)
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x))
    with pytest.raises(SameStoryModelError, match="trained for embedding model 'test-model'"):
        load_model(str(path), "sentence-transformers/all-mpnet-base-v2")
    data = json.loads(path.read_text())
    data["coef"] = data["coef"][:-1]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(SameStoryModelError, match="malformed"):
        load_model(str(tmp_path / "bad.json"), "test-model")
    with pytest.raises(SameStoryModelError, match="no same-story model"):
        load_model(str(tmp_path / "missing.json"), "test-model")
    assert load_model("off", "test-model") is None


def test_a_model_for_another_embedding_model_is_refused_at_start(tmp_path: Path) -> None:
    dense_only_model().save(tmp_path / "m.json")  # trained for "test-model", not the bundled MiniLM
    with pytest.raises(SameStoryModelError, match="not 'sentence-transformers/all-MiniLM-L6-v2'"):
        settings = Settings(embedding_model="all-MiniLM-L6-v2", same_story_model=str(tmp_path / "m.json"))
        OnlineClusterer(AssignParams.from_settings(settings), DIM)


def test_the_bundled_model_is_for_the_bundled_embedding_model() -> None:
    model = configured_model(SameStoryParams.from_settings(Settings(embedding_model="all-MiniLM-L6-v2")))
    assert model is not None and model.embedding_model == BUNDLED_MODEL_ID


@pytest.mark.parametrize("artifact", sorted(bundled_artifacts().values()), ids=lambda p: p.name)
def test_every_bundled_artifact_is_calibrated(artifact: Path) -> None:
    # Its grouped cross-validation (cross-fitted calibration): a probability means that share of pairs.
    table = json.loads(artifact.read_text())["meta"]["cv"]["reliability"]
    total = sum(row["pairs"] for row in table)
    ece = sum(row["pairs"] * abs(row["predicted"] - row["observed"]) for row in table) / total
    assert ece <= 0.03
    populated = [row for row in table if row["pairs"] >= 1000]
    assert len(populated) >= 5
    for row in populated:  # e.g. pairs given 0.8-0.9 are 80-90 % same-story, within 0.06
        assert abs(row["predicted"] - row["observed"]) <= 0.06, row


def test_each_bundled_embedding_model_gets_the_artifact_trained_for_it() -> None:
    from newsflow.models import MULTILINGUAL_E5_SMALL

    e5 = load_model("bundled", MULTILINGUAL_E5_SMALL.model_id)
    minilm = load_model("bundled", BUNDLED_MODEL_ID)
    assert e5 is not None and e5.embedding_model == MULTILINGUAL_E5_SMALL.model_id
    assert minilm is not None and minilm.embedding_model == BUNDLED_MODEL_ID
    with pytest.raises(SameStoryModelError, match="was trained for embedding model"):
        load_model("bundled", "some/other-model")  # nothing bundled for it: train one


def _synthetic_stream(seed: int, stories: int = 40) -> tuple[list[Doc], np.ndarray, list[str]]:
    """Stories of 1–6 articles: a dense centre with noise, a vocabulary of its own and shared words,
    published in a burst around a random time — some stories near each other, some alike."""
    rng = np.random.default_rng(seed)
    docs, vectors, labels = [], [], []
    shared = [f"common{k}" for k in range(30)]
    subjects = [rng.normal(size=DIM) for _ in range(8)]
    for s in range(stories):
        centre = subjects[s % 8] + 0.9 * rng.normal(size=DIM)  # same subject, another story
        words = [f"s{s}w{k}" for k in range(6)]
        start = rng.uniform(0, 24 * 10)
        for a in range(int(rng.integers(1, 7))):
            v = centre + 0.6 * rng.normal(size=DIM)
            title = " ".join(rng.choice(words, 3).tolist() + rng.choice(shared, 3).tolist())
            when = T0 + timedelta(hours=start + rng.exponential(10))
            docs.append(Doc(id=f"{seed}-{s}-{a}", title=title, body="", published=when))
            vectors.append(v / np.linalg.norm(v))
            labels.append(f"story-{seed}-{s}")
    order = sorted(range(len(docs)), key=lambda k: docs[k].published)
    return [docs[i] for i in order], np.array(vectors, dtype=np.float32)[order], [labels[i] for i in order]


def test_training_separates_stories_and_is_calibrated_on_held_out_stories() -> None:
    settings = Settings(sparse_features=2**12)
    streams = {}
    for seed in (1, 2, 3):
        docs, dense, labels = _synthetic_stream(seed)
        streams[f"s{seed}"] = (labelled_batch(docs, dense, settings), labels)
    model, cv = train(streams, "test-model", seed=0)
    assert cv.auc > 0.85
    assert model.meta["pairs"] > 500
    assert_separates_and_is_calibrated_on_new_stories(model, settings)


def assert_separates_and_is_calibrated_on_new_stories(model: SameStoryModel, settings: Settings) -> None:
    """Held out: pairs of new stories the model never saw are mostly right at 0.5, and a probability
    means that share of them (within 0.15 per fifth)."""
    docs, dense, labels = _synthetic_stream(99, stories=80)
    held = Pairs()
    stream_pairs(labelled_batch(docs, dense, settings), labels, "held", held, candidates=6, seed=0)
    x, y, _, w = held.arrays()
    p = model.predict_proba(x)
    assert np.mean((p >= 0.5) == (y == 1)) > 0.8
    for row in reliability_table(p, y, w, bins=5):
        if row["pairs"] >= 100:
            assert abs(row["predicted"] - row["observed"]) <= 0.15, row


def test_cross_validation_keeps_each_story_on_one_side() -> None:
    settings = Settings(sparse_features=2**12)
    docs, dense, labels = _synthetic_stream(5)
    pairs = Pairs()
    stream_pairs(labelled_batch(docs, dense, settings), labels, "s", pairs, candidates=4, seed=0)
    x, y, groups, w = pairs.arrays()
    cv, raw = cross_validate(x, y, groups, w, folds=4)
    assert raw.shape == y.shape and raw.min() > 0.0 and raw.max() < 1.0
    assert sum(row["pairs"] for row in cv.reliability) == len(y)


def _batch(vectors: list[np.ndarray], hours: list[float], settings: Settings) -> Batch:
    docs = [Doc(id=f"a{k}", title=f"t{k}", body="", published=T0 + timedelta(hours=h)) for k, h in enumerate(hours)]
    params = RepresentParams.from_settings(settings)
    return represent(docs, np.array(vectors), SparseVectoriser(settings.sparse_features), params)


def test_online_assignment_joins_by_probability_and_time_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(sparse_features=2**12, join_probability=0.5, seed_probability=0.5)
    model = dense_only_model(cut_at=0.8, days=-8.0)
    monkeypatch.setattr("clustering.online.assign.configured_model", lambda _params: model)
    oc = OnlineClusterer(AssignParams.from_settings(settings), TOY_DIM)
    a, b = toy_unit(1.0, 0.1), toy_unit(1.0, 0.15)
    stranger = toy_unit(0.0, 1.0)
    late = toy_unit(1.0, 0.12)
    got = oc.learn_many(_batch([a, b, stranger], [0.0, 1.0, 2.0], settings))
    assert got[1].created and got[1].partner == "a0"  # P(a, b) high: a pair starts a topic
    assert got[2].topic_id is None  # unlike both: waits
    same_day = oc.predict_one(_batch([late], [3.0], settings), 0)
    weeks_later = oc.predict_one(_batch([late], [24.0 * 21], settings), 0)
    assert same_day.topic_id == got[1].topic_id and same_day.similarity > 0.9
    assert weeks_later.topic_id is None and weeks_later.similarity < 0.5  # same words, three weeks on


def test_a_stale_topic_needs_the_stricter_cut_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unsure article (0.75 <= P < 0.9) joins a topic whose newest member is hours old, not one that has been
    silent for longer than ``stale_after_hours`` and than its own span: it waits for the re-clustering instead.
    A story that has run for days and pauses for less than that is not stale."""
    model = dense_only_model(cut_at=0.8)  # no time term: the probability is the same at any gap
    monkeypatch.setattr("clustering.online.assign.configured_model", lambda _params: model)
    unsure = toy_unit(1.0, 0.66)  # cosine 0.835 to the topic: P about 0.8
    strict = Settings(sparse_features=2**12, join_probability=0.75, stale_join_probability=0.9, stale_after_hours=12)
    lenient = strict.model_copy(update={"stale_join_probability": 0.75})
    for settings, joins_late in ((strict, False), (lenient, True)):
        oc = OnlineClusterer(AssignParams.from_settings(settings), TOY_DIM)
        (_, started) = oc.learn_many(_batch([toy_unit(1.0, 0.0), toy_unit(1.0, 0.0)], [0.0, 1.0], settings))
        assert started.created
        soon = oc.predict_one(_batch([unsure], [6.0], settings), 0)  # 5 h after the newest member
        late = oc.predict_one(_batch([unsure], [30.0], settings), 0)  # 29 h after it; the topic spans 1 h
        assert 0.75 < soon.similarity < 0.9 and soon.topic_id == started.topic_id
        assert (late.topic_id == started.topic_id) is joins_late
        assert late.similarity == pytest.approx(soon.similarity - (0.0 if joins_late else 0.15))
    long_running = OnlineClusterer(AssignParams.from_settings(strict), TOY_DIM)
    two = long_running.learn_many(_batch([toy_unit(1.0, 0.0), toy_unit(1.0, 0.0)], [0.0, 100.0], strict))
    assert two[1].created  # one topic spanning 100 h
    paused = long_running.predict_one(_batch([unsure], [130.0], strict), 0)  # silent 30 h, less than its span
    assert paused.topic_id == two[1].topic_id
    no_span = strict.model_copy(update={"stale_span_factor": 0.0})
    span_ignored = OnlineClusterer(AssignParams.from_settings(no_span), TOY_DIM)
    span_ignored.learn_many(_batch([toy_unit(1.0, 0.0), toy_unit(1.0, 0.0)], [0.0, 100.0], no_span))
    assert span_ignored.predict_one(_batch([unsure], [130.0], no_span), 0).topic_id is None


def test_the_re_clustering_links_and_prunes_by_probability(monkeypatch: pytest.MonkeyPatch) -> None:
    from clustering.reclustering.recluster import link_groups

    settings = Settings(
        sparse_features=2**12, same_story_recluster="all", join_probability=0.5, merge_probability=0.9,
        core_probability=0.5,
    )
    monkeypatch.setattr(
        "clustering.reclustering.recluster.configured_model", lambda _params: dense_only_model(cut_at=0.8)
    )
    a = [toy_unit(1.0, 0.05 * k) for k in range(3)]  # one story
    b = [toy_unit(0.05 * k, 1.0) for k in range(3)]  # another
    near_a, stray, loose = toy_unit(1.0, 0.3), toy_unit(0.0, 0.0, 1.0), toy_unit(1.0, 0.0, 0.9)
    batch = _batch([*a, *b, near_a, stray, loose], [0.0] * 9, settings)
    # HDBSCAN put a stranger into the first core: the model takes it out again, and it stays alone.
    cores = np.array([0, 0, 0, 1, 1, 1, -1, 0, -1])
    linked = link_groups(batch, cores, ReclusterParams.from_settings(settings))
    assert len({*linked[:3].tolist(), linked[6]}) == 1 and linked[0] >= 0  # the close article joins story a
    assert len(set(linked[3:6].tolist())) == 1 and linked[3] != linked[0]  # b stays apart
    assert linked[7] == -1  # the stranger is pruned from its core and joins nothing
    assert linked[8] == -1  # cosine 0.74 to story a: P ≈ 0.1, it waits
    # The similarity cuts (re-clustering without the model) link that loose article: the model decided.
    legacy = link_groups(
        batch, cores, ReclusterParams.from_settings(settings.model_copy(update={"same_story_recluster": "off"}))
    )
    assert legacy[8] == legacy[0] >= 0


def test_by_default_the_model_prunes_cores_and_the_cuts_link(monkeypatch: pytest.MonkeyPatch) -> None:
    from clustering.reclustering import recluster
    from clustering.reclustering.recluster import link_groups, prune_cores

    settings = Settings(sparse_features=2**12)
    assert settings.same_story_recluster == "cores"
    model = dense_only_model(cut_at=0.8)
    a = [toy_unit(1.0, 0.05 * k) for k in range(3)]
    bridge = toy_unit(1.0, 1.0)  # cosine 0.71 to the core it sits in: the similarity cut keeps it, P ≈ 0.01
    batch = _batch([*a, bridge], [0.0] * 4, settings)
    cores = np.array([0, 0, 0, 0])
    by_model = prune_cores(batch, cores, 0.5, 0.5, model=model)
    by_cut = prune_cores(batch, cores, settings.recluster_core_min_similarity, settings.recluster_core_min_similarity)
    assert by_model.tolist() == [0, 0, 0, -1] and by_cut.tolist() == [0, 0, 0, 0]
    # link_groups asks the model about the cores, and links with the similarity cuts (not the model's score).
    asked: list[int] = []
    real_prune = recluster.prune_cores

    def spy(*args: object, **kwargs: object) -> np.ndarray:
        asked.append(1 if kwargs.get("model") is model else 0)
        return real_prune(*args, **kwargs)  # type: ignore[arg-type]

    def no_score(_model: SameStoryModel) -> None:
        raise AssertionError("the linkage must keep its similarity cuts in 'cores' mode")

    monkeypatch.setattr("clustering.reclustering.recluster.configured_model", lambda _params: model)
    monkeypatch.setattr(recluster, "prune_cores", spy)
    monkeypatch.setattr(recluster, "model_score", no_score)
    link_groups(batch, cores, ReclusterParams.from_settings(settings))
    assert asked == [1]


def test_story_merge_adds_the_models_merges_to_the_cuts(monkeypatch: pytest.MonkeyPatch) -> None:
    from clustering.reclustering.recluster import merge_stories

    settings = Settings(sparse_features=2**12, story_min_size=3, merge_probability=0.7, dense_weight=1.0,
                        sparse_weight=0.0, time_decay_hours=0.0, story_merge_threshold=0.98)  # fmt: skip
    a = [toy_unit(1.0, 0.05 * k) for k in range(3)]
    a2 = [toy_unit(1.0, 0.3 + 0.05 * k) for k in range(3)]  # centroid cosine ≈ 0.96 to a: under the cut
    b = [toy_unit(0.05 * k, 1.0) for k in range(3)]
    batch = _batch([*a, *a2, *b], [0.0] * 9, settings)
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    monkeypatch.setattr(
        "clustering.reclustering.recluster.configured_model", lambda _params: dense_only_model(cut_at=0.9)
    )

    def params(**update: object) -> ReclusterParams:
        return ReclusterParams.from_settings(settings.model_copy(update=update))

    off = merge_stories(batch, labels, params(same_story_recluster="off"))
    assert len(set(off.tolist())) == 3  # the cut alone keeps the two halves of story a apart
    merged = merge_stories(batch, labels, params())  # default "cores": the cuts, then the model
    assert merged[0] == merged[3] != merged[6]  # P(a, a2) ≈ 0.9 ≥ 0.7 joins them; b stays apart
    strict = merge_stories(batch, labels, params(merge_probability=0.99))
    assert len(set(strict.tolist())) == 3
