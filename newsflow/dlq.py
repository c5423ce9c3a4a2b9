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

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from newsflow.errors import DeadLetterNotFoundError
from newsflow.kafka import DeadLetter, make_producer, topic_names
from newsflow.kafka.dead_letter import (
    commit_progress,
    open_dead_letters,
    partitions,
    read_dead_letters,
    read_progress,
    republish,
)
from newsflow.settings import Settings

log = logging.getLogger(__name__)
REPLAY_GROUP_SUFFIX = "-dlq-replay"


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


def list_dead_letters(settings: Settings, limit: int | None = None) -> list[DeadLetter]:
    """The dead-letter topic from the beginning (no consumer group involved); the newest ``limit`` if given."""
    topic = topic_names(settings).deadletter
    with open_dead_letters(settings, None) as consumer:
        entries = read_dead_letters(consumer, topic, None, settings.kafka_request_timeout_ms / 1000 * 4)
    if limit is not None:
        entries = sorted(entries, key=_failed_at)[-limit:] if limit > 0 else []
    return entries


def _failed_at(entry: DeadLetter) -> tuple[float, int, int]:
    return (entry.record.failed_at.timestamp() if entry.record else 0.0, entry.partition, entry.offset)


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


def replay_dead_letters(
    settings: Settings, positions: Sequence[tuple[int, int]] | None = None, *, dry_run: bool = False
) -> ReplayReport:
    """Re-publish the chosen (default: all) not-yet-replayed dead letters to their source topics, then commit."""
    topic = topic_names(settings).deadletter
    wanted = set(positions) if positions else None
    report = ReplayReport(dry_run=dry_run)
    timeout_s = settings.kafka_request_timeout_ms / 1000
    with open_dead_letters(settings, replay_group(settings)) as consumer:
        progress = {p: read_progress(consumer, topic, p) for p in partitions(consumer, topic)}
        starts = None if wanted else {p: prog.committed for p, prog in progress.items()}
        entries = _select(read_dead_letters(consumer, topic, starts, timeout_s * 4), wanted)
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
                republish(producer, chunk, timeout_s)
                # unreadable entries count as replayed too: replaying them cannot help
                commit_progress(consumer, topic, progress, [*chunk, *unreadable])
                report.replayed += len(chunk)
            if not todo:
                commit_progress(consumer, topic, progress, unreadable)
        finally:
            producer.close(timeout=timeout_s)
    log.info("replayed %d dead letters to their source topics", report.replayed)
    return report
