"""The dead-letter topic: list what failed, and replay the original payloads to their source topic.

Listing reads the topic from the beginning with a group-less consumer, so it never moves any
group's offsets. Replaying uses its own consumer group, ``<worker group>-dlq-replay``: after the
payloads are acknowledged on their source topic it commits, per dead-letter partition, the offset
below which everything was replayed, plus (in the commit's metadata) the replayed offsets above
it when single entries were chosen with ``--offset``. A second replay therefore resends nothing.
A crash between publishing and committing resends at most duplicates, which the worker absorbs
(the same article revision is stored once). A payload that fails again is dead-lettered again by
the worker with the new reason, at a new dead-letter offset: a replay is an operator's act, never
an automatic loop.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from newsflow.consumer_lag import kafka_error_detail as _detail
from newsflow.contracts import DeadLetterRecord, decode
from newsflow.errors import BrokerUnavailableError, DeadLetterNotFoundError, RecordError
from newsflow.kafka_io import make_producer, topic_names
from newsflow.settings import Settings

log = logging.getLogger(__name__)
REPLAY_GROUP_SUFFIX = "-dlq-replay"
_METADATA_LIMIT = 3500  # the broker refuses commit metadata above offset.metadata.max.bytes (4096)


@dataclass(frozen=True)
class DeadLetter:
    """One entry of the dead-letter topic: where it sits there, and the record (or why it is unreadable)."""

    partition: int
    offset: int
    record: DeadLetterRecord | None
    unreadable: str | None = None  # a message on the topic that is not a dead-letter record

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass
class ReplayReport:
    selected: int = 0
    replayed: int = 0
    already_replayed: int = 0
    unreadable: int = 0
    dry_run: bool = False
    positions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "selected": self.selected, "replayed": self.replayed, "already_replayed": self.already_replayed,
            "unreadable": self.unreadable, "dry_run": self.dry_run, "positions": self.positions,
        }  # fmt: skip


def replay_group(settings: Settings) -> str:
    return f"{settings.kafka_consumer_group}{REPLAY_GROUP_SUFFIX}"


def parse_position(text: str) -> tuple[int, int]:
    """``"P:O"`` (dead-letter partition and offset, as ``newsflow dlq list`` prints them)."""
    partition, sep, offset = text.partition(":")
    if not sep or not partition.strip().isdigit() or not offset.strip().isdigit():
        raise ValueError(f"expected PARTITION:OFFSET, e.g. 0:12, not {text!r}")
    return int(partition), int(offset)


def _unavailable(settings: Settings, exc: BaseException) -> BrokerUnavailableError:
    return BrokerUnavailableError(f"Kafka broker at {settings.kafka_bootstrap_servers} unreachable: {_detail(exc)}")


@contextmanager
def _consumer(settings: Settings, group: str | None) -> Iterator[KafkaConsumer]:
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=group,
            client_id="newsflow-dlq",
            enable_auto_commit=False,
            request_timeout_ms=max(settings.kafka_request_timeout_ms, 31_000),
            bootstrap_timeout_ms=settings.kafka_bootstrap_timeout_ms,
        )
    except (KafkaError, OSError) as exc:
        raise _unavailable(settings, exc) from exc
    try:
        yield consumer
    except KafkaError as exc:
        raise _unavailable(settings, exc) from exc
    finally:
        consumer.close(autocommit=False)


def _entry(partition: int, offset: int, value: bytes | None) -> DeadLetter:
    try:
        return DeadLetter(partition, offset, decode(DeadLetterRecord, value or b""))
    except RecordError as exc:
        return DeadLetter(partition, offset, None, unreadable=str(exc))


def _read(consumer: KafkaConsumer, topic: str, starts: dict[int, int] | None, timeout_s: float) -> list[DeadLetter]:
    """Every entry from ``starts`` (default: the beginning) to the end offsets as of now, in partition order."""
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    if not tps:
        return []
    consumer.assign(tps)
    ends = consumer.end_offsets(tps)
    firsts = consumer.beginning_offsets(tps)
    for tp in tps:
        consumer.seek(tp, max(firsts[tp], (starts or {}).get(tp.partition, firsts[tp])))
    out: list[DeadLetter] = []
    deadline = time.monotonic() + timeout_s
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        if time.monotonic() > deadline:
            raise BrokerUnavailableError(f"could not read {topic} to its end within {timeout_s:.0f} s")
        for tp, messages in consumer.poll(timeout_ms=500).items():
            out.extend(_entry(tp.partition, m.offset, m.value) for m in messages if m.offset < ends[tp])
    return sorted(out, key=lambda d: (d.partition, d.offset))


def list_dead_letters(settings: Settings, limit: int | None = None) -> list[DeadLetter]:
    """The dead-letter topic from the beginning (no consumer group involved); the newest ``limit`` if given."""
    topic = topic_names(settings).deadletter
    with _consumer(settings, None) as consumer:
        entries = _read(consumer, topic, None, settings.kafka_request_timeout_ms / 1000 * 4)
    if limit is not None:
        entries = sorted(entries, key=_failed_at)[-limit:] if limit > 0 else []
    return entries


def _failed_at(entry: DeadLetter) -> tuple[float, int, int]:
    return (entry.record.failed_at.timestamp() if entry.record else 0.0, entry.partition, entry.offset)


def count_dead_letters(settings: Settings) -> int:
    """Messages on the dead-letter topic (end - first offset summed over partitions), read in one request."""
    topic = topic_names(settings).deadletter
    with _consumer(settings, None) as consumer:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not tps:
            return 0
        ends, firsts = consumer.end_offsets(tps), consumer.beginning_offsets(tps)
        return sum(ends[tp] - firsts[tp] for tp in tps)


@dataclass
class _Progress:
    """What the replay group has done on one dead-letter partition."""

    committed: int
    done_above: set[int]

    def replayed(self, offset: int) -> bool:
        return offset < self.committed or offset in self.done_above

    def add(self, offsets: Iterable[int]) -> None:
        self.done_above.update(offsets)
        while self.committed in self.done_above:
            self.done_above.discard(self.committed)
            self.committed += 1

    def as_commit(self) -> OffsetAndMetadata:
        metadata = json.dumps(sorted(self.done_above), separators=(",", ":"))
        if len(metadata) > _METADATA_LIMIT:
            raise DeadLetterNotFoundError(
                "too many single replayed entries above the first gap; replay the gap or use --all"
            )
        return OffsetAndMetadata(self.committed, metadata, -1)


def _progress(consumer: KafkaConsumer, topic: str, partition: int) -> _Progress:
    committed = consumer.committed(TopicPartition(topic, partition), metadata=True)
    if committed is None:
        return _Progress(0, set())
    try:
        above = {int(o) for o in json.loads(committed.metadata or "[]")}
    except (ValueError, TypeError):
        above = set()
    return _Progress(committed.offset, above)


def _select(entries: Sequence[DeadLetter], wanted: set[tuple[int, int]] | None) -> list[DeadLetter]:
    if wanted is None:
        return list(entries)
    found = {(d.partition, d.offset) for d in entries}
    missing = sorted(wanted - found)
    if missing:
        raise DeadLetterNotFoundError(
            "no dead letter at " + ", ".join(f"{p}:{o}" for p, o in missing) + " (see `newsflow dlq list`)"
        )
    return [d for d in entries if (d.partition, d.offset) in wanted]


def _publish_originals(producer: KafkaProducer, entries: Sequence[DeadLetter], timeout_s: float) -> None:
    futures = []
    for d in entries:
        assert d.record is not None
        key = d.record.key.encode("utf-8") if d.record.key else None
        futures.append(producer.send(d.record.source_topic, key=key, value=d.record.payload.encode("utf-8")))
    producer.flush(timeout=timeout_s)
    try:
        for future in futures:
            future.get(timeout=timeout_s)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"re-publishing dead letters failed: {_detail(exc)}") from exc


def replay_dead_letters(
    settings: Settings, positions: Sequence[tuple[int, int]] | None = None, *, dry_run: bool = False
) -> ReplayReport:
    """Re-publish the chosen (default: all) not-yet-replayed dead letters to their source topics, then commit."""
    topic = topic_names(settings).deadletter
    wanted = set(positions) if positions else None
    report = ReplayReport(dry_run=dry_run)
    timeout_s = settings.kafka_request_timeout_ms / 1000
    with _consumer(settings, replay_group(settings)) as consumer:
        partitions = sorted(consumer.partitions_for_topic(topic) or [])
        progress = {p: _progress(consumer, topic, p) for p in partitions}
        starts = None if wanted else {p: prog.committed for p, prog in progress.items()}
        entries = _select(_read(consumer, topic, starts, timeout_s * 4), wanted)
        report.selected = len(entries)
        todo = [d for d in entries if not progress[d.partition].replayed(d.offset)]
        report.already_replayed = len(entries) - len(todo)
        unreadable = [d for d in todo if d.record is None]
        report.unreadable = len(unreadable)
        for d in unreadable:
            log.warning("dead letter %s is not a dead-letter record (%s); skipped", d.position, d.unreadable)
        todo = [d for d in todo if d.record is not None]
        report.positions = [d.position for d in todo]
        if dry_run or not (todo or unreadable):
            return report
        producer = make_producer(settings, client_id="newsflow-dlq-replay")
        try:
            for start in range(0, len(todo), settings.dlq_replay_batch):
                chunk = todo[start : start + settings.dlq_replay_batch]
                _publish_originals(producer, chunk, timeout_s)
                _commit(consumer, topic, progress, [*chunk, *unreadable])
                report.replayed += len(chunk)
            if not todo:
                _commit(consumer, topic, progress, unreadable)
        finally:
            producer.close(timeout=timeout_s)
    log.info("replayed %d dead letters to their source topics", report.replayed)
    return report


def _commit(consumer: KafkaConsumer, topic: str, progress: dict[int, _Progress], done: Sequence[DeadLetter]) -> None:
    """Mark ``done`` as replayed (unreadable entries too: replaying them cannot help) and commit."""
    touched: dict[int, list[int]] = {}
    for d in done:
        touched.setdefault(d.partition, []).append(d.offset)
    for partition, offsets in touched.items():
        progress[partition].add(offsets)
    consumer.commit({TopicPartition(topic, p): progress[p].as_commit() for p in touched})
