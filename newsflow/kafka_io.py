"""Thin Kafka adapters (kafka-python): topic setup, an acknowledged producer, a committing consumer.

Everything here is edge code. Stages hand it records from ``newsflow.contracts``; it owns
connection errors (turned into ``BrokerUnavailableError``), ``acks=all`` and offset commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from newsflow.contracts import Record, TopicNames
from newsflow.errors import BrokerUnavailableError
from newsflow.settings import Settings

log = logging.getLogger(__name__)


def topic_names(settings: Settings) -> TopicNames:
    return TopicNames(prefix=settings.kafka_topic_prefix)


def _unavailable(settings: Settings, exc: Exception) -> BrokerUnavailableError:
    detail = str(exc) if str(exc).startswith(type(exc).__name__) else f"{type(exc).__name__}: {exc}"
    return BrokerUnavailableError(f"Kafka broker at {settings.kafka_bootstrap_servers} unreachable: {detail}")


def ensure_topics(settings: Settings, names: Iterable[str] | None = None) -> None:
    """Create the deployment's topics if missing (idempotent)."""
    wanted = list(names) if names is not None else topic_names(settings).all()
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            request_timeout_ms=settings.kafka_request_timeout_ms,
            bootstrap_timeout_ms=settings.kafka_bootstrap_timeout_ms,
            client_id="newsflow-admin",
        )
    except (KafkaError, OSError) as exc:
        raise _unavailable(settings, exc) from exc
    try:
        existing = set(admin.list_topics())
        missing = [n for n in wanted if n not in existing]
        if missing:
            new = [NewTopic(n, num_partitions=settings.kafka_partitions, replication_factor=1) for n in missing]
            try:
                admin.create_topics(new)
                log.info("created Kafka topics %s", ", ".join(missing))
            except TopicAlreadyExistsError:
                log.debug("topics appeared concurrently: %s", missing)
    except KafkaError as exc:
        raise _unavailable(settings, exc) from exc
    finally:
        admin.close()


def make_producer(settings: Settings, client_id: str = "newsflow") -> KafkaProducer:
    """A producer that waits for every in-sync replica and retries transient failures."""
    try:
        return KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=client_id,
            acks="all",
            retries=5,
            enable_idempotence=True,
            max_in_flight_requests_per_connection=5,
            linger_ms=20,
            request_timeout_ms=settings.kafka_request_timeout_ms,
            max_block_ms=settings.kafka_request_timeout_ms,
            bootstrap_timeout_ms=settings.kafka_bootstrap_timeout_ms,
        )
    except (KafkaError, OSError) as exc:
        raise _unavailable(settings, exc) from exc


def publish(producer: KafkaProducer, topic: str, records: Sequence[tuple[str, Record]], timeout_s: float) -> int:
    """Send ``(key, record)`` pairs and return only after the broker acknowledged every one.

    Raises ``BrokerUnavailableError`` if any send fails, so the caller does not mark its work done.
    """
    futures = [producer.send(topic, key=key.encode("utf-8"), value=rec.to_bytes()) for key, rec in records]
    producer.flush(timeout=timeout_s)
    try:
        for future in futures:
            future.get(timeout=timeout_s)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"publishing to {topic} failed: {type(exc).__name__}: {exc}") from exc
    return len(futures)


@dataclass(frozen=True)
class ConsumerOptions:
    group_id: str
    topics: tuple[str, ...]
    max_poll_records: int = 64
    auto_offset_reset: str = "earliest"


def make_consumer(settings: Settings, options: ConsumerOptions) -> KafkaConsumer:
    """A consumer with manual commits: the caller commits only after its results are stored."""
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=options.group_id,
            client_id=f"newsflow-{options.group_id}",
            enable_auto_commit=False,
            auto_offset_reset=options.auto_offset_reset,
            max_poll_records=options.max_poll_records,
            request_timeout_ms=max(settings.kafka_request_timeout_ms, 31_000),
            bootstrap_timeout_ms=settings.kafka_bootstrap_timeout_ms,
        )
        consumer.subscribe(list(options.topics))
        return consumer
    except (KafkaError, OSError) as exc:
        raise _unavailable(settings, exc) from exc
