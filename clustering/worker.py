"""The clustering worker: Kafka articles → embed → assign → store, then commit the offsets.

``run_worker`` is the thin Kafka loop (consumer group ``settings.kafka_consumer_group``); the work
per micro-batch is ``BatchProcessor.process`` (``processor.py``), which takes plain messages and
needs no broker. Delivery is at-least-once with idempotent writes: offsets are committed only after
the batch is in the store and its dead letters are acknowledged, and a replayed message whose
revision is already stored changes nothing. SIGTERM finishes the current batch, commits and exits.

Backpressure: one poll returns at most ``min(worker_batch_size, worker_max_inflight_records)``
records, and while a full batch is processed (a backlog exists) the assigned partitions are
paused, so the client fetches nothing more until the batch is committed: the records held in
memory stay bounded by one batch plus one fetch response per partition, whatever the lag.
The progress line logs the lag of the assigned partitions (``newsflow status`` shows the group's).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError

from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.lineage_outbox import publish_pending_events
from clustering.processor import BatchOutcome, BatchProcessor, RawMessage, dead_letter
from clustering.threads import limit_blas_threads
from newsflow.errors import StoreUnavailableError
from newsflow.kafka import (
    ConsumerOptions,
    Producer,
    RebalancedError,
    Received,
    assigned_lag,
    commit,
    ensure_topics,
    make_consumer,
    make_producer,
    poll,
    publish_dead_letters,
    topic_names,
)
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 30.0
ASSIGNMENT_WAIT_S = 60.0  # --until-idle waits this long for a partition assignment before calling it idle


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
    paused_batches: int = 0  # batches processed with fetching paused (backpressure)
    lag: int = -1  # messages behind on the assigned partitions at the last progress line (-1: not measured)
    # Where the stored articles' vectors came from: forward passes, and the passes saved.
    embedded: int = 0  # texts through the model
    embed_cache_hits: int = 0  # the same text embedded before (another feed, a reload)
    near_copy_reuses: int = 0  # syndicated near-copies given their original's vector
    revision_reuses: int = 0  # revisions whose dense text had not changed
    embedded_ahead: int = 0  # of ``embedded``: computed while the batch before was stored (lookahead.py)
    # Wall-clock times (epoch seconds; 0: none): the first message polled and the end of the last batch
    # (stored and committed), so the busy span can be timed apart from start-up and the idle wait.
    first_message_at: float = 0.0
    last_batch_at: float = 0.0
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


class _IdleClock:
    """Time without messages, counted from the moment partitions are assigned: joining the group
    (slow on a busy broker; after a crash it waits for the dead member's session to expire) is not
    "no messages"."""

    def __init__(self) -> None:
        self.since = time.monotonic()
        self.assigned = False

    def tick(self, *, assigned: bool, got_messages: bool) -> None:
        if got_messages or (assigned and not self.assigned):
            self.since = time.monotonic()
        self.assigned = assigned

    def seconds(self) -> float:
        return time.monotonic() - self.since


def _raw(message: Received) -> RawMessage:
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
    limit_blas_threads(settings.worker_blas_threads)
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
    poll_size = max(1, min(settings.worker_batch_size, settings.worker_max_inflight_records))
    last_progress = time.monotonic()
    idle = _IdleClock()
    ahead: list[RawMessage] = []  # the next batch, polled while this one was processed
    log.info("worker consuming %s as group %s", names.articles, settings.kafka_consumer_group)
    try:
        with _stop_on_sigterm() as stop:
            while not stop.is_set():
                if ahead:
                    messages, ahead = ahead, []
                else:
                    polled = poll(consumer, settings.worker_poll_timeout_ms, poll_size, what=names.articles)
                    messages = [_raw(m) for m in polled]
                if messages and not report.first_message_at:
                    report.first_message_at = time.time()
                idle.tick(assigned=bool(consumer.assignment()), got_messages=bool(messages))
                if not messages:
                    limit_s = idle_timeout_s if idle.assigned else max(idle_timeout_s, ASSIGNMENT_WAIT_S)
                    if until_idle and idle.seconds() >= limit_s:
                        report.stopped_by = "idle"
                        break
                    continue
                backlogged = len(messages) >= poll_size
                if backlogged and settings.worker_embed_ahead:
                    ahead = [_raw(m) for m in poll(consumer, 0, poll_size, what=names.articles)]
                    processor.prefetch(ahead)
                with _paused_while_backlogged(consumer, backlogged) as paused:
                    outcome = _process_isolating_poison(processor, messages, settings, stop, clock)
                    if outcome.dead_letters:
                        publish_dead_letters(producer, names.deadletter, outcome.dead_letters, timeout_s)
                    _commit(consumer, messages)
                report.last_batch_at = time.time()
                report.paused_batches += int(paused)
                report.events_published += _publish_events(engine, settings, clock(), producer)
                _add(report, len(messages), outcome)
                report.embedded_ahead = embedder.embedder.prefetched
                if time.monotonic() - last_progress >= PROGRESS_EVERY_S or until_idle:
                    last_progress = time.monotonic()
                    report.lag = assigned_lag(consumer)
                    log.info(
                        "worker: %d consumed, %d stored, %d skipped, %d dead-lettered, %d topics, lag %d; "
                        "%d embedded, %d from the cache, %d near-copies and %d unchanged revisions reused",
                        report.consumed, report.stored, report.skipped, report.dead_lettered, report.topics,
                        report.lag, report.embedded, report.embed_cache_hits, report.near_copy_reuses,
                        report.revision_reuses,
                    )  # fmt: skip
            else:
                report.stopped_by = "signal"
    finally:
        consumer.close(autocommit=False)  # a batch polled ahead is not committed: it is read again
        producer.close(timeout=timeout_s)
        embedder.embedder.close()
    log.info("worker stopped (%s): %s", report.stopped_by or "error", report.as_dict())
    return report


def _publish_events(engine: Any, settings: Settings, now: datetime, producer: Producer) -> int:
    """The lineage outbox; a store outage here only delays events (they stay unpublished in the store)."""
    try:
        return publish_pending_events(engine, settings, now, producer)
    except DBAPIError as exc:
        if not _store_unreachable(exc):
            raise
        log.warning("lineage events not published yet, the store is unreachable: %s", type(exc.orig).__name__)
        return 0


def _process_isolating_poison(
    processor: BatchProcessor,
    messages: list[RawMessage],
    settings: Settings,
    stop: threading.Event,
    clock: Callable[[], datetime],
) -> BatchOutcome:
    """Process the batch; if the store refuses a value (too long, a NUL byte: ``DataError``), find the culprit.

    The batch is retried one message at a time and each message the store refuses becomes a dead
    letter (stage ``store``), so one bad record can neither stop the worker nor block its partition.
    """
    try:
        return _process_riding_out_store_outages(processor, messages, settings, stop)
    except DataError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        if len(messages) == 1:
            log.warning("the store refused message %s:%s: %s", messages[0].partition, messages[0].offset, reason)
            letter = dead_letter(messages[0], exc, "store", clock())
            return BatchOutcome(dead_letters=[letter.model_copy(update={"reason": f"the store refused it: {reason}"})])
        log.warning("the store refused a batch of %d (%s); retrying it one message at a time", len(messages), reason)
    total = BatchOutcome()
    for message in messages:
        one = _process_isolating_poison(processor, [message], settings, stop, clock)
        total.stored += one.stored
        total.skipped += one.skipped
        total.assigned += one.assigned
        total.unassigned += one.unassigned
        total.topics_created += one.topics_created
        total.vectors += one.vectors
        total.active_topics = one.active_topics
        total.dead_letters.extend(one.dead_letters)
    return total


def _process_riding_out_store_outages(
    processor: BatchProcessor, messages: list[RawMessage], settings: Settings, stop: threading.Event
) -> BatchOutcome:
    """Process the batch; while the store is unreachable retry it with backoff (nothing is committed meanwhile).

    After ``worker_store_retry_s`` (or a stop signal) it gives up with ``StoreUnavailableError``: the
    offsets stay uncommitted, so a restarted worker reads the batch again and loses nothing.
    """
    deadline = time.monotonic() + settings.worker_store_retry_s
    delay = 0.5
    while True:
        try:
            return processor.process(messages)
        except DBAPIError as exc:
            if not _store_unreachable(exc):
                raise
            if time.monotonic() + delay > deadline or stop.is_set():
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
                raise StoreUnavailableError(f"the store stayed unreachable: {reason}") from exc
            log.warning("store unreachable (%s); retrying the batch in %.1f s", type(exc.orig).__name__, delay)
            stop.wait(delay)
            delay = min(delay * 2, 5.0)


def _store_unreachable(exc: DBAPIError) -> bool:
    """A lost or refused connection (retrying helps), as opposed to a bad statement (it does not)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


@contextmanager
def _paused_while_backlogged(consumer: Any, backlogged: bool) -> Iterator[bool]:
    """Pause fetching for the duration of a full batch; the client keeps what it already fetched."""
    partitions = list(consumer.assignment()) if backlogged else []
    if partitions:
        consumer.pause(*partitions)
    try:
        yield bool(partitions)
    finally:
        if partitions:
            consumer.resume(*partitions)


def _commit(consumer: Any, messages: Sequence[RawMessage]) -> None:
    """Commit the batch (its own offsets: the next batch may be polled already); any client error but a
    rebalance is ``BrokerUnavailableError`` (raised by ``commit``)."""
    upto: dict[tuple[str, int], int] = {}
    for m in messages:
        if m.partition is not None and m.offset is not None:
            upto[m.topic, m.partition] = max(upto.get((m.topic, m.partition), 0), m.offset + 1)
    try:
        commit(consumer, upto)
    except RebalancedError as exc:
        # The group rebalanced mid-batch: another member re-reads these messages; the writes are idempotent.
        log.warning("offset commit failed after a rebalance; the batch will be re-read: %s", exc)


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
    report.embedded += outcome.vectors.embedded
    report.embed_cache_hits += outcome.vectors.cache_hits
    report.near_copy_reuses += outcome.vectors.near_copy_reuses
    report.revision_reuses += outcome.vectors.revision_reuses
