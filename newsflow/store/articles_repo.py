"""Articles in the store: revision-aware idempotent upserts, and the recent window for clustering.

Every write is ``INSERT ... ON CONFLICT`` on the article id. A record only replaces the stored row
when its ``revision`` is higher, so replaying the same Kafka messages changes nothing, and an
older revision arriving late never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from newsflow.contracts import ArticleRecord
from newsflow.records.doc import Doc
from newsflow.store.schema import articles, topic_memberships
from newsflow.store.upsert import ID_CHUNK, chunked, upsert


def article_row(record: ArticleRecord, stored_at: datetime) -> dict[str, Any]:
    return {
        "id": record.id,
        "url": record.url,
        "title": record.title,
        "summary": record.summary,
        "content": record.content,
        "published_at": record.published,
        "published_is_fallback": record.published_is_fallback,
        "fetched_at": record.fetched,
        "language": record.language,
        "outlet": record.outlet,
        "feed_name": record.feed,
        "guid": record.guid,
        "revision": record.revision,
        "content_hash": record.content_hash,
        "near_duplicate_of": record.near_duplicate_of,
        "stored_at": stored_at,
    }


_UPDATABLE = [c.name for c in articles.columns if c.name != "id"]


def stored_revisions(conn: Connection, ids: Iterable[str]) -> dict[str, int]:
    """Revision stored for each of ``ids`` that exists."""
    found: dict[str, int] = {}
    for part in chunked(sorted(set(ids)), ID_CHUNK):
        rows = conn.execute(select(articles.c.id, articles.c.revision).where(articles.c.id.in_(part)))
        found.update({r.id: r.revision for r in rows})
    return found


def changed_stats_fields(conn: Connection, records: Sequence[ArticleRecord]) -> set[str]:
    """Ids of stored articles whose record has another publication time, outlet or language.

    Those are the fields topic statistics are counted from: a revision changing one of them means the
    topic holding the article must be recounted, not just added to.
    """
    wanted = {r.id: (r.published, r.outlet, r.language) for r in records}
    changed: set[str] = set()
    for part in chunked(sorted(wanted), ID_CHUNK):
        query = select(articles.c.id, articles.c.published_at, articles.c.outlet, articles.c.language).where(
            articles.c.id.in_(part)
        )
        changed.update(r.id for r in conn.execute(query) if (r.published_at, r.outlet, r.language) != wanted[r.id])
    return changed


def upsert_articles(conn: Connection, records: Sequence[ArticleRecord], stored_at: datetime) -> None:
    """Insert new articles and replace stored ones only by a higher revision (idempotent)."""
    latest: dict[str, ArticleRecord] = {}
    for rec in records:  # the same id twice in one batch: keep the highest revision
        if rec.id not in latest or rec.revision > latest[rec.id].revision:
            latest[rec.id] = rec
    rows = [article_row(r, stored_at) for r in latest.values()]
    upsert(conn, articles, rows, ["id"], _UPDATABLE, where=lambda ex: articles.c.revision < ex.revision)


def doc_from_row(row: Any) -> Doc:
    return Doc(
        id=row.id,
        title=row.title,
        body=row.summary or row.content or "",
        published=row.published_at,
        outlet=row.outlet,
        language=row.language,
        near_duplicate_of=row.near_duplicate_of,
    )


def doc_from_record(record: ArticleRecord) -> Doc:
    return Doc(
        id=record.id,
        title=record.title,
        body=record.summary or record.content,
        published=record.published,
        outlet=record.outlet,
        language=record.language,
        near_duplicate_of=record.near_duplicate_of,
    )


_DOC_COLUMNS = (
    articles.c.id,
    articles.c.title,
    articles.c.summary,
    articles.c.content,
    articles.c.published_at,
    articles.c.outlet,
    articles.c.language,
    articles.c.near_duplicate_of,
)


def window_docs(conn: Connection, since: datetime, until: datetime | None = None) -> list[Doc]:
    """Articles published in ``[since, until]``, oldest first (ties by id, so the order is stable)."""
    query = select(*_DOC_COLUMNS).where(articles.c.published_at >= since)
    if until is not None:
        query = query.where(articles.c.published_at <= until)
    rows = conn.execute(query.order_by(articles.c.published_at, articles.c.id))
    return [doc_from_row(r) for r in rows]


def unassigned_ids(conn: Connection, since: datetime, until: datetime, limit: int) -> list[str]:
    """Ids of articles published in ``[since, until)`` without a topic, newest first, at most ``limit``."""
    if limit <= 0:
        return []
    member = select(topic_memberships.c.article_id).where(topic_memberships.c.article_id == articles.c.id)
    query = (
        select(articles.c.id)
        .where(articles.c.published_at >= since, articles.c.published_at < until, ~member.exists())
        .order_by(articles.c.published_at.desc(), articles.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def docs_by_id(conn: Connection, ids: Iterable[str]) -> list[Doc]:
    out: list[Doc] = []
    for part in chunked(sorted(set(ids)), ID_CHUNK):
        out.extend(doc_from_row(r) for r in conn.execute(select(*_DOC_COLUMNS).where(articles.c.id.in_(part))))
    return out


def iter_docs(conn: Connection, chunk: int = 5_000) -> Iterator[list[Doc]]:
    """Every stored article, ``chunk`` at a time in id order (keyset pages: memory stays flat)."""
    after = ""
    while True:
        query = select(*_DOC_COLUMNS).where(articles.c.id > after).order_by(articles.c.id).limit(chunk)
        page = [doc_from_row(r) for r in conn.execute(query)]
        if not page:
            return
        yield page
        after = page[-1].id


def count_articles(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(articles)).scalar_one())
