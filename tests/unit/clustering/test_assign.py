from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from clustering.online.assign import AssignParams, OnlineClusterer
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from newsflow.records.doc import Doc
from newsflow.settings import Settings
from tests.unit.clustering.stories import T0, TOY_DIM, toy_settings, toy_unit

DIM = TOY_DIM


unit = toy_unit


@pytest.fixture
def cfg() -> Settings:
    return toy_settings()


def batch(cfg: Settings, vec: SparseVectoriser, items: list[tuple[str, np.ndarray]], **doc: object) -> Batch:
    docs = [Doc(i, f"title {i}", "", T0 + timedelta(minutes=k), **doc) for k, (i, _) in enumerate(items)]  # type: ignore[arg-type]
    return represent(docs, np.stack([v for _, v in items]), vec, RepresentParams.from_settings(cfg))


def test_pair_of_similar_unassigned_articles_starts_a_topic(cfg: Settings) -> None:
    vec = SparseVectoriser(cfg.sparse_features)
    oc = OnlineClusterer(AssignParams.from_settings(cfg), DIM, next_topic_id=7)
    a = oc.learn_many(batch(cfg, vec, [("a1", unit(1, 0)), ("b1", unit(0, 1)), ("a2", unit(1, 0.1))]))
    assert [x.topic_id for x in a] == [None, None, 7]
    assert a[2].created and a[2].partner == "a1"
    assert oc.member_of == {"a1": 7, "a2": 7} and len(oc.pool) == 1


def test_article_joins_best_topic_above_threshold_else_waits(cfg: Settings) -> None:
    vec = SparseVectoriser(cfg.sparse_features)
    oc = OnlineClusterer(AssignParams.from_settings(cfg), DIM)
    oc.add_topic(1, batch(cfg, vec, [("a1", unit(1, 0)), ("a2", unit(1, 0.05))]))
    oc.add_topic(2, batch(cfg, vec, [("b1", unit(0, 1)), ("b2", unit(0.05, 1))]))
    new = batch(cfg, vec, [("b3", unit(0.1, 1)), ("x", unit(1, 1))])
    before = oc.predict_many(new)
    assert [p.topic_id for p in before] == [2, None] and 0.6 < before[1].similarity < 0.8
    assert oc.topics.size(2) == 2  # predicting changed nothing
    learned = oc.learn_many(new)
    assert [x.topic_id for x in learned] == [2, None]
    assert oc.topics.size(2) == 3 and "x" in oc.pool.slot_of


def test_an_article_with_its_full_text_joins_at_the_full_text_threshold(cfg: Settings) -> None:
    """``x`` is about 0.7 similar to topic 1: below the headline cut (0.8), above the full-text cut
    (0.6) — a headline waits, the same article with 2,000 characters of body joins."""
    cfg = cfg.model_copy(update={"assign_threshold_long": 0.6, "dense_weight_long": 1.0, "sparse_weight_long": 0.0})
    vec = SparseVectoriser(cfg.sparse_features)
    for body, expected in (("", None), ("word " * 400, 1)):
        oc = OnlineClusterer(AssignParams.from_settings(cfg), DIM)
        oc.add_topic(1, batch(cfg, vec, [("a1", unit(1, 0)), ("a2", unit(1, 0.05))]))
        docs = [Doc("x", "title x", body, T0)]
        got = oc.learn_one(represent(docs, unit(1, 1)[None, :], vec, RepresentParams.from_settings(cfg)), 0)
        assert got.topic_id == expected and 0.6 < got.similarity < 0.8


def test_learning_the_same_article_twice_changes_nothing(cfg: Settings) -> None:
    vec = SparseVectoriser(cfg.sparse_features)
    oc = OnlineClusterer(AssignParams.from_settings(cfg), DIM)
    oc.add_topic(1, batch(cfg, vec, [("a1", unit(1, 0)), ("a2", unit(1, 0.05))]))
    again = batch(cfg, vec, [("a2", unit(1, 0.05))])
    assert oc.learn_one(again, 0).topic_id == 1
    assert oc.topics.size(1) == 2


def test_syndicated_copy_follows_its_original(cfg: Settings) -> None:
    vec = SparseVectoriser(cfg.sparse_features)
    oc = OnlineClusterer(AssignParams.from_settings(cfg), DIM)
    oc.add_topic(3, batch(cfg, vec, [("a1", unit(1, 0)), ("a2", unit(1, 0.05))]))
    copy = batch(cfg, vec, [("c", unit(0, 1))], near_duplicate_of="a1")
    assert oc.learn_one(copy, 0).topic_id == 3


def test_many_topics_grow_the_index_and_search_stays_exact(cfg: Settings) -> None:
    rng = np.random.default_rng(0)
    vec = SparseVectoriser(cfg.sparse_features)
    oc = OnlineClusterer(AssignParams.from_settings(cfg), 64)
    centres = rng.normal(size=(600, 64)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    for t, c in enumerate(centres):
        docs = [Doc(f"{t}-{k}", "t", "", T0) for k in range(2)]
        oc.add_topic(t + 1, represent(docs, np.stack([c, c]), vec, RepresentParams.from_settings(cfg)))
    oc.remove_topic(5)
    probe = represent([Doc("p", "t", "", T0)], centres[[41]], vec, RepresentParams.from_settings(cfg))
    assert oc.predict_one(probe, 0).topic_id == 42
    assert len(oc.topics) == 599 and 5 not in oc.topics
