"""Fetching one feed politely: conditional GET, timeouts, a body cap, a redirect limit, named errors.

Redirects are followed by hand so every hop is counted and checked for loops. The address
policy (a public feed must not lead the poller into the private network) is enforced where
connections are made: the default transport resolves each hop's host, checks every address
and connects only to those (``ingest.guarded_transport``). An injected transport (tests use
``httpx.MockTransport``, no sockets) makes no connections, so each hop is checked before it
is handed over instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urljoin

import httpx

from ingest.errors import (
    BodyTooLarge,
    FetchConnectionError,
    FetchError,
    FetchTimeout,
    HttpStatusError,
    RateLimited,
    TooManyRedirects,
    UnsafeFeedUrl,
)
from ingest.guarded_transport import GuardedTransport
from ingest.schedule import parse_max_age, parse_retry_after
from ingest.urlsafety import AddressPolicy, AddressPredicate, Resolver, check_scheme, is_public_address, system_resolver
from newsflow.settings import Settings

log = logging.getLogger(__name__)

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_REDIRECTS = (301, 302, 303, 307, 308)
_PERMANENT = (301, 308)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Validators:
    """What the last successful fetch returned, sent back as If-None-Match / If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


@dataclass(frozen=True)
class FetchResult:
    url: str  # as requested
    final_url: str  # after redirects: the base for relative links
    status: int  # 200 or 304
    body: bytes
    content_type: str | None
    validators: Validators  # to store for the next poll (the old ones kept on a 304 without new ones)
    max_age_s: int | None
    fetched_at: datetime
    moved_permanently_to: str | None = None  # every hop was 301/308: the operator may update the feed

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Fetcher:
    """One HTTP client for many feeds (connection reuse); use as a context manager or call ``close``."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
        address_allowed: AddressPredicate = is_public_address,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._policy = AddressPolicy(settings.allow_private_feed_addresses, resolver, address_allowed)
        # Only an injected transport needs the check before each hop; the guarded one checks as it connects.
        self._precheck = transport is not None
        self._clock = clock
        timeout = httpx.Timeout(
            connect=settings.http_connect_timeout_s,
            read=settings.http_read_timeout_s,
            write=settings.http_read_timeout_s,
            pool=settings.http_connect_timeout_s,
        )
        self._client = httpx.Client(
            transport=transport or GuardedTransport(self._policy),
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": settings.http_user_agent, "Accept": ACCEPT},
            trust_env=False,  # a proxy from the environment must not bypass the address policy
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str, validators: Validators | None = None, *, accept: str = ACCEPT) -> FetchResult:
        """GET ``url`` (conditionally); raises a ``FetchError`` subclass or ``UnsafeFeedUrl``."""
        validators = validators or Validators()
        deadline = time.monotonic() + self._settings.http_total_timeout_s
        seen = {url}
        current, permanent = url, True
        for _hop in range(self._settings.http_max_redirects + 1):
            check_scheme(current)
            if self._precheck and not self._policy.allow_private:
                self._policy.check_url(current)
            with self._send(current, validators, accept) as response:
                if response.status_code in _REDIRECTS and "location" in response.headers:
                    target = urljoin(current, response.headers["location"])
                    if target in seen:
                        raise TooManyRedirects(f"redirect loop: {current} -> {target}")
                    seen.add(target)
                    permanent = permanent and response.status_code in _PERMANENT
                    current = target
                    continue
                return self._result(url, current, response, validators, deadline, permanent and current != url)
        raise TooManyRedirects(f"more than {self._settings.http_max_redirects} redirects from {url}")

    def fetch_page(self, url: str) -> FetchResult:
        """GET a web page (an article, for full-text extraction) under the same limits and address policy."""
        return self.fetch(url, accept=ACCEPT_HTML)

    def _send(self, url: str, validators: Validators, accept: str) -> _StreamContext:
        try:
            request = self._client.build_request("GET", url, headers={"Accept": accept, **validators.headers()})
        except httpx.InvalidURL as exc:
            raise UnsafeFeedUrl(f"invalid URL {url}: {exc}") from exc
        return _StreamContext(self._client, request)

    def _result(
        self,
        url: str,
        final_url: str,
        response: httpx.Response,
        sent: Validators,
        deadline: float,
        moved: bool,
    ) -> FetchResult:
        status = response.status_code
        if status in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock())
            hint = f", Retry-After {retry_after:.0f} s" if retry_after is not None else ""
            raise RateLimited(f"HTTP {status} from {final_url}{hint}", status=status, retry_after_s=retry_after)
        if status != 304 and not 200 <= status < 300:
            raise HttpStatusError(f"HTTP {status} from {final_url}", status=status)
        body = b"" if status in (204, 304) else self._read_capped(response, final_url, deadline)
        new = Validators(
            etag=response.headers.get("etag") or (sent.etag if status == 304 else None),
            last_modified=response.headers.get("last-modified") or (sent.last_modified if status == 304 else None),
        )
        return FetchResult(
            url=url,
            final_url=final_url,
            status=304 if status == 304 else 200,
            body=body,
            content_type=response.headers.get("content-type"),
            validators=new,
            max_age_s=parse_max_age(response.headers.get("cache-control")),
            fetched_at=self._clock(),
            moved_permanently_to=final_url if moved else None,
        )

    def _read_capped(self, response: httpx.Response, url: str, deadline: float) -> bytes:
        limit = self._settings.http_max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"{url} announces {int(declared)} bytes, more than the {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():  # decompressed: the cap also stops gzip bombs
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(f"{url} sent more than the {limit}-byte limit")
                if time.monotonic() > deadline:
                    raise FetchTimeout(f"{url} still sending after {self._settings.http_total_timeout_s} s")
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"reading {url} timed out: {type(exc).__name__}") from exc
        except httpx.DecodingError as exc:
            raise FetchError(f"{url} sent a body that does not decode: {exc}") from exc
        except httpx.TransportError as exc:
            raise FetchConnectionError(f"reading {url} failed: {type(exc).__name__}: {exc}") from exc
        return b"".join(chunks)


class _StreamContext:
    """``client.send(stream=True)`` with httpx's transport errors turned into named feed errors."""

    def __init__(self, client: httpx.Client, request: httpx.Request) -> None:
        self._client = client
        self._request = request
        self._response: httpx.Response | None = None

    def __enter__(self) -> httpx.Response:
        url = str(self._request.url)
        try:
            self._response = self._client.send(self._request, stream=True)
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"{url}: {type(exc).__name__} (no answer in time)") from exc
        except httpx.UnsupportedProtocol as exc:
            raise UnsafeFeedUrl(f"{url}: {exc}") from exc
        except httpx.TransportError as exc:
            raise FetchConnectionError(f"{url}: {type(exc).__name__}: {exc}") from exc
        log.debug("GET %s -> %s", url, self._response.status_code)
        return self._response

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._response is not None:
            self._response.close()
