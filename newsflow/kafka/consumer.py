"""Consumers: the committing group member a stage consumes with, and the group-less reader of the tools.

Offsets are never committed automatically: a stage commits only after its results are stored (at
least once, with idempotent writes). The reader is a consumer that is never subscribed, so asking
for offsets or reading a topic by assignment never triggers a rebalance of a running group.
``poll`` and ``commit`` word kafka-python's errors for the stage (see ``newsflow.kafka.errors``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from kafka import KafkaConsumer
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from newsflow.errors import BrokerUnavailableError
from newsflow.kafka.errors import RebalancedError, unavailable
from newsflow.settings import Settings

Consumer: TypeAlias = KafkaConsumer
MIN_REQUEST_TIMEOUT_MS = 31_000  # consumer requests never time out sooner, whatever kafka_request_timeout_ms says


class Received(Protocol):
    """One consumed message, as a stage reads it (kafka-python's ``ConsumerRecord``)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class ConsumerOptions:
    group_id: str
    topics: tuple[str, ...]
    max_poll_records: int = 64
    auto_offset_reset: str = "earliest"


def _config(settings: Settings, group: str | None, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "group_id": group,
        "client_id": client_id,
        "enable_auto_commit": False,
        "request_timeout_ms": max(settings.kafka_request_timeout_ms, MIN_REQUEST_TIMEOUT_MS),
        "bootstrap_timeout_ms": settings.kafka_bootstrap_timeout_ms,
    }


def make_consumer(settings: Settings, options: ConsumerOptions) -> Consumer:
    """A subscribed group member with manual commits: the caller commits only after its results are stored."""
    try:
        consumer = KafkaConsumer(
            **_config(settings, options.group_id, f"newsflow-{options.group_id}"),
            auto_offset_reset=options.auto_offset_reset,
            max_poll_records=options.max_poll_records,
        )
        consumer.subscribe(list(options.topics))
        return consumer
    except (KafkaError, OSError) as exc:
        raise unavailable(settings, exc) from exc


def make_reader(settings: Settings, group: str | None, client_id: str) -> Consumer:
    """A consumer that is never subscribed: it reads offsets and ``group``'s commits, it joins nothing.

    ``group`` None reads without any group (nothing can be committed); a named group lets the caller
    read and commit that group's offsets on partitions it assigns itself.
    """
    try:
        return KafkaConsumer(**_config(settings, group, client_id))
    except (KafkaError, OSError) as exc:
        raise unavailable(settings, exc) from exc


@contextmanager
def open_reader(settings: Settings, group: str | None, client_id: str) -> Iterator[Consumer]:
    """``make_reader`` for one block: a client error inside it becomes ``BrokerUnavailableError``; closed
    without committing on the way out."""
    consumer = make_reader(settings, group, client_id)
    try:
        yield consumer
    except KafkaError as exc:
        raise unavailable(settings, exc) from exc
    finally:
        consumer.close(autocommit=False)


def poll(consumer: Consumer, timeout_ms: int, max_records: int, what: str) -> list[Received]:
    """One fetch, flattened partition by partition; a client error is ``BrokerUnavailableError`` naming ``what``."""
    try:
        polled = consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"polling {what} failed: {type(exc).__name__}: {exc}") from exc
    return [m for part in polled.values() for m in part]


def commit(consumer: Consumer, upto: Mapping[tuple[str, int], int] | None = None) -> None:
    """Commit the positions of everything polled so far, or with ``upto`` those positions only:
    (topic, partition) → the offset of the next message to read (a worker that polled the next
    batch ahead commits the one it stored, not the one it holds).

    ``RebalancedError`` (the message kafka-python gave) when the group rebalanced meanwhile: another
    member re-reads the batch; ``BrokerUnavailableError`` for any other client error.
    """
    offsets = (
        None
        if upto is None
        else {TopicPartition(t, p): OffsetAndMetadata(offset, "", -1) for (t, p), offset in upto.items()}
    )
    try:
        consumer.commit() if offsets is None else consumer.commit(offsets=offsets)
    except CommitFailedError as exc:
        raise RebalancedError(str(exc)) from exc
    except KafkaError as exc:
        raise BrokerUnavailableError(f"committing offsets failed: {type(exc).__name__}: {exc}") from exc
