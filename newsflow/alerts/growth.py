"""The growth detector (pure): is a topic's recent arrival rate far above its own baseline?

Per topic, the arrivals are its members' published times, with syndicated near-copies counted once
(an article and the articles marked ``near_duplicate_of`` it form one arrival, at the earliest
copy). At ``now`` (any clock: replayed streams carry old timestamps):

- ``recent`` = arrivals in ``(now - window, now]`` and the distinct outlets among them;
- baseline = an EWMA (half-life ``alert_baseline_halflife_hours``) of the per-window counts of the
  preceding windows since the topic's first arrival, with its exponentially weighted variance;
- ``z = (recent - mean) / sqrt(var + mean + 1)``: counts are Poisson-like, so the spread is at least
  the mean; the ``+ 1`` keeps a quiet topic's first articles from producing huge scores;
- a topic younger than ``alert_new_topic_hours`` has no baseline yet: mean and variance 0, so it is
  judged on its rate alone (``z = recent``) and a new story that grows fast fires.

A topic breaches when ``z >= alert_z_threshold`` and it has at least ``alert_min_articles`` arrivals
from at least ``alert_min_outlets`` outlets in the window (so one feed cannot trigger an alert).
``growth_score = max(z, 0) * log1p(recent)`` ranks topics for analysts: big and fast beats tiny.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsflow.records.alert import Arrival, Growth
from newsflow.settings import Settings

# Baseline windows looked back over, in half-lives: older windows weigh less than 1/8 in the EWMA.
BASELINE_HALFLIVES = 3.0


@dataclass(frozen=True)
class GrowthParams:
    window: timedelta
    halflife: timedelta
    z_threshold: float
    min_articles: int
    min_outlets: int
    new_topic_age: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> GrowthParams:
        return cls(
            window=timedelta(minutes=settings.alert_window_minutes),
            halflife=timedelta(hours=settings.alert_baseline_halflife_hours),
            z_threshold=settings.alert_z_threshold,
            min_articles=settings.alert_min_articles,
            min_outlets=settings.alert_min_outlets,
            new_topic_age=timedelta(hours=settings.alert_new_topic_hours),
        )

    @property
    def baseline_windows(self) -> int:
        """How many preceding windows the baseline looks at."""
        return max(1, math.ceil(BASELINE_HALFLIVES * self.halflife / self.window))

    @property
    def lookback(self) -> timedelta:
        """How far before ``now`` arrivals matter at all (the recent window plus the baseline's)."""
        return self.window * (self.baseline_windows + 1)


def count_once(arrivals: Iterable[Arrival]) -> list[Arrival]:
    """Syndicated near-copies collapsed to one arrival: the earliest of each copy group."""
    earliest: dict[str, Arrival] = {}
    for a in arrivals:
        group = a.near_duplicate_of or a.article_id
        kept = earliest.get(group)
        if kept is None or (a.published_at, a.article_id) < (kept.published_at, kept.article_id):
            earliest[group] = a
    return sorted(earliest.values(), key=lambda a: (a.published_at, a.article_id))


def ewma(counts: Sequence[int], alpha: float) -> tuple[float, float]:
    """Exponentially weighted mean and variance of ``counts`` (oldest first)."""
    if not counts:
        return 0.0, 0.0
    mean, var = float(counts[0]), 0.0
    for x in counts[1:]:
        diff = x - mean
        increment = alpha * diff
        mean += increment
        var = (1 - alpha) * (var + diff * increment)
    return mean, var


def window_counts(times: Sequence[datetime], now: datetime, window: timedelta, windows: int) -> list[int]:
    """Arrivals per window ``(now - (k+1)w, now - k w]`` for k = windows..0, oldest first."""
    counts = [0] * (windows + 1)
    for t in times:
        if t > now:
            continue
        k = (now - t) // window  # window k holds now - t in [k w, (k+1) w)
        if k <= windows:
            counts[windows - k] += 1
    return counts


def measure(
    topic_id: int, first_seen: datetime, arrivals: Iterable[Arrival], now: datetime, params: GrowthParams
) -> Growth:
    """The growth of one topic at ``now``; arrivals after ``now`` are ignored (not yet happened)."""
    once = [a for a in count_once(arrivals) if a.published_at <= now]
    recent = [a for a in once if a.published_at > now - params.window]
    recent_outlets = len({a.outlet for a in recent})
    born = min([first_seen, *(a.published_at for a in once)])
    is_new = now - born < params.new_topic_age
    mean, var = 0.0, 0.0
    if not is_new:
        counts = window_counts([a.published_at for a in once], now, params.window, params.baseline_windows)
        # Only windows that end after the topic's first arrival: before it the topic did not exist.
        preceding = [c for k, c in enumerate(counts[:-1]) if now - params.window * (len(counts) - 1 - k) > born]
        alpha = 1.0 - 0.5 ** (params.window / params.halflife)
        mean, var = ewma(preceding, alpha)
    z = (len(recent) - mean) / math.sqrt(var + mean + 1.0)
    breaching = z >= params.z_threshold and len(recent) >= params.min_articles and recent_outlets >= params.min_outlets
    return Growth(
        topic_id=topic_id,
        recent_count=len(recent),
        recent_outlets=recent_outlets,
        baseline_rate=mean,
        baseline_std=math.sqrt(var),
        z_score=z,
        growth_score=max(z, 0.0) * math.log1p(len(recent)),
        is_new=is_new,
        breaching=breaching,
        evaluated_at=now,
    )
