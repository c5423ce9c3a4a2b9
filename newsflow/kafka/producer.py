"""The acknowledged producer: every send is waited for, so a stage marks work done only once it is durable.

``publish`` is how stages put contract records on a topic; ``send_all`` and ``await_acks`` are its
two halves in raw form (bytes in, no record) for the edge's own modules, such as re-publishing a
dead letter's original payload. Either way the sends are flushed and then each future is waited on,
because a flushed buffer is not yet an acknowledged one: only ``future.get`` reports a refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from newsflow.contracts import Record
from newsflow.errors import BrokerUnavailableError
from newsflow.kafka.errors import unavailable
from newsflow.settings import Settings

Outgoing = tuple[str, bytes | None, bytes]  # topic, key, value: one message as it goes on the wire


class SendFuture(Protocol):
    """What a send returns: ``get`` blocks until the broker acknowledged it, or raises."""

    def get(self, timeout: float | None = None) -> object: ...


class Producer(Protocol):
    """The part of kafka-python's ``KafkaProducer`` newsflow uses.

    Callers annotate with this instead of importing kafka-python, and tests hand in fakes that only
    have these three methods.
    """

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> SendFuture: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


def make_producer(settings: Settings, client_id: str = "newsflow") -> Producer:
    """A producer that waits for every in-sync replica and retries transient failures (idempotently)."""
    try:
        producer: Producer = KafkaProducer(
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
        raise unavailable(settings, exc) from exc
    return producer


def send_all(producer: Producer, messages: Iterable[Outgoing], timeout_s: float) -> list[SendFuture]:
    """Queue every message and flush; the futures to wait on (nothing is acknowledged yet).

    A send kafka-python refuses at once (no topic metadata within ``max_block_ms``) raises its own
    error from here, before any future exists; callers have always let that one through unworded.
    """
    futures = [producer.send(topic, key=key, value=value) for topic, key, value in messages]
    producer.flush(timeout=timeout_s)
    return futures


def await_acks(futures: Iterable[SendFuture], timeout_s: float) -> None:
    """Wait for each acknowledgement; kafka-python's ``KafkaError`` on the first refusal.

    For the edge's own modules, which word the error for their callers (``publish``, dead-letter replay).
    """
    for future in futures:
        future.get(timeout=timeout_s)


def publish(producer: Producer, topic: str, records: Sequence[tuple[str, Record]], timeout_s: float) -> int:
    """Send ``(key, record)`` pairs and return only after the broker acknowledged every one.

    Raises ``BrokerUnavailableError`` if any send fails, so the caller does not mark its work done.
    """
    futures = send_all(producer, [(topic, key.encode("utf-8"), rec.to_bytes()) for key, rec in records], timeout_s)
    try:
        await_acks(futures, timeout_s)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"publishing to {topic} failed: {type(exc).__name__}: {exc}") from exc
    return len(futures)
