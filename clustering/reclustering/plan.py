"""One re-clustering as a plan: cluster the window, reconcile ids, summarise, list the changes.

``plan_recluster`` is pure (a ``Window``, ``now`` and settings in; a ``ReclusterPlan`` out). The
store edge (``jobs.recluster_now``) and the evaluation (``evaluate.py``) apply the same plan, one to
the database, the other to memory — which is what makes the evaluation measure the real system.
The evaluation also hands back the clustering of a window it clustered before (``labels``: the
clustering is deterministic, so this only saves work) and asks for centroids without the rest of
the summaries (``summarise=False``): it keeps memberships, not labels.

Articles the re-clustering leaves unassigned keep their topic when that topic has no successor
(its story did not re-form as a cluster, but nothing else claims it either); articles of a topic
merged away follow it to the survivor.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from clustering.labelling.labels import LabelParams, centroids_all, summarise_all
from clustering.reclustering.recluster import ReclusterParams, cluster_window
from clustering.reclustering.reconcile import ClusterInfo, ReconcileParams, Reconciliation, absorb, reconcile
from clustering.reclustering.topic_merge import TopicMergeParams, merge_topics
from clustering.story_model.same_story import SameStoryParams, configured_model
from clustering.threads import blas_threads, window_threads
from clustering.window import Window
from newsflow.records.topic import LineageEvent, TopicSummary
from newsflow.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ReclusterPlan:
    now: datetime
    memberships: dict[str, int]  # the topic of every window article that has one afterwards
    changed: dict[str, int]  # window articles whose topic is new or different
    removed: list[str]  # window articles that no longer have a topic
    reconciliation: Reconciliation
    summaries: dict[int, TopicSummary]  # empty unless summarised
    events: list[LineageEvent]
    touched: set[int]  # topics whose statistics must be recomputed
    clusters: int
    window_size: int = 0
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # each window row's cluster
    centroids: dict[int, np.ndarray] = field(default_factory=dict)  # each topic's (the summaries' centroids)

    @property
    def unassigned(self) -> int:
        return self.window_size - len(self.memberships)

    def event_counts(self) -> dict[str, int]:
        return dict(Counter(e.kind.value for e in self.events))


def _clusters(window: Window, labels: np.ndarray) -> dict[int, ClusterInfo]:
    rows: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(labels.tolist()):
        if c >= 0:
            rows[c].append(i)
    out: dict[int, ClusterInfo] = {}
    for c, idx in rows.items():
        centroid = window.batch.dense[idx].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        out[c] = ClusterInfo(
            members=[window.batch.docs[i].id for i in idx],
            last_seen=max(window.batch.docs[i].published for i in idx),
            centroid=centroid,
        )
    return out


def _final_memberships(window: Window, labels: np.ndarray, rec: Reconciliation) -> dict[str, int]:
    continued = set(rec.topic_of_cluster.values())
    final: dict[str, int] = {}
    for doc, c in zip(window.batch.docs, labels.tolist(), strict=True):
        if c >= 0:
            final[doc.id] = rec.topic_of_cluster[c]
            continue
        prev = window.memberships.get(doc.id)
        if prev is None:
            continue
        if prev in rec.merged_into:
            final[doc.id] = rec.merged_into[prev]
        elif prev not in continued:
            final[doc.id] = prev
    return final


def _rows_of(window: Window, final: dict[str, int]) -> dict[int, list[int]]:
    """Each topic's rows in the window."""
    rows_of: dict[int, list[int]] = defaultdict(list)
    index = {d.id: i for i, d in enumerate(window.batch.docs)}
    for article_id, topic_id in final.items():
        rows_of[topic_id].append(index[article_id])
    return rows_of


def _merge_topics(
    window: Window, final: dict[str, int], rec: Reconciliation, now: datetime, settings: Settings
) -> dict[str, int]:
    """``final`` after topics of one story are folded together (``topic_merge``; off without a model)."""
    params = TopicMergeParams.from_settings(settings)
    model = configured_model(SameStoryParams.from_settings(settings)) if params.topic_merge_probability > 0 else None
    if model is None:
        return final
    survivor_of = merge_topics(window.batch, _rows_of(window, final), model, params)
    if not survivor_of:
        return final
    absorb(rec, survivor_of, window.topics, now)
    log.debug("topic merge: %s", survivor_of)
    return {a: survivor_of.get(t, t) for a, t in final.items()}


def plan_recluster(
    window: Window, now: datetime, settings: Settings, next_topic_id: int, *,
    labels: np.ndarray | None = None, summarise: bool = True,
) -> ReclusterPlan:  # fmt: skip
    """Re-cluster ``window`` and say what changes (see the module docstring).

    ``labels``: ``cluster_window``'s answer for this very batch, if the caller has it (a plan's
    ``labels``), instead of clustering again. ``summarise=False``: only the topics' centroids, no
    summaries (and lineage events without labels).
    """
    with blas_threads(window_threads(len(window.batch))):
        return _plan(window, now, settings, next_topic_id, labels, summarise)


def _plan(
    window: Window, now: datetime, settings: Settings, next_topic_id: int, labels: np.ndarray | None,
    summarise: bool,
) -> ReclusterPlan:  # fmt: skip
    if labels is None:
        labels = cluster_window(window.batch, ReclusterParams.from_settings(settings))
    elif len(labels) != len(window.batch):
        raise ValueError(f"{len(labels)} labels for a window of {len(window.batch)} articles")
    clusters = _clusters(window, labels)
    reconciling = ReconcileParams.from_settings(settings)
    rec = reconcile(clusters, window.memberships, window.topics, now, reconciling, next_topic_id)
    final = _final_memberships(window, labels, rec)
    final = _merge_topics(window, final, rec, now, settings)
    changed = {a: t for a, t in final.items() if window.memberships.get(a) != t}
    removed = sorted(a for a in window.memberships if a not in final)
    rows_of = _rows_of(window, final)
    if summarise:
        summaries = summarise_all(window.batch, rows_of, window.vectoriser, LabelParams.from_settings(settings))
        centroids = {t: s.centroid for t, s in summaries.items() if s.centroid is not None}
    else:
        summaries, centroids = {}, centroids_all(window.batch, rows_of)
    events = [
        dataclasses.replace(e, label=summaries[e.topic_id].label) if e.topic_id in summaries else e for e in rec.events
    ]
    touched = set(final.values()) | set(window.memberships.values()) | set(rec.status) | set(rec.merged_into.values())
    plan = ReclusterPlan(
        now=now, memberships=final, changed=changed, removed=removed, reconciliation=rec, summaries=summaries,
        events=events, touched=touched, clusters=len(clusters), window_size=len(window.batch), labels=labels,
        centroids=centroids,
    )  # fmt: skip
    log.debug(
        "re-clustering plan: %d clusters, %d changed, %d removed, events %s",
        plan.clusters, len(changed), len(removed), plan.event_counts(),
    )  # fmt: skip
    return plan
