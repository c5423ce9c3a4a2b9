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

import functools
import hashlib
import re
from collections import Counter

import numpy as np

from newsflow.records.ledger import BANDS, BITS

MAX_DISTANCE = BANDS - 1  # the band index only guarantees recall up to this distance
_WORD = re.compile(r"\w+", re.UNICODE)
_MASK = (1 << BITS) - 1
_SHIFTS = np.arange(BITS, dtype=np.uint64)


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@functools.lru_cache(maxsize=1 << 16)  # news vocabulary repeats: most words were hashed a moment ago
def _hash64(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")


def simhash(text: str) -> int:
    """The 64-bit fingerprint of ``text`` (0 for text without words).

    Bit i is set when the words whose hash has bit i set outweigh (by count) those that have
    it clear. Computed as one matrix product (words x 64 bits) instead of a Python loop per
    bit: the loop was the slowest step of ingestion after parsing.
    """
    return simhash_tokens(tokens(text))


def simhash_tokens(words: list[str]) -> int:
    """``simhash`` of a text already split by ``tokens`` (callers that also need the words split once)."""
    # Word counts only: bigrams made single-word edits of a 50-word text cost 2-6 bits instead of 0-3.
    counts = Counter(words)
    if not counts:
        return 0
    hashes = np.fromiter((_hash64(word) for word in counts), dtype=np.uint64, count=len(counts))
    signs = ((hashes[:, None] >> _SHIFTS) & np.uint64(1)).astype(np.int64) * 2 - 1  # +1 bit set, -1 clear
    weights = np.fromiter(counts.values(), dtype=np.int64, count=len(counts)) @ signs
    return int(np.bitwise_or.reduce(np.uint64(1) << _SHIFTS[weights > 0], initial=np.uint64(0))) & _MASK


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()
