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
The time decay of the similarity still weighs the gap. A topic whose newest member is older than
the window is remembered only while its silence is at most ``topic_memory_span_factor`` times its
members' span, and at least ``topic_memory_min_hours`` (``topic_state.lasting_topics``): a burst
that is over is not continued a week later.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import scipy.sparse as sp

from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from newsflow.records.doc import Doc
from newsflow.records.topic import TopicMeta
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
    frequencies and the number of articles counted, see ``clustering.representation.corpus``), or else with
    frequencies counted over the window.

    ``df``: the window's frequencies, when the caller keeps them as the window slides (the
    evaluation: counting them afresh is most of the cost of a small window), instead of counting here.
    ``counts``: the docs' raw term counts, when the caller keeps them (see ``represent``).
    """
    vectoriser = SparseVectoriser(settings.sparse_features)
    params = RepresentParams.from_settings(settings)
    if corpus is not None:
        df, n_docs = corpus
    elif df is None:
        return represent(docs, dense, vectoriser, params, observe=True, counts=counts), vectoriser
    else:
        n_docs = len(docs)
    vectoriser.df[:] = df
    vectoriser.n_docs = n_docs
    return represent(docs, dense, vectoriser, params, observe=False, counts=counts), vectoriser


