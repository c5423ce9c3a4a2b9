"""The provenance panel on the topic page (issue 18 item 10): who reported first, each outlet's lag, text only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from newsflow.store.database import open_store
from newsflow.store.schema import articles
from tests.browser.dataset import STRIKE
from tests.browser.harness import BrowserPage

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_the_topic_page_shows_who_reported_first_and_the_lags(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    engine = open_store(site.settings)
    with engine.begin() as conn:
        # STRIKE: Daily Courier first (5.1 h ago), Radio Nord at 4.2 h, Morning Post at 3.4 h.
        fetched = {r.id: r.fetched_at for r in conn.execute(select(articles.c.id, articles.c.fetched_at))}
        # Radio Nord's feed gives no publication time: its fetch time (at 4.0 h ago) is used and said.
        conn.execute(update(articles).where(articles.c.id == "strike-6").values(
            published_is_fallback=True, fetched_at=fetched["strike-6"] + timedelta(minutes=12)))  # fmt: skip
        # Morning Post's 3.4 h article claims to be published tomorrow: its fetch time is used.
        conn.execute(update(articles).where(articles.c.id == "strike-5").values(
            published_at=datetime.now(UTC) + timedelta(days=1)))  # fmt: skip
        # a markup outlet name stays text
        conn.execute(update(articles).where(articles.c.outlet == "Daily Courier").values(
            outlet='<img src=x onerror="window.__xss = 4">Daily Courier'))  # fmt: skip
    engine.dispose()
    page = browser_page.page

    page.goto(site.url(f"/topics/{STRIKE.id}"))
    entries = page.locator("#provenance li.provenance-entry")
    expect(entries).to_have_count(3)
    first = entries.nth(0)
    expect(first).to_have_class("provenance-entry first")
    expect(first).to_contain_text('first: <img src=x onerror="window.__xss = 4">Daily Courier at')
    expect(first.locator("time")).to_have_count(1)
    expect(entries.nth(1)).to_have_text("Radio Nord +66 min (time fetched (no publication time))")
    expect(entries.nth(2)).to_have_text("Morning Post +102 min (time fetched (publication time in the future))")
    assert page.evaluate("window.__xss") is None
