"""What the ingest ledger remembers of one published article, and how its SimHash is stored.

The fingerprint is kept as 16 hex digits plus four 16-bit bands: by the pigeonhole principle two
fingerprints at Hamming distance <= 3 agree exactly on at least one band, so the store finds
near-duplicate candidates with equality lookups (``ingest/simhash.py`` computes the fingerprints).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

BITS = 64
BANDS = 4
BAND_BITS = BITS // BANDS


@dataclass(frozen=True)
class LedgerEntry:
    article_id: str
    content_hash: str
    revision: int
    simhash: int | None
    first_feed: str
    url: str
    near_duplicate_of: str | None
    published: datetime | None  # None when the feed gave no (plausible) date


def bands(fingerprint: int) -> tuple[int, ...]:
    """The four 16-bit bands, lowest bits first."""
    mask = (1 << BAND_BITS) - 1
    return tuple((fingerprint >> (i * BAND_BITS)) & mask for i in range(BANDS))


def to_hex(fingerprint: int) -> str:
    return f"{fingerprint:016x}"


def from_hex(text: str) -> int:
    return int(text, 16)
