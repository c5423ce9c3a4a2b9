"""Normalisation: canonical URLs, HTML to text, UTC times with a flagged fallback, language, outlet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.html_text import html_to_text
from ingest.normalise import language_tag, normalise_entry, publication_time
from ingest.parse import RawEntry
from ingest.urls import canonical_url
from newsflow.records.feed import FeedSpec

FETCHED = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
FEED = FeedSpec("welt", "https://www.welt.de/feeds/latest.rss", "WELT", language="de")


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("/a/b?utm_source=x&id=3&fbclid=zz#top", "https://Example.COM/feed", "https://example.com/a/b?id=3"),
        ("b.html", "https://example.com/news/feed.xml", "https://example.com/news/b.html"),
        ("HTTPS://WWW.Example.com:443/x", "", "https://www.example.com/x"),
        ("http://example.com:8080/x?b=2&a=1", "", "http://example.com:8080/x?b=2&a=1"),  # order kept
        ("https://example.com/x?gclid=1&utm_medium=rss&UTM_CAMPAIGN=c", "", "https://example.com/x"),
        ("https://example.com/x?mc_cid=1&msclkid=2&page=2", "", "https://example.com/x?page=2"),
        ("https://example.com", "", "https://example.com/"),
        ("https://example.com/a%2Fb", "", "https://example.com/a%2Fb"),
        ("urn:uuid:1234", "https://example.com/", "urn:uuid:1234"),
        ("", "https://example.com/", ""),
    ],
)
def test_canonical_url(link: str, base: str, expected: str) -> None:
    assert canonical_url(link, base) == expected


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("<p>Hello <b>world</b></p><p>Second&nbsp;para &amp; more</p>", "Hello world\n\nSecond para & more"),
        ("<script>var x = 1;</script><style>p{}</style>Visible", "Visible"),
        ("line one<br/>line two", "line one\n\nline two"),
        ("5 < 6 and AT&T", "5 < 6 and AT&T"),
        ("  spaced \t out \n text ", "spaced out text"),
        ("&#8222;Zitat&#8220; &eacute;", "„Zitat“ é"),
        ("", ""),
    ],
)
def test_html_to_text(fragment: str, expected: str) -> None:
    assert html_to_text(fragment) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("de-DE", "de"), ("EN_us", "en"), ("", None), (None, None), ("12", None)]
)
def test_language_tag(value: str | None, expected: str | None) -> None:
    assert language_tag(value) == expected


def test_publication_time_fallback_is_flagged() -> None:
    real = FETCHED - timedelta(hours=3)
    assert publication_time(real, FETCHED) == (real, False)
    assert publication_time(None, FETCHED) == (FETCHED, True)
    assert publication_time(FETCHED + timedelta(days=2), FETCHED) == (FETCHED, True)  # implausible future
    assert publication_time(FETCHED + timedelta(minutes=10), FETCHED)[1] is False  # clock skew tolerated


def entry(**kw: object) -> RawEntry:
    base: dict[str, object] = dict(
        guid="g1", link="/politik/a?utm_source=rss", title="Trump &amp; Putin", summary_html="<p>Lead</p>",
        content_html="", published=datetime(2025, 2, 13, 6, 0, tzinfo=UTC),
    )  # fmt: skip
    base.update(kw)
    return RawEntry(**base)  # type: ignore[arg-type]


def test_normalise_entry() -> None:
    e = normalise_entry(entry(), feed=FEED, base_url="https://www.welt.de/feeds/latest.rss", fetched_at=FETCHED)
    assert e is not None
    assert e.url == "https://www.welt.de/politik/a"
    assert (e.title, e.summary, e.content) == ("Trump & Putin", "Lead", "")
    assert e.published == datetime(2025, 2, 13, 6, 0, tzinfo=UTC) and not e.published_is_fallback
    assert (e.language, e.outlet, e.feed, e.guid, e.fetched) == ("de", "WELT", "welt", "g1", FETCHED)


def test_language_falls_back_to_the_feed_document() -> None:
    feed = FeedSpec("x", "https://x.test/rss", "X")
    e = normalise_entry(entry(), feed=feed, base_url="https://x.test/", fetched_at=FETCHED, feed_language="en-GB")
    assert e is not None and e.language == "en"


def test_repeated_title_and_summary_are_dropped() -> None:
    e = normalise_entry(
        entry(title="Same", summary_html="Same", content_html="<p>Body</p>"), feed=FEED, base_url="", fetched_at=FETCHED
    )
    assert e is not None and (e.summary, e.content) == ("", "Body")


def test_entry_without_title_or_link_is_skipped() -> None:
    assert normalise_entry(entry(title="", link=None), feed=FEED, base_url="", fetched_at=FETCHED) is None
