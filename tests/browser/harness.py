"""What the browser tests run on: Debian's chromium, uvicorn in a thread, a local "news site", screenshots.

Chromium is Debian's package (``/usr/bin/chromium`` or ``NEWSFLOW_CHROMIUM``), never Playwright's
download; when it is missing the tests fail and name ``scripts/install_chromium.sh``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.browser.dataset import Seeder

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
START_TIMEOUT_S = 20.0


def chromium_executable() -> str:
    """Debian's chromium (or NEWSFLOW_CHROMIUM); fails the test with the install command when missing."""
    wanted = os.environ.get("NEWSFLOW_CHROMIUM", "/usr/bin/chromium")
    found = shutil.which(wanted)
    if found is None:
        pytest.fail(
            f"chromium not found at {wanted!r}: run `bash scripts/install_chromium.sh` "
            "(Debian's chromium package) or set NEWSFLOW_CHROMIUM to a chromium binary",
            pytrace=False,
        )
    return found


@dataclass
class BrowserPage:
    """A Playwright page plus the JavaScript errors and dialogs it produced (both should stay empty)."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def watch(self) -> BrowserPage:
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        return self

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def screenshot(page: Any, name: str) -> Path:
    """Full-page PNG under test-output/screenshots/ (kept as a test artifact)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- the local "news site" the article links point at ----------------------------------------------


class _ArticleHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        slug = self.path.rsplit("/", 1)[-1]
        if not self.path.startswith("/articles/") or not slug.replace("-", "").isalnum():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        body = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Article</title>"
            "<style>body{font-family:sans-serif;max-width:40rem;margin:3rem auto}</style></head>"
            f"<body><p>Local news site</p><h1 id='article-slug'>{slug}</h1>"
            "<p>The article text would be here.</p></body></html>"
        ).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on what the browser saw; per-request lines would only bury failures."""


class ArticleSite:
    """A tiny HTTP server on a free loopback port with one page per article slug."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _ArticleHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/articles/"

    def start(self) -> ArticleSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- the real app on uvicorn -----------------------------------------------------------------------


class ThreadedUvicorn:
    """uvicorn serving ``app`` on a free 127.0.0.1 port in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))  # uvicorn listens on this socket: no race for the port
        self.port = int(self._socket.getsockname()[1])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start on 127.0.0.1:{self.port} within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


@dataclass(frozen=True)
class LiveSite:
    """The app as the browser sees it, plus the seeder that wrote (and can add to) its store."""

    base_url: str
    settings: Any
    seeder: Seeder

    def url(self, path: str) -> str:
        return self.base_url + path
