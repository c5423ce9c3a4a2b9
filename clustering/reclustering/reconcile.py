"""Reconciliation: new clusters take over existing topic ids, and what happened becomes lineage.

Each existing topic's *successor* is the new cluster holding most of its window members, among the
clusters whose dense centroid is at least ``reconcile_min_similarity`` like the topic's (a few
members swept into another story's cluster must not hand it the topic's id). Then, per cluster
(largest first):

* heir of one topic → keeps that id (``grew`` when it has more articles than at its last event;
  ``revived`` when the topic had faded and new articles arrived);
* heir of several topics → keeps the id with the largest overlap (ties: the oldest id) and the
  others are ``merged`` into it (A+B→A, ``related=[B]``) — each only if the cluster holds at least
  ``reconcile_merge_share`` of its articles (also those older than the window); otherwise the few
  members it holds move to the keeper and that topic keeps its id and the rest of its articles;
* heir of none, but holding at least ``reconcile_split_share`` of a surviving topic's window
  members → a new id ``split`` off that topic (A→A+C, an event on A with ``related=[C]``);
* heir of none, and its centroid at least ``revive_threshold`` similar to a faded topic's → that
  topic is ``revived``;
* otherwise a new topic is ``born``.

Active topics with no new article for ``topic_fade_hours`` are ``faded``. Afterwards ``absorb``
folds topics that ``topic_merge`` found to tell one story into their survivor. Pure: plain inputs,
``ReconcileParams`` and a passed-in ``now``; the caller applies the result to the store or to memory.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from newsflow.contracts import TopicEventKind as Kind
from newsflow.records.topic import LineageEvent, TopicMeta, TopicStatus
from newsflow.settings import Settings


@dataclass(frozen=True)
class ReconcileParams:
    """The cuts of the module docstring: drift, split, revival, and the hours after which a topic fades."""

    reconcile_min_similarity: float
    reconcile_split_share: float
    reconcile_merge_share: float
    revive_threshold: float
    topic_fade_hours: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ReconcileParams:
        return cls(
            reconcile_min_similarity=settings.reconcile_min_similarity,
            reconcile_split_share=settings.reconcile_split_share,
            reconcile_merge_share=settings.reconcile_merge_share,
            revive_threshold=settings.revive_threshold,
            topic_fade_hours=settings.topic_fade_hours,
        )


@dataclass(frozen=True)
class ClusterInfo:
    """One new cluster: its window members, its newest publication time, its dense centroid."""

    members: Sequence[str]
    last_seen: datetime
    centroid: np.ndarray | None = None


@dataclass
class Reconciliation:
    topic_of_cluster: dict[int, int]
    events: list[LineageEvent]
    status: dict[int, TopicStatus]  # topics whose status changes
    merged_into: dict[int, int]  # absorbed topic → survivor
    new_topics: list[int]
    next_topic_id: int
    article_counts: dict[int, int] = field(default_factory=dict)  # estimated, for events


def _forget_drifted(
    overlap: dict[int, Counter[int]], clusters: Mapping[int, ClusterInfo], topics: Mapping[int, TopicMeta],
    threshold: float,
) -> None:  # fmt: skip
    """Drop the overlap of a cluster with a topic it is not like: a few of the topic's members swept
    into another story's cluster must not hand that story the topic's id (drift, one story into the next)."""
    if threshold <= 0:
        return
    for c, row in overlap.items():
        mine = clusters[c].centroid
        for t in list(row):
            theirs = topics[t].centroid
            if mine is not None and theirs is not None and float(np.dot(mine, theirs)) < threshold:
                del row[t]


def _successors(overlap: Mapping[int, Counter[int]], sizes: Mapping[int, int]) -> dict[int, int]:
    """Topic → the cluster holding most of its window members (ties: larger cluster, then lower label)."""
    best: dict[int, tuple[int, int, int]] = {}
    for c, row in overlap.items():
        for t, n in row.items():
            key = (n, sizes[c], -c)
            if t not in best or key > best[t]:
                best[t] = key
    return {t: -key[2] for t, key in best.items()}


def reconcile(
    clusters: Mapping[int, ClusterInfo],
    previous: Mapping[str, int],
    topics: Mapping[int, TopicMeta],
    now: datetime,
    params: ReconcileParams,
    next_topic_id: int,
) -> Reconciliation:
    """Map clusters to topic ids and list the lineage events (see the module docstring)."""
    overlap: dict[int, Counter[int]] = {
        c: Counter(previous[a] for a in info.members if previous.get(a) in topics) for c, info in clusters.items()
    }
    _forget_drifted(overlap, clusters, topics, params.reconcile_min_similarity)
    sizes = {c: len(info.members) for c, info in clusters.items()}
    window_size: Counter[int] = Counter(t for t in previous.values() if t in topics)
    outside = {t: max(meta.article_count - window_size[t], 0) for t, meta in topics.items()}
    successor = _successors(overlap, sizes)
    heirs: dict[int, list[int]] = defaultdict(list)
    for t, c in successor.items():
        heirs[c].append(t)

    out = Reconciliation({}, [], {}, {}, [], next_topic_id)
    splits: dict[int, list[int]] = defaultdict(list)
    taken: set[int] = set()
    for c in sorted(clusters, key=lambda k: (-sizes[k], k)):
        info = clusters[c]
        if heirs.get(c):
            keeper = max(heirs[c], key=lambda t: (overlap[c][t], -t))
            absorbed = _absorbed(heirs[c], keeper, overlap[c], topics, window_size, params.reconcile_merge_share)
            count = sizes[c] + sum(outside[t] for t in (keeper, *absorbed))
            _keep(out, c, keeper, absorbed, count, info, topics[keeper], now)
            taken.add(keeper)
            continue
        parent = _split_parent(overlap[c], window_size, successor, params.reconcile_split_share)
        revived = None if parent is not None else _revivable(info, topics, taken, params.revive_threshold)
        if revived is not None:
            taken.add(revived)
            out.topic_of_cluster[c] = revived
            out.status[revived] = TopicStatus.ACTIVE
            count = sizes[c] + outside[revived]
            out.article_counts[revived] = count
            out.events.append(LineageEvent(revived, Kind.REVIVED, now, count))
            continue
        new_id = out.next_topic_id
        out.next_topic_id += 1
        out.topic_of_cluster[c] = new_id
        out.new_topics.append(new_id)
        out.article_counts[new_id] = sizes[c]
        if parent is not None:
            splits[parent].append(new_id)
        else:
            out.events.append(LineageEvent(new_id, Kind.BORN, now, sizes[c]))
    for parent, children in sorted(splits.items()):
        count = out.article_counts.get(parent, topics[parent].article_count)
        out.events.append(LineageEvent(parent, Kind.SPLIT, now, count, related=tuple(sorted(children))))
    _fade(out, topics, successor, clusters, now, params.topic_fade_hours)
    out.events.sort(key=lambda e: (e.topic_id, e.kind.value))
    return out


def _absorbed(
    heirs: Sequence[int], keeper: int, row: Counter[int], topics: Mapping[int, TopicMeta],
    window_size: Mapping[int, int], share: float,
) -> list[int]:  # fmt: skip
    """The heirs besides ``keeper`` that the cluster holds enough of to merge them: at least ``share`` of
    each one's articles. A long story that left one member in another story's cluster is not that story
    (in a German replay, one rare-earth article merged a 16-article Trump–Putin topic into the Riyadh talks)."""
    return sorted(
        t for t in heirs
        if t != keeper and row[t] >= share * max(topics[t].article_count, window_size[t], 1)
    )  # fmt: skip


def _keep(
    out: Reconciliation, c: int, keeper: int, absorbed: list[int], count: int, info: ClusterInfo,
    meta: TopicMeta, now: datetime,
) -> None:  # fmt: skip
    out.topic_of_cluster[c] = keeper
    out.article_counts[keeper] = count
    for t in absorbed:
        out.status[t] = TopicStatus.MERGED
        out.merged_into[t] = keeper
    if absorbed:
        out.events.append(LineageEvent(keeper, Kind.MERGED, now, count, related=tuple(absorbed)))
        if meta.status is TopicStatus.FADED and info.last_seen > meta.last_seen:
            out.status[keeper] = TopicStatus.ACTIVE
    elif meta.status is TopicStatus.FADED and info.last_seen > meta.last_seen:
        out.status[keeper] = TopicStatus.ACTIVE
        out.events.append(LineageEvent(keeper, Kind.REVIVED, now, count))
    elif meta.status is TopicStatus.ACTIVE and count > meta.last_event_count:
        out.events.append(LineageEvent(keeper, Kind.GREW, now, count))


def _split_parent(
    row: Counter[int], window_size: Mapping[int, int], successor: Mapping[int, int], reconcile_split_share: float
) -> int | None:
    """The surviving topic this heir-less cluster took a large enough share of, if any."""
    best: tuple[float, int] | None = None
    for t, n in row.items():
        share = n / max(window_size[t], 1)
        eligible = n >= 2 and share >= reconcile_split_share and t in successor
        if eligible and (best is None or (share, -t) > (best[0], -best[1])):
            best = (share, t)
    return best[1] if best else None


def _revivable(
    info: ClusterInfo, topics: Mapping[int, TopicMeta], taken: set[int], revive_threshold: float
) -> int | None:
    if info.centroid is None:
        return None
    best: tuple[float, int] | None = None
    for t, meta in topics.items():
        if meta.status is not TopicStatus.FADED or meta.centroid is None or t in taken:
            continue
        sim = float(np.dot(info.centroid, meta.centroid))
        if sim >= revive_threshold and (best is None or sim > best[0]):
            best = (sim, t)
    return best[1] if best else None


def _fade(
    out: Reconciliation, topics: Mapping[int, TopicMeta], successor: Mapping[int, int],
    clusters: Mapping[int, ClusterInfo], now: datetime, topic_fade_hours: float,
) -> None:  # fmt: skip
    """Active topics without a new article for ``topic_fade_hours`` fade (one event when they do)."""
    cutoff = now - timedelta(hours=topic_fade_hours)
    for t, meta in topics.items():
        if meta.status is not TopicStatus.ACTIVE or t in out.merged_into:
            continue
        c = successor.get(t)
        last = meta.last_seen
        if c is not None and out.topic_of_cluster.get(c) == t:
            last = max(last, clusters[c].last_seen)
        if last < cutoff:
            out.status[t] = TopicStatus.FADED
            # A late, old article may have grown it: fading is the news, not the growth.
            out.events = [e for e in out.events if not (e.topic_id == t and e.kind is Kind.GREW)]
            out.events.append(LineageEvent(t, Kind.FADED, now, out.article_counts.get(t, meta.article_count)))


def absorb(out: Reconciliation, survivor_of: Mapping[int, int], topics: Mapping[int, TopicMeta], now: datetime) -> None:
    """Fold each topic ``t`` into ``survivor_of[t]`` (no chains: every survivor survives).

    An existing topic is ``merged`` into its survivor (its members follow, as for reconciliation's
    own merges); a topic born in this very run never existed for anyone, so its cluster simply
    continues the survivor instead. The absorbed topic's own events of this run go (what it merged
    in this run is merged into the survivor); the survivor gets one ``merged`` event (or ``grew``)
    with the combined count, and is active if either was.
    """
    for t, s in sorted(survivor_of.items()):
        was_new, t_active = t in out.new_topics, _active_after(out, topics, t)
        count = _count(out, topics, s) + _count(out, topics, t)
        carried = tuple(r for e in out.events if e.topic_id == t and e.kind is Kind.MERGED for r in e.related)
        out.events = [e for e in out.events if e.topic_id != t]
        out.topic_of_cluster = {c: s if topic == t else topic for c, topic in out.topic_of_cluster.items()}
        out.merged_into = {x: s if into == t else into for x, into in out.merged_into.items()}
        out.article_counts.pop(t, None)
        out.article_counts[s] = count
        if was_new:
            out.new_topics.remove(t)
            out.events = [_without_child(e, t) for e in out.events]
            out.events = [e for e in out.events if e.kind is not Kind.SPLIT or e.related]
        else:
            out.status[t] = TopicStatus.MERGED
            out.merged_into[t] = s
        if t_active and not _active_after(out, topics, s):
            _reactivate(out, topics, s)
        _record_growth(out, s, count, carried if was_new else (t, *carried), now)
    out.events.sort(key=lambda e: (e.topic_id, e.kind.value))


def _active_after(out: Reconciliation, topics: Mapping[int, TopicMeta], t: int) -> bool:
    if t in out.new_topics:
        return True
    return out.status.get(t, topics[t].status) is TopicStatus.ACTIVE


def _count(out: Reconciliation, topics: Mapping[int, TopicMeta], t: int) -> int:
    return out.article_counts.get(t, topics[t].article_count if t in topics else 0)


def _without_child(event: LineageEvent, child: int) -> LineageEvent:
    if event.kind is not Kind.SPLIT or child not in event.related:
        return event
    return dataclasses.replace(event, related=tuple(r for r in event.related if r != child))


def _reactivate(out: Reconciliation, topics: Mapping[int, TopicMeta], s: int) -> None:
    """The survivor took in an active topic's articles: it is active, not fading."""
    out.events = [e for e in out.events if not (e.topic_id == s and e.kind is Kind.FADED)]
    if topics[s].status is TopicStatus.ACTIVE:
        out.status.pop(s, None)
    else:
        out.status[s] = TopicStatus.ACTIVE


def _record_growth(out: Reconciliation, s: int, count: int, absorbed: tuple[int, ...], now: datetime) -> None:
    """One event for the survivor: its ``merged`` event takes the absorbed topic in; else a ``grew``
    (unless it already has an event of this run, whose count is brought up to date)."""
    mine = [e for e in out.events if e.topic_id == s]
    rest = [e for e in out.events if e.topic_id != s]
    merged = next((e for e in mine if e.kind is Kind.MERGED), None)
    if absorbed and merged is not None:
        mine = [e for e in mine if e is not merged]
        mine.append(dataclasses.replace(merged, related=tuple(sorted({*merged.related, *absorbed}))))
    elif absorbed:
        mine = [e for e in mine if e.kind is not Kind.GREW]
        mine.append(LineageEvent(s, Kind.MERGED, now, count, related=absorbed))
    elif not mine:
        mine.append(LineageEvent(s, Kind.GREW, now, count))
    out.events = rest + [dataclasses.replace(e, article_count=count) for e in mine]
