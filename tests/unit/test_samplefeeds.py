"""English (UCI) sample feeds: deterministic re-timing that interleaves stories, no labels in the text, the server."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import httpx

from ingest.parse import parse_feed
from newsflow.records.feed import FeedSpec
from newsflow.samplefeeds import (
    DEFAULT_ANCHOR,
    WELT_FEED,
    build_sample_feeds,
    gold_stories,
    sample_feed_specs,
    serve_sample_feeds,
)
from newsflow.samplefeeds.build import SPAN, render_rss, retime


def test_every_uci_row_becomes_one_item_and_welt_is_there() -> None:
    feeds = build_sample_feeds(sample="en")
    assert sum(len(f.items) for f in feeds.values() if f.name != WELT_FEED) == 6366
    welt = feeds[WELT_FEED]
    assert (welt.language, welt.outlet, len(welt.items)) == ("de", "WELT", 1)
    [article] = welt.items
    assert article.title.startswith("„Er hat sogar mein Wahlkampfmotto gebraucht“")
    assert "Source: welt.de" not in article.content and "Seltene Erden" in article.content


def test_retiming_is_deterministic_even_and_ends_at_the_anchor() -> None:
    pairs = retime(1000, DEFAULT_ANCHOR, seed=7)
    assert pairs == retime(1000, DEFAULT_ANCHOR, seed=7)
    times = [t for _, t in pairs]
    assert times[0] == DEFAULT_ANCHOR - SPAN and times[-1] == DEFAULT_ANCHOR
    assert sorted(times) == times
    assert [r for r, _ in pairs] != list(range(1000))  # shuffled


def test_stories_interleave_in_time() -> None:
    feeds = build_sample_feeds(sample="en")
    items = sorted((i for f in feeds.values() for i in f.items if i.story), key=lambda i: i.published)
    runs = sum(1 for a, b in itertools.pairwise(items) if a.story != b.story)
    assert runs > len(items) * 0.9  # originally each story was one contiguous block (86 changes)
    assert min(i.published for i in items) >= DEFAULT_ANCHOR - timedelta(hours=36)


def test_story_ids_never_reach_the_text() -> None:
    feeds = build_sample_feeds(sample="en")
    feed = feeds["www.examiner.com"]
    doc = render_rss(feed, "http://127.0.0.1/feeds/www.examiner.com.xml")
    story = feed.items[0].story
    assert story and doc.count(story.encode()) == 1
    assert re.search(rb"<newsflow:story>" + story.encode() + rb"</newsflow:story>", doc)
    for entry in parse_feed(doc).entries:
        assert story not in entry.title + entry.summary_html + entry.content_html


def test_urls_are_cleaned_of_dataset_escapes() -> None:
    links = [i.link for f in build_sample_feeds(sample="en").values() for i in f.items]
    assert not any("\\" in link or "&amp;" in link for link in links)
    assert len(set(links)) == len(links)
    assert len(gold_stories(sample="en")) == 6366


def test_specs_welt_plus_top_n() -> None:
    specs = sample_feed_specs("http://127.0.0.1:9/", top_n=3, sample="en")
    assert [s.name for s in specs] == [WELT_FEED, "www.examiner.com", "in.reuters.com", "www.wetpaint.com"]
    assert all(isinstance(s, FeedSpec) for s in specs)
    assert specs[1].url == "http://127.0.0.1:9/feeds/www.examiner.com.xml" and specs[1].outlet == "Examiner.com"
    assert (specs[0].language, specs[1].language) == ("de", "en")


def test_server_serves_feeds_with_etags_and_last_modified() -> None:
    with serve_sample_feeds(sample="en") as server:
        [welt, examiner] = sample_feed_specs(server, top_n=1)
        first = httpx.get(examiner.url)
        assert first.status_code == 200 and first.headers["content-type"].startswith("application/rss+xml")
        assert len(parse_feed(first.content).entries) == 70
        etag, last_modified = first.headers["etag"], first.headers["last-modified"]
        assert httpx.get(examiner.url, headers={"If-None-Match": etag}).status_code == 304
        assert httpx.get(examiner.url, headers={"If-None-Match": '"other"'}).status_code == 200
        assert httpx.get(examiner.url, headers={"If-Modified-Since": last_modified}).status_code == 304
        assert httpx.get(welt.url).status_code == 200
        assert httpx.get(f"{server.base_url}/feeds/nope.xml").status_code == 404
        assert b"www.examiner.com" in httpx.get(server.base_url + "/").content
        assert httpx.get(server.base_url + "/feeds.opml").content.count(b"<outline") == len(server.feeds)


def test_server_clock_reveals_items_over_time() -> None:
    now = [DEFAULT_ANCHOR - timedelta(hours=30)]
    with serve_sample_feeds(clock=lambda: now[0], sample="en") as server:
        url = server.feed_url("www.examiner.com")
        early = httpx.get(url)
        now[0] = DEFAULT_ANCHOR
        late = httpx.get(url, headers={"If-None-Match": early.headers["etag"]})
    assert late.status_code == 200
    assert 0 < len(parse_feed(early.content).entries) < len(parse_feed(late.content).entries) == 70
    assert all(
        e.published and e.published <= DEFAULT_ANCHOR - timedelta(hours=30) for e in parse_feed(early.content).entries
    )
