"""``/api/v1/topics``: list and filter, keyword and semantic search, detail, articles, timeline, lineage.

Thin HTTP layer: parameters validated here (FastAPI 422 naming the field; limits from settings),
the reads themselves in ``newsflow.query``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import Connection

from newsflow.api.deps import Page, PageParams, as_utc, get_settings, invalid_query_param, page_body, read_connection
from newsflow.query.detail import topic_articles, topic_detail, topic_lineage, topic_timeline
from newsflow.query.filters import StatusFilter, TopicFilters, TopicSort
from newsflow.query.listing import TopicPage, keyword_search, list_topics
from newsflow.query.semantic import semantic_search
from newsflow.settings import Settings

router = APIRouter(tags=["topics"])

Conn = Annotated[Connection, Depends(read_connection)]
Pagination = Annotated[Page, Depends(PageParams)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TopicId = Annotated[int, Path(description="Topic id.")]
MAX_NAME_CHARS = 200  # bound on outlet and language filter values


class SearchMode(StrEnum):
    KEYWORD = "keyword"
    SEMANTIC = "semantic"


def _checked_query(q: str | None, settings: Settings) -> str | None:
    if q is not None and len(q) > settings.api_max_query_chars:
        raise invalid_query_param("q", f"String should have at most {settings.api_max_query_chars} characters", q)
    return q


def _page(result: TopicPage, page: Page, **extra: Any) -> dict[str, Any]:
    return {**page_body(result.items, result.total, page), "as_of": result.as_of.isoformat(), **extra}


@router.get("/topics", summary="List topics (filtered, sorted, paginated)")
def get_topics(
    conn: Conn,
    page: Pagination,
    settings: SettingsDep,
    sort: TopicSort = Query(TopicSort.GROWTH, description="growth | recent | size"),
    since: datetime | None = Query(None, description="Topics with an article at or after this time."),
    until: datetime | None = Query(None, description="Topics with an article at or before this time."),
    language: str | None = Query(None, min_length=1, max_length=MAX_NAME_CHARS),
    outlet: str | None = Query(None, min_length=1, max_length=MAX_NAME_CHARS),
    min_size: int | None = Query(None, ge=1, description="At least this many articles."),
    growing: bool = Query(False, description="Only topics growing now (z-score at or above the alert threshold)."),
    status: StatusFilter = Query(StatusFilter.ACTIVE),
    q: str | None = Query(None, min_length=1, description="Words in the label, keywords or headline."),
) -> dict[str, Any]:
    filters = TopicFilters(
        since=as_utc(since), until=as_utc(until), language=language, outlet=outlet, min_size=min_size,
        growing=growing, status=status, q=_checked_query(q, settings),
    )  # fmt: skip
    result = list_topics(
        conn, filters, sort=sort, limit=page.limit, offset=page.offset, z_threshold=settings.alert_z_threshold
    )
    return _page(result, page)


@router.get("/topics/search", summary="Keyword or semantic search over topics")
def search_topics(
    request: Request,
    conn: Conn,
    page: Pagination,
    settings: SettingsDep,
    q: str = Query(..., min_length=1, description="Search text."),
    mode: SearchMode = Query(SearchMode.KEYWORD, description="keyword | semantic"),
    status: StatusFilter = Query(StatusFilter.CURRENT, description="keyword search: current (not merged), all, …"),
) -> dict[str, Any]:
    text = _checked_query(q, settings) or ""
    if not text.strip():
        raise invalid_query_param("q", "String should contain a word", q)
    if mode is SearchMode.SEMANTIC:
        state = request.app.state
        result = semantic_search(conn, state.centroid_index, state.query_encoder, text, limit=page.limit,
                                 offset=page.offset)  # fmt: skip
    else:
        filters = TopicFilters(q=text, status=status)
        result = keyword_search(conn, text, limit=page.limit, offset=page.offset, filters=filters)
    return _page(result, page, mode=mode.value)


@router.get("/topics/{topic_id}", summary="One topic: summary, growth series, articles by outlet, lineage")
def get_topic(topic_id: TopicId, conn: Conn, settings: SettingsDep) -> dict[str, Any]:
    return topic_detail(
        conn, topic_id, max_articles=settings.api_max_articles_per_topic, max_hours=settings.api_max_timeline_hours
    )


@router.get("/topics/{topic_id}/articles", summary="A topic's articles, newest first")
def get_topic_articles(
    topic_id: TopicId,
    conn: Conn,
    page: Pagination,
    outlet: str | None = Query(None, min_length=1, max_length=MAX_NAME_CHARS),
) -> dict[str, Any]:
    items, total = topic_articles(conn, topic_id, limit=page.limit, offset=page.offset, outlet=outlet)
    return page_body(items, total, page)


@router.get("/topics/{topic_id}/timeline", summary="Hourly article counts of a topic")
def get_topic_timeline(
    topic_id: TopicId,
    conn: Conn,
    settings: SettingsDep,
    hours: int | None = Query(None, ge=1, description="Hours up to the topic's last article (max from settings)."),
) -> dict[str, Any]:
    most = settings.api_max_timeline_hours
    if hours is not None and hours > most:
        raise invalid_query_param("hours", f"Input should be less than or equal to {most}", hours)
    return topic_timeline(conn, topic_id, hours or most)


@router.get("/topics/{topic_id}/lineage", summary="What a topic merged from and split into")
def get_topic_lineage(topic_id: TopicId, conn: Conn) -> dict[str, Any]:
    return topic_lineage(conn, topic_id)
