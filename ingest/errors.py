"""What can go wrong with one feed, by name (after httpx's small exception tree).

Every error here is a ``FeedError``: the poller records ``"ErrorName: message"`` in the feed's
health row and moves on to the next feed. Infrastructure failures (broker, store) are *not*
feed errors; they propagate so Airflow retries the task.
"""

from __future__ import annotations

from newsflow.errors import FeedError


class UnsafeFeedUrl(FeedError):
    """The URL is not http(s), or resolves to a private, loopback or link-local address."""


# --- fetching ---
class FetchError(FeedError):
    """The feed could not be downloaded."""


class FetchTimeout(FetchError):
    """Connecting or reading took longer than the configured timeouts."""


class FetchConnectionError(FetchError):
    """The host name did not resolve, or the connection was refused or reset."""


class TooManyRedirects(FetchError):
    """The redirect chain was longer than allowed, or looped."""


class BodyTooLarge(FetchError):
    """The response body exceeded ``http_max_body_bytes`` (checked while streaming)."""


class HttpStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, status: int, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class RateLimited(HttpStatusError):
    """429 Too Many Requests or 503 Service Unavailable; ``retry_after_s`` holds the server's wish."""


# --- parsing ---
class FeedParseError(FeedError):
    """The document is not a well-formed RSS or Atom feed (feedparser's ``bozo``)."""


class EntityExpansionRefused(FeedParseError):
    """The document declares a DTD internal subset or entities (billion laughs, XXE); refused unparsed."""


# --- full-text extraction (never fails the poll: the feed's teaser is published instead) ---
class FullTextError(FeedError):
    """The article page gave no usable text."""


class NotAnHtmlPage(FullTextError):
    """The article URL answered with something other than HTML (a PDF, an image, a feed)."""


class NoArticleText(FullTextError):
    """trafilatura found no article text in the page, or less than the feed's own teaser."""
