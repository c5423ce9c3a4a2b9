"""One polling run over several feeds: the code behind both the DAG tasks and ``newsflow ingest once``.

Opens the store, the producer and the HTTP client once, polls each feed in turn (a feed's
failure is its own outcome), and closes everything. Airflow maps one run per host lane
(``ingest.hosts``: a host's feeds, one after the other); the CLI runs all due feeds in one
process, which is sequential anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import httpx

from ingest.fetch import Fetcher, utc_now
from ingest.hosts import HostLane, group_by_host
from ingest.poll import FeedPoller, PollOutcome
from ingest.urlsafety import Resolver, system_resolver
from newsflow.errors import UnknownFeed
from newsflow.kafka import ensure_topics, make_producer, topic_names
from newsflow.records.feed import FeedSpec
from newsflow.settings import Settings
from newsflow.store import feeds_repo
from newsflow.store.database import open_store

log = logging.getLogger(__name__)


def due_host_lanes(settings: Settings, as_of: datetime | None = None, per_host: int = 1) -> list[HostLane]:
    """The enabled feeds due at ``as_of``, grouped into lanes of at most ``per_host`` per host."""
    engine = open_store(settings)
    try:
        return group_by_host(feeds_repo.due_feeds(engine, as_of or utc_now()), per_host)
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
    missing_ok: bool = False,
) -> list[PollOutcome]:
    """Poll the named feeds (due or not) in the order given, or every feed due at ``as_of``; one outcome each.

    A named feed that is paused is reported as ``paused`` and not fetched. A named feed that does
    not exist raises ``UnknownFeed``, or with ``missing_ok`` (the DAG: removed since the listing)
    is reported as ``removed``.
    """
    with open_poller(settings, transport=transport, resolver=resolver, clock=clock) as poller:
        if not names:
            feeds: list[FeedSpec | str] = list(feeds_repo.due_feeds(poller.engine, as_of or clock()))
        else:
            feeds = [_lookup(poller, n, missing_ok) for n in names]
        outcomes = []
        for feed in feeds:
            if isinstance(feed, str):
                outcomes.append(PollOutcome(feed, "removed"))
            elif not feed.enabled:
                outcomes.append(PollOutcome(feed.name, "paused"))
            else:
                outcomes.append(poller.poll(feed, skip_if_polled_since=skip_if_polled_since))
        return outcomes


def _lookup(poller: FeedPoller, name: str, missing_ok: bool) -> FeedSpec | str:
    """The feed, or (``missing_ok``) its bare name when it is gone."""
    try:
        return feeds_repo.get_feed(poller.engine, name)
    except UnknownFeed:
        if not missing_ok:
            raise
        log.info("%s: removed since it was listed as due", name)
        return name
