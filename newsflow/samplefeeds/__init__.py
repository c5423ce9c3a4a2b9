"""Sample news feeds for demos and tests, served from 127.0.0.1 (no internet needed).

with serve_sample_feeds() as server:
    specs = sample_feed_specs(server, top_n=10)   # welt.de + the 10 largest UCI hostnames
    register_feeds(engine, specs)                   # newsflow.store.feeds_repo
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ingest.feeds import FeedSpec
from newsflow.samplefeeds.build import (
    DEFAULT_ANCHOR,
    SEED,
    WELT_FEED,
    SampleFeed,
    SampleItem,
    build_sample_feeds,
    gold_stories,
    top_feed_names,
)
from newsflow.samplefeeds.server import SampleFeedServer

__all__ = [
    "DEFAULT_ANCHOR",
    "WELT_FEED",
    "FeedSpec",
    "SampleFeed",
    "SampleFeedServer",
    "SampleItem",
    "build_sample_feeds",
    "gold_stories",
    "sample_feed_specs",
    "serve_sample_feeds",
]


def serve_sample_feeds(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    anchor: datetime = DEFAULT_ANCHOR,
    seed: int = SEED,
    clock: Callable[[], datetime] | None = None,
) -> SampleFeedServer:
    """Start serving every sample feed; the server is already running when this returns."""
    return SampleFeedServer(build_sample_feeds(anchor, seed), host, port, clock=clock)


def sample_feed_specs(
    server_or_base_url: SampleFeedServer | str,
    top_n: int,
    *,
    anchor: datetime = DEFAULT_ANCHOR,
    seed: int = SEED,
    poll_interval_s: int = 0,
) -> list[FeedSpec]:
    """The welt.de feed plus the ``top_n`` hostnames by article count, pointing at the server.

    ``poll_interval_s`` defaults to 0 (poll on every run): local sample feeds are cheap to ask.
    """
    if isinstance(server_or_base_url, SampleFeedServer):
        base, feeds = server_or_base_url.base_url, server_or_base_url.feeds
    else:
        base, feeds = server_or_base_url.rstrip("/"), build_sample_feeds(anchor, seed)
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
