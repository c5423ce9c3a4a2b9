"""De-duplication against what was already published: one article id, revisions, near-duplicate links.

The rules:

* The id is a hash of the canonical URL, or (no link) of the feed and GUID: the same article
  from two polls or two feeds has one id and is published once.
* Same id, different content, *from the feed that first published it*: a new revision. Other
  feeds carrying the same URL with their own teaser are duplicates; otherwise two feeds with
  different descriptions would make revisions flip back and forth on every poll.
* A new id whose SimHash is close to an article seen within the window is published, linked
  to the first copy (``near_duplicate_of``), so syndicated wire copies stay traceable.

The stage works on an in-memory ``Ledger`` slice the edge loads from the store (the ids of
this batch plus near-duplicate candidates), so it is plain code with no database in sight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ingest import simhash
from ingest.normalise import NormalisedEntry
from newsflow.contracts import ArticleRecord
from newsflow.records.ledger import BANDS, LedgerEntry, bands

ID_CHARS = 32  # 128 bits of SHA-256: collisions are not a practical concern
# Below this many words a few changed words flip many bits; only identical word bags count as copies.
MIN_TOKENS_FOR_FUZZY = 25


class Ledger:
    """The slice of the ingest ledger one batch needs, indexed by id and by SimHash band."""

    def __init__(self, entries: Iterable[LedgerEntry] = ()) -> None:
        self._by_id: dict[str, LedgerEntry] = {}
        self._by_band: list[dict[int, set[str]]] = [{} for _ in range(BANDS)]
        for entry in entries:
            self.add(entry)

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, article_id: str) -> LedgerEntry | None:
        return self._by_id.get(article_id)

    def add(self, entry: LedgerEntry) -> None:
        self._by_id[entry.article_id] = entry
        if entry.simhash is not None:
            for index, band in zip(self._by_band, bands(entry.simhash), strict=True):
                index.setdefault(band, set()).add(entry.article_id)

    def find_near(self, fingerprint: int, max_distance: int, exclude: str) -> LedgerEntry | None:
        """The closest entry within ``max_distance`` bits (ties: earliest published, then id)."""
        ids: set[str] = set()
        for index, band in zip(self._by_band, bands(fingerprint), strict=True):
            ids |= index.get(band, set())
        ids.discard(exclude)
        scored = []
        for article_id in ids:
            entry = self._by_id[article_id]
            if entry.simhash is None:
                continue
            d = simhash.distance(entry.simhash, fingerprint)
            if d <= max_distance:
                scored.append((d, entry.published is None, entry.published or datetime.max, article_id))
        return self._by_id[min(scored)[-1]] if scored else None


@dataclass(frozen=True)
class Candidate:
    """A normalised entry with its identity computed."""

    entry: NormalisedEntry
    article_id: str
    content_hash: str
    simhash: int
    token_count: int


def article_id(url: str, guid: str | None, feed: str) -> str | None:
    """Stable id: from the canonical URL, else from the feed's GUID (scoped to the feed), else None."""
    if url:
        key = f"url\n{url}"
    elif guid:
        key = f"guid\n{feed}\n{guid}"  # GUIDs are only unique within their feed
    else:
        return None
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_CHARS]


def content_hash(title: str, summary: str, content: str) -> str:
    return hashlib.sha256(f"{title}\n{summary}\n{content}".encode()).hexdigest()


def fingerprint(entries: Iterable[NormalisedEntry]) -> list[Candidate]:
    """Candidates for the entries that have an id; at most one per id (the latest, deterministically)."""
    chosen: dict[str, Candidate] = {}
    for entry in entries:
        aid = article_id(entry.url, entry.guid, entry.feed)
        if aid is None:
            continue
        words = simhash.tokens("\n".join(part for part in (entry.title, entry.summary, entry.content) if part))
        candidate = Candidate(
            entry=entry,
            article_id=aid,
            content_hash=content_hash(entry.title, entry.summary, entry.content),
            simhash=simhash.simhash_tokens(words),
            token_count=len(words),
        )
        # The same link twice in one document: keep one stably, or every poll would make a revision.
        previous = chosen.get(aid)
        if previous is None or _order(candidate) > _order(previous):
            chosen[aid] = candidate
    return sorted(chosen.values(), key=_order)


def _order(c: Candidate) -> tuple[datetime, str, str]:
    return (c.entry.published, c.entry.url, c.content_hash)


@dataclass
class DedupeResult:
    records: list[ArticleRecord] = field(default_factory=list)
    ledger_updates: list[LedgerEntry] = field(default_factory=list)
    duplicates: int = 0
    revisions: int = 0
    near_duplicates: int = 0


def deduplicate(candidates: Sequence[Candidate], ledger: Ledger) -> DedupeResult:
    """Decide, oldest first, what to publish; ``ledger`` is updated in place as the batch goes."""
    result = DedupeResult()
    for candidate in candidates:
        known = ledger.get(candidate.article_id)
        if known is None:
            entry = _new_entry(candidate, ledger)
            result.near_duplicates += entry.near_duplicate_of is not None
        elif known.content_hash == candidate.content_hash or known.first_feed != candidate.entry.feed:
            result.duplicates += 1
            continue
        else:
            entry = replace(
                known,
                content_hash=candidate.content_hash,
                revision=known.revision + 1,
                simhash=candidate.simhash,
                # Updates often bump pubDate; the ledger keeps the first publication time, which is what
                # "first copy" ordering and the publish -> fetch delay figures mean.
                published=known.published or _real_date(candidate.entry),
            )
            result.revisions += 1
        ledger.add(entry)
        result.ledger_updates.append(entry)
        result.records.append(to_record(candidate, entry))
    return result


def _new_entry(candidate: Candidate, ledger: Ledger) -> LedgerEntry:
    near_of = None
    if candidate.token_count:
        fuzzy = candidate.token_count >= MIN_TOKENS_FOR_FUZZY
        match = ledger.find_near(candidate.simhash, simhash.MAX_DISTANCE if fuzzy else 0, candidate.article_id)
        if match is not None:
            near_of = match.near_duplicate_of or match.article_id  # link to the first copy, not a copy of it
    return LedgerEntry(
        article_id=candidate.article_id,
        content_hash=candidate.content_hash,
        revision=1,
        simhash=candidate.simhash,
        first_feed=candidate.entry.feed,
        url=candidate.entry.url,
        near_duplicate_of=near_of,
        published=_real_date(candidate.entry),
    )


def _real_date(entry: NormalisedEntry) -> datetime | None:
    """The ledger keeps only dates the feed gave: fetch-time stand-ins would skew delay figures."""
    return None if entry.published_is_fallback else entry.published


def to_record(candidate: Candidate, entry: LedgerEntry) -> ArticleRecord:
    e = candidate.entry
    return ArticleRecord(
        id=entry.article_id,
        url=e.url or (e.guid or ""),
        title=e.title,
        summary=e.summary,
        content=e.content,
        published=e.published,
        published_is_fallback=e.published_is_fallback,
        fetched=e.fetched,
        language=e.language,
        outlet=e.outlet,
        feed=e.feed,
        guid=e.guid,
        revision=entry.revision,
        content_hash=entry.content_hash,
        near_duplicate_of=entry.near_duplicate_of,
    )
