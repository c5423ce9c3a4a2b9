"""Full-text extraction against a local HTTP server: page text replaces the teaser, failures keep it by name."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.dedupe import content_hash
from ingest.fetch import Fetcher
from ingest.fulltext import FullTextExtractor, extract_text
from newsflow.contracts import ArticleRecord
from newsflow.settings import Settings
from tests.fixtures.feeds.server import Reply, ScriptedServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
ARTICLE = (FIXTURES / "article.html").read_bytes()
T0 = datetime(2025, 2, 13, 6, 0, tzinfo=UTC)
TEASER = "Kyiv and Washington are close to a minerals deal."
LOCAL = Settings(allow_private_feed_addresses=True, http_connect_timeout_s=1, http_read_timeout_s=1)


def record(url: str, summary: str = TEASER) -> ArticleRecord:
    title = "Ukraine close to minerals deal"
    return ArticleRecord(
        id=url[-8:].rjust(8, "x"), url=url, title=title, summary=summary, published=T0, fetched=T0, outlet="Wire",
        feed="wire", content_hash=content_hash(title, summary, ""),
    )  # fmt: skip


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        s.route("/article", Reply(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"}))
        s.route("/gone", Reply(404, b"not found", {"Content-Type": "text/html"}))
        s.route("/paper.pdf", Reply(200, b"%PDF-1.7", {"Content-Type": "application/pdf"}))
        s.route("/empty", Reply(200, b"<html><body><nav>Home</nav></body></html>", {"Content-Type": "text/html"}))
        yield s


def test_extracts_the_article_and_drops_the_page_furniture() -> None:
    text = extract_text(ARTICLE, "http://wire.test/article")
    assert "half of its future revenue from state-owned mineral resources" in text
    assert "Munich Security Conference on Friday" in text
    for furniture in ("Sign in", "Most read", "Celebrity chef", "All rights reserved", "window.analytics"):
        assert furniture not in text
    assert "\n\n" in text  # paragraphs kept apart, as html_to_text does for feed content


def test_page_text_replaces_the_teaser_and_failures_keep_it(server: ScriptedServer) -> None:
    records = [
        record(server.url("/article")),
        record(server.url("/gone")),
        record(server.url("/paper.pdf")),
        record(server.url("/empty")),
        record("story-42"),  # a GUID, no link: nothing to fetch
    ]
    with Fetcher(LOCAL) as fetcher:
        result = FullTextExtractor(fetcher).enrich(records)
    full, gone, pdf, empty, guid = result.records
    assert "rare earth minerals" in full.content and full.summary == TEASER
    assert full.content_hash == content_hash(full.title, TEASER, full.content) != records[0].content_hash
    assert (gone, pdf, empty, guid) == tuple(records[1:])  # untouched, teaser and all
    assert result.extracted == 1 and result.skipped == 0
    assert [f.split(": ", 2)[1] for f in result.failed] == ["HttpStatusError", "NotAnHtmlPage", "NoArticleText"]
    assert [r.path for r in server.requests] == ["/article", "/gone", "/paper.pdf", "/empty"]
    assert "text/html" in server.requests[0].headers["accept"]
    assert "newsflow" in server.requests[0].headers["user-agent"]


def test_a_page_shorter_than_the_teaser_is_not_used(server: ScriptedServer) -> None:
    long_teaser = "word " * 2000
    with Fetcher(LOCAL) as fetcher:
        result = FullTextExtractor(fetcher).enrich([record(server.url("/article"), summary=long_teaser)])
    assert result.records[0].content == "" and "NoArticleText" in result.failed[0]


def test_page_fetches_are_bounded_per_poll(server: ScriptedServer) -> None:
    records = [record(server.url("/article")) for _ in range(3)]
    with Fetcher(LOCAL) as fetcher:
        result = FullTextExtractor(fetcher, max_pages=2).enrich(records)
    assert (result.extracted, result.skipped) == (2, 1)
    assert result.records[2] == records[2] and len(server.requests) == 2


def test_the_address_policy_applies_to_article_pages(server: ScriptedServer) -> None:
    production = LOCAL.model_copy(update={"allow_private_feed_addresses": False})
    with Fetcher(production) as fetcher:
        result = FullTextExtractor(fetcher).enrich([record(server.url("/article"))])
    assert result.records[0].content == "" and "UnsafeFeedUrl" in result.failed[0]
    assert server.requests == []


def test_an_extractor_crash_is_a_named_failure(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(html: bytes, url: str) -> str:
        raise ValueError("lxml choked")

    monkeypatch.setattr("ingest.fulltext.extract_text", crash)
    with Fetcher(LOCAL) as fetcher:
        result = FullTextExtractor(fetcher).enrich([record(server.url("/article"))])
    assert result.records[0].content == "" and "NoArticleText: extraction failed" in result.failed[0]
