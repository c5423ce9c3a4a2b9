"""Silence matchers, activity windows and the validation of new silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.alerts.silences import SilenceRequest, new_silence, parse_duration, silencing
from newsflow.errors import SilenceError
from newsflow.records.alert import Silence

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("90m", timedelta(minutes=90)),
        ("1d12h", timedelta(hours=36)),
        ("1w", timedelta(days=7)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "-1h", "0m", "2h junk"])
def test_bad_duration_is_a_named_error(text: str) -> None:
    with pytest.raises(SilenceError, match="duration"):
        parse_duration(text)


def test_matchers_all_have_to_match() -> None:
    s = Silence("s", {"topic_id": 3, "label_contains": "FLAPPY"}, NOW, NOW + timedelta(hours=1))
    assert s.matches(3, "topic_growth", "Flappy bird returns")
    assert not s.matches(4, "topic_growth", "Flappy bird returns")
    assert not s.matches(3, "topic_growth", "Unicredit")


def test_activity_window_and_early_expiry() -> None:
    s = Silence("s", {"rule": "r"}, NOW, NOW + timedelta(hours=1))
    assert not s.is_active(NOW - timedelta(seconds=1)) and s.is_active(NOW)
    assert not s.is_active(NOW + timedelta(hours=1))
    expired = Silence("s", {"rule": "r"}, NOW, NOW + timedelta(hours=1), expired_at=NOW + timedelta(minutes=5))
    assert expired.is_active(NOW + timedelta(minutes=4)) and not expired.is_active(NOW + timedelta(minutes=5))


def test_silencing_picks_a_stable_active_match() -> None:
    silences = [
        Silence("b", {"rule": "r"}, NOW, NOW + timedelta(hours=1)),
        Silence("a", {"topic_id": 1}, NOW, NOW + timedelta(hours=1)),
        Silence("0", {"topic_id": 1}, NOW - timedelta(hours=2), NOW - timedelta(hours=1)),
    ]
    hit = silencing(silences, NOW, 1, "r", "")
    assert hit is not None and hit.id == "a"
    assert silencing(silences, NOW, 2, "other", "") is None


def test_new_silence_from_a_duration() -> None:
    s = new_silence(SilenceRequest({"topic_id": "12", "rule": None}, "known story", "ops", timedelta(hours=2)), NOW)
    assert s.matchers == {"topic_id": 12} and s.starts_at == NOW and s.ends_at == NOW + timedelta(hours=2)
    assert len(s.id) == 32 and s.created_by == "ops"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (SilenceRequest({}, "c", "", timedelta(hours=1)), "at least one matcher"),
        (SilenceRequest({"label_contains": "  "}, "c", "", timedelta(hours=1)), "at least one matcher"),
        (SilenceRequest({"color": "red"}, "c", "", timedelta(hours=1)), "unknown matcher"),
        (SilenceRequest({"topic_id": "x"}, "c", "", timedelta(hours=1)), "integer"),
        (SilenceRequest({"rule": "r"}, "c", ""), "exactly one"),
        (SilenceRequest({"rule": "r"}, "c", "", timedelta(hours=1), NOW + timedelta(hours=1)), "exactly one"),
        (SilenceRequest({"rule": "r"}, "c", "", ends_at=NOW - timedelta(minutes=1)), "before it is in force"),
        (SilenceRequest({"rule": "r"}, "c", "", ends_at=datetime(2025, 3, 1)), "timezone"),
        (SilenceRequest({"rule": "r"}, " ", "", timedelta(hours=1)), "comment"),
    ],
)
def test_invalid_silences_are_refused_with_a_named_error(request_: SilenceRequest, message: str) -> None:
    with pytest.raises(SilenceError, match=message):
        new_silence(request_, NOW)
