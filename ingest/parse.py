"""Parsing fetched bytes into feed entries with feedparser (RSS 0.9x/1.0/2.0, Atom).

Three guards come before feedparser sees anything: the charset is settled (``ingest.charset``),
documents declaring a DTD internal subset or entities are refused by name (billion laughs,
external entities), and the bytes go in as a stream, never as a string feedparser might
take for a URL or a file name. A document feedparser flags as broken (``bozo``) is an error,
not a source of silently partial data.
"""

from __future__ import annotations

import calendar
import io
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.charset import decode_feed
from ingest.errors import EntityExpansionRefused, FeedParseError

log = logging.getLogger(__name__)

_DOCTYPE = re.compile(r"<!DOCTYPE\b", re.IGNORECASE)
_ENTITY = re.compile(r"<!ENTITY\b", re.IGNORECASE)


@dataclass(frozen=True)
class RawEntry:
    """One item as the feed gave it: HTML still in the text fields, times as parsed (UTC)."""

    guid: str | None
    link: str | None
    title: str
    summary_html: str
    content_html: str
    published: datetime | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str | None
    language: str | None
    ttl_minutes: int | None
    entries: tuple[RawEntry, ...]
    version: str  # feedparser's name for the format, e.g. "rss20", "atom10"
    encoding_note: str | None = None  # set when the charset declaration was missing or wrong


def _prolog(text: str) -> str:
    """Everything before the root element: XML declaration, comments, processing instructions, DOCTYPE."""
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if text.startswith("<?", pos):
            end = _end_of(text, "?>", pos)
        elif text.startswith("<!--", pos):
            end = _end_of(text, "-->", pos)
        elif _DOCTYPE.match(text, pos):
            bracket, close = text.find("[", pos), text.find(">", pos)
            internal_subset = bracket != -1 and (close == -1 or bracket < close)
            end = _end_of(text, "]>" if internal_subset else ">", pos)
        else:
            return text[:pos]
        if end == -1:
            return text
        pos = end


def _end_of(text: str, terminator: str, start: int) -> int:
    """Index just past ``terminator`` (searched from ``start``), or -1."""
    found = text.find(terminator, start)
    return -1 if found == -1 else found + len(terminator)


def refuse_entity_declarations(text: str) -> None:
    """Raise ``EntityExpansionRefused`` if the prolog declares an internal DTD subset or entities.

    A bare DOCTYPE (RSS 0.91 names its public DTD) is harmless and allowed.
    """
    prolog = _prolog(text)
    doctype = _DOCTYPE.search(prolog)
    if _ENTITY.search(prolog):
        raise EntityExpansionRefused("document declares XML entities (entity expansion / XXE); not parsed")
    if doctype and "[" in prolog[doctype.start() :]:
        raise EntityExpansionRefused("document has a DTD internal subset; not parsed")


def parse_feed(body: bytes, *, content_type: str | None = None, base_url: str = "") -> ParsedFeed:
    """Parse one fetched document; raises ``FeedParseError`` (or ``EntityExpansionRefused``)."""
    decoded = decode_feed(body, content_type)
    if decoded.note:
        log.info("%s: %s", base_url or "feed", decoded.note)
    refuse_entity_declarations(decoded.text)
    parsed = feedparser.parse(
        io.BytesIO(decoded.as_utf8_document()),
        # No content-location: relative links are resolved against the fetched URL in normalise (an
        # xml:base in the document still applies here), and feedparser joining every URI with the
        # base cost a fifth of its time. Its HTML passes are off for the same reason: the text fields
        # become plain text (html_text drops every tag, script and style included).
        response_headers={"content-type": "application/xml; charset=utf-8"},
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        raise FeedParseError(f"malformed feed: {type(exc).__name__}: {_one_line(exc)}")
    if not parsed.get("version"):
        raise FeedParseError("not an RSS or Atom document")
    feed = parsed.get("feed", {})
    return ParsedFeed(
        title=str(feed.get("title", "")),
        link=feed.get("link"),
        language=feed.get("language") or None,
        ttl_minutes=_int_or_none(feed.get("ttl")),
        entries=tuple(_entry(e) for e in parsed.get("entries", [])),
        version=str(parsed.get("version")),
        encoding_note=decoded.note,
    )


def _entry(entry: Any) -> RawEntry:
    contents = entry.get("content") or []
    content_html = max((str(c.get("value", "")) for c in contents), key=len, default="")
    return RawEntry(
        guid=entry.get("id") or None,
        link=entry.get("link") or None,
        title=str(entry.get("title", "")),
        summary_html=str(entry.get("summary", "")),
        content_html=content_html,
        published=_utc(entry.get("published_parsed") or entry.get("updated_parsed")),
    )


def _utc(parsed: time.struct_time | None) -> datetime | None:
    """feedparser normalises dates to UTC struct_time; None when the feed had none or it was unparseable."""
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def _one_line(exc: object) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
