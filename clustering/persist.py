"""The store edge of clustering: read the window, write what the stages decided, publish lineage.

Used by the worker and by ``recluster_now``; the evaluation keeps the same data in memory instead.
Each write function runs inside the caller's transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection, Engine

from clustering.embedding.embed import CachedEmbedder
from clustering.labelling.labels import LabelParams, summarise
from clustering.representation.corpus import CorpusParams, corpus_frequencies
from clustering.representation.represent import RepresentParams, SparseVectoriser, represent
from clustering.window import UNASSIGNED, Window, memory_start, pool_room, represent_window, window_start
from newsflow.contracts import Record
from newsflow.kafka import Producer, make_producer, publish, topic_names
from newsflow.records.topic import TopicSummary
from newsflow.settings import Settings
from newsflow.store import articles_repo, lineage_repo, memberships_repo, topics_repo

log = logging.getLogger(__name__)
RECLUSTER_JOB = "recluster"
SUMMARY_MEMBERS = 200  # a topic's summary reads its most recent members, at most this many


def load_window(engine: Engine, embedder: CachedEmbedder, settings: Settings, now: datetime) -> Window:
    """The articles of the window with their memberships and the known topics (embeddings from the cache)."""
    since = window_start(now, settings)
    with engine.connect() as conn:
        docs = articles_repo.window_docs(conn, since)
        memberships = memberships_repo.window_memberships(conn, since)
        topics = topics_repo.load_topics(conn)
    dense = embedder.embed([d.dense_text(settings) for d in docs])
    counting = CorpusParams.from_settings(settings)
    corpus = corpus_frequencies(engine, counting) if settings.document_frequencies == "corpus" else None
    batch, vectoriser = represent_window(docs, dense, settings, corpus=corpus)
    window = Window(batch=batch, vectoriser=vectoriser, memberships=memberships, topics=topics)
    _remember(engine, embedder, settings, now, window)
    log.info(
        "window since %s: %d articles, %d topics, %d remembered articles",
        since.isoformat(timespec="minutes"), len(docs), len(topics), len(window.remembered_topics),
    )  # fmt: skip
    return window


def _remember(engine: Engine, embedder: CachedEmbedder, settings: Settings, now: datetime, window: Window) -> None:
    """Topic memory: the newest members from before the window of topics not merged away, and the
    newest unassigned articles from then, as many as the seeding pool has room for."""
    start = memory_start(now, settings)
    if start is None:
        return
    since, room = window_start(now, settings), pool_room(len(window.batch) - len(window.memberships), settings)
    with engine.connect() as conn:
        members = memberships_repo.remembered_members(
            conn, start, since, settings.topic_memory_members, settings.topic_memory_max_members
        )
        kept = [(a, t) for a, t in members if t in window.topics]
        kept += [(a, UNASSIGNED) for a in articles_repo.unassigned_ids(conn, start, since, room)]
        by_id = {d.id: d for d in articles_repo.docs_by_id(conn, [a for a, _ in kept])}
    if not kept:
        return
    docs = [by_id[a] for a, _ in kept]
    dense = embedder.embed([d.dense_text(settings) for d in docs])
    params = RepresentParams.from_settings(settings)
    window.remembered = represent(docs, dense, window.vectoriser, params, observe=False)
    window.remembered_topics = [t for _, t in kept]


def next_topic_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return topics_repo.max_topic_id(conn) + 1


def recluster_marker(engine: Engine) -> object:
    """Changes whenever a re-clustering was committed (workers reload their state then)."""
    with engine.connect() as conn:
        return topics_repo.last_job_run(conn, RECLUSTER_JOB)


class RecentMembers:
    """The most recent members of each topic by (published, id), kept as the worker learns them.

    ``summaries_for`` summarises a topic from its ``limit`` most recent members; finding them by a scan
    of every member costs O(window) per batch. This keeps, per topic, the newest ``limit`` entries plus
    anything seen since (a revised article is noted again with its new time), and the highest key it
    ever dropped (``floor``): a member it does not hold is never newer than that. Entries are checked
    against the live membership map when read, so an article that left the topic is just skipped;
    when too few entries above the floor remain, ``newest`` answers None and the caller scans.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._keys: dict[int, dict[str, datetime]] = defaultdict(dict)
        self._floor: dict[int, tuple[datetime, str]] = {}

    def note(self, topic_id: int, article_id: str, published: datetime) -> None:
        keys = self._keys[topic_id]
        keys[article_id] = published
        if len(keys) > 2 * self.limit:  # amortised: prune to the newest ``limit`` only now and then
            ordered = sorted((p, a) for a, p in keys.items())
            dropped, kept = ordered[: -self.limit], ordered[-self.limit :]
            self._floor[topic_id] = max(dropped[-1], self._floor.get(topic_id, dropped[-1]))
            self._keys[topic_id] = {a: p for p, a in kept}

    def newest(self, topic_id: int, members: Mapping[str, int]) -> list[str] | None:
        """Ids of the topic's ``limit`` most recent members in ``members``, or None if it cannot tell."""
        floor = self._floor.get(topic_id)
        live = sorted((p, a) for a, p in self._keys.get(topic_id, {}).items() if members.get(a) == topic_id)
        chosen = live[-self.limit :]
        if floor is not None and (len(chosen) < self.limit or chosen[0] <= floor):
            return None
        return [a for _, a in chosen]


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
    out: dict[int, TopicSummary] = {}
    labelling = LabelParams.from_settings(settings)
    for topic_id, ids in sorted(ids_of.items()):
        chosen = sorted((docs[a] for a in ids if a in docs), key=lambda d: (d.published, d.id))[-max_members:]
        if not chosen:
            continue
        dense = embedder.embed([d.dense_text(settings) for d in chosen])  # cache hits: members were embedded
        out[topic_id] = summarise(chosen, dense, vectoriser, labelling)
    return out


def publish_pending_events(
    engine: Engine, settings: Settings, now: datetime, producer: Producer | None = None
) -> int:
    """Send lineage events not yet on the topic-events topic, keyed by topic id; mark them sent."""
    with engine.connect() as conn:
        events = lineage_repo.pending(conn)
    if not events:
        return 0
    kafka = producer or make_producer(settings, client_id="newsflow-lineage")
    try:
        pairs: list[tuple[str, Record]] = [(str(e.event.topic_id), e.to_record()) for e in events]
        publish(kafka, topic_names(settings).topic_events, pairs, timeout_s=settings.kafka_request_timeout_ms / 1000)
    finally:
        if producer is None:
            kafka.close()
    with engine.begin() as conn:
        lineage_repo.mark_published(conn, [e.id for e in events], now)
    log.info("published %d lineage events", len(events))
    return len(events)
