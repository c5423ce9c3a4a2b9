"""The topic page in headless Chromium: overview → topic → article, the growth chart, outlets, lineage links."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.dataset import DEBATE_PREVIEW, ELECTION, STRIKE, STRIKE_TALKS, Seeder, SeedTopic
from tests.browser.harness import BrowserPage, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def hour_floor(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def expected_hours(seeder: Seeder, topic: SeedTopic) -> int:
    """Hours from the topic's first to its last article, both included: one chart bar each."""
    published = [hour_floor(seeder.published_at(a)) for a in topic.articles]
    return (max(published) - min(published)) // timedelta(hours=1) + 1


def expected_outlets(topic: SeedTopic) -> list[tuple[str, int]]:
    """Outlets by article count (desc), then name: the API's grouping order."""
    counts = Counter(a.outlet for a in topic.articles)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def test_click_through_overview_to_topic_to_article(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    page = browser_page.page
    page.goto(site.url("/"))
    page.locator(f'tr.topic-row[data-topic-id="{STRIKE.id}"] a.topic-title').click()

    expect(page).to_have_url(site.url(f"/topics/{STRIKE.id}"))
    expect(page.locator("#topic")).to_be_visible()
    expect(page.locator("#topic-label")).to_have_text(STRIKE.label)
    expect(page.locator("#representative")).to_have_text(STRIKE.representative_title)
    expect(page.locator("#keywords li")).to_have_text(list(STRIKE.keywords))
    expect(page.locator("#outlets")).to_contain_text("Daily Courier")

    bars = page.locator("svg.growth-chart rect.bar")
    expect(bars).to_have_count(expected_hours(site.seeder, STRIKE))
    counts = bars.evaluate_all("bars => bars.map(b => Number(b.dataset.count))")
    assert sum(counts) == len(STRIKE.articles)
    hour_labels = page.locator("svg.growth-chart text.hour-label").all_text_contents()
    assert hour_labels and all(re.fullmatch(r"\d\d:00", label) for label in hour_labels)

    groups = page.locator("section.outlet-group")
    outlets = expected_outlets(STRIKE)
    expect(groups).to_have_count(len(outlets))
    for index, (outlet, count) in enumerate(outlets):
        expect(groups.nth(index)).to_have_attribute("data-outlet", outlet)
        expect(groups.nth(index).locator("li.article")).to_have_count(count)
    by_slug = {a.slug: a for a in STRIKE.articles}
    for link in page.locator("a.article-link").all():
        article_id = link.evaluate("a => a.closest('li').dataset.articleId")
        assert link.get_attribute("href") == site.seeder.url_of(by_slug[article_id])
        assert link.text_content() == by_slug[article_id].title

    expect(page.locator(".relation.split-into a.topic-ref")).to_have_text(f"#{STRIKE_TALKS.id}")
    expect(page.locator("#lineage li.lineage-event")).to_have_count(len(STRIKE.lineage))
    expect(page.locator("#back")).to_have_attribute("href", "/")
    screenshot(page, "topic")

    newest = min(STRIKE.articles, key=lambda a: a.hours_ago)
    page.locator(f'li.article[data-article-id="{newest.slug}"] a.article-link').click()
    expect(page).to_have_url(site.seeder.url_of(newest))
    expect(page.locator("#article-slug")).to_have_text(newest.slug)
    screenshot(page, "article")
    assert browser_page.errors == []


def test_lineage_links_lead_to_the_related_topics(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    page = browser_page.page
    page.goto(site.url(f"/topics/{ELECTION.id}"))
    merged_from = page.locator(".relation.merged-from a.topic-ref")
    expect(merged_from).to_have_text(f"#{DEBATE_PREVIEW.id}")
    merged_event = page.locator('#lineage li[data-kind="merged"]')
    expect(merged_event.locator("a.topic-ref")).to_have_text(f"#{DEBATE_PREVIEW.id}")

    merged_from.click()
    expect(page).to_have_url(site.url(f"/topics/{DEBATE_PREVIEW.id}"))
    expect(page.locator("#topic-label")).to_have_text(DEBATE_PREVIEW.label)
    expect(page.locator("#status-note")).to_have_text(f"This topic was merged into #{ELECTION.id}.")
    page.locator("#status-note a.topic-ref").click()
    expect(page).to_have_url(site.url(f"/topics/{ELECTION.id}"))

    page.goto(site.url(f"/topics/{STRIKE_TALKS.id}"))
    split_from = page.locator(".relation.split-from a.topic-ref")
    expect(split_from).to_have_text(f"#{STRIKE.id}")
    split_from.click()
    expect(page).to_have_url(site.url(f"/topics/{STRIKE.id}"))
    expect(page.locator("#topic-label")).to_have_text(STRIKE.label)
    assert browser_page.errors == []


def test_unknown_topic_says_not_found(live_site, browser_page: BrowserPage) -> None:
    site = live_site()
    page = browser_page.page
    page.goto(site.url("/topics/999999"))
    expect(page.locator("#error")).to_have_text("Topic 999999 not found.")
    expect(page.locator("#topic")).to_be_hidden()
