"""The topic state in memory, for replays: ``TopicReads`` and ``TopicWrites`` (``topic_state.py``) over dicts.

It holds what the store would: the articles in publication order with their vectors and term counts,
the memberships and the topics. What the clustering does with it (``apply_plan``, ``remember``,
``online_writes``) is the worker's and the job's code; this module only says how each read is
answered and where each write lands.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
import scipy.sparse as sp

from clustering.representation.csr import csr_from_arrays
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from clustering.topic_state import OnlineWrites
from clustering.window import newest_per_topic
from newsflow.records.doc import Doc
from newsflow.records.topic import LineageEvent, Membership, TopicMeta, TopicStatus, TopicSummary
from newsflow.settings import Settings


class MemoryTopicState:
    """Articles (fed in publication order, so time ranges are bisected), memberships and topics."""

    def __init__(self, settings: Settings, dim: int) -> None:
        self.settings = settings
        self.representing = RepresentParams.from_settings(settings)
        self.dim = dim
        self.docs: list[Doc] = []
        self.row_of: dict[str, int] = {}
        self.published_of: dict[str, datetime] = {}
        self.dense: list[np.ndarray] = []
        self.terms: list[np.ndarray] = []  # each doc's hashed terms (one entry per term, as frequencies count)
        self.term_counts: list[np.ndarray] = []  # and how often each occurs: its row of raw counts with ``terms``
        self.memberships: dict[str, int] = {}
        self.members_of: dict[int, set[str]] = defaultdict(set)  # the inverse of ``memberships``
        self.topics: dict[int, TopicMeta] = {}

    # --- articles ---------------------------------------------------------------------------------------

    def add_articles(self, docs: Sequence[Doc], dense: np.ndarray, counts: sp.csr_matrix) -> None:
        self.terms.extend(np.split(counts.indices, counts.indptr[1:-1]))
        self.term_counts.extend(np.split(counts.data, counts.indptr[1:-1]))
        self.row_of.update((d.id, len(self.docs) + k) for k, d in enumerate(docs))
        self.docs.extend(docs)
        self.dense.extend(dense)
        self.published_of.update((d.id, d.published) for d in docs)

    def rows(self, start: datetime, end: datetime, *, upper_inclusive: bool = True) -> range:
        """Rows of ``docs`` published from ``start`` to ``end`` (``end`` itself unless ``upper_inclusive`` is off)."""
        lo = bisect.bisect_left(self.docs, start, key=lambda d: d.published)
        if upper_inclusive:
            return range(lo, bisect.bisect_right(self.docs, end, key=lambda d: d.published))
        return range(lo, bisect.bisect_left(self.docs, end, key=lambda d: d.published))

    def counts(self, rows: Sequence[int]) -> sp.csr_matrix:
        """The raw term counts of ``rows``: ``vectoriser.counts`` of their tokens, which counts each row alone."""
        indptr = np.zeros(len(rows) + 1, dtype=np.int32)
        np.cumsum([len(self.terms[i]) for i in rows], out=indptr[1:])
        if indptr[-1] == 0:
            return sp.csr_matrix((len(rows), self.settings.sparse_features), dtype=np.float32)
        indices = np.concatenate([self.terms[i] for i in rows])
        data = np.concatenate([self.term_counts[i] for i in rows])
        return csr_from_arrays(data, indices, indptr, (len(rows), self.settings.sparse_features))

    def dense_rows(self, rows: Sequence[int]) -> np.ndarray:
        return np.array([self.dense[i] for i in rows], dtype=np.float32).reshape(len(rows), self.dim)

    # --- TopicReads ----------------------------------------------------------------------------------------

    def _newest_first(self, start: datetime, until: datetime) -> list[str]:
        before = self.rows(start, until, upper_inclusive=False)  # (fed sorted by published, then id)
        return [self.docs[i].id for i in range(before.stop - 1, before.start - 1, -1)]

    def remembered_members(self, start: datetime, until: datetime, per_topic: int, total: int) -> list[tuple[str, int]]:
        m = self.memberships
        return newest_per_topic([(a, m[a]) for a in self._newest_first(start, until) if a in m], per_topic, total)

    def unassigned_ids(self, start: datetime, until: datetime, limit: int) -> list[str]:
        return [a for a in self._newest_first(start, until) if a not in self.memberships][: max(limit, 0)]

    def represent_articles(self, article_ids: Sequence[str], vectoriser: SparseVectoriser) -> Batch:
        rows = [self.row_of[a] for a in article_ids]
        docs = [self.docs[i] for i in rows]
        dense, counts = self.dense_rows(rows), self.counts(rows)
        return represent(docs, dense, vectoriser, self.representing, observe=False, counts=counts)

    # --- TopicWrites ---------------------------------------------------------------------------------------

    def create_topics(self, topic_ids: Iterable[int], now: datetime) -> None:
        for topic_id in topic_ids:
            self.topics[topic_id] = TopicMeta(topic_id, TopicStatus.ACTIVE, now, now)

    def write_memberships(self, members: Sequence[Membership], now: datetime) -> None:
        for m in members:
            self._join(m.article_id, m.topic_id)

    def delete_memberships(self, article_ids: Iterable[str]) -> None:
        for article_id in article_ids:
            topic_id = self.memberships.pop(article_id, None)
            if topic_id is not None:
                self.members_of[topic_id].discard(article_id)

    def move_members(self, from_topic: int, to_topic: int, now: datetime) -> None:
        for article_id in list(self.members_of.get(from_topic, ())):
            self._join(article_id, to_topic)

    def set_status(self, topic_id: int, status: TopicStatus, now: datetime, merged_into: int | None) -> None:
        self.topics[topic_id].status = status
        self.topics[topic_id].merged_into = merged_into

    def refresh_stats(self, topic_ids: Iterable[int], now: datetime) -> None:
        for topic_id in set(topic_ids):
            ts = [self.published_of[a] for a in self.members_of.get(topic_id, ())]
            meta = self.topics.get(topic_id)
            if meta is not None and ts:
                meta.article_count, meta.first_seen, meta.last_seen = len(ts), min(ts), max(ts)
            elif meta is not None:
                meta.article_count = 0

    def save_summaries(
        self, summaries: Mapping[int, TopicSummary], centroids: Mapping[int, np.ndarray], now: datetime
    ) -> None:
        for topic_id, centroid in centroids.items():  # (reconciliation reads the centroids; nobody the labels)
            self.topics[topic_id].centroid = centroid

    def record_events(self, events: Sequence[LineageEvent]) -> None:
        for e in events:
            self.topics[e.topic_id].last_event_count = e.article_count

    def record_online(self, online: OnlineWrites) -> None:
        """A batch's online assignments, with the statistics the store's batch transaction folds in: an
        opened topic counts its two first members; a joined one one more, is seen then, and is active."""
        for m in online.members:
            self._join(m.article_id, m.topic_id)
            if m.article_id in online.partners:
                continue  # counted with the article that opened the topic with it
            when = self.published_of[m.article_id]
            meta = self.topics.get(m.topic_id)
            if meta is None:
                self.topics[m.topic_id] = TopicMeta(m.topic_id, TopicStatus.ACTIVE, when, when, 2, 2)
            else:
                meta.article_count += 1
                meta.last_seen = max(meta.last_seen, when)
                meta.status = TopicStatus.ACTIVE  # a remembered topic an article joined is revived

    def _join(self, article_id: str, topic_id: int) -> None:
        if (old := self.memberships.get(article_id)) is not None:
            self.members_of[old].discard(article_id)
        self.memberships[article_id] = topic_id
        self.members_of[topic_id].add(article_id)

    def topic_of_every_article(self, next_id: int) -> dict[str, int]:
        """Every article's topic; unassigned ones get singleton ids from ``next_id`` on."""
        out: dict[str, int] = {}
        for doc in self.docs:
            if doc.id in self.memberships:
                out[doc.id] = self.memberships[doc.id]
            else:
                out[doc.id], next_id = next_id, next_id + 1
        return out
