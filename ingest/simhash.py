"""64-bit SimHash (Charikar) over word counts, with a band index for lookups.

Texts that differ by a few words get fingerprints a few bits apart. Splitting the 64 bits into
four 16-bit bands makes "within 3 bits" searchable with equality lookups: by the pigeonhole
principle two fingerprints at Hamming distance <= 3 agree exactly on at least one band.

Measured trade-off (WikiNews articles): a two-word edit moves a 200-word text 1-3 bits, but a
30-60-word teaser 4-9 bits, so near-duplicates are found reliably for wire-length texts and
less so for bare teasers. Unrelated texts stayed >= 6 bits apart, so raising the threshold
would need a wider band index (or MinHash-LSH) rather than a bigger number here.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

BITS = 64
BANDS = 4
BAND_BITS = BITS // BANDS
MAX_DISTANCE = BANDS - 1  # the band index only guarantees recall up to this distance
_WORD = re.compile(r"\w+", re.UNICODE)
_MASK = (1 << BITS) - 1


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _hash64(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")


def simhash(text: str) -> int:
    """The 64-bit fingerprint of ``text`` (0 for text without words)."""
    weights = [0] * BITS
    # Word counts only: bigrams made single-word edits of a 50-word text cost 2-6 bits instead of 0-3.
    for feature, count in Counter(tokens(text)).items():
        h = _hash64(feature)
        for bit in range(BITS):
            weights[bit] += count if (h >> bit) & 1 else -count
    return sum(1 << bit for bit, weight in enumerate(weights) if weight > 0) & _MASK


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def bands(fingerprint: int) -> tuple[int, ...]:
    """The four 16-bit bands, lowest bits first."""
    mask = (1 << BAND_BITS) - 1
    return tuple((fingerprint >> (i * BAND_BITS)) & mask for i in range(BANDS))


def to_hex(fingerprint: int) -> str:
    return f"{fingerprint:016x}"


def from_hex(text: str) -> int:
    return int(text, 16)
