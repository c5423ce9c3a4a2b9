"""Per-story provenance: which outlet reported a topic first, and how far behind each other outlet was.

An article's report time is its publication time, except where that is not to be trusted: a
feed without publication times (``published_is_fallback``) or a publication time in the future
of when the article was fetched (beyond ``FUTURE_TOLERANCE``, for clock skew). Then the fetch
time is used, and each outlet's entry says which time it is (``time_source``).

``provenance_of`` is the pure computation over member rows; ``topic_provenance`` reads one
topic's, ``outlet_leaderboard`` the topics active in a time range (as ``topics list --since``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from newsflow.errors import TopicNotFoundError
from newsflow.query.summaries import iso
from newsflow.store.schema import articles, topic_memberships, topics

FUTURE_TOLERANCE = timedelta(minutes=5)
PUBLISHED = "published"
FETCHED_NO_TIME = "fetched (no publication time)"
FETCHED_FUTURE = "fetched (publication time in the future)"
MIN_OUTLETS = 2  # a story one outlet alone covers has no "first"
MAX_LEADERBOARD_TOPICS = 5000  # bound on the topics one leaderboard reads (the most recently active)


def report_time(
    published_at: datetime, published_is_fallback: bool, fetched_at: datetime, tolerance: timedelta = FUTURE_TOLERANCE
) -> tuple[datetime, str]:
    """When an article was reported, and from which of its times (``PUBLISHED`` or one of the ``FETCHED_*``)."""
    if published_is_fallback:
        return fetched_at, FETCHED_NO_TIME
    if published_at > fetched_at + tolerance:
        return fetched_at, FETCHED_FUTURE
    return published_at, PUBLISHED


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


def provenance_of(rows: Iterable[Any], tolerance: timedelta = FUTURE_TOLERANCE) -> dict[str, Any]:
    """Provenance of one story from its articles (rows with ``outlet``, ``published_at``,
    ``published_is_fallback``, ``fetched_at``).

    ``{"first_outlet", "first_at", "outlets": [{"outlet", "first_at", "lag_minutes", "time_source",
    "first", "articles"}]}``, outlets earliest first (ties by name); ``first`` is true for every outlet
    at the earliest time (``first_outlet`` is the first of them by name). No rows: no first outlet.
    """
    earliest: dict[str, tuple[datetime, str]] = {}
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        at, source = report_time(row.published_at, bool(row.published_is_fallback), row.fetched_at, tolerance)
        counts[row.outlet] += 1
        if row.outlet not in earliest or at < earliest[row.outlet][0]:
            earliest[row.outlet] = (at, source)
    order = sorted(earliest, key=lambda outlet: (earliest[outlet][0], outlet))
    if not order:
        return {"first_outlet": None, "first_at": None, "outlets": []}
    start = earliest[order[0]][0]
    outlets = [
        {
            "outlet": outlet,
            "first_at": iso(earliest[outlet][0]),
            "lag_minutes": _minutes(earliest[outlet][0] - start),
            "time_source": earliest[outlet][1],
            "first": earliest[outlet][0] == start,
            "articles": counts[outlet],
        }
        for outlet in order
    ]
    return {"first_outlet": order[0], "first_at": iso(start), "outlets": outlets}


def _report_columns() -> list[Any]:
    return [articles.c.outlet, articles.c.published_at, articles.c.published_is_fallback, articles.c.fetched_at]


def topic_provenance(conn: Connection, topic_id: int) -> dict[str, Any]:
    """The provenance of one topic (``TopicNotFoundError`` for an unknown id); see ``provenance_of``."""
    if conn.execute(select(topics.c.id).where(topics.c.id == topic_id)).first() is None:
        raise TopicNotFoundError(f"no topic with id {topic_id}")
    return members_provenance(conn, topic_id)


def members_provenance(conn: Connection, topic_id: int) -> dict[str, Any]:
    """The provenance of one topic's member articles (none for an unknown id)."""
    query = (
        select(*_report_columns())
        .join(topic_memberships, topic_memberships.c.article_id == articles.c.id)
        .where(topic_memberships.c.topic_id == topic_id)
    )
    return provenance_of(conn.execute(query).all())


def leaderboard_of(stories: Iterable[dict[str, Any]], min_outlets: int = MIN_OUTLETS) -> list[dict[str, Any]]:
    """Per outlet over the stories' provenances (those with at least ``min_outlets`` outlets): stories
    first-reported, stories covered, the median lag in minutes over the stories it was not first on
    (None if it was first on all), and on how many stories its time was a fetch time.

    Most first reports first, then most covered, then by name.
    """
    first: dict[str, int] = defaultdict(int)
    covered: dict[str, int] = defaultdict(int)
    fetched: dict[str, int] = defaultdict(int)
    lags: dict[str, list[float]] = defaultdict(list)
    for story in stories:
        if len(story["outlets"]) < min_outlets:
            continue
        for entry in story["outlets"]:
            outlet = entry["outlet"]
            covered[outlet] += 1
            fetched[outlet] += entry["time_source"] != PUBLISHED
            if entry["first"]:
                first[outlet] += 1
            else:
                lags[outlet].append(entry["lag_minutes"])
    rows = [
        {
            "outlet": outlet,
            "first_reported": first[outlet],
            "covered": covered[outlet],
            "median_lag_minutes": round(statistics.median(lags[outlet]), 1) if lags[outlet] else None,
            "fetch_times": fetched[outlet],
        }
        for outlet in covered
    ]
    return sorted(rows, key=lambda r: (-r["first_reported"], -r["covered"], r["outlet"]))


def outlet_leaderboard(
    conn: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    min_outlets: int = MIN_OUTLETS,
    max_topics: int = MAX_LEADERBOARD_TOPICS,
) -> dict[str, Any]:
    """The outlet leaderboard over the topics active in [since, until] (last seen at or after ``since``,
    first seen at or before ``until``; merged topics left out) covered by at least ``min_outlets`` outlets.

    ``{"since", "until", "topics", "outlets": [...]}`` (see ``leaderboard_of``); at most ``max_topics``
    topics, the most recently active.
    """
    where = [topics.c.status != "merged", topics.c.outlet_count >= min_outlets]
    if since is not None:
        where.append(topics.c.last_seen >= since)
    if until is not None:
        where.append(topics.c.first_seen <= until)
    chosen = select(topics.c.id).where(*where).order_by(topics.c.last_seen.desc(), topics.c.id).limit(max_topics)
    query = (
        select(topic_memberships.c.topic_id, *_report_columns())
        .join(topic_memberships, topic_memberships.c.article_id == articles.c.id)
        .where(topic_memberships.c.topic_id.in_(chosen.scalar_subquery()))
    )
    members: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(query):
        members[int(row.topic_id)].append(row)
    stories = [provenance_of(rows) for _, rows in sorted(members.items())]
    stories = [s for s in stories if len(s["outlets"]) >= min_outlets]
    return {
        "since": iso(since),
        "until": iso(until),
        "topics": len(stories),
        "outlets": leaderboard_of(stories, min_outlets),
    }
