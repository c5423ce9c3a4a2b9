"""The clustering worker: Kafka articles → embed → assign → store, then commit the offsets.

``run_worker`` is the thin Kafka loop (consumer group ``settings.kafka_consumer_group``); the work
per micro-batch is ``BatchProcessor.process`` (``processor.py``), which takes plain messages and
needs no broker. Delivery is at-least-once with idempotent writes: offsets are committed only after
the batch is in the store and its dead letters are acknowledged, and a replayed message whose
revision is already stored changes nothing. SIGTERM finishes the current batch, commits and exits.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from kafka.errors import CommitFailedError, KafkaError

from clustering.embed import CachedEmbedder, Embedder
from clustering.persist import publish_pending_events
from clustering.processor import BatchOutcome, BatchProcessor, RawMessage
from newsflow.errors import BrokerUnavailableError
from newsflow.kafka_io import ConsumerOptions, ensure_topics, make_consumer, make_producer, publish, topic_names
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 30.0


@dataclass
class WorkerReport:
    consumed: int = 0
    stored: int = 0
    skipped: int = 0  # already stored at this revision (replays, duplicates)
    dead_lettered: int = 0
    assigned: int = 0
    unassigned: int = 0
    topics_created: int = 0
    events_published: int = 0
    batches: int = 0
    topics: int = 0  # active topics the worker knows at the end
    stopped_by: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _stop_on_sigterm() -> Iterator[threading.Event]:
    """An event set by SIGTERM/SIGINT (only the main thread can install handlers; elsewhere it stays unset)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the current batch, then stopping", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _raw(message: Any) -> RawMessage:
    return RawMessage(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key.decode("utf-8", "replace") if message.key else None,
        value=message.value or b"",
    )


def run_worker(
    settings: Settings,
    *,
    until_idle: bool = False,
    idle_timeout_s: float = 10.0,
    clock: Callable[[], datetime] | None = None,
) -> WorkerReport:
    """Consume articles until stopped (SIGTERM/SIGINT) or, with ``until_idle``, until idle for ``idle_timeout_s``."""
    clock = clock or _utc_now
    engine = open_store(settings)
    embedder = CachedEmbedder(Embedder(settings), SqlVectorCache(engine))  # ModelLoadError before consuming
    names = topic_names(settings)
    ensure_topics(settings)
    processor = BatchProcessor(settings, engine, embedder, clock)
    consumer = make_consumer(
        settings,
        ConsumerOptions(group_id=settings.kafka_consumer_group, topics=(names.articles,),
                        max_poll_records=settings.worker_batch_size),
    )  # fmt: skip
    producer = make_producer(settings, client_id="newsflow-worker")
    report = WorkerReport()
    timeout_s = settings.kafka_request_timeout_ms / 1000
    last_message = last_progress = time.monotonic()
    log.info("worker consuming %s as group %s", names.articles, settings.kafka_consumer_group)
    try:
        with _stop_on_sigterm() as stop:
            while not stop.is_set():
                try:
                    polled = consumer.poll(
                        timeout_ms=settings.worker_poll_timeout_ms, max_records=settings.worker_batch_size
                    )
                except KafkaError as exc:
                    raise BrokerUnavailableError(
                        f"polling {names.articles} failed: {type(exc).__name__}: {exc}"
                    ) from exc
                messages = [_raw(m) for part in polled.values() for m in part]
                if not messages:
                    if until_idle and time.monotonic() - last_message >= idle_timeout_s:
                        report.stopped_by = "idle"
                        break
                    continue
                last_message = time.monotonic()
                outcome = processor.process(messages)
                if outcome.dead_letters:
                    publish(producer, names.deadletter, [(d.key or "", d) for d in outcome.dead_letters], timeout_s)
                _commit(consumer)
                report.events_published += publish_pending_events(engine, settings, clock(), producer)
                _add(report, len(messages), outcome)
                if time.monotonic() - last_progress >= PROGRESS_EVERY_S or until_idle:
                    last_progress = time.monotonic()
                    log.info(
                        "worker: %d consumed, %d stored, %d skipped, %d dead-lettered, %d topics",
                        report.consumed, report.stored, report.skipped, report.dead_lettered, report.topics,
                    )  # fmt: skip
            else:
                report.stopped_by = "signal"
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=timeout_s)
    log.info("worker stopped (%s): %s", report.stopped_by or "error", report.as_dict())
    return report


def _commit(consumer: Any) -> None:
    try:
        consumer.commit()
    except CommitFailedError as exc:
        # The group rebalanced mid-batch: another member re-reads these messages; the writes are idempotent.
        log.warning("offset commit failed after a rebalance; the batch will be re-read: %s", exc)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"committing offsets failed: {type(exc).__name__}: {exc}") from exc


def _add(report: WorkerReport, consumed: int, outcome: BatchOutcome) -> None:
    report.batches += 1
    report.consumed += consumed
    report.stored += outcome.stored
    report.skipped += outcome.skipped
    report.dead_lettered += len(outcome.dead_letters)
    report.assigned += outcome.assigned
    report.unassigned += outcome.unassigned
    report.topics_created += outcome.topics_created
    report.topics = outcome.active_topics
