"""The online clusterer's state rebuilt from a window: after every re-clustering, in the worker and the evaluation."""

from __future__ import annotations

import numpy as np

from clustering.online.assign import AssignParams, OnlineClusterer
from clustering.representation.represent import Batch
from clustering.window import UNASSIGNED, Window
from newsflow.records.topic import TopicMeta, TopicStatus
from newsflow.settings import Settings


def build_clusterer(window: Window, settings: Settings, next_topic_id: int, dim: int) -> OnlineClusterer:
    """Online state from a window: topics from their window (and remembered) members, the rest in the pool.

    Without topic memory only active topics are joinable: faded ones are found again by the
    re-clustering. With it, every topic that has not merged away is, faded or not.
    """
    clusterer = OnlineClusterer(AssignParams.from_settings(settings), dim, next_topic_id=next_topic_id)
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
