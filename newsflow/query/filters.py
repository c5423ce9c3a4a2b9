"""What analysts can ask of the topic list: filters, sort orders, and their SQL predicates.

Every value from a user is bound as a parameter; LIKE patterns have their wildcards escaped, so
``%``, ``_`` and quotes in a search are matched literally.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, case, cast, func, literal, or_, true

from newsflow.store.schema import topic_growth, topics

LIKE_ESCAPE = "\\"
MAX_SEARCH_TERMS = 10  # a long query is still one bounded predicate


class TopicSort(StrEnum):
    GROWTH = "growth"  # growth_score desc, then last_seen desc
    RECENT = "recent"  # last_seen desc
    SIZE = "size"  # article_count desc


class StatusFilter(StrEnum):
    ACTIVE = "active"
    FADED = "faded"
    MERGED = "merged"
    CURRENT = "current"  # active or faded: a merged topic is empty, its articles are in the survivor
    ALL = "all"


@dataclass(frozen=True)
class TopicFilters:
    since: datetime | None = None  # topics active in [since, until]: last_seen >= since
    until: datetime | None = None  # ... and first_seen <= until
    language: str | None = None
    outlet: str | None = None
    min_size: int | None = None
    growing: bool = False  # latest growth z-score >= the alert threshold
    status: StatusFilter = StatusFilter.ACTIVE
    q: str | None = None  # keyword filter over label, keywords and representative title


def escape_like(value: str) -> str:
    """``value`` with LIKE's wildcards (and the escape character itself) made literal."""
    return value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def json_list_contains(column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
    """A JSON list column holds ``value`` as an element: matched on its JSON text, quotes included.

    Portable between SQLite and PostgreSQL (the column is JSON, not JSONB); the element is encoded
    the way the store's JSON serialiser (``json.dumps``) wrote it, so escapes match too.
    """
    pattern = "%" + escape_like(json.dumps(value)) + "%"
    return cast(column, Text).like(pattern, escape=LIKE_ESCAPE)


def search_terms(q: str) -> list[str]:
    return [t for t in q.lower().split() if t][:MAX_SEARCH_TERMS]


def _term_matches(term: str) -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[bool]]:
    """(label, keywords, representative title) contain ``term``, case-insensitively."""
    plain = "%" + escape_like(term) + "%"
    as_json = "%" + escape_like(json.dumps(term)[1:-1]) + "%"  # non-ASCII is \\u-escaped in the JSON text
    return (
        func.lower(topics.c.label).like(plain, escape=LIKE_ESCAPE),
        func.lower(cast(topics.c.keywords, Text)).like(as_json, escape=LIKE_ESCAPE),
        func.lower(topics.c.representative_title).like(plain, escape=LIKE_ESCAPE),
    )


def keyword_predicate(q: str) -> ColumnElement[bool]:
    """Every term of ``q`` appears in the label, the keywords or the representative title."""
    terms = search_terms(q)
    if not terms:
        return true()
    return and_(*(or_(*_term_matches(t)) for t in terms))


def keyword_score(q: str) -> ColumnElement[float]:
    """Relevance in 0..1: a term in the label counts 3, in the keywords 2, in the headline 1."""
    terms = search_terms(q)
    if not terms:
        return literal(0.0)
    parts: list[ColumnElement[float]] = []
    for term in terms:
        label, keywords, title = _term_matches(term)
        parts += [case((label, 3.0), else_=0.0), case((keywords, 2.0), else_=0.0), case((title, 1.0), else_=0.0)]
    total: ColumnElement[float] = parts[0]
    for part in parts[1:]:
        total = total + part
    return total / (6.0 * len(terms))


def filter_predicates(filters: TopicFilters, z_threshold: float) -> list[ColumnElement[bool]]:
    """The WHERE clauses of ``filters`` over ``topics`` outer-joined with ``topic_growth``."""
    where: list[ColumnElement[bool]] = []
    if filters.status is StatusFilter.CURRENT:
        where.append(topics.c.status != StatusFilter.MERGED.value)
    elif filters.status is not StatusFilter.ALL:
        where.append(topics.c.status == filters.status.value)
    if filters.since is not None:
        where.append(topics.c.last_seen >= filters.since)
    if filters.until is not None:
        where.append(topics.c.first_seen <= filters.until)
    if filters.language:
        where.append(json_list_contains(topics.c.languages, filters.language))
    if filters.outlet:
        where.append(json_list_contains(topics.c.outlets, filters.outlet))
    if filters.min_size is not None:
        where.append(topics.c.article_count >= filters.min_size)
    if filters.growing:
        where.append(topic_growth.c.z_score >= z_threshold)
    if filters.q:
        where.append(keyword_predicate(filters.q))
    return where


def sort_columns(sort: TopicSort) -> list[Any]:
    """ORDER BY for ``sort``; always ends with the id so pages are stable."""
    if sort is TopicSort.GROWTH:
        growth = func.coalesce(topic_growth.c.growth_score, 0.0)
        return [growth.desc(), topics.c.last_seen.desc(), topics.c.id]
    if sort is TopicSort.SIZE:
        return [topics.c.article_count.desc(), topics.c.id]
    return [topics.c.last_seen.desc(), topics.c.id]
