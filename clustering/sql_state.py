"""The topic state in the store: ``TopicReads`` and ``TopicWrites`` (``topic_state.py``) over the repositories.

Reads open their own connection; ``SqlTopicWrites`` works inside the caller's transaction, so a batch or
a plan is written whole or not at all.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine

from clustering.embedding.embed import CachedEmbedder
from clustering.labelling.labels import LabelParams, summarise
from clustering.recent_members import SUMMARY_MEMBERS, RecentMembers
from clustering.representation.corpus import CorpusParams, corpus_frequencies
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from clustering.topic_state import remember
from clustering.window import Window, represent_window, window_start
from newsflow.records.doc import Doc
from newsflow.records.topic import LineageEvent, Membership, TopicStatus, TopicSummary
from newsflow.settings import Settings
from newsflow.store import articles_repo, lineage_repo, memberships_repo, topics_repo

log = logging.getLogger(__name__)
RECLUSTER_JOB = "recluster"


class SqlTopicState:
    """``TopicReads`` from the store; vectors from the embedding cache (the members were embedded when stored)."""

    def __init__(self, engine: Engine, embedder: CachedEmbedder, settings: Settings) -> None:
        self.engine = engine
        self.embedder = embedder
        self.settings = settings

    def remembered_members(self, start: datetime, until: datetime, per_topic: int, total: int) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            return memberships_repo.remembered_members(conn, start, until, per_topic, total)

    def unassigned_ids(self, start: datetime, until: datetime, limit: int) -> list[str]:
        with self.engine.connect() as conn:
            return articles_repo.unassigned_ids(conn, start, until, limit)

    def represent_articles(self, article_ids: Sequence[str], vectoriser: SparseVectoriser) -> Batch:
        with self.engine.connect() as conn:
            by_id = {d.id: d for d in articles_repo.docs_by_id(conn, article_ids)}
        docs = [by_id[a] for a in article_ids]
        dense = self.embedder.embed([d.dense_text(self.settings) for d in docs])
        return represent(docs, dense, vectoriser, RepresentParams.from_settings(self.settings), observe=False)


class SqlTopicWrites:
    """``TopicWrites`` on one connection, inside the caller's transaction. ``write_seqs``: the membership
    write sequence numbers taken (workers read other writers' memberships by them)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.write_seqs: list[int] = []

    def create_topics(self, topic_ids: Iterable[int], now: datetime) -> None:
        topics_repo.create_topics(self.conn, topic_ids, now)

    def write_memberships(self, members: Sequence[Membership], now: datetime) -> None:
        if (seq := memberships_repo.write_memberships(self.conn, members, now)) is not None:
            self.write_seqs.append(seq)

    def delete_memberships(self, article_ids: Iterable[str]) -> None:
        memberships_repo.delete_memberships(self.conn, article_ids)

    def move_members(self, from_topic: int, to_topic: int, now: datetime) -> None:
        memberships_repo.move_members(self.conn, from_topic, to_topic, now)

    def set_status(self, topic_id: int, status: TopicStatus, now: datetime, merged_into: int | None) -> None:
        topics_repo.set_status(self.conn, topic_id, status, now, merged_into=merged_into)

    def refresh_stats(self, topic_ids: Iterable[int], now: datetime) -> None:
        topics_repo.refresh_stats(self.conn, topic_ids, now)

    def save_summaries(
        self, summaries: Mapping[int, TopicSummary], centroids: Mapping[int, np.ndarray], now: datetime
    ) -> None:
        topics_repo.save_summaries(self.conn, summaries, now)  # (the centroids are the summaries')

    def record_events(self, events: Sequence[LineageEvent]) -> None:
        lineage_repo.record_events(self.conn, events)


def load_window(
    engine: Engine, embedder: CachedEmbedder, settings: Settings, now: datetime, *, until: datetime | None = None
) -> Window:
    """The articles of the window with their memberships and the known topics (embeddings from the cache).

    ``until``: the newest publication time to load (None: all). The re-clustering passes its ``now``, so a
    run for an earlier interval (a re-run, a backfill, a run that starts late) plans against that
    interval's articles, not those published since; the worker loads everything it may have to join
    (a feed's clock may run up to an hour ahead)."""
    since = window_start(now, settings)
    with engine.connect() as conn:
        docs = articles_repo.window_docs(conn, since, until=until)
        memberships = memberships_repo.window_memberships(conn, since, until=until)
        topics = topics_repo.load_topics(conn)
    dense = embedder.embed([d.dense_text(settings) for d in docs])
    counting = CorpusParams.from_settings(settings)
    corpus = corpus_frequencies(engine, counting) if settings.document_frequencies == "corpus" else None
    batch, vectoriser = represent_window(docs, dense, settings, corpus=corpus)
    window = Window(batch=batch, vectoriser=vectoriser, memberships=memberships, topics=topics)
    remember(SqlTopicState(engine, embedder, settings), window, now, settings)
    log.info(
        "window since %s: %d articles, %d topics, %d remembered articles",
        since.isoformat(timespec="minutes"), len(docs), len(topics), len(window.remembered_topics),
    )  # fmt: skip
    return window


def next_topic_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return topics_repo.max_topic_id(conn) + 1


def recluster_marker(engine: Engine) -> object:
    """Changes whenever a re-clustering was committed (workers reload their state then)."""
    with engine.connect() as conn:
        return topics_repo.last_job_run(conn, RECLUSTER_JOB)


def summaries_for(
    conn: Connection,
    topic_ids: Iterable[int],
    members: Mapping[str, int],
    embedder: CachedEmbedder,
    vectoriser: SparseVectoriser,
    settings: Settings,
    max_members: int = SUMMARY_MEMBERS,
    recent: RecentMembers | None = None,
) -> dict[int, TopicSummary]:
    """Summaries of some topics from their (most recent) members in ``members`` (article → topic).

    With ``recent`` (kept in step with ``members``) the most recent members are looked up instead of
    scanned for, so the cost does not grow with the topics or the window; the summaries are the same.
    """
    wanted = set(topic_ids)
    ids_of: dict[int, list[str]] = {}
    for topic_id in wanted:
        found = recent.newest(topic_id, members) if recent is not None and recent.limit >= max_members else None
        if found is not None:
            ids_of[topic_id] = found
    if wanted - ids_of.keys():
        scanned: dict[int, list[str]] = defaultdict(list)
        for article_id, topic_id in members.items():
            if topic_id in wanted and topic_id not in ids_of:
                scanned[topic_id].append(article_id)
        ids_of.update(scanned)
    docs = {d.id: d for d in articles_repo.docs_by_id(conn, [a for ids in ids_of.values() for a in ids])}
    chosen_of: dict[int, list[Doc]] = {}
    for topic_id, ids in sorted(ids_of.items()):
        chosen = sorted((docs[a] for a in ids if a in docs), key=lambda d: (d.published, d.id))[-max_members:]
        if chosen:
            chosen_of[topic_id] = chosen
    # One lookup for every topic's members (cache hits: members were embedded), not one per topic.
    texts_of = {topic_id: [d.dense_text(settings) for d in chosen] for topic_id, chosen in chosen_of.items()}
    row = {text: i for i, text in enumerate(dict.fromkeys(t for texts in texts_of.values() for t in texts))}
    vectors = embedder.embed(list(row))
    labelling = LabelParams.from_settings(settings)
    return {
        topic_id: summarise(chosen, vectors[[row[t] for t in texts_of[topic_id]]], vectoriser, labelling)
        for topic_id, chosen in chosen_of.items()
    }
