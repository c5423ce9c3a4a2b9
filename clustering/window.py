"""The sliding window of recent articles, as the worker, the re-clustering and the evaluation see it.

A ``Window`` is plain data: the recent docs with their representation, the current memberships
and the known topics. ``represent_window`` builds the representation with document frequencies
counted over the window itself; ``build_clusterer`` turns a window into the online clusterer's
state (active topics as centroids, unassigned articles in the seeding pool). Where the window comes
from — the store, or the evaluation's memory — is the caller's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from clustering.assign import OnlineClusterer
from clustering.represent import Batch, Doc, SparseVectoriser, represent
from clustering.topics import TopicMeta, TopicStatus
from newsflow.settings import Settings


@dataclass
class Window:
    batch: Batch
    vectoriser: SparseVectoriser
    memberships: dict[str, int]  # article id → topic id, for window articles that have a topic
    topics: dict[int, TopicMeta] = field(default_factory=dict)  # active and faded topics

    @property
    def ids(self) -> list[str]:
        return [d.id for d in self.batch.docs]


def window_start(now: datetime, settings: Settings) -> datetime:
    return now - timedelta(hours=settings.recluster_window_hours)


def represent_window(docs: Sequence[Doc], dense: np.ndarray, settings: Settings) -> tuple[Batch, SparseVectoriser]:
    """Representation of the window's docs, with frequencies counted over the window."""
    vectoriser = SparseVectoriser(settings.sparse_features)
    return represent(docs, dense, vectoriser, settings, observe=True), vectoriser


def build_clusterer(window: Window, settings: Settings, next_topic_id: int, dim: int) -> OnlineClusterer:
    """Online state from a window: active topics from their window members, the rest in the pool."""
    clusterer = OnlineClusterer(settings, dim, next_topic_id=next_topic_id)
    labels = np.full(len(window.batch), -1, dtype=np.int64)
    unassigned: list[int] = []
    for i, doc in enumerate(window.batch.docs):
        topic = window.memberships.get(doc.id)
        meta = window.topics.get(topic) if topic is not None else None
        if topic is None:
            unassigned.append(i)
        elif meta is None or meta.status is TopicStatus.ACTIVE:
            labels[i] = topic  # faded topics are found again by re-clustering, not by online assignment
    clusterer.add_topics(labels, window.batch)
    # The pool keeps the most recent unassigned articles; the window is ordered oldest first.
    clusterer.hold(window.batch.select(unassigned[-settings.seed_pool_size :]))
    return clusterer
