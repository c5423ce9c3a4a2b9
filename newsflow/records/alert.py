"""The alerting records: a topic's arrivals and measured growth, an alert episode, a silence, a delivery.

The rules that produce them live in ``newsflow/alerts``; these are the values the store keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# What a notification tells: the alert started, still fires (repeat interval), or ended.
Event = Literal["firing", "repeat", "resolved"]


@dataclass(frozen=True)
class Arrival:
    """One member article of a topic as the detector sees it."""

    article_id: str
    published_at: datetime
    outlet: str
    near_duplicate_of: str | None = None


@dataclass(frozen=True)
class Growth:
    """One topic's measurement at ``evaluated_at``; ``breaching`` is what the alert lifecycle reads."""

    topic_id: int
    recent_count: int
    recent_outlets: int
    baseline_rate: float  # EWMA arrivals per window (0 for a new topic)
    baseline_std: float
    z_score: float
    growth_score: float
    is_new: bool
    breaching: bool
    evaluated_at: datetime

    def as_details(self) -> dict[str, object]:
        """What an alert carries about the measurement that fired it (JSON-ready)."""
        return {
            "recent_count": self.recent_count,
            "recent_outlets": self.recent_outlets,
            "baseline_rate": round(self.baseline_rate, 4),
            "z_score": round(self.z_score, 4),
            "growth_score": round(self.growth_score, 4),
            "new_topic": self.is_new,
        }


@dataclass(frozen=True)
class Alert:
    """One alert episode, the same fields as a row of the ``alerts`` table."""

    id: str
    fingerprint: str
    group_key: str
    topic_id: int
    rule: str
    status: Literal["firing", "resolved"]
    summary: str
    fired_at: datetime
    resolved_at: datetime | None = None
    last_evaluated_at: datetime | None = None
    last_notified_at: datetime | None = None
    notify_count: int = 0
    silenced_by: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def last_breach_at(self) -> datetime:
        raw = self.details.get("last_breach_at")
        return datetime.fromisoformat(raw) if isinstance(raw, str) else self.fired_at


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: Mapping[str, Any]
    starts_at: datetime
    ends_at: datetime
    comment: str = ""
    created_by: str = ""
    expired_at: datetime | None = None
    created_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        if self.expired_at is not None and self.expired_at <= now:
            return False
        return self.starts_at <= now < self.ends_at

    def matches(self, topic_id: int, rule: str, label: str) -> bool:
        m = self.matchers
        if "topic_id" in m and int(m["topic_id"]) != topic_id:
            return False
        if "rule" in m and str(m["rule"]) != rule:
            return False
        return not ("label_contains" in m and str(m["label_contains"]).casefold() not in label.casefold())


@dataclass(frozen=True)
class Delivery:
    alert_id: str
    sink: str
    event: Event
    status: Literal["sent", "failed"]
    attempts: int
    last_error: str | None
    at: datetime
