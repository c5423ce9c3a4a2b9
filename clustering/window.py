"""The sliding window of recent articles, as the worker, the re-clustering and the evaluation see it.

A ``Window`` is plain data: the recent docs with their representation, the current memberships
and the known topics. ``represent_window`` builds the representation with document frequencies
counted over the window itself; ``build_clusterer`` turns a window into the online clusterer's
state (active topics as centroids, unassigned articles in the seeding pool). Where the window comes
from — the store, or the evaluation's memory — is the caller's business.

Topic memory: a story often outlives the re-clustering window (a trial, a war, a recall run for
weeks, with days between articles). With ``topic_memory_hours`` beyond the window, the most recent
members (``topic_memory_members`` per topic, ``topic_memory_max_members`` in all, so a busy stream
cannot blow up the worker's memory) published in ``[now - topic_memory_hours, window start)`` come
along as ``remembered`` rows: they never enter HDBSCAN, but their topics — faded ones too — keep a
centroid online, so a late article continues its story instead of starting a new one. Articles of
that range that never joined a topic come along too (topic id ``UNASSIGNED``, as many as the
seeding pool has room for beside the window's own): a late article can pair up with one of them.
The time decay of the similarity still weighs the gap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import scipy.sparse as sp

from clustering.assign import OnlineClusterer
from clustering.represent import Batch, SparseVectoriser, represent
from newsflow.records.doc import Doc
from newsflow.records.topic import TopicMeta, TopicStatus
from newsflow.settings import Settings

UNASSIGNED = -1  # a remembered article without a topic: it waits in the seeding pool


@dataclass
class Window:
    batch: Batch
    vectoriser: SparseVectoriser
    memberships: dict[str, int]  # article id → topic id, for window articles that have a topic
    topics: dict[int, TopicMeta] = field(default_factory=dict)  # active and faded topics
    remembered: Batch | None = None  # topic memory: recent members from before the window
    remembered_topics: list[int] = field(default_factory=list)  # each ``remembered`` row's topic, or UNASSIGNED

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self.batch.docs]


def window_start(now: datetime, settings: Settings) -> datetime:
    return now - timedelta(hours=settings.recluster_window_hours)


def memory_start(now: datetime, settings: Settings) -> datetime | None:
    """Where topic memory begins (None: off, or no further back than the window)."""
    if settings.topic_memory_hours <= settings.recluster_window_hours:
        return None
    return now - timedelta(hours=settings.topic_memory_hours)


def newest_per_topic(members: Sequence[tuple[str, int]], limit: int, total: int) -> list[tuple[str, int]]:
    """``(article id, topic id)`` pairs ordered newest first, cut to the first ``limit`` of each topic
    and ``total`` in all."""
    seen: Counter[int] = Counter()
    kept: list[tuple[str, int]] = []
    for article_id, topic_id in members:
        if len(kept) == total:
            break
        if seen[topic_id] < limit:
            seen[topic_id] += 1
            kept.append((article_id, topic_id))
    return kept


def pool_room(window_unassigned: int, settings: Settings) -> int:
    """How many remembered unassigned articles the seeding pool takes beside the window's own."""
    return max(settings.seed_pool_size - window_unassigned, 0)


def represent_window(
    docs: Sequence[Doc], dense: np.ndarray, settings: Settings, df: np.ndarray | None = None,
    counts: sp.csr_matrix | None = None, corpus: tuple[np.ndarray, int] | None = None,
) -> tuple[Batch, SparseVectoriser]:  # fmt: skip
    """Representation of the window's docs, with the corpus's document frequencies (``corpus``:
    frequencies and the number of articles counted, see ``clustering.corpus``), or else with
    frequencies counted over the window.

    ``df``: the window's frequencies, when the caller keeps them as the window slides (the
    evaluation: counting them afresh is most of the cost of a small window), instead of counting here.
    ``counts``: the docs' raw term counts, when the caller keeps them (see ``represent``).
    """
    vectoriser = SparseVectoriser(settings.sparse_features)
    if corpus is not None:
        df, n_docs = corpus
    elif df is None:
        return represent(docs, dense, vectoriser, settings, observe=True, counts=counts), vectoriser
    else:
        n_docs = len(docs)
    vectoriser.df[:] = df
    vectoriser.n_docs = n_docs
    return represent(docs, dense, vectoriser, settings, observe=False, counts=counts), vectoriser


def build_clusterer(window: Window, settings: Settings, next_topic_id: int, dim: int) -> OnlineClusterer:
    """Online state from a window: topics from their window (and remembered) members, the rest in the pool.

    Without topic memory only active topics are joinable: faded ones are found again by the
    re-clustering. With it, every topic that has not merged away is, faded or not.
    """
    clusterer = OnlineClusterer(settings, dim, next_topic_id=next_topic_id)
    memory = settings.topic_memory_hours > settings.recluster_window_hours
    labels = np.full(len(window.batch), -1, dtype=np.int64)
    unassigned: list[int] = []
    for i, doc in enumerate(window.batch.docs):
        topic = window.memberships.get(doc.id)
        if topic is None:
            unassigned.append(i)
        elif _joinable(window.topics.get(topic), memory):
            labels[i] = topic
    batch = window.batch
    if window.remembered is not None and len(window.remembered):
        old = [
            t if t != UNASSIGNED and _joinable(window.topics.get(t), memory) else -1 for t in window.remembered_topics
        ]
        labels = np.concatenate([labels, np.array(old, dtype=np.int64)])
        batch = Batch.concat(batch, window.remembered)
        # Remembered rows come newest first; the pool keeps the last ones it was given, the window's.
        waiting = [k for k in reversed(range(len(window.remembered))) if window.remembered_topics[k] == UNASSIGNED]
        clusterer.hold(window.remembered.select(waiting))
    clusterer.add_topics(labels, batch)
    # The pool keeps the most recent unassigned articles; the window is ordered oldest first.
    clusterer.hold(window.batch.select(unassigned[-settings.seed_pool_size :]))
    return clusterer


def _joinable(meta: TopicMeta | None, memory: bool) -> bool:
    if meta is None:
        return True  # (a topic the caller did not list: its members say it exists)
    return meta.status is TopicStatus.ACTIVE or (memory and meta.status is TopicStatus.FADED)
