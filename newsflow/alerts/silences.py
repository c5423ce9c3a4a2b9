"""Silences (pure, after Alertmanager): matchers, activity window, validation of new ones.

A silence holds back the notifications of every alert it matches while it is active
(``starts_at <= now < ends_at`` and not expired early); the alerts themselves are still stored.
Matchers (all given ones must match): ``topic_id`` (equal), ``rule`` (equal), ``label_contains``
(case-insensitive substring of the topic's label).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from newsflow.errors import SilenceError
from newsflow.records.alert import Silence

MATCHER_KEYS = ("topic_id", "rule", "label_contains")
_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class SilenceRequest:
    """What a person asks for (CLI or API), before it becomes a ``Silence``."""

    matchers: Mapping[str, Any] = field(default_factory=dict)
    comment: str = ""
    created_by: str = ""
    duration: timedelta | None = None
    ends_at: datetime | None = None
    starts_at: datetime | None = None  # default: now


def silencing(silences: Iterable[Silence], now: datetime, topic_id: int, rule: str, label: str) -> Silence | None:
    """The active silence (lowest id, so the choice is stable) that matches, if any."""
    hits = [s for s in silences if s.is_active(now) and s.matches(topic_id, rule, label)]
    return min(hits, key=lambda s: s.id) if hits else None


def clean_matchers(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Only known matchers with usable values; ``SilenceError`` when none is left or a value is bad."""
    unknown = sorted(set(raw) - set(MATCHER_KEYS))
    if unknown:
        raise SilenceError(f"unknown matcher(s) {', '.join(unknown)}; use {', '.join(MATCHER_KEYS)}")
    out: dict[str, Any] = {}
    if raw.get("topic_id") is not None:
        try:
            out["topic_id"] = int(raw["topic_id"])
        except (TypeError, ValueError) as exc:
            raise SilenceError(f"topic_id must be an integer, got {raw['topic_id']!r}") from exc
    for key in ("rule", "label_contains"):
        value = raw.get(key)
        if value is not None and str(value).strip():
            out[key] = str(value).strip()
    if not out:
        raise SilenceError("a silence needs at least one matcher: topic_id, rule or label_contains")
    return out


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d12h``, ``1w`` -> timedelta; ``SilenceError`` for anything else or zero."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise SilenceError(f"bad duration {text!r}: use e.g. 30m, 2h, 1d12h")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise SilenceError(f"bad duration {text!r}: must be longer than zero")
    return timedelta(seconds=seconds)


def new_silence(request: SilenceRequest, now: datetime) -> Silence:
    """A validated silence with a fresh id; exactly one of ``duration`` / ``ends_at`` must be given."""
    matchers = clean_matchers(request.matchers)
    if (request.duration is None) == (request.ends_at is None):
        raise SilenceError("give exactly one of a duration or an end time")
    starts_at = request.starts_at or now
    if request.duration is not None:
        if request.duration <= timedelta(0):
            raise SilenceError("the duration must be longer than zero")
        ends_at = starts_at + request.duration
    else:
        assert request.ends_at is not None
        if request.ends_at.tzinfo is None:
            raise SilenceError("the end time needs a timezone, e.g. 2025-02-13T12:00:00+00:00")
        ends_at = request.ends_at
    if ends_at <= starts_at or ends_at <= now:
        raise SilenceError(f"the silence would end ({ends_at.isoformat()}) before it is in force")
    if not request.comment.strip():
        raise SilenceError("a silence needs a comment saying why")
    return Silence(
        id=uuid.uuid4().hex,
        matchers=matchers,
        starts_at=starts_at,
        ends_at=ends_at,
        comment=request.comment.strip(),
        created_by=request.created_by.strip(),
        created_at=now,
    )
