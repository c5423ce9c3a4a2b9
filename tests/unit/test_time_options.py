"""Times on the command line (issue 18 item 6): ISO-8601 and relative forms, or ``InvalidTimeError``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.cli.options import parse_time
from newsflow.errors import InvalidTimeError, SilenceError

NOW = datetime(2025, 2, 13, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("2d", NOW - timedelta(days=2)),
        ("30m", NOW - timedelta(minutes=30)),
        ("45min", NOW - timedelta(minutes=45)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2d ago", NOW - timedelta(days=2)),
        (" 3H ", NOW - timedelta(hours=3)),
        ("now", NOW),
        ("today", datetime(2025, 2, 13, tzinfo=UTC)),
        ("yesterday", datetime(2025, 2, 12, tzinfo=UTC)),
        ("Yesterday", datetime(2025, 2, 12, tzinfo=UTC)),
        ("2025-02-10", datetime(2025, 2, 10, tzinfo=UTC)),
        ("2025-02-10T08:15", datetime(2025, 2, 10, 8, 15, tzinfo=UTC)),
        ("2025-02-10T08:15:00+01:00", datetime(2025, 2, 10, 7, 15, tzinfo=UTC)),
        ("2025-02-10T08:15:00Z", datetime(2025, 2, 10, 8, 15, tzinfo=UTC)),
    ],
)
def test_iso_and_relative_forms(value: str, expected: datetime) -> None:
    assert parse_time(value, what="--since", assume_utc=True, now=NOW) == expected


@pytest.mark.parametrize("value", ["notadate", "", "2 days", "-2d", "1y", "2025-13-01", "tomorrow", "24 hours ago"])
def test_anything_else_is_one_named_error(value: str) -> None:
    with pytest.raises(InvalidTimeError) as info:
        parse_time(value, what="--since", assume_utc=True, now=NOW)
    message = str(info.value)
    assert message.startswith(f"--since: not a time: {value!r}; give ISO-8601") and "\n" not in message
    assert "24h, 2d" in message and "yesterday" in message


def test_a_zone_can_still_be_required_and_relative_forms_refused() -> None:
    with pytest.raises(InvalidTimeError, match="--now: give a timezone"):
        parse_time("2025-02-13T12:00:00", what="--now", now=NOW)
    assert parse_time("2h", what="--now", now=NOW) == NOW - timedelta(hours=2)  # relative times are UTC
    with pytest.raises(SilenceError, match=r"--until: not a time: '2h'; give ISO-8601 \(e\.g\."):
        parse_time("2h", what="--until", error=SilenceError, relative=False, now=NOW)
