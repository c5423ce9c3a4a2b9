"""Alerts in the store: topic arrivals for the detector, alert episodes, silences, notifications, growth.

Writes are upserts on natural keys (alert id, topic id, alert + sink + event + time), so a retried
evaluation of the same data changes nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, true, update

from newsflow.errors import SilenceNotFoundError
from newsflow.records.alert import Alert, Arrival, Delivery, Growth, Silence
from newsflow.store.schema import (
    alert_notifications,
    alert_silences,
    alerts,
    articles,
    topic_growth,
    topic_memberships,
    topics,
)
from newsflow.store.upsert import ID_CHUNK, chunked, upsert

_ALERT_MUTABLE = ["status", "summary", "resolved_at", "last_evaluated_at", "last_notified_at", "notify_count",
                  "silenced_by", "details", "group_key"]  # fmt: skip


@dataclass(frozen=True)
class TopicRow:
    id: int
    label: str
    status: str
    merged_into: int | None
    first_seen: datetime
    article_count: int


# --- what the detector reads ----------------------------------------------------------------------


def arrivals_between(conn: Connection, since: datetime, until: datetime) -> dict[int, list[Arrival]]:
    """Member articles published in ``(since, until]``, per topic."""
    query = (
        select(topic_memberships.c.topic_id, articles.c.id, articles.c.published_at, articles.c.outlet,
               articles.c.near_duplicate_of)
        .join(articles, articles.c.id == topic_memberships.c.article_id)
        .where(articles.c.published_at > since, articles.c.published_at <= until)
    )  # fmt: skip
    out: dict[int, list[Arrival]] = defaultdict(list)
    for r in conn.execute(query):
        out[r.topic_id].append(Arrival(r.id, r.published_at, r.outlet, r.near_duplicate_of))
    return dict(out)


def topic_rows(conn: Connection, topic_ids: Iterable[int]) -> dict[int, TopicRow]:
    found: dict[int, TopicRow] = {}
    cols = [topics.c.id, topics.c.label, topics.c.status, topics.c.merged_into, topics.c.first_seen,
            topics.c.article_count]  # fmt: skip
    for part in chunked(sorted(set(topic_ids)), ID_CHUNK):
        for r in conn.execute(select(*cols).where(topics.c.id.in_(part))):
            found[r.id] = TopicRow(r.id, r.label, r.status, r.merged_into, r.first_seen, r.article_count)
    return found


def save_growth(conn: Connection, growths: Sequence[Growth]) -> None:
    rows = [
        {"topic_id": g.topic_id, "recent_count": g.recent_count, "recent_outlets": g.recent_outlets,
         "baseline_rate": g.baseline_rate, "z_score": g.z_score, "growth_score": g.growth_score,
         "evaluated_at": g.evaluated_at}
        for g in growths
    ]  # fmt: skip
    upsert(conn, topic_growth, rows, ["topic_id"], [c for c in rows[0] if c != "topic_id"] if rows else [])


def clear_stale_growth(conn: Connection, evaluated_at: datetime) -> None:
    """Topics not measured at ``evaluated_at`` (no arrivals in the lookback) are not growing any more.

    Call after ``save_growth`` of the same evaluation, which stamped the measured ones.
    """
    query = update(topic_growth).where(topic_growth.c.evaluated_at != evaluated_at)
    conn.execute(query.values(recent_count=0, recent_outlets=0, z_score=0.0, growth_score=0.0,
                              evaluated_at=evaluated_at))  # fmt: skip


# --- alert episodes -------------------------------------------------------------------------------


def _alert(r: Any) -> Alert:
    return Alert(
        id=r.id, fingerprint=r.fingerprint, group_key=r.group_key, topic_id=r.topic_id, rule=r.rule, status=r.status,
        summary=r.summary, fired_at=r.fired_at, resolved_at=r.resolved_at, last_evaluated_at=r.last_evaluated_at,
        last_notified_at=r.last_notified_at, notify_count=r.notify_count, silenced_by=r.silenced_by,
        details=dict(r.details or {}),
    )  # fmt: skip


def alert_as_dict(a: Alert) -> dict[str, Any]:
    """The API's and the CLI's shape of an alert (timestamps ISO-8601 UTC)."""
    return {
        "id": a.id, "fingerprint": a.fingerprint, "topic_id": a.topic_id, "rule": a.rule, "status": a.status,
        "summary": a.summary, "fired_at": a.fired_at.isoformat(),
        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None, "notify_count": a.notify_count,
        "silenced_by": a.silenced_by, "details": dict(a.details),
    }  # fmt: skip


def firing_alerts(conn: Connection) -> list[Alert]:
    return [_alert(r) for r in conn.execute(select(alerts).where(alerts.c.status == "firing").order_by(alerts.c.id))]


def save_alerts(conn: Connection, episodes: Sequence[Alert]) -> None:
    rows = [
        {"id": a.id, "fingerprint": a.fingerprint, "group_key": a.group_key, "topic_id": a.topic_id, "rule": a.rule,
         "status": a.status, "summary": a.summary, "fired_at": a.fired_at, "resolved_at": a.resolved_at,
         "last_evaluated_at": a.last_evaluated_at, "last_notified_at": a.last_notified_at,
         "notify_count": a.notify_count, "silenced_by": a.silenced_by, "details": dict(a.details)}
        for a in episodes
    ]  # fmt: skip
    upsert(conn, alerts, rows, ["id"], _ALERT_MUTABLE)


def list_alerts(
    conn: Connection, status: str = "all", topic_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Alert], int]:
    """Alerts newest first (ties by id, so pages are stable) and how many match in all."""
    conditions = []
    if status != "all":
        conditions.append(alerts.c.status == status)
    if topic_id is not None:
        conditions.append(alerts.c.topic_id == topic_id)
    where = and_(true(), *conditions)
    total = int(conn.execute(select(func.count()).select_from(alerts).where(where)).scalar_one())
    query = select(alerts).where(where).order_by(alerts.c.fired_at.desc(), alerts.c.id).limit(limit).offset(offset)
    return [_alert(r) for r in conn.execute(query)], total


def record_deliveries(conn: Connection, deliveries: Sequence[Delivery]) -> None:
    rows = [
        {"alert_id": d.alert_id, "sink": d.sink, "event": d.event, "status": d.status, "attempts": d.attempts,
         "last_error": d.last_error, "at": d.at}
        for d in deliveries
    ]  # fmt: skip
    upsert(conn, alert_notifications, rows, ["alert_id", "sink", "event", "at"], ["status", "attempts", "last_error"])


def notifications_of(conn: Connection, alert_id: str) -> list[dict[str, Any]]:
    query = (
        select(alert_notifications)
        .where(alert_notifications.c.alert_id == alert_id)
        .order_by(alert_notifications.c.at, alert_notifications.c.sink, alert_notifications.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


# --- silences -------------------------------------------------------------------------------------


def _silence(r: Any) -> Silence:
    return Silence(
        id=r.id, matchers=dict(r.matchers or {}), starts_at=r.starts_at, ends_at=r.ends_at, comment=r.comment,
        created_by=r.created_by, expired_at=r.expired_at, created_at=r.created_at,
    )  # fmt: skip


def silence_as_dict(s: Silence) -> dict[str, Any]:
    return {
        "id": s.id, "matchers": dict(s.matchers), "comment": s.comment, "created_by": s.created_by,
        "starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(),
        "expired_at": s.expired_at.isoformat() if s.expired_at else None,
    }  # fmt: skip


def insert_silence(conn: Connection, s: Silence) -> None:
    conn.execute(alert_silences.insert().values(
        id=s.id, matchers=dict(s.matchers), comment=s.comment, created_by=s.created_by, starts_at=s.starts_at,
        ends_at=s.ends_at, expired_at=s.expired_at, created_at=s.created_at or s.starts_at,
    ))  # fmt: skip


def _not_over(now: datetime) -> Any:
    """Not ended and not expired at ``now`` (in force, or scheduled to start later)."""
    return and_(alert_silences.c.ends_at > now,
                or_(alert_silences.c.expired_at.is_(None), alert_silences.c.expired_at > now))  # fmt: skip


def silences_in_force(conn: Connection, now: datetime) -> list[Silence]:
    query = select(alert_silences).where(_not_over(now), alert_silences.c.starts_at <= now)
    return [_silence(r) for r in conn.execute(query.order_by(alert_silences.c.id))]


def list_silences(
    conn: Connection, now: datetime, active_only: bool = True, limit: int = 50, offset: int = 0
) -> tuple[list[Silence], int]:
    """Silences ending last first (ties by id); ``active_only``: those not ended or expired at ``now``."""
    where = _not_over(now) if active_only else true()
    total = int(conn.execute(select(func.count()).select_from(alert_silences).where(where)).scalar_one())
    query = (
        select(alert_silences).where(where)
        .order_by(alert_silences.c.ends_at.desc(), alert_silences.c.id).limit(limit).offset(offset)
    )  # fmt: skip
    return [_silence(r) for r in conn.execute(query)], total


def expire_silence(conn: Connection, silence_id: str, now: datetime) -> Silence:
    """End a silence now (idempotent: an already expired or ended one keeps its times)."""
    row = conn.execute(select(alert_silences).where(alert_silences.c.id == silence_id)).first()
    if row is None:
        raise SilenceNotFoundError(f"no silence with id {silence_id!r}")
    silence = _silence(row)
    if silence.expired_at is None and silence.ends_at > now:
        conn.execute(update(alert_silences).where(alert_silences.c.id == silence_id).values(expired_at=now))
        silence = _silence(conn.execute(select(alert_silences).where(alert_silences.c.id == silence_id)).one())
    return silence
