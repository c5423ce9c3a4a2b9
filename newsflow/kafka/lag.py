"""Consumer lag: how far a consumer group's committed offsets trail the end of each partition.

lag = end offset - committed offset (a partition the group never committed counts from the
partition's first offset, which is where ``auto_offset_reset=earliest`` would start it). Read
without joining the group, so asking never triggers a rebalance of the running worker.
``newsflow status`` prints it; ``newsflow.consumer_lag.ConsumerLagCollector`` exports it to Prometheus.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kafka import TopicPartition
from kafka.errors import KafkaError

from newsflow.errors import BrokerUnavailableError
from newsflow.kafka.consumer import Consumer, open_reader
from newsflow.kafka.errors import error_detail
from newsflow.kafka.topics import topic_names
from newsflow.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int | None  # None: the group never committed on this partition
    end: int
    start: int  # first offset still in the log

    @property
    def lag(self) -> int:
        """Messages still to consume; offsets the broker already deleted are not owed."""
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


def consumer_lag(settings: Settings, group: str | None = None, topic: str | None = None) -> ConsumerLag:
    """Lag of ``group`` (default: the worker's) on ``topic`` (default: the articles topic), per partition."""
    group = group or settings.kafka_consumer_group
    topic = topic or topic_names(settings).articles
    with open_reader(settings, group, client_id="newsflow-lag") as client:
        try:
            return _read_lag(client, group, topic)
        except KafkaError as exc:
            raise BrokerUnavailableError(f"reading offsets of {topic} failed: {error_detail(exc)}") from exc


def _read_lag(client: Consumer, group: str, topic: str) -> ConsumerLag:
    numbers = client.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(numbers)]
    if not tps:
        return ConsumerLag(group, topic)
    ends = client.end_offsets(tps)
    starts = client.beginning_offsets(tps)
    parts = [PartitionLag(tp.partition, client.committed(tp), ends[tp], starts[tp]) for tp in tps]
    return ConsumerLag(group, topic, parts)


def assigned_lag(consumer: Consumer) -> int:
    """End offset minus position, summed over ``consumer``'s assigned partitions; -1 if the broker does not
    answer (a progress line must not stop the worker)."""
    partitions = list(consumer.assignment())
    try:
        ends = consumer.end_offsets(partitions) if partitions else {}
        return sum(max(0, ends[tp] - consumer.position(tp)) for tp in partitions)
    except KafkaError as exc:
        log.debug("lag not measured: %s", exc)
        return -1
