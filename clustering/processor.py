"""One micro-batch of article messages: decode, embed, assign, and write it all in one transaction.

Takes plain ``RawMessage``s (no Kafka types), so tests drive it directly. Bad messages come back as
``DeadLetterRecord``s with the reason and the original payload — a record that breaks the contract,
has no usable text, or makes the embedder fail — and the rest of the batch goes on. A message whose
revision is already stored is skipped: replays change nothing. A new revision of a topic member is
re-decided online (``OnlineClusterer.revise_one``, from the stored old revision read before the
upsert): it stays, moves to another topic (the old one recounted), or leaves its topic for the
unassigned pool (its membership deleted); same embedding and tokens: nothing changes. A topic left
with no member drops out of the online index; its row stays, recounted, and fades in time, as with
the re-clustering when it removes a topic's members.

Vectors come from the embedding cache where it holds the text (a replay, an unchanged revision, the
same text from another feed), from the original for a syndicated near-copy (``reuse.py``), and
only otherwise from the model; ``BatchOutcome.vectors`` counts each kind (the worker sums them).

The online state (topic centroids, unassigned pool) is loaded from the store's window and reloaded
after a re-clustering was committed elsewhere. Before each batch it also takes in what other
writers stored since its last look (workers of one group share the partitions, so the articles of
one story reach several of them): their new members and topics, read by the membership write
sequence; a member held here that they moved or removed makes it reload. New topic ids collide only
if another writer took them in between, which fails the transaction and retries the batch on fresh
state.
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from clustering.embedding.embed import CachedEmbedder, EmbeddingError
from clustering.embedding.reuse import EmbedCounts, plan_reuse
from clustering.online.assign import Assignment, OnlineClusterer
from clustering.online.online_state import build_clusterer
from clustering.recent_members import SUMMARY_MEMBERS, RecentMembers
from clustering.representation.corpus import count_articles
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent, take_rows
from clustering.revisions import changed_revisions
from clustering.sql_state import SqlTopicWrites, load_window, next_topic_id, recluster_marker, summaries_for
from clustering.topic_state import online_writes
from clustering.window import window_start
from newsflow import heap
from newsflow.contracts import ArticleRecord, DeadLetterRecord, TopicEventKind, decode
from newsflow.errors import RecordError
from newsflow.records.doc import Doc
from newsflow.records.topic import LineageEvent, Membership, TopicSummary
from newsflow.settings import Settings
from newsflow.store import articles_repo, lineage_repo, memberships_repo, topics_repo
from newsflow.store.articles_repo import doc_from_record
from newsflow.store.memberships_repo import MembershipChange

log = logging.getLogger(__name__)
_RETRIES = 6
_RETRY_PAUSE_S = 0.05  # the first retry waits up to this long, each next one up to twice as long


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
    vectors: EmbedCounts = field(default_factory=EmbedCounts)  # forward passes, cache hits, reuses


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
        self.recent = RecentMembers(SUMMARY_MEMBERS)
        self._marker: object = None
        self._seen_seq = 0  # membership writes up to this sequence number are in the online state

    # --- state -------------------------------------------------------------------------------------

    def reload(self, now: datetime) -> None:
        """Rebuild the online state from the store's window (start-up, after a re-clustering, after a conflict)."""
        self._marker = recluster_marker(self.engine)
        with self.engine.connect() as conn:
            self._seen_seq = memberships_repo.last_write_seq(conn)  # read first: later writes are absorbed
        self.clusterer = None  # released before the new state is built, or a reload would hold both
        window = load_window(self.engine, self.embedder, self.settings, now)
        self.vectoriser = window.vectoriser
        self.clusterer = build_clusterer(window, self.settings, next_topic_id(self.engine), self.embedder.dim)
        self.recent = RecentMembers(SUMMARY_MEMBERS)
        remembered = window.remembered.docs if window.remembered is not None else []
        for doc in [*remembered, *window.batch.docs]:  # (remembered members summarise their topics too)
            if (topic_id := self.clusterer.member_of.get(doc.id)) is not None:
                self.recent.note(topic_id, doc.id, doc.published)
        del window, remembered
        heap.trim()  # the window's rows were read into the heap and are freed now

    def _fresh_state(self, now: datetime) -> tuple[OnlineClusterer, SparseVectoriser]:
        if self.clusterer is None or recluster_marker(self.engine) != self._marker:
            self.reload(now)
        else:
            self._absorb_other_writers(now)
        assert self.clusterer is not None and self.vectoriser is not None
        return self.clusterer, self.vectoriser

    def _absorb_other_writers(self, now: datetime) -> None:
        """Take in the members other writers stored since the last look, so a story another worker
        started is joined here instead of being started twice; rebuild if they moved or removed one
        held here (its centroid would go on counting it)."""
        assert self.clusterer is not None and self.vectoriser is not None
        member_of = self.clusterer.member_of
        with self.engine.connect() as conn:
            written = memberships_repo.changes_since(conn, self._seen_seq)
            if not written:
                return
            stale = _contradicted(written, member_of)
            foreign = {c.article_id: c.topic_id for c in written if not c.removed and c.article_id not in member_of}
            since = window_start(now, self.settings)
            docs = [] if stale else [d for d in articles_repo.docs_by_id(conn, foreign) if d.published >= since]
        if stale:  # one of ours placed elsewhere (a replay by another group) or revised out of its topic: rare
            log.info("another writer moved or removed %d members known here; reloading the online state", stale)
            self.reload(now)
            return
        self._seen_seq = written[-1].write_seq
        if not docs:
            return
        dense = self.embedder.embed([d.dense_text(self.settings) for d in docs])  # cached by their writer
        batch = represent(docs, dense, self.vectoriser, RepresentParams.from_settings(self.settings))
        self.clusterer.absorb(batch, [foreign[d.id] for d in docs])
        for d in docs:
            self.recent.note(foreign[d.id], d.id, d.published)
        topics = {foreign[d.id] for d in docs}
        log.info("took in %d members stored by other writers (%d topics)", len(docs), len(topics))

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
            docs, dense = self._embed(fresh, stored, now, outcome)
            for attempt in range(_RETRIES):
                try:
                    self._assign_and_store(docs, dense, [fresh[d.id][1] for d in docs], now, outcome)
                    break
                except IntegrityError:
                    if attempt == _RETRIES - 1:
                        raise
                    log.info("topic id taken by another writer; reloading state and retrying the batch")
                    self.clusterer = None
                    # Two writers on one stream run in step: without a random pause the other one
                    # takes the ids again at every retry (seen once the model ran ahead and a batch's
                    # time went into the assignment itself; tests/faults, two consumer groups).
                    time.sleep(random.uniform(0.0, _RETRY_PAUSE_S * 2**attempt))
        outcome.active_topics = len(self.clusterer.topics) if self.clusterer else 0
        return outcome

    def prefetch(self, messages: Sequence[RawMessage]) -> None:
        """Start the forward pass of a coming batch's texts in the background (``lookahead.py``), so
        the model works on it while this batch is assigned and stored; its ``process`` then finds the
        vectors. Messages that do not decode are left to ``process`` to dead-letter."""
        records = self._decode(messages, self.clock(), BatchOutcome())
        try:
            self.embedder.prefetch([doc_from_record(r).dense_text(self.settings) for _, r in records.values()])
        except DBAPIError as exc:  # the cache lookup: ``process`` meets the outage and rides it out
            log.info("no forward pass ahead: the store is unreachable (%s)", type(exc.orig).__name__)

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
        self,
        fresh: dict[str, tuple[RawMessage, ArticleRecord]],
        stored: Mapping[str, int],
        now: datetime,
        outcome: BatchOutcome,
    ) -> tuple[list[Doc], np.ndarray]:
        """The batch's vectors: from the cache, borrowed (near-copies, ``reuse.py``) or from the model."""
        docs = [doc_from_record(r) for _, r in fresh.values()]
        texts = [d.dense_text(self.settings) for d in docs]
        plan = plan_reuse(self.engine, self.settings, docs, texts, stored)
        try:
            got = self.embedder.embed_reusing(texts, plan.sources)
            outcome.vectors = plan.count(got)
            return docs, got.vectors
        except EmbeddingError as exc:  # a model failure: isolate the culprit below
            log.warning("embedding the batch failed (%s); retrying one by one", exc)
        kept: list[Doc] = []
        rows: list[np.ndarray] = []
        for i, (doc, text) in enumerate(zip(docs, texts, strict=True)):
            try:
                one = self.embedder.embed_reusing([text], {0: plan.sources[i]} if i in plan.sources else None)
                outcome.vectors += plan.count(one, [i])
                rows.append(one.vectors[0])
                kept.append(doc)
            except EmbeddingError as exc:  # this article cannot be embedded: dead letter, go on
                outcome.dead_letters.append(dead_letter(fresh[doc.id][0], exc, "embed", now))
        dense = np.stack(rows) if rows else np.zeros((0, self.embedder.dim), dtype=np.float32)
        return kept, dense

    def _assign_and_store(
        self, docs: list[Doc], dense: np.ndarray, records: list[ArticleRecord], now: datetime, outcome: BatchOutcome
    ) -> None:
        clusterer, vectoriser = self._fresh_state(now)
        known = {d.id: clusterer.member_of[d.id] for d in docs if d.id in clusterer.member_of}  # not O(window)
        batch = represent(docs, dense, vectoriser, RepresentParams.from_settings(self.settings), observe=True)
        previous = changed_revisions(self.engine, self.embedder, self.settings, vectoriser, batch, known)  # pre-upsert
        assignments = clusterer.learn_many(batch, previous=previous)
        online = online_writes(assignments, known)
        members = online.members
        left = [a for a in known if a not in clusterer.member_of]  # revised out of their topic, now pooled
        created = [a for a in assignments if a.created]
        # Summaries of the topics that gained or lost a member, or hold one with a new text.
        revised = {clusterer.member_of[a] for a in previous if a in clusterer.member_of}
        touched = sorted({m.topic_id for m in members} | {a.left for a in assignments if a.left is not None} | revised)
        try:
            with self.engine.begin() as conn:
                topics_repo.lock_topic_writes(conn)
                # Where these articles were before (another writer, a second consumer group or a
                # re-clustering, may have placed some elsewhere meanwhile), and what a revision changes.
                ids = [r.id for r in records] + [m.article_id for m in members]
                before = memberships_repo.memberships_of(conn, ids)
                changed = articles_repo.changed_stats_fields(conn, [r for r in records if r.id in before])
                self._count_new_articles(conn, batch)
                articles_repo.upsert_articles(conn, records, now)
                writes = SqlTopicWrites(conn)
                writes.create_topics(online.created, now)
                writes.write_memberships(members, now)
                seqs = [*writes.write_seqs, memberships_repo.remove_members(conn, left, now)]
                self._update_stats(conn, members, before, changed | set(left), now)
                revived = topics_repo.revive_faded(conn, {m.topic_id for m in members}, now)
                self._note_recent(conn, docs, members, clusterer.member_of)
                summaries = summaries_for(
                    conn, touched, clusterer.member_of, self.embedder, vectoriser, self.settings,
                    max_members=self.recent.limit, recent=self.recent,
                )  # fmt: skip
                topics_repo.save_summaries(conn, summaries, now)
                lineage_repo.record_events(
                    conn,
                    [_born(a, now, summaries) for a in created] + _revived(revived, now, summaries),
                )
        except Exception:
            self.clusterer = None  # the in-memory state ran ahead of the store: rebuild it before the retry
            raise
        ours = [seq for seq in seqs if seq is not None]  # consecutive: writers hold the write lock
        if ours and ours[0] == self._seen_seq + 1:
            self._seen_seq = ours[-1]  # nobody wrote in between: no need to read our own rows back
        outcome.stored = len(records)
        outcome.assigned = sum(1 for a in assignments if a.topic_id is not None)
        outcome.unassigned = len(assignments) - outcome.assigned
        outcome.topics_created = len(created)

    def _count_new_articles(self, conn: Connection, batch: Batch) -> None:
        """The corpus's document frequencies (``clustering.representation.corpus``) count an article once: when it is
        first stored. Read under the write lock, so a replay or another worker's copy adds nothing."""
        if self.settings.document_frequencies != "corpus":
            return
        stored = articles_repo.stored_revisions(conn, [d.id for d in batch.docs])
        new = [i for i, d in enumerate(batch.docs) if d.id not in stored]
        if new:
            count_articles(conn, take_rows(batch.counts, new))

    @staticmethod
    def _update_stats(
        conn: Connection,
        members: list[Membership],
        before: dict[str, int],
        changed: set[str],
        now: datetime,
    ) -> None:
        """Statistics of the topics this batch changed: new members folded in; the topics in ``before``
        of ``changed`` (a member left, a revision with another time, outlet or language) and of moved
        members recounted."""
        recount = {before[a] for a in changed if a in before}
        gained: dict[int, list[str]] = defaultdict(list)
        for m in members:
            previous = before.get(m.article_id)
            if previous == m.topic_id:
                continue  # already counted there
            if previous is not None:
                recount.add(previous)  # it left that topic
            gained[m.topic_id].append(m.article_id)
        topics_repo.refresh_stats(conn, recount, now)
        topics_repo.add_to_stats(conn, {t: ids for t, ids in gained.items() if t not in recount}, now)

    def _note_recent(
        self, conn: Connection, docs: list[Doc], members: list[Membership], member_of: Mapping[str, int]
    ) -> None:
        """Keep ``recent`` in step: new members, and members whose revision may have another time."""
        published = {d.id: d.published for d in docs}
        missing = [m.article_id for m in members if m.article_id not in published]  # pooled partners
        published |= {d.id: d.published for d in articles_repo.docs_by_id(conn, missing)}
        for m in members:
            self.recent.note(m.topic_id, m.article_id, published[m.article_id])
        for d in docs:  # (noting a new member twice changes nothing)
            if (topic_id := member_of.get(d.id)) is not None:
                self.recent.note(topic_id, d.id, d.published)


def _born(a: Assignment, now: datetime, summaries: Mapping[int, TopicSummary]) -> LineageEvent:
    assert a.topic_id is not None
    summary = summaries.get(a.topic_id)
    return LineageEvent(a.topic_id, TopicEventKind.BORN, now, 2, label=summary.label if summary else "")


def _revived(counts: Mapping[int, int], now: datetime, summaries: Mapping[int, TopicSummary]) -> list[LineageEvent]:
    return [
        LineageEvent(t, TopicEventKind.REVIVED, now, n, label=summaries[t].label if t in summaries else "")
        for t, n in sorted(counts.items())
    ]


def _contradicted(written: Sequence[MembershipChange], member_of: Mapping[str, int]) -> int:
    """How many members held here another writer placed in another topic or removed. Any removal of
    one counts, whatever topic it names: the store then holds no membership for it. Removals of
    articles not held here (this worker's own among them) change nothing."""
    return sum(1 for c in written if c.article_id in member_of and (c.removed or member_of[c.article_id] != c.topic_id))


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
