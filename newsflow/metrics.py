"""Feed health as Prometheus metrics, read from the store at scrape time.

The figures are the ones ``newsflow feeds health`` prints (``feed_health_repo.health_report``),
so the table and the dashboards never disagree. Nothing is kept in process memory: the DAG's
tasks are short-lived and many, so counters live in the store (``feed_health``) and this
collector turns them into the text exposition format on each scrape. ``newsflow metrics``
prints it once, or serves it over HTTP for Prometheus (``--serve``).

Counters are cumulative since the feed was registered; rates (articles/s, 304 ratio) are
PromQL's job: ``rate(newsflow_feed_articles_published_total[1h])``,
``increase(newsflow_feed_not_modified_total[1d]) / increase(newsflow_feed_polls_total[1d])``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from newsflow.store.feed_health_repo import FeedHealth, health_report

log = logging.getLogger(__name__)

PREFIX = "newsflow_feed"
_FEED = ["feed"]


def _now() -> datetime:
    return datetime.now(UTC)


class FeedHealthCollector(Collector):
    """One family per figure, one sample per feed (a figure a feed does not have yet is left out)."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _now) -> None:
        self._engine = engine
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        report = health_report(self._engine, self._clock())
        yield from _gauges(report)
        yield from _counters(report)
        yield _error_info(report)


def _gauge(name: str, doc: str, report: list[FeedHealth], value: Callable[[FeedHealth], float | None]) -> Metric:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=_FEED)
    for health in report:
        v = value(health)
        if v is not None:
            family.add_metric([health.name], v)
    return family


def _timestamp(when: datetime | None) -> float | None:
    return when.timestamp() if when else None


def _gauges(report: list[FeedHealth]) -> Iterator[Metric]:
    yield _gauge("enabled", "1 if the feed is polled, 0 if paused.", report, lambda h: float(h.enabled))
    yield _gauge(
        "last_success_timestamp_seconds",
        "When the last successful poll (200 or 304) finished, Unix time.",
        report,
        lambda h: _timestamp(h.last_success_at),
    )
    yield _gauge(
        "next_poll_timestamp_seconds",
        "When the feed is due next, Unix time.",
        report,
        lambda h: _timestamp(h.next_poll_at),
    )
    yield _gauge(
        "consecutive_failures",
        "Failed polls since the last success (the feed is paused automatically at the configured limit).",
        report,
        lambda h: float(h.consecutive_failures),
    )
    yield _gauge(
        "articles_last_24h",
        "Articles first published from this feed in the last 24 hours.",
        report,
        lambda h: float(h.articles_last_24h),
    )
    yield _gauge(
        "publish_delay_median_seconds",
        "Median delay from an article's own publication time to its first fetch (recent articles with a date).",
        report,
        lambda h: h.median_delay_s,
    )


def _counter(name: str, doc: str, report: list[FeedHealth], value: Callable[[FeedHealth], int]) -> Metric:
    family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=_FEED)
    for health in report:
        family.add_metric([health.name], float(value(health)))
    return family


def _counters(report: list[FeedHealth]) -> Iterator[Metric]:
    yield _counter("polls", "Polls of the feed, successful or not.", report, lambda h: h.polls)
    yield _counter("not_modified", "Polls answered 304 Not Modified.", report, lambda h: h.not_modified)
    yield _counter(
        "articles_published", "Articles (and revisions) published to Kafka.", report, lambda h: h.articles_published
    )


def _error_info(report: list[FeedHealth]) -> Metric:
    """The named error of each failing feed, as a label (error names are a small fixed set)."""
    family = GaugeMetricFamily(
        f"{PREFIX}_last_error_info",
        "1 for a feed whose last poll failed, labelled with the error's name.",
        labels=["feed", "error"],
    )
    for health in report:
        if health.consecutive_failures and health.last_error:
            family.add_metric([health.name, health.last_error.split(":", 1)[0]], 1.0)
    return family


def registry_for(
    engine: Engine, clock: Callable[[], datetime] = _now, extra: Sequence[Collector] = ()
) -> CollectorRegistry:
    """The feed-health collector plus ``extra`` ones such as consumer lag.

    No process metrics: those of a short-lived CLI process are of no use.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FeedHealthCollector(engine, clock))
    for collector in extra:
        registry.register(collector)
    return registry


def render_metrics(engine: Engine, clock: Callable[[], datetime] = _now, extra: Sequence[Collector] = ()) -> str:
    """The Prometheus text exposition (format 0.0.4) of every feed's health, as of ``clock()``."""
    return generate_latest(registry_for(engine, clock, extra)).decode("utf-8")


def serve_metrics(engine: Engine, host: str, port: int, extra: Sequence[Collector] = ()) -> WSGIServer:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; the caller keeps the process alive."""
    server, _thread = start_http_server(port, addr=host, registry=registry_for(engine, extra=extra))
    log.info("serving feed metrics on http://%s:%d/metrics", host, server.server_port)
    return server
