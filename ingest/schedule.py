"""When to poll a feed next: server hints, the feed's own publishing rate, and error backoff.

Pure functions over numbers and datetimes; the poller passes ``now`` in, so tests are exact.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Without a floor, a feed registered with interval 0 (tests, demos) would back off by 0 s.
MIN_BACKOFF_BASE_S = 60.0
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\b", re.IGNORECASE)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent/invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; parsedate gives naive for "-0000"
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_max_age(cache_control: str | None) -> int | None:
    """``max-age`` seconds from a Cache-Control header (s-maxage is for shared caches); None if absent."""
    if not cache_control or _NO_CACHE.search(cache_control):
        return None
    match = _MAX_AGE.search(cache_control)
    return int(match.group(1)) if match else None


def backoff_delay(consecutive_failures: int, base_s: float, max_s: float) -> float:
    """Exponential backoff: base, 2*base, 4*base, ... capped at ``max_s`` (failures counted from 1)."""
    if consecutive_failures <= 0:
        return max(base_s, 0.0)
    base = max(base_s, MIN_BACKOFF_BASE_S)
    exponent = min(consecutive_failures - 1, 32)  # 2**32 * base is already far past any cap
    return float(min(base * (2**exponent), max_s))


def failure_delay(consecutive_failures: int, base_s: float, max_s: float, retry_after_s: float | None) -> float:
    """Backoff, but never sooner than the server's Retry-After (itself capped at ``max_s``)."""
    delay = backoff_delay(consecutive_failures, base_s, max_s)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, max_s))
    return delay


def publishing_gap_s(publish_times: Sequence[datetime], recent: int = 20) -> float | None:
    """Median gap between the feed's ``recent`` newest items, or None with fewer than three items."""
    times = sorted(publish_times, reverse=True)[:recent]
    if len(times) < 3:
        return None
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(times)]
    return float(statistics.median(gaps))


def success_interval(
    base_s: float,
    *,
    max_s: float,
    publish_times: Sequence[datetime] = (),
    ttl_minutes: int | None = None,
    max_age_s: int | None = None,
) -> float:
    """Seconds until the next poll after a successful one.

    The operator's interval is the floor; a feed that publishes rarely is polled less often
    (about twice per publishing gap), and RSS ``<ttl>`` and ``Cache-Control: max-age`` are
    honoured as lower bounds. Everything is capped at ``max_s`` so no feed goes stale for long.
    """
    interval = float(base_s)
    gap = publishing_gap_s(publish_times)
    if gap is not None:
        interval = max(interval, gap / 2)
    if ttl_minutes:
        interval = max(interval, ttl_minutes * 60.0)
    if max_age_s:
        interval = max(interval, float(max_age_s))
    return min(interval, max(max_s, base_s))
