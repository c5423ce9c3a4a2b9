"""Topic merge: topics of one story left apart by the re-clustering are folded together, by the model."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from clustering.reclustering.reconcile import Reconciliation, absorb
from clustering.reclustering.topic_merge import TopicMergeParams, merge_topics
from clustering.representation.represent import RepresentParams, SparseVectoriser, represent
from clustering.story_model.same_story import FEATURES, SameStoryModel
from newsflow.contracts import TopicEventKind as Kind
from newsflow.records.doc import Doc
from newsflow.records.topic import LineageEvent, TopicMeta, TopicStatus
from newsflow.settings import Settings
from tests.unit.clustering.stories import T0

SETTINGS = Settings()


def at(cut: float) -> TopicMergeParams:
    """The default neighbour search, topics merging at ``cut``."""
    return TopicMergeParams.from_settings(SETTINGS.model_copy(update={"topic_merge_probability": cut}))


def dense_only_model() -> SameStoryModel:
    """P = sigmoid(12·(dense cosine − 0.6)): near-identical sides ~1, orthogonal ones ~0."""
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index("dense")] = 12.0
    n = len(FEATURES)
    return SameStoryModel("test-model", np.zeros(n), np.ones(n), coef, -7.2)


def batch_along(directions: list[int], dim: int = 8):  # type: ignore[no-untyped-def]
    """One article per entry, its embedding pointing along ``directions[i]``, all on the same hour."""
    dense = np.zeros((len(directions), dim), dtype=np.float32)
    dense[np.arange(len(directions)), directions] = 1.0
    docs = [Doc(f"a{i}", f"headline {i}", "", T0 + timedelta(minutes=i)) for i in range(len(directions))]
    return represent(docs, dense, SparseVectoriser(SETTINGS.sparse_features), RepresentParams.from_settings(SETTINGS))


def test_topics_of_one_story_merge_into_the_oldest_and_others_stay() -> None:
    # Topics 7 and 3 point the same way (one story in two topics); topic 5 is another story.
    batch = batch_along([0, 0, 0, 1, 1, 0])
    rows_of = {7: [0, 1], 5: [3, 4], 3: [2, 5]}
    assert merge_topics(batch, rows_of, dense_only_model(), at(0.7)) == {7: 3}


def test_no_merge_below_the_cut_or_when_switched_off() -> None:
    batch = batch_along([0, 0, 1, 1])
    rows_of = {1: [0, 1], 2: [2, 3]}
    assert merge_topics(batch, rows_of, dense_only_model(), at(0.7)) == {}
    same = batch_along([0, 0, 0, 0])
    assert merge_topics(same, rows_of, dense_only_model(), at(0.0)) == {}


def meta(t: int, status: TopicStatus = TopicStatus.ACTIVE, count: int = 3) -> TopicMeta:
    return TopicMeta(t, status, T0, T0, count, count)


def test_an_existing_topic_is_merged_with_one_event_on_the_survivor() -> None:
    now = T0 + timedelta(hours=5)
    topics = {1: meta(1), 2: meta(2, count=2)}
    rec = Reconciliation({0: 1, 1: 2}, [LineageEvent(2, Kind.GREW, now, 2)], {}, {}, [], 3, {1: 3, 2: 2})
    absorb(rec, {2: 1}, topics, now)
    assert rec.merged_into == {2: 1}
    assert rec.status == {2: TopicStatus.MERGED}
    assert rec.topic_of_cluster == {0: 1, 1: 1}
    assert [(e.topic_id, e.kind, e.related, e.article_count) for e in rec.events] == [(1, Kind.MERGED, (2,), 5)]


def test_a_topic_born_in_the_same_run_continues_the_survivor_instead() -> None:
    now = T0 + timedelta(hours=5)
    topics = {1: meta(1, TopicStatus.FADED)}
    born = LineageEvent(9, Kind.BORN, now, 2)
    split = LineageEvent(1, Kind.SPLIT, now, 3, related=(9,))
    rec = Reconciliation({0: 1, 1: 9}, [born, split], {}, {}, [9], 10, {1: 3, 9: 2})
    absorb(rec, {9: 1}, topics, now)
    assert rec.new_topics == [] and rec.merged_into == {}
    assert rec.topic_of_cluster == {0: 1, 1: 1}
    # The faded survivor took in a live story's articles: active again; the split back is no event.
    assert rec.status == {1: TopicStatus.ACTIVE}
    assert [(e.topic_id, e.kind, e.article_count) for e in rec.events] == [(1, Kind.GREW, 5)]


def test_earlier_merges_into_an_absorbed_topic_follow_it_to_the_survivor() -> None:
    now = T0 + timedelta(hours=5)
    topics = {1: meta(1), 2: meta(2), 4: meta(4)}
    rec = Reconciliation({0: 2, 1: 1}, [LineageEvent(2, Kind.MERGED, now, 6, related=(4,))],
                         {4: TopicStatus.MERGED}, {4: 2}, [], 5, {2: 6, 1: 3})  # fmt: skip
    absorb(rec, {2: 1}, topics, now)
    assert rec.merged_into == {4: 1, 2: 1}
    assert [(e.topic_id, e.kind, e.related) for e in rec.events] == [(1, Kind.MERGED, (2, 4))]
