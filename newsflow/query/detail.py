"""One topic in depth: its detail page, its articles, its hourly timeline and its lineage.

Each read is bounded: articles by ``api_max_articles_per_topic`` (or a page), series by
``api_max_timeline_hours``; an unknown id raises ``TopicNotFoundError``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select

from newsflow.errors import TopicNotFoundError
from newsflow.query.filters import LIKE_ESCAPE, escape_like
from newsflow.query.provenance import members_provenance
from newsflow.query.summaries import (
    SUMMARY_COLUMNS,
    bounded_span,
    hourly_series,
    iso,
    reference_hour,
    summary_of,
    topics_with_growth,
)
from newsflow.store.schema import articles, lineage_events, topic_memberships, topics

SUMMARY_CHARS = 300


def _topic_row(conn: Connection, topic_id: int) -> Any:
    query = select(*SUMMARY_COLUMNS).select_from(topics_with_growth()).where(topics.c.id == topic_id)
    row = conn.execute(query).first()
    if row is None:
        raise TopicNotFoundError(f"no topic with id {topic_id}")
    return row


def topic_exists(conn: Connection, topic_id: int) -> None:
    if conn.execute(select(topics.c.id).where(topics.c.id == topic_id)).first() is None:
        raise TopicNotFoundError(f"no topic with id {topic_id}")


def article_of(row: Any) -> dict[str, Any]:
    summary = row.summary or ""
    return {
        "id": row.id,
        "title": row.title,
        "url": row.url,
        "outlet": row.outlet,
        "published_at": iso(row.published_at),
        "language": row.language,
        "summary": summary[:SUMMARY_CHARS],
    }


def _member_articles() -> Any:
    return select(
        articles.c.id, articles.c.title, articles.c.url, articles.c.outlet, articles.c.published_at,
        articles.c.language, articles.c.summary,
    ).join(topic_memberships, topic_memberships.c.article_id == articles.c.id)  # fmt: skip


def _newest_window(hourly_counts: Mapping[str, int] | None, needed: int) -> tuple[datetime, datetime] | None:
    """The latest span of whole hours holding ``needed`` of the topic's articles (None: all are needed).

    Bounding the query on both sides by publication time keeps "newest N of a 40k-article story"
    from reading the whole story, or from walking the articles' time index over every later story.
    """
    counts = hourly_counts or {}
    hours = sorted(counts, reverse=True)
    seen = 0
    for key in hours:
        seen += int(counts[key])
        if seen >= needed:
            start, end = (datetime.strptime(k, "%Y-%m-%dT%H").replace(tzinfo=UTC) for k in (key, hours[0]))
            return start, end + timedelta(hours=1)
    return None


def _newest_members(
    conn: Connection, topic_id: int, hourly_counts: Mapping[str, int] | None, *, limit: int, offset: int = 0,
    outlet: str | None = None,
) -> Sequence[Any]:  # fmt: skip
    """The topic's articles newest first (ties by id), one page; bounded in time when the counts allow."""
    where = [topic_memberships.c.topic_id == topic_id]
    if outlet:
        where.append(articles.c.outlet == outlet)
    ordered = _member_articles().where(*where).order_by(articles.c.published_at.desc(), articles.c.id)
    window = _newest_window(hourly_counts, offset + limit)
    if window is not None:
        bounded = ordered.where(articles.c.published_at >= window[0], articles.c.published_at < window[1])
        rows = conn.execute(bounded.limit(limit).offset(offset)).all()
        if len(rows) == limit:
            return rows
        # hourly counts lag the memberships (or an outlet filter thins them): read without the bound.
    return conn.execute(ordered.limit(limit).offset(offset)).all()


def _hourly_counts(conn: Connection, topic_id: int) -> Any:
    row = conn.execute(select(topics.c.hourly_counts).where(topics.c.id == topic_id)).first()
    if row is None:
        raise TopicNotFoundError(f"no topic with id {topic_id}")
    return row.hourly_counts


def _member_count(conn: Connection, topic_id: int, outlet: str | None = None) -> int:
    query = select(func.count()).select_from(topic_memberships).where(topic_memberships.c.topic_id == topic_id)
    if outlet:
        query = query.join(articles, articles.c.id == topic_memberships.c.article_id).where(articles.c.outlet == outlet)
    return int(conn.execute(query).scalar_one())


def topic_articles(
    conn: Connection, topic_id: int, *, limit: int, offset: int = 0, outlet: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """A page of the topic's articles, newest first, and how many there are (of ``outlet``, if given)."""
    counts = _hourly_counts(conn, topic_id)
    rows = _newest_members(conn, topic_id, counts, limit=limit, offset=offset, outlet=outlet)
    return [article_of(r) for r in rows], _member_count(conn, topic_id, outlet)


def articles_by_outlet(
    conn: Connection, topic_id: int, hourly_counts: Mapping[str, int] | None, max_articles: int
) -> tuple[list[dict[str, Any]], int]:
    """The newest ``max_articles`` articles grouped by outlet, and how many the topic has in all.

    Outlets are ordered by how many of the shown articles they wrote (then by name): for a topic
    within the bound that is its whole coverage; for a bigger one, who is covering it lately.
    """
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _newest_members(conn, topic_id, hourly_counts, limit=max_articles):
        grouped[row.outlet].append(article_of(row))
    order = sorted(grouped, key=lambda outlet: (-len(grouped[outlet]), outlet))
    return [{"outlet": o, "articles": grouped[o]} for o in order], _member_count(conn, topic_id)


def _event_of(row: Any) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "related": [int(r) for r in (row.related or [])],
        "at": iso(row.at),
        "article_count": row.article_count,
        "label": row.label or "",
    }


def _split_parents(conn: Connection, topic_id: int) -> list[int]:
    """Topics whose ``split`` events name ``topic_id``: a text prefilter on the JSON, checked exactly."""
    pattern = "%" + escape_like(str(topic_id)) + "%"
    query = select(lineage_events.c.topic_id, lineage_events.c.related).where(
        lineage_events.c.kind == "split",
        cast(lineage_events.c.related, Text).like(pattern, escape=LIKE_ESCAPE),
    )
    return sorted({r.topic_id for r in conn.execute(query) if topic_id in {int(x) for x in r.related or []}})


def _merged_into(conn: Connection, topic_id: int) -> tuple[int | None, str | None]:
    """Where a merged topic went, and when: its survivor's ``merged`` event naming it (None, None if not merged)."""
    into = conn.execute(select(topics.c.merged_into).where(topics.c.id == topic_id)).scalar()
    if into is None:
        return None, None
    query = select(lineage_events.c.at, lineage_events.c.related).where(
        lineage_events.c.topic_id == into, lineage_events.c.kind == "merged"
    )
    times = [r.at for r in conn.execute(query) if topic_id in {int(x) for x in r.related or []}]
    return int(into), (min(times).isoformat() if times else None)


def topic_lineage(conn: Connection, topic_id: int) -> dict[str, Any]:
    """``{"topic_id", "events", "merged_from", "split_into", "split_from", "merged_into", "merged_at"}``
    (events oldest first; ``merged_into``/``merged_at`` None unless the topic was merged into another)."""
    topic_exists(conn, topic_id)
    merged_into, merged_at = _merged_into(conn, topic_id)
    query = select(lineage_events).where(lineage_events.c.topic_id == topic_id)
    rows = conn.execute(query.order_by(lineage_events.c.at, lineage_events.c.id)).all()
    events = [_event_of(r) for r in rows]
    absorbed = conn.execute(select(topics.c.id).where(topics.c.merged_into == topic_id)).scalars()
    merged_from = {int(t) for e in events if e["kind"] == "merged" for t in e["related"]} | set(absorbed)
    split_into = {int(t) for e in events if e["kind"] == "split" for t in e["related"]}
    return {
        "topic_id": topic_id,
        "events": events,
        "merged_from": sorted(merged_from),
        "split_into": sorted(split_into),
        "split_from": _split_parents(conn, topic_id),
        "merged_into": merged_into,
        "merged_at": merged_at,
    }


def topic_timeline(conn: Connection, topic_id: int, hours: int) -> dict[str, Any]:
    """Hourly article counts of the last ``hours`` hours of the topic (up to its last article), zeros included."""
    row = _topic_row(conn, topic_id)
    first, last = bounded_span(row.first_seen, row.last_seen, hours)
    return {"topic_id": topic_id, "series": hourly_series(row.hourly_counts, first, last)}


def topic_detail(
    conn: Connection, topic_id: int, *, max_articles: int, max_hours: int, as_of: datetime | None = None
) -> dict[str, Any]:
    """TopicSummary plus representative ids, growth series, articles by outlet, lineage and provenance
    (who reported first, each other outlet's lag: ``newsflow.query.provenance``)."""
    row = _topic_row(conn, topic_id)
    as_of = as_of or reference_hour(conn)
    first, last = bounded_span(row.first_seen, row.last_seen, max_hours)
    grouped, total = articles_by_outlet(conn, topic_id, row.hourly_counts, max_articles)
    lineage = topic_lineage(conn, topic_id)
    return {
        **summary_of(row, as_of),
        "representative_ids": list(row.representative_ids or []),
        "growth_series": hourly_series(row.hourly_counts, first, last),
        "articles_by_outlet": grouped,
        "articles_total": total,
        "lineage": lineage["events"],
        "merged_from": lineage["merged_from"],
        "split_into": lineage["split_into"],
        "split_from": lineage["split_from"],
        "merged_at": lineage["merged_at"],
        "provenance": members_provenance(conn, topic_id),
    }
