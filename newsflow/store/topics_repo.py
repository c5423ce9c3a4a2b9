"""Topics in the store: ids, status, summaries, statistics, and the CLI's listing.

Which article belongs to which topic is ``memberships_repo``'s.

Topic rows are created by the clusterer with ids it chose (stable ints); everything else about a
topic — counts, outlets, languages, hourly counts, first/last seen — is recomputed here from its
members (``refresh_stats``), or, for topics that only gained members, the new members are folded
into the stored values (``add_to_stats``, the worker's per-batch path: its cost does not grow with
the topic), which gives the same values. Also the ``job_runs`` bookkeeping of
the re-clustering job, which workers read to notice that topics changed under them.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select, text, update

from newsflow.records.topic import TopicMeta, TopicStatus, TopicSummary, distinct
from newsflow.store.embeddings_repo import from_bytes, to_bytes
from newsflow.store.schema import articles, job_runs, lineage_events, topic_memberships, topics
from newsflow.store.upsert import ID_CHUNK, chunked, upsert

log = logging.getLogger(__name__)


# --- ids and state --------------------------------------------------------------------------------


def max_topic_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(topics.c.id), 0))).scalar_one())


def _last_event_counts(conn: Connection) -> dict[int, int]:
    latest = (
        select(lineage_events.c.topic_id, func.max(lineage_events.c.id).label("last_id"))
        .group_by(lineage_events.c.topic_id)
        .subquery()
    )
    rows = conn.execute(
        select(lineage_events.c.topic_id, lineage_events.c.article_count).join(
            latest, lineage_events.c.id == latest.c.last_id
        )
    )
    return {r.topic_id: r.article_count for r in rows}


def load_topics(conn: Connection, statuses: Iterable[TopicStatus] | None = None) -> dict[int, TopicMeta]:
    """Topics (by default all but merged ones) with what reconciliation needs."""
    wanted = [s.value for s in (statuses or (TopicStatus.ACTIVE, TopicStatus.FADED))]
    event_counts = _last_event_counts(conn)
    rows = conn.execute(select(topics).where(topics.c.status.in_(wanted)).order_by(topics.c.id))
    out: dict[int, TopicMeta] = {}
    for r in rows:
        centroid = from_bytes(r.centroid, len(r.centroid) // 4) if r.centroid else None
        out[r.id] = TopicMeta(
            id=r.id,
            status=TopicStatus(r.status),
            first_seen=r.first_seen,
            last_seen=r.last_seen,
            article_count=r.article_count,
            last_event_count=event_counts.get(r.id, 0),
            merged_into=r.merged_into,
            centroid=centroid,
        )
    return out


# --- writes -----------------------------------------------------------------------------------------


def create_topics(conn: Connection, topic_ids: Iterable[int], at: datetime) -> None:
    """Rows for new topic ids (statistics follow from ``refresh_stats``).

    A plain INSERT on purpose: if another writer (a second worker, the re-clustering) took one of
    the ids meanwhile, the transaction fails with ``IntegrityError`` and the caller retries with
    fresh state, instead of two stories silently sharing one topic.
    """
    rows = [
        {"id": t, "label": "", "keywords": [], "entities": [], "representative_title": "", "representative_ids": [],
         "status": TopicStatus.ACTIVE.value, "first_seen": at, "last_seen": at, "article_count": 0,
         "outlet_count": 0, "outlets": [], "languages": [], "hourly_counts": {}, "updated_at": at}
        for t in sorted(set(topic_ids))
    ]  # fmt: skip
    if rows:
        conn.execute(topics.insert(), rows)


def set_status(
    conn: Connection, topic_id: int, status: TopicStatus, at: datetime, merged_into: int | None = None
) -> None:
    conn.execute(
        update(topics)
        .where(topics.c.id == topic_id)
        .values(status=status.value, merged_into=merged_into, updated_at=at)
    )


def revive_faded(conn: Connection, topic_ids: Iterable[int], at: datetime) -> dict[int, int]:
    """Faded topics among ``topic_ids`` become active again (an article joined them online, through
    topic memory); their article counts, for the ``revived`` events."""
    ids = sorted(set(topic_ids))
    if not ids:
        return {}
    faded = (topics.c.id.in_(ids)) & (topics.c.status == TopicStatus.FADED.value)
    rows = conn.execute(select(topics.c.id, topics.c.article_count).where(faded)).all()
    if rows:
        conn.execute(update(topics).where(faded).values(status=TopicStatus.ACTIVE.value, updated_at=at))
    return {r.id: r.article_count for r in rows}


def save_summaries(conn: Connection, summaries: Mapping[int, TopicSummary], at: datetime) -> None:
    for topic_id, s in summaries.items():
        values: dict[str, Any] = {
            "label": s.label,
            "keywords": list(s.keywords),
            "entities": list(s.entities),
            "representative_title": s.representative_title,
            "representative_ids": list(s.representative_ids),
            "updated_at": at,
        }
        if s.centroid is not None:
            values["centroid"] = to_bytes(s.centroid)
        conn.execute(update(topics).where(topics.c.id == topic_id).values(**values))


def refresh_stats(conn: Connection, topic_ids: Iterable[int], at: datetime) -> None:
    """Recompute counts, outlets, languages, per-hour counts and first/last seen from the members."""
    ids = sorted(set(topic_ids))
    members: dict[int, list[Any]] = defaultdict(list)
    for part in chunked(ids, ID_CHUNK):
        query = (
            select(topic_memberships.c.topic_id, articles.c.published_at, articles.c.outlet, articles.c.language)
            .join(articles, articles.c.id == topic_memberships.c.article_id)
            .where(topic_memberships.c.topic_id.in_(part))
        )
        for row in conn.execute(query):
            members[row.topic_id].append(row)
    for topic_id in ids:
        rows = members.get(topic_id, [])
        values: dict[str, Any] = {"article_count": len(rows), "updated_at": at}
        if rows:
            outlets = distinct(r.outlet for r in rows)
            hourly = Counter(r.published_at.strftime("%Y-%m-%dT%H") for r in rows)
            values |= {
                "outlets": outlets,
                "outlet_count": len(outlets),
                "languages": distinct(r.language for r in rows),
                "hourly_counts": dict(sorted(hourly.items())),
                "first_seen": min(r.published_at for r in rows),
                "last_seen": max(r.published_at for r in rows),
            }
        conn.execute(update(topics).where(topics.c.id == topic_id).values(**values))


# One key for every transaction that changes topic memberships (worker batches, re-clustering).
TOPIC_WRITES_LOCK_KEY = 0x6E657773666C6F77 & 0x7FFFFFFFFFFFFFFF  # "newsflow", as a positive bigint


def lock_topic_writes(conn: Connection) -> None:
    """Serialise membership writers (PostgreSQL transaction advisory lock; SQLite serialises writes itself).

    A worker reads where its articles were *before* it writes them and folds only new members into
    the stored statistics; a second writer (another consumer group, a re-clustering) committing in
    between would make that reading stale and a count drift. Taken first in the transaction, the lock
    makes each writer read what the previous one committed; it is released at commit or rollback.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TOPIC_WRITES_LOCK_KEY})


def add_to_stats(conn: Connection, gained: Mapping[int, Iterable[str]], at: datetime) -> None:
    """Fold new members into their topics' statistics: the same values ``refresh_stats`` recounts, at batch cost.

    Each article in ``gained[topic]`` must be stored already and must not be counted in that topic yet
    (a new membership); topics that lost members or whose members changed need ``refresh_stats``.
    The topic rows are locked first, so two writers adding to one topic cannot lose an increment.
    """
    wanted = {t: sorted(set(ids)) for t, ids in gained.items() if ids}
    if not wanted:
        return
    current: dict[int, Any] = {}
    for part in chunked(sorted(wanted), ID_CHUNK):
        query = select(topics).where(topics.c.id.in_(part)).order_by(topics.c.id).with_for_update()
        current.update({r.id: r for r in conn.execute(query)})
    added: dict[str, Any] = {}
    for part in chunked(sorted({a for ids in wanted.values() for a in ids}), ID_CHUNK):
        query = select(articles.c.id, articles.c.published_at, articles.c.outlet, articles.c.language).where(
            articles.c.id.in_(part)
        )
        added.update({r.id: r for r in conn.execute(query)})
    for topic_id, ids in sorted(wanted.items()):
        row, rows = current.get(topic_id), [added[a] for a in ids if a in added]
        if row is not None and rows:
            conn.execute(update(topics).where(topics.c.id == topic_id).values(**_merged_stats(row, rows, at)))


def _merged_stats(row: Any, rows: Sequence[Any], at: datetime) -> dict[str, Any]:
    """A topic row's statistics with ``rows`` (published_at, outlet, language) counted in."""
    empty = not row.article_count  # a new topic's first/last seen are placeholders until it has members
    hourly = Counter(dict(row.hourly_counts or {}))
    hourly.update(r.published_at.strftime("%Y-%m-%dT%H") for r in rows)
    outlets = distinct([*(row.outlets or []), *(r.outlet for r in rows)])
    times = [r.published_at for r in rows] + ([] if empty else [row.first_seen, row.last_seen])
    return {
        "article_count": row.article_count + len(rows),
        "outlets": outlets,
        "outlet_count": len(outlets),
        "languages": distinct([*(row.languages or []), *(r.language for r in rows)]),
        "hourly_counts": dict(sorted(hourly.items())),
        "first_seen": min(times),
        "last_seen": max(times),
        "updated_at": at,
    }


# --- reads for people -------------------------------------------------------------------------------


def list_topics(
    conn: Connection, limit: int = 20, min_size: int = 2, statuses: Sequence[str] = ("active",)
) -> list[dict[str, Any]]:
    """Topics with at least ``min_size`` articles, most recently active first."""
    query = (
        select(topics)
        .where(topics.c.article_count >= min_size, topics.c.status.in_(list(statuses)))
        .order_by(topics.c.last_seen.desc(), topics.c.article_count.desc(), topics.c.id)
        .limit(limit)
    )
    out = []
    for r in conn.execute(query):
        row = dict(r._mapping)
        row.pop("centroid", None)
        out.append(row)
    return out


def topic_centroids(conn: Connection, topic_ids: Iterable[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for part in chunked(sorted(set(topic_ids)), ID_CHUNK):
        for r in conn.execute(select(topics.c.id, topics.c.centroid).where(topics.c.id.in_(part))):
            if r.centroid:
                out[r.id] = from_bytes(r.centroid, len(r.centroid) // 4)
    return out


# --- job bookkeeping --------------------------------------------------------------------------------


def record_job_run(conn: Connection, job: str, at: datetime, details: Mapping[str, Any]) -> None:
    upsert(
        conn, job_runs, [{"job": job, "last_run_at": at, "details": dict(details)}], ["job"], ["last_run_at", "details"]
    )


def last_job_run(conn: Connection, job: str) -> tuple[datetime, dict[str, Any]] | None:
    row = conn.execute(select(job_runs).where(job_runs.c.job == job)).first()
    return (row.last_run_at, dict(row.details or {})) if row else None
