"""Host lanes: the unit of per-host concurrency in the ``ingest_feeds`` DAG."""

from __future__ import annotations

import pytest

from ingest.hosts import HostLane, group_by_host
from newsflow.records.feed import FeedSpec


def feed(name: str, url: str) -> FeedSpec:
    return FeedSpec(name, url, "Outlet")


FEEDS = [
    feed("welt-latest", "https://www.welt.de/feeds/latest.rss"),
    feed("bbc", "https://feeds.bbci.co.uk/news/rss.xml"),
    feed("welt-politik", "https://WWW.WELT.DE/feeds/section/politik.rss"),
    feed("welt-wirtschaft", "https://www.welt.de:443/feeds/section/wirtschaft.rss"),
    feed("local", "http://127.0.0.1:8765/feeds/a.xml"),
]


def test_one_lane_per_host_keeps_the_given_order() -> None:
    lanes = group_by_host(FEEDS)
    assert lanes == [
        HostLane("127.0.0.1", ("local",)),
        HostLane("feeds.bbci.co.uk", ("bbc",)),
        HostLane("www.welt.de", ("welt-latest", "welt-politik", "welt-wirtschaft")),
    ]
    assert [lane.label for lane in lanes] == ["127.0.0.1", "feeds.bbci.co.uk", "www.welt.de"]


def test_every_feed_is_in_exactly_one_lane_and_no_host_has_more_lanes_than_allowed() -> None:
    for per_host in (1, 2, 5):
        lanes = group_by_host(FEEDS, per_host)
        names = [n for lane in lanes for n in lane.feeds]
        assert sorted(names) == sorted(f.name for f in FEEDS)
        assert sum(1 for lane in lanes if lane.host == "www.welt.de") == min(per_host, 3)


def test_two_lanes_per_host_split_round_robin() -> None:
    welt = [lane for lane in group_by_host(FEEDS, 2) if lane.host == "www.welt.de"]
    assert [(lane.label, lane.feeds) for lane in welt] == [
        ("www.welt.de", ("welt-latest", "welt-wirtschaft")),
        ("www.welt.de#2", ("welt-politik",)),
    ]
    assert welt[1].as_dict() == {"host": "www.welt.de", "lane": 1, "label": "www.welt.de#2", "feeds": ["welt-politik"]}


def test_no_feeds_no_lanes_and_a_limit_below_one_is_refused() -> None:
    assert group_by_host([]) == []
    with pytest.raises(ValueError):
        group_by_host(FEEDS, 0)
