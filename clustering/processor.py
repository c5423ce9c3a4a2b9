"""One micro-batch of article messages: decode, embed, assign, and write it all in one transaction.

Takes plain ``RawMessage``s (no Kafka types), so tests drive it directly. Bad messages come back as
``DeadLetterRecord``s with the reason and the original payload — a record that breaks the contract,
has no usable text, or makes the embedder fail — and the rest of the batch goes on. A message whose
revision is already stored is skipped: replays change nothing.

The online state (topic centroids, unassigned pool) is loaded from the store's window and reloaded
after a re-clustering was committed elsewhere; new topic ids collide only if another writer took
them meanwhile, which fails the transaction and retries the batch on fresh state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from clustering.assign import Assignment, OnlineClusterer
from clustering.embed import CachedEmbedder, EmbeddingError
from clustering.persist import load_window, next_topic_id, recluster_marker, summaries_for
from clustering.represent import Doc, SparseVectoriser, represent
from clustering.topics import LineageEvent, TopicSummary
from clustering.window import build_clusterer
from newsflow.contracts import ArticleRecord, DeadLetterRecord, TopicEventKind, decode
from newsflow.errors import RecordError
from newsflow.settings import Settings
from newsflow.store import articles_repo, lineage_repo, topics_repo
from newsflow.store.articles_repo import doc_from_record

log = logging.getLogger(__name__)
_RETRIES = 3


@dataclass(frozen=True)
class RawMessage:
    topic: str
    partition: int | None
    offset: int | None
    key: str | None
    value: bytes


@dataclass
class BatchOutcome:
    stored: int = 0
    skipped: int = 0
    assigned: int = 0
    unassigned: int = 0
    topics_created: int = 0
    active_topics: int = 0
    dead_letters: list[DeadLetterRecord] = field(default_factory=list)


def usable_text(record: ArticleRecord) -> bool:
    """At least a few letters in title or body: enough to embed and to tell stories apart."""
    text = f"{record.title} {record.summary or record.content[:500]}"
    return sum(ch.isalpha() for ch in text) >= 3


class BatchProcessor:
    def __init__(self, settings: Settings, engine: Engine, embedder: CachedEmbedder, clock: Callable[[], datetime]):
        self.settings = settings
        self.engine = engine
        self.embedder = embedder
        self.clock = clock
        self.clusterer: OnlineClusterer | None = None
        self.vectoriser: SparseVectoriser | None = None
        self._marker: object = None

    # --- state -------------------------------------------------------------------------------------

    def reload(self, now: datetime) -> None:
        """Rebuild the online state from the store's window (start-up, after a re-clustering, after a conflict)."""
        self._marker = recluster_marker(self.engine)
        window = load_window(self.engine, self.embedder, self.settings, now)
        self.vectoriser = window.vectoriser
        self.clusterer = build_clusterer(window, self.settings, next_topic_id(self.engine), self.embedder.dim)

    def _fresh_state(self, now: datetime) -> tuple[OnlineClusterer, SparseVectoriser]:
        if self.clusterer is None or recluster_marker(self.engine) != self._marker:
            self.reload(now)
        assert self.clusterer is not None and self.vectoriser is not None
        return self.clusterer, self.vectoriser

    # --- one batch ------------------------------------------------------------------------------------

    def process(self, messages: Sequence[RawMessage]) -> BatchOutcome:
        now = self.clock()
        outcome = BatchOutcome()
        records = self._decode(messages, now, outcome)
        with self.engine.connect() as conn:
            stored = articles_repo.stored_revisions(conn, records)
        fresh = {i: pair for i, pair in records.items() if stored.get(i, 0) < pair[1].revision}
        outcome.skipped = len(records) - len(fresh)
        if fresh:
            docs, dense = self._embed(fresh, now, outcome)
            for attempt in range(_RETRIES):
                try:
                    self._assign_and_store(docs, dense, [fresh[d.id][1] for d in docs], now, outcome)
                    break
                except IntegrityError:
                    if attempt == _RETRIES - 1:
                        raise
                    log.info("topic id taken by another writer; reloading state and retrying the batch")
                    self.clusterer = None
        outcome.active_topics = len(self.clusterer.topics) if self.clusterer else 0
        return outcome

    def _decode(
        self, messages: Sequence[RawMessage], now: datetime, outcome: BatchOutcome
    ) -> dict[str, tuple[RawMessage, ArticleRecord]]:
        """Valid records by id (the highest revision when an id repeats); the rest become dead letters."""
        latest: dict[str, tuple[RawMessage, ArticleRecord]] = {}
        for m in messages:
            try:
                record = decode(ArticleRecord, m.value)
            except RecordError as exc:
                outcome.dead_letters.append(dead_letter(m, exc, "decode", now))
                continue
            if not usable_text(record):
                outcome.dead_letters.append(
                    dead_letter(m, RecordError("no usable text in title or body"), "validate", now)
                )
                continue
            if record.id not in latest or record.revision > latest[record.id][1].revision:
                latest[record.id] = (m, record)
        return latest

    def _embed(
        self, fresh: dict[str, tuple[RawMessage, ArticleRecord]], now: datetime, outcome: BatchOutcome
    ) -> tuple[list[Doc], np.ndarray]:
        docs = [doc_from_record(r) for _, r in fresh.values()]
        texts = [d.dense_text(self.settings) for d in docs]
        try:
            return docs, self.embedder.embed(texts)
        except EmbeddingError as exc:  # a model failure: isolate the culprit below
            log.warning("embedding the batch failed (%s); retrying one by one", exc)
        kept: list[Doc] = []
        rows: list[np.ndarray] = []
        for doc, text in zip(docs, texts, strict=True):
            try:
                rows.append(self.embedder.embed([text])[0])
                kept.append(doc)
            except EmbeddingError as exc:  # this article cannot be embedded: dead letter, go on
                outcome.dead_letters.append(dead_letter(fresh[doc.id][0], exc, "embed", now))
        dense = np.stack(rows) if rows else np.zeros((0, self.embedder.dim), dtype=np.float32)
        return kept, dense

    def _assign_and_store(
        self, docs: list[Doc], dense: np.ndarray, records: list[ArticleRecord], now: datetime, outcome: BatchOutcome
    ) -> None:
        clusterer, vectoriser = self._fresh_state(now)
        batch = represent(docs, dense, vectoriser, self.settings, observe=True)
        known = dict(clusterer.member_of)
        assignments = clusterer.learn_many(batch)
        members = _new_memberships(assignments, known)
        created = [a for a in assignments if a.created]
        touched = sorted({m.topic_id for m in members})
        try:
            with self.engine.begin() as conn:
                articles_repo.upsert_articles(conn, records, now)
                topics_repo.create_topics(conn, [a.topic_id for a in created if a.topic_id is not None], now)
                # Another writer (a second consumer group, a re-clustering) may have placed some of these
                # articles elsewhere meanwhile: the topics they leave are refreshed too, or their counts drift.
                left = set(topics_repo.memberships_of(conn, [m.article_id for m in members]).values())
                topics_repo.write_memberships(conn, members, now)
                topics_repo.refresh_stats(conn, sorted(left.union(touched)), now)
                summaries = summaries_for(conn, touched, clusterer.member_of, self.embedder, vectoriser, self.settings)
                topics_repo.save_summaries(conn, summaries, now)
                lineage_repo.record_events(conn, [_born(a, now, summaries) for a in created])
        except Exception:
            self.clusterer = None  # the in-memory state ran ahead of the store: rebuild it before the retry
            raise
        outcome.stored = len(records)
        outcome.assigned = sum(1 for a in assignments if a.topic_id is not None)
        outcome.unassigned = len(assignments) - outcome.assigned
        outcome.topics_created = len(created)


def _new_memberships(assignments: list[Assignment], known: dict[str, int]) -> list[topics_repo.Membership]:
    out: list[topics_repo.Membership] = []
    for a in assignments:
        if a.topic_id is None or known.get(a.article_id) == a.topic_id:
            continue
        out.append(topics_repo.Membership(a.article_id, a.topic_id, a.similarity, "online"))
        if a.created and a.partner:
            out.append(topics_repo.Membership(a.partner, a.topic_id, a.similarity, "online"))
    return out


def _born(a: Assignment, now: datetime, summaries: Mapping[int, TopicSummary]) -> LineageEvent:
    assert a.topic_id is not None
    summary = summaries.get(a.topic_id)
    return LineageEvent(a.topic_id, TopicEventKind.BORN, now, 2, label=summary.label if summary else "")


def dead_letter(message: RawMessage, exc: BaseException, stage: str, now: datetime) -> DeadLetterRecord:
    return DeadLetterRecord(
        source_topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        payload=message.value.decode("utf-8", "replace"),
        error_type=type(exc).__name__,
        reason=str(exc) or type(exc).__name__,
        stage=stage,
        failed_at=now,
    )
