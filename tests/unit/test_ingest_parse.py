"""Parsing: RSS/Atom, broken documents by name, entity declarations refused, charsets settled."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.charset import decode_feed
from ingest.errors import EntityExpansionRefused, FeedParseError
from ingest.html_text import html_to_text
from ingest.parse import parse_feed
from ingest.urls import canonical_url
from tests.fixtures.feeds.builders import Item, rss

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_rss2_entries_dates_and_feed_fields() -> None:
    doc = rss(
        [Item("A & B", "/a/1", "g-1", "<p>Hi</p>", datetime(2025, 2, 12, 9, 0, tzinfo=UTC)), Item("No date", "/b")],
        language="de-DE",
    ).replace("<language>", "<ttl>30</ttl><language>")
    parsed = parse_feed(doc.encode(), base_url="http://example.test/feed.xml")
    assert parsed.version == "rss20" and parsed.language == "de-DE" and parsed.ttl_minutes == 30
    first, second = parsed.entries
    assert (first.title, first.link, first.guid) == ("A & B", "/a/1", "g-1")  # as given: normalise resolves it
    assert first.summary_html == "<p>Hi</p>"
    assert first.published == datetime(2025, 2, 12, 9, 0, tzinfo=UTC)
    assert second.published is None


def test_atom_with_relative_links_and_time_zones() -> None:
    parsed = parse_feed(fixture("atom.xml"), base_url="https://example.test/feeds/atom.xml")
    assert parsed.version == "atom10" and parsed.language == "de"
    [entry] = parsed.entries
    assert entry.link == "/politik/trump-putin?utm_source=rss&utm_medium=feed&id=7"  # resolved in normalise:
    assert (
        canonical_url(entry.link, "https://example.test/feeds/atom.xml")
        == "https://example.test/politik/trump-putin?id=7"
    )
    assert entry.published == datetime(2025, 2, 13, 6, 30, tzinfo=UTC)  # +01:00 -> UTC
    # HTML stays HTML here (feedparser's sanitiser is off); the text that leaves normalise has no script in it
    assert html_to_text(entry.summary_html) == "Erst Putin, dann Selenskyj."
    assert "Zweiter Absatz" in entry.content_html


def test_rss091_with_public_doctype_is_accepted() -> None:
    parsed = parse_feed(fixture("rss091.xml"))
    assert parsed.version == "rss091n" and parsed.entries[0].title == "Item one"


def test_malformed_xml_is_a_named_error_not_partial_data() -> None:
    with pytest.raises(FeedParseError, match="malformed feed: SAXParseException"):
        parse_feed(fixture("malformed.xml"))


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(b"<!doctype html><html><body><p>Welcome</body></html>", content_type="text/html")


def test_empty_body_is_not_a_feed() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(b"")


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_entity_declarations_refused_before_parsing(name: str) -> None:
    with pytest.raises(EntityExpansionRefused):
        parse_feed(fixture(name))


def test_entity_declarations_refused_in_utf16_too() -> None:
    doc = (
        fixture("billion_laughs.xml")
        .decode()
        .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
    )
    with pytest.raises(EntityExpansionRefused):
        parse_feed(doc.encode("utf-16"))


def test_a_string_body_is_never_taken_for_a_file_name() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(str(FIXTURES / "atom.xml").encode())


@pytest.mark.parametrize("name", ["cp1252_declared_utf8.xml", "utf8_declared_latin1.xml", "utf16.xml"])
def test_wrong_or_unusual_charsets_decode_correctly(name: str) -> None:
    [entry] = parse_feed(fixture(name)).entries
    assert entry.title == "„Müller“ gewinnt"
    assert entry.summary_html == "Straße – café"


def test_charset_notes_say_what_was_wrong() -> None:
    assert decode_feed(fixture("utf8_declared_latin1.xml")).note == "declared iso8859-1, but the bytes are UTF-8"
    assert "windows-1252" in (decode_feed(fixture("cp1252_declared_utf8.xml")).note or "")
    assert decode_feed(rss([Item("x", "/x")]).encode()).note is None


def test_http_header_charset_used_when_the_document_is_silent() -> None:
    doc = rss([Item("Müller", "/m")], encoding=None).encode("iso-8859-1")
    assert parse_feed(doc, content_type="application/rss+xml; charset=ISO-8859-1").entries[0].title == "Müller"
    assert parse_feed(doc).entries[0].title == "Müller"  # no declaration at all: Windows-1252 fallback
