"""The store edge of clustering: read the window, write what the stages decided, publish lineage.

Used by the worker and by ``recluster_now``; the evaluation keeps the same data in memory instead.
Each write function runs inside the caller's transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from kafka import KafkaProducer
from sqlalchemy import Connection, Engine

from clustering.embed import CachedEmbedder
from clustering.labels import summarise
from clustering.represent import SparseVectoriser
from clustering.topics import TopicSummary
from clustering.window import Window, represent_window, window_start
from newsflow.contracts import Record
from newsflow.kafka_io import make_producer, publish, topic_names
from newsflow.settings import Settings
from newsflow.store import articles_repo, lineage_repo, topics_repo

log = logging.getLogger(__name__)
RECLUSTER_JOB = "recluster"


def load_window(engine: Engine, embedder: CachedEmbedder, settings: Settings, now: datetime) -> Window:
    """The articles of the window with their memberships and the known topics (embeddings from the cache)."""
    since = window_start(now, settings)
    with engine.connect() as conn:
        docs = articles_repo.window_docs(conn, since)
        memberships = topics_repo.window_memberships(conn, since)
        topics = topics_repo.load_topics(conn)
    dense = embedder.embed([d.dense_text(settings) for d in docs])
    batch, vectoriser = represent_window(docs, dense, settings)
    log.info("window since %s: %d articles, %d topics", since.isoformat(timespec="minutes"), len(docs), len(topics))
    return Window(batch=batch, vectoriser=vectoriser, memberships=memberships, topics=topics)


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
    max_members: int = 200,
) -> dict[int, TopicSummary]:
    """Summaries of some topics from their (most recent) members in ``members`` (article → topic)."""
    wanted = set(topic_ids)
    ids_of: dict[int, list[str]] = defaultdict(list)
    for article_id, topic_id in members.items():
        if topic_id in wanted:
            ids_of[topic_id].append(article_id)
    docs = {d.id: d for d in articles_repo.docs_by_id(conn, [a for ids in ids_of.values() for a in ids])}
    out: dict[int, TopicSummary] = {}
    for topic_id, ids in ids_of.items():
        chosen = sorted((docs[a] for a in ids if a in docs), key=lambda d: (d.published, d.id))[-max_members:]
        if not chosen:
            continue
        dense = embedder.embed([d.dense_text(settings) for d in chosen])  # cache hits: members were embedded
        out[topic_id] = summarise(chosen, dense, vectoriser, settings)
    return out


def publish_pending_events(
    engine: Engine, settings: Settings, now: datetime, producer: KafkaProducer | None = None
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
