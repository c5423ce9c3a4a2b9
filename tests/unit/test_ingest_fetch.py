"""The fetcher over httpx.MockTransport: headers sent, named errors, redirects, body cap, address policy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from ingest.errors import (
    BodyTooLarge,
    FetchConnectionError,
    FetchTimeout,
    HttpStatusError,
    RateLimited,
    TooManyRedirects,
    UnsafeFeedUrl,
)
from ingest.fetch import Fetcher, Validators
from newsflow.settings import Settings

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def make(handler: Callable[[httpx.Request], httpx.Response], **overrides: object) -> Fetcher:
    settings = Settings(allow_private_feed_addresses=True, **overrides)  # type: ignore[arg-type]
    return Fetcher(settings, transport=httpx.MockTransport(handler), clock=lambda: NOW)


def test_sends_user_agent_and_conditional_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, content=RSS, headers={"ETag": '"v2"', "Last-Modified": "Thu, 13 Feb 2025 10:00:00 GMT"}
        )

    with make(handler, http_user_agent="newsflow-test/1") as fetcher:
        result = fetcher.fetch("http://feeds.test/a.xml", Validators('"v1"', "Wed, 12 Feb 2025 10:00:00 GMT"))
    assert seen[0].headers["user-agent"] == "newsflow-test/1"
    assert seen[0].headers["if-none-match"] == '"v1"'
    assert seen[0].headers["if-modified-since"] == "Wed, 12 Feb 2025 10:00:00 GMT"
    assert result.status == 200 and result.body == RSS
    assert result.validators == Validators('"v2"', "Thu, 13 Feb 2025 10:00:00 GMT")
    assert result.fetched_at == NOW


def test_304_keeps_the_validators_it_sent() -> None:
    with make(lambda r: httpx.Response(304)) as fetcher:
        result = fetcher.fetch("http://feeds.test/a.xml", Validators('"v1"', "Wed, 12 Feb 2025 10:00:00 GMT"))
    assert result.not_modified and result.body == b""
    assert result.validators == Validators('"v1"', "Wed, 12 Feb 2025 10:00:00 GMT")


def test_cache_control_max_age_is_reported() -> None:
    with make(lambda r: httpx.Response(200, content=RSS, headers={"Cache-Control": "public, max-age=600"})) as f:
        assert f.fetch("http://feeds.test/a.xml").max_age_s == 600


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limited_with_retry_after(status: int) -> None:
    reply = httpx.Response(status, headers={"Retry-After": "120"})
    with make(lambda r: reply) as fetcher, pytest.raises(RateLimited) as info:
        fetcher.fetch("http://feeds.test/a.xml")
    assert info.value.status == status and info.value.retry_after_s == 120


def test_http_error_status_is_named() -> None:
    with make(lambda r: httpx.Response(404)) as fetcher, pytest.raises(HttpStatusError, match="HTTP 404") as info:
        fetcher.fetch("http://feeds.test/a.xml")
    assert not isinstance(info.value, RateLimited)


def test_follows_redirects_and_reports_permanent_moves() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old.xml":
            return httpx.Response(301, headers={"Location": "/new.xml"})
        return httpx.Response(200, content=RSS)

    with make(handler) as fetcher:
        result = fetcher.fetch("http://feeds.test/old.xml")
    assert result.final_url == "http://feeds.test/new.xml"
    assert result.moved_permanently_to == "http://feeds.test/new.xml"


def test_redirect_loop_is_named() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        target = "/b" if request.url.path == "/a" else "/a"
        return httpx.Response(302, headers={"Location": target})

    with make(handler) as fetcher, pytest.raises(TooManyRedirects, match="loop"):
        fetcher.fetch("http://feeds.test/a")


def test_redirect_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.path.strip("/") or 0)
        return httpx.Response(302, headers={"Location": f"/{n + 1}"})

    with make(handler, http_max_redirects=3) as fetcher, pytest.raises(TooManyRedirects, match="more than 3"):
        fetcher.fetch("http://feeds.test/0")


def test_announced_oversized_body_is_refused_unread() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(50 * 1024 * 1024)}, content=b"")

    with make(handler, http_max_body_bytes=1024) as fetcher, pytest.raises(BodyTooLarge, match="announces"):
        fetcher.fetch("http://feeds.test/a.xml")


def test_streamed_oversized_body_is_cut_off() -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    fetcher = make(lambda r: httpx.Response(200, content=chunks()), http_max_body_bytes=10_000)
    with fetcher, pytest.raises(BodyTooLarge, match="10000-byte limit"):
        fetcher.fetch("http://feeds.test/a.xml")


def test_timeouts_and_connection_errors_are_named() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with make(timeout) as fetcher, pytest.raises(FetchTimeout):
        fetcher.fetch("http://feeds.test/a.xml")
    with make(refused) as fetcher, pytest.raises(FetchConnectionError):
        fetcher.fetch("http://feeds.test/a.xml")


@pytest.mark.parametrize("url", ["ftp://feeds.test/a.xml", "file:///etc/passwd", "javascript:alert(1)"])
def test_only_http_and_https(url: str) -> None:
    with make(lambda r: httpx.Response(200, content=RSS)) as fetcher, pytest.raises(UnsafeFeedUrl):
        fetcher.fetch(url)


def _production(resolver: Callable[[str, int], list[str]]) -> Fetcher:
    settings = Settings(allow_private_feed_addresses=False)
    return Fetcher(
        settings, transport=httpx.MockTransport(lambda r: httpx.Response(200, content=RSS)), resolver=resolver
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://10.1.2.3/feed",
        "http://192.168.0.1/feed",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://0.0.0.0/feed",
    ],
)
def test_private_addresses_refused_in_production(url: str) -> None:
    with _production(lambda h, p: []) as fetcher, pytest.raises(UnsafeFeedUrl, match="non-public"):
        fetcher.fetch(url)


def test_host_names_are_resolved_and_checked() -> None:
    with _production(lambda h, p: ["93.184.216.34", "10.0.0.5"]) as fetcher, pytest.raises(UnsafeFeedUrl):
        fetcher.fetch("http://intranet.test/feed")
    with _production(lambda h, p: ["93.184.216.34"]) as fetcher:
        assert fetcher.fetch("http://public.test/feed").status == 200


def test_redirect_into_private_network_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    settings = Settings(allow_private_feed_addresses=False)
    fetcher = Fetcher(settings, transport=httpx.MockTransport(handler), resolver=lambda h, p: ["93.184.216.34"])
    with fetcher, pytest.raises(UnsafeFeedUrl):
        fetcher.fetch("http://public.test/feed")


def test_unresolvable_host_is_a_connection_error() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with _production(fail) as fetcher, pytest.raises(FetchConnectionError, match="cannot resolve"):
        fetcher.fetch("http://nowhere.test/feed")
