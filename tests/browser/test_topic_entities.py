"""Named entities on the web page: chips on the topic page, a short line on the overview, text only."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from newsflow.store.database import open_store
from newsflow.store.schema import topics
from tests.browser.dataset import ELECTION, STRIKE
from tests.browser.harness import BrowserPage

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ENTITIES = ["Port of Rotterdam", "ILA", '<img src=x onerror="window.__xss = 3">Maersk']


def test_entities_show_as_chips_and_on_the_overview_as_text(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    engine = open_store(site.settings)
    with engine.begin() as conn:
        conn.execute(update(topics).where(topics.c.id == STRIKE.id).values(entities=ENTITIES))
    engine.dispose()
    page = browser_page.page

    page.goto(site.url(f"/topics/{STRIKE.id}"))
    expect(page.locator("#entities li")).to_have_text(ENTITIES)  # markup in a name stays text
    expect(page.locator("#keywords li")).to_have_text(list(STRIKE.keywords))  # keywords unchanged
    assert page.evaluate("window.__xss") is None

    page.goto(site.url(f"/topics/{ELECTION.id}"))
    expect(page.locator("#topic")).to_be_visible()
    expect(page.locator("#entities")).to_be_hidden()  # a topic without entities shows no empty list

    page.goto(site.url("/"))
    row = page.locator(f'tr.topic-row[data-topic-id="{STRIKE.id}"]')
    expect(row.locator(".entities")).to_have_text(" · ".join(ENTITIES))
    expect(row.locator(".chips li")).to_have_text(list(STRIKE.keywords)[:6])
    assert page.evaluate("window.__xss") is None
