"""OPML import and export of the feed registry (the format every feed reader speaks).

Besides the usual outline attributes (``text`` is the outlet, ``title`` names the feed,
``xmlUrl``, ``language``), tags travel in OPML 2.0's ``category`` (comma-separated) and the
full-text switch in a ``fulltext="true"`` attribute of newsflow's own; readers ignore both.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from ingest.charset import decode_feed
from ingest.errors import FeedParseError
from ingest.parse import refuse_entity_declarations
from newsflow.errors import ConfigError
from newsflow.records.feed import DEFAULT_POLL_INTERVAL_S, FeedSpec

_NOT_NAME = re.compile(r"[^a-z0-9._-]+")
_TRUE = ("true", "1", "yes")


def slug(text: str) -> str:
    """A feed name from a title: lower-case letters, digits, '.', '_', '-'."""
    return _NOT_NAME.sub("-", text.lower()).strip("-._")[:200]


def _outlines(element: ET.Element) -> Iterator[ET.Element]:
    for child in element:
        if child.tag == "outline":
            if child.get("xmlUrl"):
                yield child
            yield from _outlines(child)  # categories nest feeds


def parse_opml(
    document: bytes, *, default_language: str | None = None, poll_interval_s: int = DEFAULT_POLL_INTERVAL_S
) -> list[FeedSpec]:
    """Feeds listed in an OPML document; names are unique (``-2``, ``-3`` appended on clashes)."""
    text = decode_feed(document).text
    refuse_entity_declarations(text)  # OPML is XML from elsewhere: same billion-laughs guard as feeds
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise FeedParseError(f"malformed OPML: {exc}") from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise FeedParseError("not an OPML document (no <opml><body>)")
    specs: list[FeedSpec] = []
    taken: set[str] = set()
    for outline in _outlines(body):
        url = (outline.get("xmlUrl") or "").strip()
        label = (outline.get("title") or outline.get("text") or "").strip()
        host = urlsplit(url).hostname or ""
        name = _unique(slug(label) or slug(host) or "feed", taken)
        try:
            specs.append(
                FeedSpec(
                    name=name,
                    url=url,
                    outlet=(outline.get("text") or label or host).strip() or name,
                    language=outline.get("language") or default_language,
                    poll_interval_s=poll_interval_s,
                    tags=_tags(outline.get("category")),
                    fulltext=(outline.get("fulltext") or "").strip().lower() in _TRUE,
                )
            )
        except ConfigError as exc:
            raise FeedParseError(f"OPML outline {label or url!r}: {exc}") from exc
    return specs


def _tags(category: str | None) -> tuple[str, ...]:
    """OPML categories ("news,/politics/germany") as tags ("news", "politics/germany"), order kept."""
    parts = (c.strip().strip("/") for c in (category or "").split(","))
    return tuple(dict.fromkeys(p for p in parts if p))


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def to_opml(specs: Iterable[FeedSpec], title: str = "newsflow feeds") -> bytes:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for spec in specs:
        attrs = {"type": "rss", "text": spec.outlet, "title": spec.name, "xmlUrl": spec.url}
        if spec.language:
            attrs["language"] = spec.language
        if spec.tags:
            attrs["category"] = ",".join(spec.tags)
        if spec.fulltext:
            attrs["fulltext"] = "true"
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
