"""Full text for teaser-only feeds: fetch each new article's page and extract its text (trafilatura).

Off by default, on per feed (``FeedSpec.fulltext``). It runs after de-duplication, on the
articles about to be published only, so a page is fetched once per new article or revision,
never on every poll. Pages go through the poller's ``Fetcher``: the same User-Agent,
timeouts, body cap, redirect limit and address policy as the feed itself.

A page that fails (HTTP error, timeout, not HTML, no text found) is a named, logged failure
that leaves the teaser in place; it never fails the poll. The de-duplication identity stays
the feed's teaser (the ledger's hash), so page changes (ads, "most read" boxes) cannot turn
into revisions; the published record's ``content_hash`` covers the text it actually carries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.dedupe import content_hash
from ingest.errors import NoArticleText, NotAnHtmlPage
from ingest.fetch import Fetcher
from ingest.html_text import collapse_whitespace
from ingest.normalise import MAX_CONTENT_CHARS
from newsflow.contracts import ArticleRecord
from newsflow.errors import FeedError

log = logging.getLogger(__name__)

# Bounds on one poll's page fetches, so a feed's first poll (dozens of new items) cannot hold
# its host's lane for long: the rest keep their teasers, as if extraction were off.
MAX_PAGES_PER_POLL = 30
MAX_SECONDS_PER_POLL = 120.0
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class FullTextResult:
    records: list[ArticleRecord]
    extracted: int = 0
    failed: list[str] = field(default_factory=list)  # "url: ErrorName: message"
    skipped: int = 0  # over the per-poll bounds


def extract_text(html: bytes, url: str) -> str:
    """The article text of an HTML page as paragraphs separated by blank lines ('' when none is found)."""
    import trafilatura  # imported here: only polls of full-text feeds pay for lxml and its models

    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=False, favor_precision=True, deduplicate=False
    )
    return collapse_whitespace("\n\n".join((text or "").splitlines()))


class FullTextExtractor:
    """Replaces teasers with page text through a shared ``Fetcher``."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        max_pages: int = MAX_PAGES_PER_POLL,
        max_seconds: float = MAX_SECONDS_PER_POLL,
    ) -> None:
        self._fetcher = fetcher
        self._max_pages = max_pages
        self._max_seconds = max_seconds

    def enrich(self, records: Sequence[ArticleRecord]) -> FullTextResult:
        """The records with ``content`` set to the page text where that worked, in the same order."""
        result = FullTextResult(records=[])
        deadline = time.monotonic() + self._max_seconds
        for index, record in enumerate(records):
            if index >= self._max_pages or time.monotonic() > deadline:
                result.skipped = len(records) - index
                result.records.extend(records[index:])
                break
            result.records.append(self._one(record, result))
        return result

    def _one(self, record: ArticleRecord, result: FullTextResult) -> ArticleRecord:
        if not record.url.startswith(("http://", "https://")):
            return record  # a GUID standing in for a link: nothing to fetch
        try:
            text = self._page_text(record)
        except FeedError as exc:
            failure = f"{record.url}: {type(exc).__name__}: {exc}"
            result.failed.append(failure)
            log.warning("%s: full text failed, teaser kept: %s", record.feed, failure)
            return record
        result.extracted += 1
        return record.model_copy(
            update={"content": text, "content_hash": content_hash(record.title, record.summary, text)}
        )

    def _page_text(self, record: ArticleRecord) -> str:
        page = self._fetcher.fetch_page(record.url)
        content_type = (page.content_type or "").split(";", 1)[0].strip().lower()
        if content_type and content_type not in _HTML_TYPES:
            raise NotAnHtmlPage(f"{page.final_url} is {content_type}, not HTML")
        try:
            text = extract_text(page.body, page.final_url)[:MAX_CONTENT_CHARS]
        except Exception as exc:  # lxml/trafilatura on odd markup: a named failure, never a failed poll
            raise NoArticleText(f"extraction failed on {page.final_url}: {type(exc).__name__}: {exc}") from exc
        teaser = max(len(record.summary), len(record.content))
        if len(text) <= teaser:
            raise NoArticleText(f"{len(text)} characters extracted from {page.final_url}, the teaser has {teaser}")
        return text
