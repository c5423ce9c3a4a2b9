"""Sample news feeds for demos and tests, served from 127.0.0.1 (no internet needed).

with serve_sample_feeds(sample="de", now=datetime.now(UTC)) as server:   # live times: newest item is now
    specs = sample_feed_specs(server, top_n=None)   # welt.de + every outlet feed of the sample
    register_feeds(engine, specs)                   # newsflow.store.feeds_repo

Samples: ``de`` (default) the labelled German stream of early 2025, one feed per outlet host;
``en`` the UCI News Aggregator prefix, one feed per hostname. Both include the welt.de seed article.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from newsflow.records.feed import FeedSpec
from newsflow.samplefeeds.build import (
    DEFAULT_ANCHOR,
    DEFAULT_SAMPLE,
    SAMPLES,
    SEED,
    WELT_FEED,
    WELT_LINK,
    Sample,
    SampleFeed,
    SampleItem,
    build_sample_feeds,
    gold_stories,
    live_offset,
    live_sample_feeds,
    parse_sample,
    shift_feeds,
    top_feed_names,
)
from newsflow.samplefeeds.server import SampleFeedServer

__all__ = [
    "DEFAULT_ANCHOR",
    "DEFAULT_SAMPLE",
    "SAMPLES",
    "WELT_FEED",
    "WELT_LINK",
    "FeedSpec",
    "Sample",
    "SampleFeed",
    "SampleFeedServer",
    "SampleItem",
    "build_sample_feeds",
    "gold_stories",
    "live_offset",
    "live_sample_feeds",
    "parse_sample",
    "sample_feed_specs",
    "serve_sample_feeds",
    "shift_feeds",
]


def serve_sample_feeds(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    anchor: datetime = DEFAULT_ANCHOR,
    seed: int = SEED,
    clock: Callable[[], datetime] | None = None,
    sample: Sample = DEFAULT_SAMPLE,
    now: datetime | None = None,
) -> SampleFeedServer:
    """Start serving every feed of ``sample``; the server is already running when this returns.

    With ``now`` every item is shifted by one constant so that the newest is published at ``now``.
    """
    feeds = build_sample_feeds(anchor, seed, sample) if now is None else live_sample_feeds(now, sample)
    return SampleFeedServer(feeds, host, port, clock=clock)


def sample_feed_specs(
    server_or_base_url: SampleFeedServer | str,
    top_n: int | None,
    *,
    anchor: datetime = DEFAULT_ANCHOR,
    seed: int = SEED,
    sample: Sample = DEFAULT_SAMPLE,
    poll_interval_s: int = 0,
) -> list[FeedSpec]:
    """The welt.de feed plus the ``top_n`` outlet feeds by article count (None: all), pointing at the server.

    ``sample`` matters only with a base URL (a server knows its feeds). ``poll_interval_s`` defaults
    to 0 (poll on every run): local sample feeds are cheap to ask.
    """
    if isinstance(server_or_base_url, SampleFeedServer):
        base, feeds = server_or_base_url.base_url, server_or_base_url.feeds
    else:
        base, feeds = server_or_base_url.rstrip("/"), build_sample_feeds(anchor, seed, sample)
    names = [WELT_FEED, *top_feed_names(feeds, top_n)]
    return [
        FeedSpec(
            name=n,
            url=f"{base}/feeds/{n}.xml",
            outlet=feeds[n].outlet,
            language=feeds[n].language,
            poll_interval_s=poll_interval_s,
            tags=("sample",),
        )
        for n in names
    ]
