"""/docs in headless Chromium with every request off the API's own origin refused: the OpenAPI UI works offline."""

from __future__ import annotations

import pytest
from playwright.sync_api import Route, expect

from tests.browser.harness import BrowserPage, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_docs_render_the_operations_without_the_internet(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    page = browser_page.page
    refused: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(site.url("/")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.goto(site.url("/docs"))
    expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(p.startswith("/api/v1/topics") for p in paths), paths
    assert refused == []  # nothing was asked of a CDN
    screenshot(page, "api-docs")
