"""The ingest ledger: what was published (and acked), loaded as the entries one batch needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from newsflow.records import ledger
from newsflow.records.ledger import LedgerEntry
from newsflow.store.schema import ingest_ledger
from newsflow.store.upsert import upsert

# SQLite allows 32766 bound parameters per statement; stay far below on every backend.
_CHUNK = 500
_BAND_COLUMNS = [ingest_ledger.c[f"simhash_band{i}"] for i in range(ledger.BANDS)]


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        article_id=row.article_id,
        content_hash=row.content_hash,
        revision=row.revision,
        simhash=ledger.from_hex(row.simhash) if row.simhash else None,
        first_feed=row.first_feed,
        url=row.url,
        near_duplicate_of=row.near_duplicate_of,
        published=row.published_at,
    )


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_entries(
    conn: Connection, article_ids: Iterable[str], fingerprints: Iterable[int], since: datetime
) -> list[LedgerEntry]:
    """Entries for the batch's ids, plus near-duplicate candidates of its SimHash ``fingerprints``
    recorded since ``since``."""
    rows: dict[str, Any] = {}
    ids = sorted(set(article_ids))
    for chunk in _chunks(ids):
        for row in conn.execute(select(ingest_ledger).where(ingest_ledger.c.article_id.in_(chunk))):
            rows[row.article_id] = row
    band_values: list[set[int]] = [set() for _ in range(ledger.BANDS)]
    for fingerprint in fingerprints:
        for values, band in zip(band_values, ledger.bands(fingerprint), strict=True):
            values.add(band)
    for i, column in enumerate(_BAND_COLUMNS):
        for chunk in _chunks(sorted(band_values[i])):
            query = select(ingest_ledger).where(ingest_ledger.c.recorded_at >= since, column.in_(chunk))
            for row in conn.execute(query):
                rows.setdefault(row.article_id, row)
    return [_entry(r) for r in rows.values()]


def record_entries(conn: Connection, entries: Sequence[LedgerEntry], recorded_at: datetime) -> None:
    """Upsert what was just published (call only after the broker acknowledged it)."""
    rows = []
    for e in entries:
        band_values = ledger.bands(e.simhash) if e.simhash is not None else (None,) * ledger.BANDS
        rows.append(
            {
                "article_id": e.article_id,
                "content_hash": e.content_hash,
                "revision": e.revision,
                "simhash": ledger.to_hex(e.simhash) if e.simhash is not None else None,
                **{f"simhash_band{i}": v for i, v in enumerate(band_values)},
                "first_feed": e.first_feed,
                "url": e.url,
                "near_duplicate_of": e.near_duplicate_of,
                "published_at": e.published,
                "recorded_at": recorded_at,
            }
        )
    updatable = ["content_hash", "revision", "simhash", *(f"simhash_band{i}" for i in range(ledger.BANDS))]
    for chunk in _chunks(rows, 200):
        upsert(conn, ingest_ledger, chunk, ["article_id"], [*updatable, "published_at"])
