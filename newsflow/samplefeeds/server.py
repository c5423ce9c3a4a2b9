"""A local HTTP server for the sample feeds, with ETags and Last-Modified so conditional GET works.

Serves ``/feeds/<name>.xml`` (RSS 2.0), ``/feeds.opml`` and an HTML index at ``/``. With a
``clock`` only items published at or before ``clock()`` are visible, so a replay can make the
feeds "publish" over time; without one every item is visible.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape, quoteattr

from newsflow.samplefeeds.build import SampleFeed, render_rss

log = logging.getLogger(__name__)


class SampleFeedServer:
    """``ThreadingHTTPServer`` in a daemon thread; a context manager. ``port=0`` picks a free port."""

    def __init__(
        self,
        feeds: Mapping[str, SampleFeed],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.feeds = dict(feeds)
        self.clock = clock
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="samplefeeds", daemon=True)
        self._thread.start()
        log.info("sample feeds at %s (%d feeds)", self.base_url, len(self.feeds))

    @property
    def base_url(self) -> str:
        host, port = self._httpd.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def feed_url(self, name: str) -> str:
        return f"{self.base_url}/feeds/{name}.xml"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> SampleFeedServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def render(self, name: str) -> tuple[bytes, datetime | None] | None:
        """(RSS bytes, newest visible item time) for a feed, or None if unknown."""
        feed = self.feeds.get(name)
        if feed is None:
            return None
        until = self.clock() if self.clock else None
        visible = feed.visible(until)
        return render_rss(feed, self.feed_url(name), until), (visible[0].published if visible else None)

    def index_html(self) -> bytes:
        links = "".join(
            f"<li><a href={quoteattr(f'/feeds/{n}.xml')}>{escape(n)}</a> ({escape(f.outlet)}, {len(f.items)})</li>"
            for n, f in sorted(self.feeds.items())
        )
        return f"<!doctype html><title>newsflow sample feeds</title><ul>{links}</ul>".encode()

    def opml(self) -> bytes:
        outlines = "".join(
            f"<outline type={quoteattr('rss')} text={quoteattr(f.outlet)} title={quoteattr(n)}"
            f" xmlUrl={quoteattr(self.feed_url(n))} language={quoteattr(f.language)}/>"
            for n, f in sorted(self.feeds.items())
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><opml version="2.0"><head><title>newsflow sample feeds'
            f"</title></head><body>{outlines}</body></opml>"
        ).encode()


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _not_modified_since(if_modified_since: str, last_modified: datetime | None) -> bool:
    if last_modified is None:
        return False
    try:
        return last_modified.replace(microsecond=0) <= parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False


def _handler_for(server: SampleFeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "newsflow-samplefeeds/1"

        def do_HEAD(self) -> None:
            self._respond(head=True)

        def do_GET(self) -> None:
            self._respond(head=False)

        def _respond(self, *, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            last_modified = None
            if path in ("/", "/feeds", "/feeds/"):
                body, ctype = server.index_html(), "text/html; charset=utf-8"
            elif path == "/feeds.opml":
                body, ctype = server.opml(), "text/x-opml; charset=utf-8"
            elif path.startswith("/feeds/") and path.endswith(".xml"):
                rendered = server.render(path[len("/feeds/") : -len(".xml")])
                if rendered is None:
                    return self._plain(HTTPStatus.NOT_FOUND, b"no such feed\n", head)
                (body, last_modified), ctype = rendered, "application/rss+xml; charset=utf-8"
            else:
                return self._plain(HTTPStatus.NOT_FOUND, b"not found\n", head)
            self._send(body, ctype, last_modified, head)

        def _send(self, body: bytes, ctype: str, last_modified: datetime | None, head: bool) -> None:
            etag = etag_for(body)
            inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            # RFC 9110: If-None-Match wins; If-Modified-Since is looked at only without it.
            unchanged = _matches(inm, etag) if inm else bool(ims) and _not_modified_since(ims or "", last_modified)
            self.send_response(HTTPStatus.NOT_MODIFIED if unchanged else HTTPStatus.OK)
            self.send_header("ETag", etag)
            if last_modified is not None:
                self.send_header("Last-Modified", format_datetime(last_modified, usegmt=True))
            if unchanged:
                self.end_headers()  # a 304 has no body and no Content-Length of its own
                return
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _plain(self, status: HTTPStatus, body: bytes, head: bool) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("samplefeeds: " + format, *args)

    return Handler
