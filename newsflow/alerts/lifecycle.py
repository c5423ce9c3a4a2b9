"""The alert lifecycle (pure state machine, after Prometheus Alertmanager).

Input: this evaluation's growth measurements, the alerts firing so far, the topics that merged
away, the silences and ``now``. Output: the alert rows to store and the notifications to send.

- fingerprint = rule + topic id; a breach with no firing alert of that fingerprint opens one whose
  id is the fingerprint plus the firing time (re-evaluating the same data finds it, opens none);
- deduplication: a still-breaching alert stays the same alert and sends nothing new, until the
  repeat interval has passed since its last notification (then a ``repeat``);
- an alert that has not breached for the resolve interval (or whose topic merged into another)
  resolves, with a ``resolved`` notification if its firing was ever sent;
- silences: a matching active silence holds a notification back and marks the alert
  ``silenced_by``; an alert never notified is notified once its silence has ended;
- grouping: notifications of one evaluation with the same group key go out as one batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from newsflow.alerts.silences import silencing
from newsflow.records.alert import Alert, Event, Growth, Silence
from newsflow.settings import Settings

_MAX_ID = 64  # alerts.id column width


@dataclass(frozen=True)
class Policy:
    rule: str
    resolve_after: timedelta
    repeat_interval: timedelta
    group_by: str  # rule | topic

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            rule=settings.alert_rule_name,
            resolve_after=timedelta(minutes=settings.alert_resolve_after_minutes),
            repeat_interval=timedelta(minutes=settings.alert_repeat_interval_minutes),
            group_by=settings.alert_group_by,
        )

    def fingerprint(self, topic_id: int) -> str:
        return f"{self.rule}:{topic_id}"

    def group_key(self, topic_id: int) -> str:
        return self.fingerprint(topic_id) if self.group_by == "topic" else self.rule


@dataclass(frozen=True)
class Notification:
    alert: Alert
    event: Event


@dataclass(frozen=True)
class TopicInfo:
    """What the lifecycle needs to know about a topic besides its growth."""

    label: str = ""
    merged_into: int | None = None
    article_count: int = 0


@dataclass
class Plan:
    """The outcome of one evaluation: alert rows to store, notifications to send or held back."""

    alerts: list[Alert] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    silenced: list[Notification] = field(default_factory=list)

    def groups(self) -> dict[str, list[Notification]]:
        """Notifications to send, batched by group key (keys and members in a stable order)."""
        out: dict[str, list[Notification]] = {}
        for n in sorted(self.notifications, key=lambda n: (n.alert.group_key, n.alert.topic_id, n.alert.id)):
            out.setdefault(n.alert.group_key, []).append(n)
        return out

    def count(self, event: Event) -> int:
        return sum(1 for n in self.notifications if n.event == event)


def alert_id(fingerprint: str, fired_at: datetime) -> str:
    """Fingerprint plus firing time; hashed only if that would not fit the column."""
    readable = f"{fingerprint}@{fired_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return readable if len(readable) <= _MAX_ID else hashlib.sha256(readable.encode()).hexdigest()[:_MAX_ID]


def _summary(topic_id: int, info: TopicInfo, growth: Growth) -> str:
    name = info.label or f"topic {topic_id}"
    return (
        f"{name}: {growth.recent_count} articles from {growth.recent_outlets} outlets in the window "
        f"(baseline {growth.baseline_rate:.1f}, z {growth.z_score:.1f})"
    )


def _details(growth: Growth, last_breach_at: datetime, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {**growth.as_details(), "last_breach_at": last_breach_at.isoformat(), **(extra or {})}


def _open(growth: Growth, info: TopicInfo, policy: Policy, now: datetime) -> Alert:
    fingerprint = policy.fingerprint(growth.topic_id)
    return Alert(
        id=alert_id(fingerprint, now),
        fingerprint=fingerprint,
        group_key=policy.group_key(growth.topic_id),
        topic_id=growth.topic_id,
        rule=policy.rule,
        status="firing",
        summary=_summary(growth.topic_id, info, growth),
        fired_at=now,
        last_evaluated_at=now,
        details=_details(growth, now),
    )


def _step(
    alert: Alert | None, growth: Growth | None, info: TopicInfo, policy: Policy, now: datetime
) -> tuple[Alert | None, Event | None]:
    """One fingerprint's transition: the alert after this evaluation and the event it calls for."""
    if alert is None:
        if growth is not None and growth.breaching and info.merged_into is None:
            return _open(growth, info, policy, now), "firing"
        return None, None
    if info.merged_into is not None:
        details = {**alert.details, "resolved_because": f"merged into topic {info.merged_into}"}
        return replace(alert, status="resolved", resolved_at=now, last_evaluated_at=now, details=details), "resolved"
    if growth is not None and growth.breaching:
        updated = replace(
            alert, last_evaluated_at=now, summary=_summary(alert.topic_id, info, growth), details=_details(growth, now)
        )
        if alert.notify_count == 0:
            return updated, "firing"  # held back by a silence so far
        if alert.last_notified_at is None or now - alert.last_notified_at >= policy.repeat_interval:
            return updated, "repeat"
        return updated, None
    extra = growth.as_details() if growth is not None else {}
    details = {**alert.details, **extra, "last_breach_at": alert.last_breach_at.isoformat()}
    if now - alert.last_breach_at >= policy.resolve_after:
        resolved = replace(alert, status="resolved", resolved_at=now, last_evaluated_at=now, details=details)
        return resolved, "resolved"
    return replace(alert, last_evaluated_at=now, details=details), None


def plan_evaluation(
    growths: Iterable[Growth],
    firing: Iterable[Alert],
    topics: Mapping[int, TopicInfo],
    silences: Iterable[Silence],
    policy: Policy,
    now: datetime,
) -> Plan:
    """Apply one evaluation to the firing alerts: see the module docstring for the rules."""
    by_topic = {g.topic_id: g for g in growths}
    open_alerts = {a.fingerprint: a for a in firing if a.status == "firing"}
    active_silences = [s for s in silences if s.is_active(now)]
    plan = Plan()
    fingerprints = {policy.fingerprint(t): t for t in by_topic} | {fp: a.topic_id for fp, a in open_alerts.items()}
    for fingerprint, topic_id in sorted(fingerprints.items(), key=lambda kv: kv[1]):
        info = topics.get(topic_id, TopicInfo())
        alert, event = _step(open_alerts.get(fingerprint), by_topic.get(topic_id), info, policy, now)
        if alert is None:
            continue
        if event is not None and not (event == "resolved" and alert.notify_count == 0):
            alert = _notify(plan, alert, event, info, active_silences, now)
        plan.alerts.append(alert)
    return plan


def _notify(plan: Plan, alert: Alert, event: Event, info: TopicInfo, silences: list[Silence], now: datetime) -> Alert:
    """Queue the notification, or hold it back under a silence; returns the alert as it is then stored."""
    silence = silencing(silences, now, alert.topic_id, alert.rule, info.label)
    if silence is not None:
        held = replace(alert, silenced_by=silence.id)
        plan.silenced.append(Notification(held, event))
        return held
    sent = replace(alert, last_notified_at=now, notify_count=alert.notify_count + 1, silenced_by=None)
    plan.notifications.append(Notification(sent, event))
    return sent
