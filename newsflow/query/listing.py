"""The topic list and keyword search: filtered, sorted, paginated TopicSummaries.

One bounded query for the page (LIMIT/OFFSET, order ending with the id so pages never overlap)
and one COUNT for the total, both over ``topics`` LEFT JOIN ``topic_growth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from newsflow.query.filters import TopicFilters, TopicSort, filter_predicates, keyword_score, sort_columns
from newsflow.query.summaries import SUMMARY_COLUMNS, reference_hour, summary_of, topics_with_growth
from newsflow.store.schema import topics


@dataclass(frozen=True)
class TopicPage:
    items: list[dict[str, Any]]
    total: int
    as_of: datetime
    extra: dict[str, Any] = field(default_factory=dict)


def _count(conn: Connection, where: Sequence[Any]) -> int:
    query = select(func.count()).select_from(topics_with_growth()).where(*where)
    return int(conn.execute(query).scalar_one())


def _rank(conn: Connection, ranked: Any, where: Sequence[Any], *, full_scan: bool) -> tuple[Sequence[Any], int]:
    """Rows of one ranked page and the total.

    When the order needs every matching row anyway (growth, search score), ``count(*) OVER ()``
    counts in that same scan; an order an index serves (recent, size) stops after one page, so
    there a separate COUNT is cheaper. A page past the end carries no count: COUNT then too.
    """
    if not full_scan:
        return conn.execute(ranked).all(), _count(conn, where)
    rows = conn.execute(ranked.add_columns(func.count().over().label("total_rows"))).all()
    return rows, (int(rows[0].total_rows) if rows else _count(conn, where))


def _ordered_summaries(conn: Connection, ranked_ids: Sequence[int], as_of: datetime) -> list[dict[str, Any]]:
    found = summaries_by_id(conn, ranked_ids, as_of)
    return [found[t] for t in ranked_ids if t in found]


def list_topics(
    conn: Connection,
    filters: TopicFilters,
    *,
    sort: TopicSort = TopicSort.GROWTH,
    limit: int,
    offset: int = 0,
    z_threshold: float,
) -> TopicPage:
    """One page of topics matching ``filters`` in ``sort`` order, with the total and the reference hour."""
    where = filter_predicates(filters, z_threshold)
    # Two steps: rank narrow rows (id and sort keys) first, then read the wide rows of one page only;
    # sorting 20k full topic rows (JSON outlets, hourly counts) to keep 50 cost most of the time.
    ranked = (
        select(topics.c.id)
        .select_from(topics_with_growth())
        .where(*where)
        .order_by(*sort_columns(sort))
        .limit(limit)
        .offset(offset)
    )
    rows, total = _rank(conn, ranked, where, full_scan=sort is TopicSort.GROWTH)
    as_of = reference_hour(conn)
    return TopicPage(items=_ordered_summaries(conn, [r.id for r in rows], as_of), total=total, as_of=as_of)


def keyword_search(
    conn: Connection, q: str, *, limit: int, offset: int = 0, filters: TopicFilters | None = None
) -> TopicPage:
    """Topics whose label, keywords or headline contain every word of ``q``, best matches first."""
    filters = TopicFilters(q=q) if filters is None else filters
    where = filter_predicates(filters, z_threshold=0.0)
    score = keyword_score(q).label("score")
    ranked = (
        select(topics.c.id, score)
        .select_from(topics_with_growth())
        .where(*where)
        .order_by(score.desc(), *sort_columns(TopicSort.GROWTH))
        .limit(limit)
        .offset(offset)
    )
    rows, total = _rank(conn, ranked, where, full_scan=True)
    scores = {row.id: round(float(row.score), 4) for row in rows}
    as_of = reference_hour(conn)
    items = [{**item, "score": scores[item["id"]]} for item in _ordered_summaries(conn, list(scores), as_of)]
    return TopicPage(items=items, total=total, as_of=as_of)


def summaries_by_id(conn: Connection, topic_ids: Sequence[int], as_of: datetime) -> dict[int, dict[str, Any]]:
    """TopicSummaries of the given ids (those that exist)."""
    if not topic_ids:
        return {}
    query = select(*SUMMARY_COLUMNS).select_from(topics_with_growth()).where(topics.c.id.in_(list(topic_ids)))
    return {row.id: summary_of(row, as_of) for row in conn.execute(query)}
