"""Topic rows as analysts see them: the TopicSummary shape, hourly series and the reference hour.

Hourly counts come from ``topics.hourly_counts`` (kept by the clusterer as ``{"YYYY-MM-DDTHH": n}``),
so a sparkline or a growth series never reads the topic's articles.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, func, select

from newsflow.store.schema import articles, topic_growth, topics

SPARKLINE_HOURS = 24
HOUR = timedelta(hours=1)

# Everything a summary needs; never the centroid (1.5 kB a topic, only semantic search reads it).
SUMMARY_COLUMNS = (
    topics.c.id,
    topics.c.label,
    topics.c.keywords,
    topics.c.entities,
    topics.c.representative_title,
    topics.c.representative_ids,
    topics.c.status,
    topics.c.merged_into,
    topics.c.first_seen,
    topics.c.last_seen,
    topics.c.article_count,
    topics.c.outlet_count,
    topics.c.outlets,
    topics.c.languages,
    topics.c.hourly_counts,
    topic_growth.c.recent_count,
    topic_growth.c.z_score,
    topic_growth.c.growth_score,
    topic_growth.c.evaluated_at,
)


def topics_with_growth() -> Any:
    """``topics`` LEFT JOIN ``topic_growth``: a topic not evaluated yet still lists, with zero growth."""
    return topics.outerjoin(topic_growth, topic_growth.c.topic_id == topics.c.id)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def hour_floor(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_key(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%dT%H")


def hourly_series(counts: Mapping[str, int] | None, first: datetime, last: datetime) -> list[dict[str, Any]]:
    """``[{"hour", "count"}]`` for every hour from ``first`` to ``last`` (floored), zeros included."""
    counts = counts or {}
    hour, end = hour_floor(first), hour_floor(last)
    series = []
    while hour <= end:
        series.append({"hour": iso(hour), "count": int(counts.get(hour_key(hour), 0))})
        hour += HOUR
    return series


def bounded_span(first: datetime, last: datetime, max_hours: int) -> tuple[datetime, datetime]:
    """``(first, last)`` cut to the latest ``max_hours`` hours, so a long story's series stays bounded."""
    earliest = hour_floor(last) - (max_hours - 1) * HOUR
    return max(hour_floor(first), earliest), last


@lru_cache(maxsize=32)
def _sparkline_keys(end_hour: datetime) -> tuple[str, ...]:
    # Formatted once per reference hour, not once per topic: 24 strftime calls x 50 topics added up.
    return tuple(hour_key(end_hour - k * HOUR) for k in range(SPARKLINE_HOURS - 1, -1, -1))


def sparkline(counts: Mapping[str, int] | None, as_of: datetime) -> list[int]:
    """Article counts of the 24 hours ending at ``as_of``, oldest first."""
    counts = counts or {}
    return [int(counts.get(key, 0)) for key in _sparkline_keys(hour_floor(as_of))]


def reference_hour(conn: Connection, now: datetime | None = None) -> datetime:
    """The latest article's publication time (indexed max), capped at now: what "recent" is relative to."""
    now = now or datetime.now(UTC)
    latest: datetime | None = conn.execute(select(func.max(articles.c.published_at))).scalar_one()
    return min(latest, now) if latest is not None else now


def summary_of(row: Any, as_of: datetime) -> dict[str, Any]:
    """One TopicSummary from a row of ``SUMMARY_COLUMNS``."""
    return {
        "id": row.id,
        "label": row.label,
        "keywords": list(row.keywords or []),
        "entities": list(row.entities or []),
        "representative_title": row.representative_title,
        "status": row.status,
        "merged_into": row.merged_into,
        "first_seen": iso(row.first_seen),
        "last_seen": iso(row.last_seen),
        "article_count": row.article_count,
        "outlet_count": row.outlet_count,
        "outlets": list(row.outlets or []),
        "languages": [lang for lang in (row.languages or []) if lang],
        "growth": {
            "recent_count": int(row.recent_count or 0),
            "z_score": float(row.z_score or 0.0),
            "growth_score": float(row.growth_score or 0.0),
            "evaluated_at": iso(row.evaluated_at),
        },
        "sparkline": sparkline(row.hourly_counts, as_of),
    }
