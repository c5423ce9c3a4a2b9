"""Scheduling arithmetic: Retry-After, Cache-Control, backoff, adaptive interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.schedule import (
    backoff_delay,
    failure_delay,
    parse_max_age,
    parse_retry_after,
    publishing_gap_s,
    success_interval,
)

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Thu, 13 Feb 2025 12:05:00 GMT", 300.0),
        ("Thu, 13 Feb 2025 11:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=300", 300),
        ("public, max-age=600, must-revalidate", 600),
        ("s-maxage=60", None),
        ("no-cache, max-age=600", None),
        ("private", None),
        (None, None),
    ],
)
def test_max_age(value: str | None, expected: int | None) -> None:
    assert parse_max_age(value) == expected


def test_backoff_doubles_from_the_interval_and_is_capped() -> None:
    assert [backoff_delay(n, 900, 86_400) for n in (1, 2, 3, 4)] == [900, 1800, 3600, 7200]
    assert backoff_delay(20, 900, 86_400) == 86_400
    assert backoff_delay(1000, 900, 86_400) == 86_400  # no overflow
    assert backoff_delay(1, 0, 86_400) == 60  # an interval of 0 still backs off


def test_retry_after_wins_when_longer_but_is_capped() -> None:
    assert failure_delay(1, 900, 86_400, 3600) == 3600
    assert failure_delay(3, 900, 86_400, 60) == 3600  # backoff is longer
    assert failure_delay(1, 900, 7200, 10**9) == 7200


def test_publishing_gap_needs_three_items() -> None:
    times = [NOW - timedelta(hours=h) for h in (0, 2, 4, 6)]
    assert publishing_gap_s(times) == 7200
    assert publishing_gap_s(times[:2]) is None


def test_success_interval_adapts_within_bounds() -> None:
    hourly = [NOW - timedelta(hours=h) for h in range(10)]
    daily = [NOW - timedelta(days=d) for d in range(10)]
    assert success_interval(900, max_s=21_600) == 900
    assert success_interval(900, max_s=21_600, publish_times=hourly) == 1800  # twice per gap
    assert success_interval(900, max_s=21_600, publish_times=daily) == 21_600  # capped
    assert success_interval(900, max_s=21_600, ttl_minutes=60) == 3600
    assert success_interval(900, max_s=21_600, max_age_s=1200) == 1200
    assert success_interval(0, max_s=0, publish_times=daily) == 0  # tests/demos: poll every run
