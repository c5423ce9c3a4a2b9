"""Lineage: a scripted stream where two stories merge, one splits, topics fade and come back."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np

from clustering.reclustering.reconcile import ClusterInfo, ReconcileParams, Reconciliation, reconcile
from newsflow.records.topic import TopicMeta, TopicStatus
from newsflow.settings import Settings
from tests.unit.clustering.stories import T0

PARAMS = ReconcileParams.from_settings(Settings(reconcile_split_share=0.3, topic_fade_hours=48, revive_threshold=0.8))


def unit(i: int) -> np.ndarray:
    v = np.zeros(4, dtype=np.float32)
    v[i] = 1.0
    return v


def cluster(members: list[str], hours: float, direction: int, lean: int | None = None) -> ClusterInfo:
    """A cluster whose centroid points along ``direction`` (leaning towards ``lean`` at 45°, when given)."""
    centroid = unit(direction) if lean is None else (unit(direction) + unit(lean)) / np.sqrt(2.0)
    return ClusterInfo(members=members, last_seen=T0 + timedelta(hours=hours), centroid=centroid)


def apply(rec: Reconciliation, clusters: dict[int, ClusterInfo], topics: dict[int, TopicMeta]) -> dict[str, int]:
    """What the store does with a reconciliation (enough of it for the next step)."""
    members = {a: rec.topic_of_cluster[c] for c, info in clusters.items() for a in info.members}
    for c, info in clusters.items():
        t = rec.topic_of_cluster[c]
        meta = topics.setdefault(t, TopicMeta(t, TopicStatus.ACTIVE, info.last_seen, info.last_seen))
        meta.last_seen = max(meta.last_seen, info.last_seen)
        meta.article_count = sum(1 for x in members.values() if x == t)
        meta.centroid = info.centroid
    for t, status in rec.status.items():
        topics[t].status = status
    for e in rec.events:
        topics[e.topic_id].last_event_count = e.article_count
    return members


def kinds(rec: Reconciliation) -> set[tuple[int, str, tuple[int, ...]]]:
    return {(e.topic_id, e.kind.value, e.related) for e in rec.events}


def test_two_stories_merge_and_one_splits_with_exactly_those_events() -> None:
    topics: dict[int, TopicMeta] = {}
    a = [f"a{i}" for i in range(5)]
    b = [f"b{i}" for i in range(4)]
    c = [f"c{i}" for i in range(6)]
    first = {0: cluster(a, 1, 0), 1: cluster(b, 1, 1), 2: cluster(c, 1, 2)}
    rec1 = reconcile(first, {}, topics, T0 + timedelta(hours=1), PARAMS, next_topic_id=10)
    assert kinds(rec1) == {(10, "born", ()), (11, "born", ()), (12, "born", ())}
    members = apply(rec1, first, topics)
    ta, tb, tc = members["a0"], members["b0"], members["c0"]

    now = T0 + timedelta(hours=3)
    second = {
        0: cluster([*a, *b, "a5"], 3, 0, lean=1),  # the two stories became one (like both, cos 0.71)
        1: cluster([*c[:3], "c6"], 3, 2),  # and one story split in two
        2: cluster([*c[3:], "c7"], 3, 2, lean=3),
    }
    rec2 = reconcile(second, members, topics, now, PARAMS, next_topic_id=13)
    assert kinds(rec2) == {(ta, "merged", (tb,)), (tc, "split", (13,))}
    assert rec2.topic_of_cluster == {0: ta, 1: tc, 2: 13}  # the surviving ids stay
    assert rec2.status == {tb: TopicStatus.MERGED} and rec2.merged_into == {tb: ta}
    assert rec2.new_topics == [13] and rec2.next_topic_id == 14
    assert all(e.at == now for e in rec2.events)


def test_grow_fade_and_revive() -> None:
    topics: dict[int, TopicMeta] = {}
    first = {0: cluster(["x0", "x1", "x2"], 0, 0)}
    members = apply(reconcile(first, {}, topics, T0, PARAMS, 1), first, topics)

    grown = {0: cluster(["x0", "x1", "x2", "x3"], 5, 0)}
    rec = reconcile(grown, members, topics, T0 + timedelta(hours=5), PARAMS, 2)
    assert kinds(rec) == {(1, "grew", ())}
    members = apply(rec, grown, topics)

    same = reconcile(grown, members, topics, T0 + timedelta(hours=6), PARAMS, 2)
    assert same.events == []  # nothing new: no event

    later = T0 + timedelta(hours=5 + 49)
    rec = reconcile({}, {}, topics, later, PARAMS, 2)
    assert kinds(rec) == {(1, "faded", ())} and rec.status == {1: TopicStatus.FADED}
    apply(rec, {}, topics)
    assert reconcile({}, {}, topics, later + timedelta(hours=1), PARAMS, 2).events == []  # fades once

    back = {0: cluster(["y0", "y1"], 60, 0)}  # new articles about the same story, old ones out of the window
    rec = reconcile(back, {}, topics, T0 + timedelta(hours=60), PARAMS, 2)
    assert kinds(rec) == {(1, "revived", ())} and rec.topic_of_cluster == {0: 1}
    assert rec.status == {1: TopicStatus.ACTIVE} and rec.new_topics == []
    other = {0: cluster(["z0", "z1"], 60, 3)}
    assert kinds(reconcile(other, {}, topics, T0 + timedelta(hours=60), PARAMS, 2)) == {(2, "born", ())}


def test_small_overlap_is_no_split() -> None:
    topics: dict[int, TopicMeta] = {}
    first = {0: cluster([f"a{i}" for i in range(10)], 0, 0)}
    members = apply(reconcile(first, {}, topics, T0, PARAMS, 1), first, topics)
    second = {0: cluster([f"a{i}" for i in range(8)], 1, 0), 1: cluster(["a8", "a9", "n0", "n1", "n2"], 1, 1)}
    rec = reconcile(second, members, topics, T0 + timedelta(hours=1), PARAMS, 2)
    assert kinds(rec) == {(2, "born", ())}  # 2 of 10 members (20 %) moved: a new story, not a split


def test_a_cluster_unlike_a_topic_does_not_continue_it() -> None:
    """The last two window members of a topic swept into another story's cluster: with the drift
    guard that cluster is a new topic (born); without it the other story takes over the topic's id."""
    guarded = PARAMS  # the default guard (0.6)
    topics: dict[int, TopicMeta] = {}
    first = {0: cluster([f"a{i}" for i in range(5)], 1, 0)}
    members = apply(reconcile(first, {}, topics, T0 + timedelta(hours=1), guarded, next_topic_id=10), first, topics)
    in_window = {a: t for a, t in members.items() if a in ("a3", "a4")}  # a0–a2 left the window
    now = T0 + timedelta(hours=3)
    other_story = {0: cluster(["a3", "a4", *(f"b{i}" for i in range(8))], 3, 1)}

    rec = reconcile(other_story, in_window, topics, now, guarded, next_topic_id=11)
    assert rec.topic_of_cluster == {0: 11} and kinds(rec) == {(11, "born", ())}
    off = dataclasses.replace(PARAMS, reconcile_min_similarity=0.0)
    unguarded = reconcile(other_story, in_window, topics, now, off, next_topic_id=11)
    assert unguarded.topic_of_cluster == {0: 10}
    same_story = {0: ClusterInfo(other_story[0].members, now, centroid=unit(0))}
    assert reconcile(same_story, in_window, topics, now, guarded, next_topic_id=11).topic_of_cluster == {0: 10}


def test_a_stray_member_of_a_long_topic_does_not_merge_it() -> None:
    """A cluster that continues a young topic and holds one window member of a long-running topic: the
    long topic keeps its id and its other articles (the German replay merged a 16-article Trump–Putin
    topic into the Riyadh talks through one such article); holding enough of it still merges it."""
    topics: dict[int, TopicMeta] = {}
    long_story = [f"a{i}" for i in range(12)]
    first = {0: cluster(long_story, 1, 0), 1: cluster(["b0", "b1"], 1, 0, lean=1)}
    members = apply(reconcile(first, {}, topics, T0 + timedelta(hours=1), PARAMS, next_topic_id=10), first, topics)
    ta, tb = members["a0"], members["b0"]
    in_window = {a: t for a, t in members.items() if a in ("a11", "b0", "b1")}  # a0–a10 left the window
    now = T0 + timedelta(hours=3)
    young_with_stray = {0: cluster(["a11", "b0", "b1", "b2"], 3, 0, lean=1)}

    guarded = dataclasses.replace(PARAMS, reconcile_merge_share=0.25)
    rec = reconcile(young_with_stray, in_window, topics, now, guarded, next_topic_id=12)
    assert rec.topic_of_cluster == {0: tb} and rec.merged_into == {}  # 1 of 12 articles: no merge
    assert ta not in rec.status and (tb, "grew", ()) in kinds(rec)
    assert rec.article_counts[tb] == 4  # the cluster only: the long topic's other 11 stay where they are
    merged = reconcile(young_with_stray, in_window, topics, now, PARAMS, next_topic_id=12)  # the default: any overlap
    assert merged.merged_into == {ta: tb} and merged.article_counts[tb] == 15
    most = {a: t for a, t in members.items() if a not in ("a0", "a1")}  # 10 of 12 in the window and the cluster
    big = {0: cluster([*long_story[2:], "b0", "b1", "b2"], 3, 0, lean=1)}
    assert reconcile(big, most, topics, now, guarded, next_topic_id=12).merged_into == {tb: ta}
