"""Fixtures of the browser tests: Debian's chromium driven by Playwright, the real app served by uvicorn.

The browser and the local article site are shared by the session; every test gets a fresh browser
context (empty localStorage) and, through ``live_site``, its own SQLite store filled with
``dataset.TOPICS`` behind its own uvicorn server on a free loopback port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from pydantic import SecretStr

from tests.browser.dataset import TOPICS, Seeder
from tests.browser.harness import (
    CHROMIUM_ARGS,
    ArticleSite,
    BrowserPage,
    LiveSite,
    ThreadedUvicorn,
    chromium_executable,
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def browser_page(browser: Any) -> Iterator[BrowserPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield BrowserPage(context.new_page()).watch()
    context.close()


@pytest.fixture(scope="session")
def article_base_url() -> Iterator[str]:
    site = ArticleSite().start()
    yield site.base_url
    site.stop()


@pytest.fixture
def live_site(settings: Any, article_base_url: str) -> Iterator[Callable[..., LiveSite]]:
    """Factory: the real app over a store holding ``dataset.TOPICS``, served on a free port."""
    from newsflow.api.app import create_app
    from newsflow.store.database import open_store

    started: list[ThreadedUvicorn] = []
    engines: list[Any] = []

    def serve(api_keys: Sequence[str] = ()) -> LiveSite:
        site_settings = settings.model_copy(update={"api_keys": [SecretStr(k) for k in api_keys]})
        engine = open_store(site_settings)
        engines.append(engine)
        seeder = Seeder(engine, article_base_url)
        seeder.add(TOPICS)
        server = ThreadedUvicorn(create_app(site_settings))
        server.start()
        started.append(server)
        return LiveSite(f"http://127.0.0.1:{server.port}", site_settings, seeder)

    yield serve
    for server in started:
        server.stop()
    for engine in engines:
        engine.dispose()
