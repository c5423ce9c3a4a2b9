"""One topic state: what a clustering run reads and writes, whether it lives in the store or in memory.

The worker (``processor.py``), the re-clustering job (``jobs.py``) and ``newsflow eval``
(``evaluation/evaluate.py``) drive the same functions through it:

* ``apply_plan``: the one order of writes a re-clustering plan makes (topics, memberships, moves,
  statuses, statistics, summaries, lineage);
* ``remember``: topic memory, the members from before the window that keep a topic joinable online;
* ``online_writes``: what a batch's online assignments mean for topics and memberships.

Two implementations: ``SqlTopicState`` / ``SqlTopicWrites`` (``sql_state.py``: the store, one
transaction per batch or plan) and ``MemoryTopicState`` (``evaluation/memory_state.py``: dicts, for
replays). Each answers the reads in its own way (a query, a scan of a list); what is done with the
answers lives here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from clustering.online.assign import Assignment
from clustering.reclustering.plan import ReclusterPlan
from clustering.representation.represent import Batch, SparseVectoriser
from clustering.window import UNASSIGNED, Window, memory_start, pool_room, window_start
from newsflow.records.topic import LineageEvent, Membership, TopicMeta, TopicStatus, TopicSummary
from newsflow.settings import Settings


class TopicWrites(Protocol):
    """The writes that change topics and memberships (inside one transaction, for the store)."""

    def create_topics(self, topic_ids: Iterable[int], now: datetime) -> None: ...

    def write_memberships(self, members: Sequence[Membership], now: datetime) -> None: ...

    def delete_memberships(self, article_ids: Iterable[str]) -> None: ...

    def move_members(self, from_topic: int, to_topic: int, now: datetime) -> None: ...

    def set_status(self, topic_id: int, status: TopicStatus, now: datetime, merged_into: int | None) -> None: ...

    def refresh_stats(self, topic_ids: Iterable[int], now: datetime) -> None: ...

    def save_summaries(
        self, summaries: Mapping[int, TopicSummary], centroids: Mapping[int, np.ndarray], now: datetime
    ) -> None:
        """The summaries (labels, keywords, centroid), or only the ``centroids`` of a plan made without them."""

    def record_events(self, events: Sequence[LineageEvent]) -> None: ...


class TopicReads(Protocol):
    """The reads topic memory needs, answered by the store or by memory."""

    def remembered_members(self, start: datetime, until: datetime, per_topic: int, total: int) -> list[tuple[str, int]]:
        """``(article id, topic id)`` of members published in ``[start, until)``, newest first (then by id,
        descending), at most ``per_topic`` of each topic and ``total`` in all."""

    def unassigned_ids(self, start: datetime, until: datetime, limit: int) -> list[str]:
        """Articles published in ``[start, until)`` without a topic, newest first, at most ``limit``."""

    def represent_articles(self, article_ids: Sequence[str], vectoriser: SparseVectoriser) -> Batch:
        """The articles' rows, in the given order, with the window's frequencies (``observe=False``)."""


def apply_plan(writes: TopicWrites, plan: ReclusterPlan) -> None:
    """Write one re-clustering plan: what ``recluster_now`` commits and what the evaluation does to memory."""
    rec, now = plan.reconciliation, plan.now
    writes.create_topics(rec.new_topics, now)
    writes.write_memberships([Membership(a, t, None, "recluster") for a, t in sorted(plan.changed.items())], now)
    writes.delete_memberships(plan.removed)
    for absorbed, survivor in sorted(rec.merged_into.items()):
        writes.move_members(absorbed, survivor, now)
    for topic_id, status in sorted(rec.status.items()):
        merged = rec.merged_into.get(topic_id) if status is TopicStatus.MERGED else None
        writes.set_status(topic_id, status, now, merged)
    writes.refresh_stats(plan.touched, now)
    writes.save_summaries(plan.summaries, plan.centroids, now)
    writes.record_events(plan.events)


def remember(reads: TopicReads, window: Window, now: datetime, settings: Settings) -> None:
    """Topic memory into ``window``: the newest members from before the window of topics not merged
    away, and the newest unassigned articles from then, as many as the seeding pool has room for."""
    start = memory_start(now, settings)
    if start is None:
        return
    since = window_start(now, settings)
    room = pool_room(len(window.batch) - len(window.memberships), settings)
    members = reads.remembered_members(start, since, settings.topic_memory_members, settings.topic_memory_max_members)
    lasting = lasting_topics(
        window.topics, now, since, settings.topic_memory_span_factor, settings.topic_memory_min_hours
    )
    kept = [(a, t) for a, t in members if t in lasting]
    kept += [(a, UNASSIGNED) for a in reads.unassigned_ids(start, since, room)]
    if not kept:
        return
    window.remembered = reads.represent_articles([a for a, _ in kept], window.vectoriser)
    window.remembered_topics = [t for _, t in kept]


def lasting_topics(
    topics: Mapping[int, TopicMeta], now: datetime, since: datetime, span_factor: float, min_hours: float = 0.0
) -> set[int]:
    """The topics worth remembering: those with members in the window, and those silent since before it
    for at most ``span_factor`` times the time their members span (0: all) or ``min_hours``, whichever is
    longer. A story that has run for days pauses and comes back; a burst that is over comes back a week
    later as a new development (held out: sparse streams of one subject's stories weeks apart glued
    together by a remembered burst)."""
    if span_factor <= 0:
        return set(topics)
    return {
        t for t, meta in topics.items() if meta.last_seen >= since or now <= forgotten_at(meta, span_factor, min_hours)
    }  # fmt: skip


def forgotten_at(meta: TopicMeta, span_factor: float, min_hours: float) -> datetime:
    """When a topic silent since before the window stops being remembered (``lasting_topics``)."""
    return meta.last_seen + max(span_factor * (meta.last_seen - meta.first_seen), timedelta(hours=min_hours))


@dataclass(frozen=True)
class OnlineWrites:
    """What one batch's online assignments mean: the topics they open and the memberships they write."""

    created: list[int]  # new topic ids, in assignment order
    members: list[Membership]  # new or changed memberships, each assignment's then its partner's
    partners: set[str]  # the pooled articles that opened a topic with an arriving one


def online_writes(assignments: Sequence[Assignment], known: Mapping[str, int]) -> OnlineWrites:
    """``known``: the topic each article of the batch had before it (revisions of members)."""
    members: list[Membership] = []
    partners: set[str] = set()
    for a in assignments:
        if a.topic_id is None or known.get(a.article_id) == a.topic_id:
            continue
        members.append(Membership(a.article_id, a.topic_id, a.similarity, "online"))
        if a.created and a.partner:
            members.append(Membership(a.partner, a.topic_id, a.similarity, "online"))
            partners.add(a.partner)
    created = [a.topic_id for a in assignments if a.created and a.topic_id is not None]
    return OnlineWrites(created, members, partners)
