"""One polling run over several feeds: the code behind both the DAG tasks and ``newsflow ingest once``.

Opens the store, the producer and the HTTP client once, polls each feed in turn (a feed's
failure is its own outcome), and closes everything. Airflow maps one run per feed; the CLI
runs all due feeds in one process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import httpx

from ingest.feeds import FeedSpec
from ingest.fetch import Fetcher, utc_now
from ingest.poll import FeedPoller, PollOutcome
from ingest.urlsafety import Resolver, system_resolver
from newsflow.kafka_io import ensure_topics, make_producer, topic_names
from newsflow.settings import Settings
from newsflow.store import feeds_repo
from newsflow.store.database import open_store

log = logging.getLogger(__name__)


def due_feed_names(settings: Settings, as_of: datetime | None = None) -> list[str]:
    """Names of enabled feeds due at ``as_of`` (default: now)."""
    engine = open_store(settings)
    try:
        return [f.name for f in feeds_repo.due_feeds(engine, as_of or utc_now())]
    finally:
        engine.dispose()


@contextmanager
def open_poller(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver = system_resolver,
    clock: Callable[[], datetime] = utc_now,
) -> Iterator[FeedPoller]:
    """A ``FeedPoller`` with its store, producer and HTTP client, all closed on exit."""
    engine = open_store(settings)
    producer = None
    try:
        ensure_topics(settings, [topic_names(settings).articles])
        producer = make_producer(settings, client_id="newsflow-ingest")
        with Fetcher(settings, transport=transport, resolver=resolver, clock=clock) as fetcher:
            yield FeedPoller(settings, engine, producer, fetcher, clock=clock)
    finally:
        if producer is not None:
            producer.close(timeout=settings.ingest_publish_timeout_s)
        engine.dispose()


def run_polls(
    settings: Settings,
    names: Sequence[str] | None = None,
    *,
    as_of: datetime | None = None,
    skip_if_polled_since: datetime | None = None,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver = system_resolver,
    clock: Callable[[], datetime] = utc_now,
) -> list[PollOutcome]:
    """Poll the named feeds (due or not), or every feed due at ``as_of``; one outcome per feed.

    A named feed that is paused is reported as ``paused`` and not fetched.
    """
    with open_poller(settings, transport=transport, resolver=resolver, clock=clock) as poller:
        feeds = _select(poller, names, as_of or clock())
        outcomes = []
        for feed in feeds:
            if not feed.enabled:
                outcomes.append(PollOutcome(feed.name, "paused"))
                continue
            outcomes.append(poller.poll(feed, skip_if_polled_since=skip_if_polled_since))
        return outcomes


def _select(poller: FeedPoller, names: Sequence[str] | None, as_of: datetime) -> list[FeedSpec]:
    if names:
        return [feeds_repo.get_feed(poller.engine, n) for n in names]
    return feeds_repo.due_feeds(poller.engine, as_of)
