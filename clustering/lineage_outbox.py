"""The lineage outbox: events the store recorded, published on the topic-events Kafka topic, then marked sent.

A broker outage does not undo a re-clustering or a batch: the events stay pending and go out with the
next run or the next worker batch.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine

from newsflow.contracts import Record
from newsflow.kafka import Producer, make_producer, publish, topic_names
from newsflow.settings import Settings
from newsflow.store import lineage_repo

log = logging.getLogger(__name__)


def publish_pending_events(
    engine: Engine, settings: Settings, now: datetime, producer: Producer | None = None
) -> int:
    """Send lineage events not yet on the topic-events topic, keyed by topic id; mark them sent."""
    with engine.connect() as conn:
        events = lineage_repo.pending(conn)
    if not events:
        return 0
    kafka = producer or make_producer(settings, client_id="newsflow-lineage")
    try:
        pairs: list[tuple[str, Record]] = [(str(e.event.topic_id), e.to_record()) for e in events]
        publish(kafka, topic_names(settings).topic_events, pairs, timeout_s=settings.kafka_request_timeout_ms / 1000)
    finally:
        if producer is None:
            kafka.close()
    with engine.begin() as conn:
        lineage_repo.mark_published(conn, [e.id for e in events], now)
    log.info("published %d lineage events", len(events))
    return len(events)
