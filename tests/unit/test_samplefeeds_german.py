"""German sample feeds (the demo's default): one feed per outlet host from the bundled labelled file,
the welt.de seed article in the welt.de feed, and live times (one constant shift, newest item = now)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib import resources

import httpx
import pytest

from ingest.parse import parse_feed
from newsflow.samplefeeds import (
    DEFAULT_SAMPLE,
    WELT_FEED,
    WELT_LINK,
    build_sample_feeds,
    gold_stories,
    live_offset,
    live_sample_feeds,
    parse_sample,
    sample_feed_specs,
    serve_sample_feeds,
    shift_feeds,
)
from newsflow.samplefeeds.build import SampleFeed, SampleItem, german_link, render_rss

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _bundled_rows() -> list[dict[str, str]]:
    text = (resources.files("newsflow.samplefeeds") / "data" / "de_feb2025_paraphrased.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_the_labelled_file_and_its_readme_are_bundled_in_the_package() -> None:
    data = resources.files("newsflow.samplefeeds") / "data"
    assert (data / "de_feb2025_paraphrased.README.md").is_file()
    rows = _bundled_rows()
    assert len(rows) == 143 and len({r["id"] for r in rows}) == 143


def test_german_is_the_default_sample() -> None:
    assert DEFAULT_SAMPLE == "de"
    assert build_sample_feeds() == build_sample_feeds(sample="de")


def test_one_feed_per_outlet_host_holds_that_hosts_items() -> None:
    feeds = build_sample_feeds(sample="de")
    rows = _bundled_rows()
    per_host = Counter(r["source"] for r in rows)
    assert set(feeds) == {*per_host, WELT_FEED}
    for host, count in per_host.items():
        feed = feeds[host]
        assert (len(feed.items), feed.language, feed.home) == (count, "de", f"https://{host}/")
        assert all(i.link.startswith(f"https://{host}/") for i in feed.items)
    assert feeds["www.br.de"].outlet == "br.de"


def test_items_keep_title_text_time_and_label() -> None:
    row = next(r for r in _bundled_rows() if r["id"] == "dep-001")
    [item] = [i for i in build_sample_feeds(sample="de")[row["source"]].items if i.link.endswith("/dep-001")]
    assert item.link == german_link(row["source"], "dep-001") == f"https://{row['source']}/newsflow-sample/dep-001"
    assert (item.title, item.description, item.story) == (row["title"], row["text"], row["story"])
    assert item.published == datetime(2025, 1, 22, 12, tzinfo=UTC)


def test_welt_feed_holds_the_seed_article_only() -> None:
    welt = build_sample_feeds(sample="de")[WELT_FEED]
    [seed] = welt.items
    assert (welt.outlet, welt.language, seed.link, seed.story) == ("WELT", "de", WELT_LINK, None)
    assert "Seltene Erden" in seed.content


def test_gold_labels_map_every_item_link_back_to_its_story() -> None:
    gold = gold_stories(sample="de")
    rows = _bundled_rows()
    assert gold == {german_link(r["source"], r["id"]): r["story"] for r in rows}
    assert WELT_LINK not in gold


def test_feeds_are_newest_first_and_labels_stay_out_of_the_text() -> None:
    feed = build_sample_feeds(sample="de")["www.finanznachrichten.de"]
    times = [i.published for i in feed.items]
    assert times == sorted(times, reverse=True)
    doc = render_rss(feed, "http://127.0.0.1/feeds/www.finanznachrichten.de.xml")
    entries = parse_feed(doc).entries
    assert len(entries) == len(feed.items)
    for item, entry in zip(feed.items, entries, strict=True):
        assert item.story and item.story not in entry.title + entry.summary_html + entry.content_html


def test_specs_default_to_every_outlet_plus_welt() -> None:
    specs = sample_feed_specs("http://127.0.0.1:9/", top_n=None)
    assert specs[0].name == WELT_FEED and len(specs) == len(build_sample_feeds(sample="de"))
    assert specs[1].name == "www.finanznachrichten.de"  # the host with the most items (8)
    assert {s.language for s in specs} == {"de"}
    assert [s.name for s in sample_feed_specs("http://127.0.0.1:9/", top_n=2)][1:] == [
        "www.finanznachrichten.de",
        "www.br.de",
    ]


def test_unknown_sample_is_refused() -> None:
    assert (parse_sample("de"), parse_sample(" EN ")) == ("de", "en")
    with pytest.raises(ValueError, match="'fr' is not one of de, en"):
        parse_sample("fr")
    with pytest.raises(ValueError, match="unknown sample"):
        build_sample_feeds(sample="fr")


# --- live times -------------------------------------------------------------------------------


def test_live_offset_moves_the_newest_time_to_now() -> None:
    times = [datetime(2025, 1, 22, 12, tzinfo=UTC), datetime(2025, 4, 10, 12, tzinfo=UTC)]
    assert live_offset(times, NOW) == NOW - datetime(2025, 4, 10, 12, tzinfo=UTC)
    assert live_offset(iter(times), NOW) == live_offset(reversed(times), NOW)  # any iterable, any order
    assert live_offset([NOW + timedelta(hours=2)], NOW) == timedelta(hours=-2)
    with pytest.raises(ValueError):
        live_offset([], NOW)


def test_shift_feeds_moves_every_item_by_the_same_constant_and_is_pure() -> None:
    old = datetime(2025, 2, 1, tzinfo=UTC)
    items = (SampleItem("b", "https://x/b", old + timedelta(hours=3), ""), SampleItem("a", "https://x/a", old, ""))
    feeds = {"x": SampleFeed("x", "X", "de", "https://x/", items)}
    shifted = shift_feeds(feeds, timedelta(days=400))
    assert [i.published for i in shifted["x"].items] == [old + timedelta(days=400, hours=3), old + timedelta(days=400)]
    assert [i.link for i in shifted["x"].items] == ["https://x/b", "https://x/a"]
    assert feeds["x"].items == items  # the input is untouched


def test_live_feeds_end_now_and_keep_the_spacing() -> None:
    original = build_sample_feeds(sample="de")
    live = live_sample_feeds(NOW, sample="de")
    before = {i.link: i.published for f in original.values() for i in f.items}
    after = {i.link: i.published for f in live.values() for i in f.items}
    assert max(after.values()) == NOW
    assert {after[link] - before[link] for link in before} == {NOW - datetime(2025, 4, 10, 12, tzinfo=UTC)}
    assert after[WELT_LINK] < NOW  # the seed moves with the rest
    assert max(before.values()).year == 2025
    assert max(i.published for f in build_sample_feeds(sample="de").values() for i in f.items) == max(before.values())


def test_live_english_feeds_end_now_too() -> None:
    live = live_sample_feeds(NOW, sample="en")
    assert max(i.published for f in live.values() for i in f.items) == NOW


def test_server_serves_live_german_feeds() -> None:
    with serve_sample_feeds(now=NOW) as server:
        specs = sample_feed_specs(server, top_n=None)
        assert len(specs) == len(server.feeds)
        response = httpx.get(server.feed_url("www.br.de"))
        assert response.status_code == 200
        entries = parse_feed(response.content).entries
        assert len(entries) == 7 and all(e.published and e.published <= NOW for e in entries)
        assert httpx.get(server.feed_url(WELT_FEED)).status_code == 200
