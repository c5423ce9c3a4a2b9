"""The overview page in headless Chromium: growth order, sparklines, filters, paging, auto-refresh, API key, XSS."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.dataset import FLOOD, LATE_TOPIC, TOPICS, XSS_KEYWORD, XSS_LABEL, active_by_growth
from tests.browser.harness import BrowserPage, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROWS = "tr.topic-row"


def row_ids(page: object) -> list[int]:
    return [int(i) for i in page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.topicId)")]  # type: ignore[attr-defined]


def test_overview_lists_active_topics_by_growth_with_a_sparkline_each(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    page = browser_page.page
    expected = active_by_growth(TOPICS)
    page.goto(site.url("/"))
    expect(page.locator(ROWS)).to_have_count(len(expected))

    assert row_ids(page) == [t.id for t in expected]
    for topic in expected:
        row = page.locator(f'{ROWS}[data-topic-id="{topic.id}"]')
        expect(row.locator(".topic-title")).to_have_text(topic.representative_title)  # the headline is the title
        expect(row.locator(".topic-label")).to_have_text(topic.label)  # the keywords beneath it
        expect(row.locator(".article-count")).to_have_text(str(len(topic.articles)))
        expect(row.locator(".outlet-count")).to_have_text(str(len({a.outlet for a in topic.articles})))
        expect(row.locator(".chips li")).to_have_text(list(topic.keywords)[:6])
        spark = row.locator("svg.sparkline")
        expect(spark).to_have_count(1)
        points = spark.locator("polyline").get_attribute("points") or ""
        assert len(points.split()) == 24  # one point per hour of the last 24
        # every seeded article of these topics is younger than 24 h, so the line carries all of them
        expect(spark).to_have_attribute("aria-label", f"{len(topic.articles)} articles in the last 24 hours")
    badge = page.locator(f'{ROWS}[data-topic-id="{expected[0].id}"] .growth-badge')
    expect(badge).to_have_class(re.compile(r"growth-high"))  # z 5.1 >= the alert threshold 3
    expect(page.locator("#status")).to_have_text(re.compile(r"updated \d\d:\d\d:\d\d"))
    expect(page.locator("#page-info")).to_have_text(f"1–{len(expected)} of {len(expected)}")
    screenshot(page, "overview")
    page.set_viewport_size({"width": 420, "height": 900})
    screenshot(page, "overview-narrow")
    assert browser_page.errors == []


def test_overview_refreshes_in_place_and_shows_a_topic_added_after_load(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    page = browser_page.page
    page.goto(site.url("/?refresh=2"))
    expect(page.locator(ROWS)).to_have_count(len(active_by_growth(TOPICS)))
    page.evaluate("window.__sameDocument = true")  # lost if the page reloaded instead of refreshing in place
    expect(page.locator(f'{ROWS}[data-topic-id="{LATE_TOPIC.id}"]')).to_have_count(0)
    page.fill("#f-q", "no-such-words")  # typed, not applied: a refresh keeps the applied filters

    site.seeder.add([LATE_TOPIC])

    expect(page.locator(ROWS).first).to_have_attribute("data-topic-id", str(LATE_TOPIC.id), timeout=15_000)
    expect(page.locator(ROWS)).to_have_count(len(active_by_growth([*TOPICS, LATE_TOPIC])))
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator("#status")).to_have_text(re.compile(r"updated \d\d:\d\d:\d\d · refresh every 2 s"))
    assert browser_page.errors == []


def test_filters_and_pagination_query_the_api(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    page = browser_page.page
    expected = [t.id for t in active_by_growth(TOPICS)]
    page.goto(site.url("/?limit=2"))
    expect(page.locator(ROWS)).to_have_count(2)
    assert row_ids(page) == expected[:2]
    expect(page.locator("#prev")).to_be_disabled()

    page.click("#next")
    expect(page.locator(ROWS).first).to_have_attribute("data-topic-id", str(expected[2]))
    assert row_ids(page) == expected[2:4]
    expect(page.locator("#page-info")).to_have_text(f"3–4 of {len(expected)}")
    expect(page.locator("#next")).to_be_disabled()
    assert "offset=2" in page.url  # the page is bookmarkable

    growing = [t.id for t in active_by_growth(TOPICS) if t.z_score >= site.settings.alert_z_threshold]
    page.check("#f-growing")
    page.click("#filters button[type=submit]")
    expect(page.locator(ROWS)).to_have_count(len(growing))
    assert row_ids(page) == growing

    page.uncheck("#f-growing")
    page.fill("#f-q", "debate")
    page.click("#filters button[type=submit]")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(f"{ROWS} .topic-label")).to_have_text("Election debate draws record audience")
    assert browser_page.errors == []


def test_key_form_appears_when_keys_are_configured_and_the_key_is_remembered(
    live_site, browser_page: BrowserPage
) -> None:
    site = live_site(api_keys=["k-analyst-1"])
    page = browser_page.page
    page.goto(site.url("/"))
    form = page.locator("#api-key-form")
    expect(form).to_be_visible()
    expect(form).to_contain_text("missing API key")
    expect(page.locator(ROWS)).to_have_count(0)

    page.fill("#api-key-input", "not-the-key")
    page.click("#api-key-form button[type=submit]")
    expect(form).to_contain_text("invalid API key")  # 403: asked again
    expect(page.locator(ROWS)).to_have_count(0)
    screenshot(page, "key-form")

    page.fill("#api-key-input", "k-analyst-1")
    page.click("#api-key-form button[type=submit]")
    expect(page.locator(ROWS)).to_have_count(len(active_by_growth(TOPICS)))
    expect(form).to_have_count(0)
    assert page.evaluate("localStorage.getItem('newsflow-api-key')") == "k-analyst-1"

    page.reload()
    expect(page.locator(ROWS)).to_have_count(len(active_by_growth(TOPICS)))
    expect(form).to_have_count(0)
    assert browser_page.errors == []


def test_markup_in_topic_labels_is_shown_as_text_and_never_runs(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    page = browser_page.page
    page.goto(site.url("/"))
    row = page.locator(f'{ROWS}[data-topic-id="{FLOOD.id}"]')
    expect(row.locator(".topic-label")).to_have_text(XSS_LABEL)
    expect(row.locator(".chips li").last).to_have_text(XSS_KEYWORD)
    assert page.locator(f"{ROWS} img, {ROWS} script, {ROWS} b").count() == 0

    page.goto(site.url(f"/topics/{FLOOD.id}"))
    expect(page.locator("#topic-label")).to_have_text(XSS_LABEL)
    expect(page.locator(".article-link").first).to_have_text(FLOOD.articles[0].title)
    unsafe = page.locator(".article-link.unsafe")
    expect(unsafe).to_have_text(FLOOD.articles[2].title)
    assert unsafe.get_attribute("href") is None  # javascript: URL from a feed is not made a link
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator("#topic img, #topic script").count() == 0

    assert page.evaluate("typeof window.__xss") == "undefined"
    assert browser_page.dialogs == []
    assert browser_page.errors == []
