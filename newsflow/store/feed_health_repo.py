"""Per-feed conditional-GET state and health: read before a poll, written after the broker acked it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from newsflow.store.schema import feed_health, feeds, ingest_ledger
from newsflow.store.upsert import upsert

# How many recent articles the publish->fetch delay median looks at.
_DELAY_SAMPLE = 200


@dataclass(frozen=True)
class FeedState:
    """What the poller needs from the last poll."""

    etag: str | None = None
    last_modified: str | None = None
    consecutive_failures: int = 0
    polls: int = 0
    not_modified: int = 0
    articles_published: int = 0
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    next_poll_at: datetime | None = None


def get_state(conn: Connection, name: str) -> FeedState:
    row = conn.execute(select(feed_health).where(feed_health.c.feed_name == name)).first()
    if row is None:
        return FeedState()
    return FeedState(**{f: getattr(row, f) for f in FeedState.__dataclass_fields__})


def _write(conn: Connection, name: str, values: dict[str, Any]) -> None:
    row = {"feed_name": name, **values}
    upsert(conn, feed_health, [row], ["feed_name"], [c for c in row if c != "feed_name"])


def record_success(
    conn: Connection,
    name: str,
    state: FeedState,
    *,
    at: datetime,
    etag: str | None,
    last_modified: str | None,
    not_modified: bool,
    published: int,
    next_poll_at: datetime,
    outcome: str,
) -> None:
    _write(
        conn,
        name,
        {
            "etag": etag,
            "last_modified": last_modified,
            "last_polled_at": at,
            "last_success_at": at,
            "last_error": state.last_error,  # kept for operators; consecutive_failures=0 says it is over
            "last_error_at": state.last_error_at,
            "consecutive_failures": 0,
            "next_poll_at": next_poll_at,
            "polls": state.polls + 1,
            "not_modified": state.not_modified + (1 if not_modified else 0),
            "articles_published": state.articles_published + published,
            "last_outcome": outcome,
        },
    )


def record_failure(
    conn: Connection, name: str, state: FeedState, *, at: datetime, error: str, next_poll_at: datetime
) -> int:
    """Store a named error; returns the new consecutive-failure count. Validators are kept as they were."""
    failures = state.consecutive_failures + 1
    _write(
        conn,
        name,
        {
            "etag": state.etag,
            "last_modified": state.last_modified,
            "last_polled_at": at,
            "last_success_at": state.last_success_at,
            "last_error": error,
            "last_error_at": at,
            "consecutive_failures": failures,
            "next_poll_at": next_poll_at,
            "polls": state.polls + 1,
            "not_modified": state.not_modified,
            "articles_published": state.articles_published,
            "last_outcome": "failed",
        },
    )
    return failures


@dataclass(frozen=True)
class FeedHealth:
    """One line of ``newsflow feeds health``."""

    name: str
    enabled: bool
    last_outcome: str | None
    last_success_at: datetime | None
    last_error: str | None  # "ErrorName: message"; kept after recovery, current only while failures > 0
    consecutive_failures: int
    polls: int
    not_modified: int  # polls answered 304
    not_modified_ratio: float | None
    articles_published: int  # since registration, revisions included
    articles_last_24h: int  # articles first seen from this feed in the 24 h before the report: the daily rate
    median_delay_s: float | None  # publish -> first fetch, over recent articles with a real date
    last_polled_at: datetime | None
    next_poll_at: datetime | None


def health_report(engine: Engine, now: datetime) -> list[FeedHealth]:
    query = (
        select(feeds.c.name, feeds.c.enabled, feed_health)
        .select_from(feeds.outerjoin(feed_health, feed_health.c.feed_name == feeds.c.name))
        .order_by(feeds.c.name)
    )
    with engine.connect() as conn:
        rows = list(conn.execute(query))
        recent = _recent_counts(conn, now - timedelta(hours=24), now)
        return [_health(conn, row, recent.get(row.name, 0)) for row in rows]


def _recent_counts(conn: Connection, since: datetime, until: datetime) -> dict[str, int]:
    query = (
        select(ingest_ledger.c.first_feed, func.count())
        .where(ingest_ledger.c.recorded_at >= since, ingest_ledger.c.recorded_at <= until)
        .group_by(ingest_ledger.c.first_feed)
    )
    return {feed: int(count) for feed, count in conn.execute(query)}


def _median_delay(conn: Connection, name: str) -> float | None:
    query = (
        select(ingest_ledger.c.published_at, ingest_ledger.c.recorded_at)
        .where(ingest_ledger.c.first_feed == name, ingest_ledger.c.published_at.is_not(None))
        .order_by(ingest_ledger.c.recorded_at.desc())
        .limit(_DELAY_SAMPLE)
    )
    delays = [(rec - pub).total_seconds() for pub, rec in conn.execute(query)]
    return float(statistics.median(delays)) if delays else None


def _health(conn: Connection, row: Any, last_24h: int) -> FeedHealth:
    polls = row.polls or 0
    return FeedHealth(
        name=row.name,
        enabled=bool(row.enabled),
        last_outcome=row.last_outcome,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        consecutive_failures=row.consecutive_failures or 0,
        polls=polls,
        not_modified=row.not_modified or 0,
        not_modified_ratio=(row.not_modified or 0) / polls if polls else None,
        articles_published=row.articles_published or 0,
        articles_last_24h=last_24h,
        median_delay_s=_median_delay(conn, row.name),
        last_polled_at=row.last_polled_at,
        next_poll_at=row.next_poll_at,
    )
