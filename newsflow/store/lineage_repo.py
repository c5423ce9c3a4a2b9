"""Lineage events in the store, which is also the outbox of the topic-events Kafka topic.

An event is unique on (topic, kind, time): recording the same re-clustering twice stores it once.
Events are written in the same transaction as the topic changes they describe; ``pending`` lists
those not yet acknowledged by the broker and ``mark_published`` closes them, so a crash between
the two re-sends an event rather than losing it (consumers get at-least-once, keyed by topic).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from newsflow.contracts import TopicEventKind, TopicEventRecord
from newsflow.records.topic import LineageEvent
from newsflow.store.schema import lineage_events
from newsflow.store.upsert import chunked, upsert


@dataclass(frozen=True)
class StoredEvent:
    id: int
    event: LineageEvent

    def to_record(self) -> TopicEventRecord:
        e = self.event
        return TopicEventRecord(
            topic_id=e.topic_id, kind=e.kind, related=list(e.related), article_count=e.article_count,
            label=e.label, at=e.at,
        )  # fmt: skip


def record_events(conn: Connection, events: Sequence[LineageEvent]) -> None:
    rows = [
        {"topic_id": e.topic_id, "kind": e.kind.value, "related": list(e.related), "article_count": e.article_count,
         "label": e.label, "at": e.at, "published_at": None}
        for e in events
    ]  # fmt: skip
    upsert(conn, lineage_events, rows, ["topic_id", "kind", "at"])


def _event(r: Any) -> StoredEvent:
    event = LineageEvent(
        topic_id=r.topic_id,
        kind=TopicEventKind(r.kind),
        at=r.at,
        article_count=r.article_count,
        related=tuple(r.related or ()),
        label=r.label or "",
    )
    return StoredEvent(id=r.id, event=event)


def pending(conn: Connection, limit: int = 1000) -> list[StoredEvent]:
    """Events not yet published, oldest first."""
    query = select(lineage_events).where(lineage_events.c.published_at.is_(None)).order_by(lineage_events.c.id)
    return [_event(r) for r in conn.execute(query.limit(limit))]


def mark_published(conn: Connection, ids: Iterable[int], at: datetime) -> None:
    for part in chunked(sorted(set(ids)), 500):
        conn.execute(update(lineage_events).where(lineage_events.c.id.in_(part)).values(published_at=at))


def events_of(conn: Connection, topic_id: int | None = None) -> list[LineageEvent]:
    """Recorded events (of one topic, or all), in the order they were recorded."""
    query = select(lineage_events).order_by(lineage_events.c.id)
    if topic_id is not None:
        query = query.where(lineage_events.c.topic_id == topic_id)
    return [_event(r).event for r in conn.execute(query)]
