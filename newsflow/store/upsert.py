"""The store's one write primitive: batched ``INSERT ... ON CONFLICT`` on SQLite and PostgreSQL alike.

Every repository writes through ``upsert`` keyed on a natural key, which is what makes replays
from Kafka and retried DAG tasks idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

# Bound parameters per statement stay well under SQLite's limit (32766) and PostgreSQL's (65535).
_MAX_PARAMS = 20_000
ID_CHUNK = 500  # ids per IN (...) list when reading or deleting by id


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + size]


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update_cols: Sequence[str] = (),
    where: Callable[[Any], ColumnElement[bool]] | None = None,
) -> None:
    """Insert ``rows``; on a key conflict update ``update_cols`` (where ``where(excluded)`` holds) or skip."""
    if not rows:
        return
    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    for part in chunked(rows, _MAX_PARAMS // max(len(rows[0]), 1)):
        stmt = insert(table).values(list(part))
        if update_cols:
            stmt = stmt.on_conflict_do_update(
                index_elements=list(keys),
                set_={c: stmt.excluded[c] for c in update_cols},
                where=where(stmt.excluded) if where else None,
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        conn.execute(stmt)
