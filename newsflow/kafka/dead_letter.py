"""The dead-letter topic on the wire: publish dead letters, read them back, re-publish their originals.

The worker puts each message it cannot process here as a ``DeadLetterRecord`` keyed like the
original. Reading assigns the partitions itself (no subscription, so no rebalance of any group) and
stops at the end offsets as of the start, so a listing is a snapshot. Replay progress is the
replay group's committed offset per partition plus, in the commit's metadata, the single offsets
replayed above it: the broker keeps the bookkeeping, and ``newsflow.dlq`` decides what to replay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from newsflow.contracts import DeadLetterRecord, decode
from newsflow.errors import BrokerUnavailableError, DeadLetterNotFoundError, RecordError
from newsflow.kafka.consumer import Consumer, open_reader
from newsflow.kafka.errors import error_detail
from newsflow.kafka.producer import Producer, await_acks, publish, send_all
from newsflow.kafka.topics import topic_names
from newsflow.settings import Settings

CLIENT_ID = "newsflow-dlq"
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


def publish_dead_letters(producer: Producer, topic: str, letters: Sequence[DeadLetterRecord], timeout_s: float) -> int:
    """Acknowledged, keyed by the original's key (empty without one), so a partition's order is kept."""
    return publish(producer, topic, [(d.key or "", d) for d in letters], timeout_s)


@contextmanager
def open_dead_letters(settings: Settings, group: str | None) -> Iterator[Consumer]:
    """A reader for the dead-letter topic: no group for listing, the replay group for replaying."""
    with open_reader(settings, group, CLIENT_ID) as consumer:
        yield consumer


def partitions(consumer: Consumer, topic: str) -> list[int]:
    """The topic's partition numbers in order (none while the topic does not exist)."""
    return sorted(consumer.partitions_for_topic(topic) or [])


def entry(partition: int, offset: int, value: bytes | None) -> DeadLetter:
    """A message read off the topic; one that is no dead-letter record is kept as unreadable, not dropped."""
    try:
        return DeadLetter(partition, offset, decode(DeadLetterRecord, value or b""))
    except RecordError as exc:
        return DeadLetter(partition, offset, None, unreadable=str(exc))


def read_dead_letters(
    consumer: Consumer, topic: str, starts: dict[int, int] | None, timeout_s: float
) -> list[DeadLetter]:
    """Every entry from ``starts`` (default: the beginning) to the end offsets as of now, in partition order."""
    tps = [TopicPartition(topic, p) for p in partitions(consumer, topic)]
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
            out.extend(entry(tp.partition, m.offset, m.value) for m in messages if m.offset < ends[tp])
    return sorted(out, key=lambda d: (d.partition, d.offset))


def count_dead_letters(settings: Settings) -> int:
    """Messages on the dead-letter topic (end - first offset summed over partitions), read in one request."""
    topic = topic_names(settings).deadletter
    with open_dead_letters(settings, None) as consumer:
        tps = [TopicPartition(topic, p) for p in partitions(consumer, topic)]
        if not tps:
            return 0
        ends, firsts = consumer.end_offsets(tps), consumer.beginning_offsets(tps)
        return sum(ends[tp] - firsts[tp] for tp in tps)


@dataclass
class ReplayProgress:
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
        """The committed offset, and the replayed offsets above it as JSON in the commit's metadata."""
        metadata = json.dumps(sorted(self.done_above), separators=(",", ":"))
        if len(metadata) > _METADATA_LIMIT:
            raise DeadLetterNotFoundError(
                "too many single replayed entries above the first gap; replay the gap or use --all"
            )
        return OffsetAndMetadata(self.committed, metadata, -1)


def read_progress(consumer: Consumer, topic: str, partition: int) -> ReplayProgress:
    """The consumer group's progress on ``partition`` (unreadable metadata: only the committed offset counts)."""
    committed = consumer.committed(TopicPartition(topic, partition), metadata=True)
    if committed is None:
        return ReplayProgress(0, set())
    try:
        above = {int(o) for o in json.loads(committed.metadata or "[]")}
    except (ValueError, TypeError):
        above = set()
    return ReplayProgress(committed.offset, above)


def commit_progress(
    consumer: Consumer, topic: str, progress: dict[int, ReplayProgress], done: Sequence[DeadLetter]
) -> None:
    """Mark ``done`` as replayed in ``progress`` and commit the partitions it touched, in one request."""
    touched: dict[int, list[int]] = {}
    for d in done:
        touched.setdefault(d.partition, []).append(d.offset)
    for partition, offsets in touched.items():
        progress[partition].add(offsets)
    consumer.commit({TopicPartition(topic, p): progress[p].as_commit() for p in touched})


def republish(producer: Producer, entries: Sequence[DeadLetter], timeout_s: float) -> None:
    """Each entry's original payload and key, as they were, to its source topic; acknowledged."""
    messages = []
    for d in entries:
        assert d.record is not None
        key = d.record.key.encode("utf-8") if d.record.key else None
        messages.append((d.record.source_topic, key, d.record.payload.encode("utf-8")))
    futures = send_all(producer, messages, timeout_s)
    try:
        await_acks(futures, timeout_s)
    except KafkaError as exc:
        raise BrokerUnavailableError(f"re-publishing dead letters failed: {error_detail(exc)}") from exc
