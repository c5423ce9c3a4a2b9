"""Article-to-topic memberships in the store: reads, idempotent writes, and their write sequence.

Every membership write is stamped with a sequence number (``write_seq``, max + 1 inside the
writer's transaction). Workers that share the partitions read the memberships written after the
highest number they saw (``memberships_since``) and take in what the others placed. The numbers
follow commit order because every membership writer holds ``topics_repo.lock_topic_writes``
(PostgreSQL) or SQLite's single write lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from newsflow.store.schema import articles, topic_memberships
from newsflow.store.upsert import ID_CHUNK, chunked, upsert


@dataclass(frozen=True)
class Membership:
    article_id: str
    topic_id: int
    similarity: float | None
    method: str  # online | recluster


# --- reads ---------------------------------------------------------------------------------------------


def window_memberships(conn: Connection, since: datetime) -> dict[str, int]:
    """Topic of every article published since ``since`` that has one."""
    query = (
        select(topic_memberships.c.article_id, topic_memberships.c.topic_id)
        .join(articles, articles.c.id == topic_memberships.c.article_id)
        .where(articles.c.published_at >= since)
    )
    return {r.article_id: r.topic_id for r in conn.execute(query)}


def memberships_of(conn: Connection, article_ids: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in chunked(sorted(set(article_ids)), ID_CHUNK):
        query = select(topic_memberships.c.article_id, topic_memberships.c.topic_id).where(
            topic_memberships.c.article_id.in_(part)
        )
        found.update({r.article_id: r.topic_id for r in conn.execute(query)})
    return found


# --- writes --------------------------------------------------------------------------------------------


def write_memberships(conn: Connection, members: Sequence[Membership], at: datetime) -> int | None:
    """Upsert memberships, stamped with the next write sequence number (returned; None: nothing written)."""
    if not members:
        return None
    seq = next_write_seq(conn)
    rows = [
        {"article_id": m.article_id, "topic_id": m.topic_id, "similarity": m.similarity, "method": m.method,
         "assigned_at": at, "write_seq": seq}
        for m in members
    ]  # fmt: skip
    upsert(
        conn, topic_memberships, rows, ["article_id"], ["topic_id", "similarity", "method", "assigned_at", "write_seq"]
    )
    return seq


def last_write_seq(conn: Connection) -> int:
    """The newest committed membership write (0: none stamped yet)."""
    return int(conn.execute(select(func.coalesce(func.max(topic_memberships.c.write_seq), 0))).scalar_one())


def next_write_seq(conn: Connection) -> int:
    # Safe as max + 1 only because membership writers hold ``lock_topic_writes`` (PostgreSQL) or
    # SQLite's single write lock: sequence numbers then follow commit order, so a reader that saw
    # everything up to N never misses a write committed later with a smaller number.
    return last_write_seq(conn) + 1


def memberships_since(conn: Connection, seq: int) -> list[tuple[str, int, int]]:
    """(article id, topic id, write seq) of every membership written after ``seq``, in write order."""
    query = (
        select(topic_memberships.c.article_id, topic_memberships.c.topic_id, topic_memberships.c.write_seq)
        .where(topic_memberships.c.write_seq > seq)
        .order_by(topic_memberships.c.write_seq)
    )
    return [(r.article_id, r.topic_id, r.write_seq) for r in conn.execute(query)]


def delete_memberships(conn: Connection, article_ids: Iterable[str]) -> None:
    for part in chunked(sorted(set(article_ids)), ID_CHUNK):
        conn.execute(delete(topic_memberships).where(topic_memberships.c.article_id.in_(part)))


def remove_members(conn: Connection, article_ids: Iterable[str]) -> int | None:
    """Delete the memberships of articles that left their topic online; idempotent. Returns the write
    sequence number it stamped (None: none of them had a membership).

    Readers take in the writes numbered above the highest they saw; deleting the row holding that
    number would hand it out again and hide the next write from them. So the newest remaining
    membership is stamped with the next number (a reader that knows it finds nothing new in it); in a
    store left without any membership the numbers start again (readers catch up at their next reload).
    """
    present = sorted(memberships_of(conn, article_ids))
    if not present:
        return None
    seq = next_write_seq(conn)
    delete_memberships(conn, present)
    col = topic_memberships.c
    newest = select(col.article_id).where(col.write_seq.is_not(None)).order_by(col.write_seq.desc()).limit(1)
    conn.execute(update(topic_memberships).where(col.article_id == newest.scalar_subquery()).values(write_seq=seq))
    return seq


def move_members(conn: Connection, from_topic: int, to_topic: int, at: datetime) -> None:
    """All members of ``from_topic`` (also those outside the window) now belong to ``to_topic``."""
    conn.execute(
        update(topic_memberships)
        .where(topic_memberships.c.topic_id == from_topic)
        .values(topic_id=to_topic, method="recluster", assigned_at=at, write_seq=next_write_seq(conn))
    )
