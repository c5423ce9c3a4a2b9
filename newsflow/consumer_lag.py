"""Consumer lag: how far a consumer group's committed offsets trail the end of each partition.

lag = end offset - committed offset (a partition the group never committed counts from the
partition's first offset, which is where ``auto_offset_reset=earliest`` would start it). Read
without joining the group, so asking never triggers a rebalance of the running worker.
``newsflow status`` prints it; ``ConsumerLagCollector`` exports it as the Prometheus gauge
``newsflow_consumer_lag`` (one sample per partition).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from newsflow.errors import BrokerUnavailableError
from newsflow.kafka_io import topic_names
from newsflow.settings import Settings

log = logging.getLogger(__name__)
METRIC = "newsflow_consumer_lag"
DEPENDENCY_METRIC = "newsflow_dependency_up"


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int | None  # None: the group never committed on this partition
    end: int
    start: int  # first offset still in the log

    @property
    def lag(self) -> int:
        position = self.committed if self.committed is not None else self.start
        return max(0, self.end - max(position, self.start))


@dataclass(frozen=True)
class ConsumerLag:
    group: str
    topic: str
    partitions: list[PartitionLag] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)

    def as_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "topic": self.topic,
            "total": self.total,
            "partitions": [
                {"partition": p.partition, "committed": p.committed, "end": p.end, "lag": p.lag}
                for p in self.partitions
            ],
        }


def kafka_error_detail(exc: BaseException) -> str:
    """``ErrorName: message`` without kafka-python's habit of repeating the name inside the message."""
    text = str(exc)
    return text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}"


_detail = kafka_error_detail


def _offsets_client(settings: Settings, group: str) -> KafkaConsumer:
    """A consumer that is never subscribed: it reads offsets and the group's commits, it joins nothing."""
    return KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        client_id="newsflow-lag",
        enable_auto_commit=False,
        request_timeout_ms=max(settings.kafka_request_timeout_ms, 31_000),
        bootstrap_timeout_ms=settings.kafka_bootstrap_timeout_ms,
    )


def consumer_lag(settings: Settings, group: str | None = None, topic: str | None = None) -> ConsumerLag:
    """Lag of ``group`` (default: the worker's) on ``topic`` (default: the articles topic), per partition."""
    group = group or settings.kafka_consumer_group
    topic = topic or topic_names(settings).articles
    try:
        client = _offsets_client(settings, group)
    except (KafkaError, OSError) as exc:
        raise BrokerUnavailableError(
            f"Kafka broker at {settings.kafka_bootstrap_servers} unreachable: {_detail(exc)}"
        ) from exc
    try:
        numbers = client.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(numbers)]
        if not tps:
            return ConsumerLag(group, topic)
        ends = client.end_offsets(tps)
        starts = client.beginning_offsets(tps)
        parts = [PartitionLag(tp.partition, client.committed(tp), ends[tp], starts[tp]) for tp in tps]
        return ConsumerLag(group, topic, parts)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"reading offsets of {topic} failed: {_detail(exc)}") from exc
    finally:
        client.close(autocommit=False)


class ConsumerLagCollector(Collector):
    """``newsflow_consumer_lag{group,topic,partition}``, read from the broker on each scrape.

    A broker that does not answer yields no lag samples (and a log line), so the scrape of the other
    metrics still succeeds, and ``newsflow_dependency_up{dependency="kafka"} 0`` says why.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            METRIC,
            "Messages in the partition after the consumer group's committed offset.",
            labels=["group", "topic", "partition"],
        )
        up = GaugeMetricFamily(
            DEPENDENCY_METRIC, "1 when the dependency answered this scrape, 0 when not.", labels=["dependency"]
        )
        try:
            lag = consumer_lag(self._settings)
        except BrokerUnavailableError as exc:
            log.warning("consumer lag not exported: %s", exc)
            up.add_metric(["kafka"], 0.0)
        else:
            up.add_metric(["kafka"], 1.0)
            for p in lag.partitions:
                family.add_metric([lag.group, lag.topic, str(p.partition)], float(p.lag))
        yield family
        yield up
