"""From a feed's raw entry to a clean article: canonical URL, plain text, UTC time, language, outlet.

The language is the feed's (as registered, else as the document declares it), checked per
article by ``ingest.language``: where detection clearly disagrees, the detected one is used.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.html_text import html_to_text
from ingest.language import checked_language
from ingest.parse import ParsedFeed, RawEntry
from ingest.urls import canonical_url
from newsflow.records.feed import FeedSpec

log = logging.getLogger(__name__)

# Kafka's default message limit is 1 MB; a feed stuffing whole books into <content> must not break it.
MAX_TITLE_CHARS = 1_000
MAX_SUMMARY_CHARS = 5_000
MAX_CONTENT_CHARS = 100_000
# Clocks differ and feeds post-date items; beyond this, a "future" date is a feed bug, not a time zone.
FUTURE_TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True)
class NormalisedEntry:
    url: str  # canonical; '' when the feed gave no usable link
    title: str
    summary: str
    content: str
    published: datetime
    published_is_fallback: bool
    fetched: datetime
    language: str | None
    outlet: str
    feed: str
    guid: str | None


def language_tag(value: str | None) -> str | None:
    """Primary language subtag, lower-case: 'de-DE' -> 'de', 'EN_us' -> 'en'."""
    if not value or not value.strip():
        return None
    primary = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 8 else None


def publication_time(published: datetime | None, fetched_at: datetime) -> tuple[datetime, bool]:
    """(time, is_fallback): the feed's own time in UTC, or the fetch time when missing or implausible."""
    if published is None or published > fetched_at + FUTURE_TOLERANCE:
        return fetched_at, True
    return published, False


def normalise_entry(
    entry: RawEntry,
    *,
    feed: FeedSpec,
    base_url: str,
    fetched_at: datetime,
    feed_language: str | None = None,
) -> NormalisedEntry | None:
    """Clean one entry; None for entries with neither a title nor a link (nothing to show or key on)."""
    url = canonical_url(entry.link or "", base_url) if entry.link else ""
    title = html_to_text(entry.title)[:MAX_TITLE_CHARS]
    summary = html_to_text(entry.summary_html)[:MAX_SUMMARY_CHARS]
    content = html_to_text(entry.content_html)[:MAX_CONTENT_CHARS]
    if content == summary:
        content = ""  # feedparser fills both from Atom <content> when there is no <summary>
    if summary == title:
        summary = ""  # many feeds repeat the headline as the description
    if not title and not url:
        return None
    published, is_fallback = publication_time(entry.published, fetched_at)
    declared = language_tag(feed.language) or language_tag(feed_language)
    return NormalisedEntry(
        url=url,
        title=title or summary[:120] or url,
        summary=summary,
        content=content,
        published=published,
        published_is_fallback=is_fallback,
        fetched=fetched_at,
        language=checked_language(declared, "\n".join((title, summary, content))),
        outlet=feed.outlet,
        feed=feed.name,
        guid=entry.guid.strip() if entry.guid else None,
    )


def normalise_feed(parsed: ParsedFeed, *, feed: FeedSpec, base_url: str, fetched_at: datetime) -> list[NormalisedEntry]:
    entries: Iterable[NormalisedEntry | None] = (
        normalise_entry(e, feed=feed, base_url=base_url, fetched_at=fetched_at, feed_language=parsed.language)
        for e in parsed.entries
    )
    kept = [e for e in entries if e is not None]
    if len(kept) < len(parsed.entries):
        log.info("%s: skipped %d entries without title or link", feed.name, len(parsed.entries) - len(kept))
    _log_language_overrides(feed, language_tag(feed.language) or language_tag(parsed.language), kept)
    return kept


def _log_language_overrides(feed: FeedSpec, declared: str | None, entries: list[NormalisedEntry]) -> None:
    """One line per poll, not per article: a mislabelled feed would otherwise flood the log."""
    detected = Counter(e.language for e in entries if e.language != declared)
    if detected:
        example = next(e for e in entries if e.language != declared)
        log.info(
            "%s: declared language %s, but detection says %s for %d of %d entries (e.g. %s); using the detected one",
            feed.name,
            declared or "none",
            ", ".join(f"{lang} x{n}" for lang, n in detected.most_common()),
            sum(detected.values()),
            len(entries),
            example.url or example.title[:60],
        )
