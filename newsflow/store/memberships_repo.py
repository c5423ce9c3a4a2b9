"""Article-to-topic memberships in the store: reads, idempotent writes, and their write sequence.

Every membership write is stamped with a sequence number (``write_seq``, max + 1 inside the
writer's transaction). A membership removed online (a revision that left its topic) leaves a
tombstone in ``membership_removals``, stamped from the same sequence. Workers that share the
partitions read the placements and removals written after the highest number they saw
(``changes_since``) and take in what the others did. The numbers follow commit order because every
membership writer holds ``topics_repo.lock_topic_writes`` (PostgreSQL) or SQLite's single write lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from newsflow.records.topic import Membership
from newsflow.store.schema import articles, membership_removals, topic_memberships
from newsflow.store.upsert import ID_CHUNK, chunked, upsert


@dataclass(frozen=True)
class MembershipChange:
    """One write another worker may not know yet: a placement, or the removal of a membership."""

    article_id: str
    topic_id: int  # where it was placed, or the topic it left
    write_seq: int
    removed: bool


# --- reads ---------------------------------------------------------------------------------------------


def window_memberships(conn: Connection, since: datetime, until: datetime | None = None) -> dict[str, int]:
    """Topic of every article published in ``[since, until]`` that has one."""
    query = (
        select(topic_memberships.c.article_id, topic_memberships.c.topic_id)
        .join(articles, articles.c.id == topic_memberships.c.article_id)
        .where(articles.c.published_at >= since)
    )
    if until is not None:
        query = query.where(articles.c.published_at <= until)
    return {r.article_id: r.topic_id for r in conn.execute(query)}


def remembered_members(
    conn: Connection, start: datetime, until: datetime, per_topic: int, total: int
) -> list[tuple[str, int]]:
    """``(article id, topic id)`` of members published in ``[start, until)``, newest first, at most
    ``per_topic`` of each topic and ``total`` in all (topic memory: what keeps a topic joinable
    beyond the window)."""
    newest = (articles.c.published_at.desc(), articles.c.id.desc())
    ranked = (
        select(
            topic_memberships.c.article_id,
            topic_memberships.c.topic_id,
            articles.c.published_at,
            func.row_number().over(partition_by=topic_memberships.c.topic_id, order_by=newest).label("rank"),
        )
        .join(articles, articles.c.id == topic_memberships.c.article_id)
        .where(articles.c.published_at >= start, articles.c.published_at < until)
        .subquery()
    )
    query = (
        select(ranked.c.article_id, ranked.c.topic_id)
        .where(ranked.c.rank <= per_topic)
        .order_by(ranked.c.published_at.desc(), ranked.c.article_id.desc())
        .limit(total)
    )
    return [(r.article_id, r.topic_id) for r in conn.execute(query)]


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
    """The newest committed membership write or removal (0: none stamped yet)."""
    # Tombstones count too: with every membership gone, numbers must still not be handed out again.
    newest = [
        conn.execute(select(func.coalesce(func.max(table.c.write_seq), 0))).scalar_one()
        for table in (topic_memberships, membership_removals)
    ]
    return int(max(newest))


def next_write_seq(conn: Connection) -> int:
    # Safe as max + 1 only because membership writers hold ``lock_topic_writes`` (PostgreSQL) or
    # SQLite's single write lock: sequence numbers then follow commit order, so a reader that saw
    # everything up to N never misses a write committed later with a smaller number.
    return last_write_seq(conn) + 1


def changes_since(conn: Connection, seq: int) -> list[MembershipChange]:
    """Placements and removals written after ``seq``, in write order; only the newest per article
    (a later placement supersedes a removal, a later removal one before it)."""
    col, gone = topic_memberships.c, membership_removals.c
    placed = conn.execute(select(col.article_id, col.topic_id, col.write_seq).where(col.write_seq > seq))
    removed = conn.execute(select(gone.article_id, gone.topic_id, gone.write_seq).where(gone.write_seq > seq))
    changes = [MembershipChange(r.article_id, r.topic_id, r.write_seq, False) for r in placed]
    changes += [MembershipChange(r.article_id, r.topic_id, r.write_seq, True) for r in removed]
    newest: dict[str, MembershipChange] = {}
    for change in sorted(changes, key=lambda c: c.write_seq):  # one write per number and article
        newest[change.article_id] = change
    return sorted(newest.values(), key=lambda c: (c.write_seq, c.article_id))


def delete_memberships(conn: Connection, article_ids: Iterable[str]) -> None:
    for part in chunked(sorted(set(article_ids)), ID_CHUNK):
        conn.execute(delete(topic_memberships).where(topic_memberships.c.article_id.in_(part)))


def remove_members(conn: Connection, article_ids: Iterable[str], at: datetime) -> int | None:
    """Delete the memberships of articles that left their topic online, leaving a tombstone for each
    so other workers learn of it; idempotent. Returns the write sequence number the tombstones carry
    (None: none of them had a membership)."""
    present = memberships_of(conn, article_ids)
    if not present:
        return None
    seq = next_write_seq(conn)
    delete_memberships(conn, present)
    conn.execute(
        insert(membership_removals),
        [{"article_id": a, "topic_id": t, "write_seq": seq, "removed_at": at} for a, t in sorted(present.items())],
    )
    return seq


def prune_removals(conn: Connection, before: datetime) -> int:
    """Drop the tombstones of removals before ``before``; returns how many.

    One holding the newest write number stays: with no membership left, it keeps that number from
    being handed out again.
    """
    gone = membership_removals.c
    newest = last_write_seq(conn)
    return conn.execute(delete(membership_removals).where(gone.removed_at < before, gone.write_seq < newest)).rowcount


def move_members(conn: Connection, from_topic: int, to_topic: int, at: datetime) -> None:
    """All members of ``from_topic`` (also those outside the window) now belong to ``to_topic``."""
    conn.execute(
        update(topic_memberships)
        .where(topic_memberships.c.topic_id == from_topic)
        .values(topic_id=to_topic, method="recluster", assigned_at=at, write_seq=next_write_seq(conn))
    )
