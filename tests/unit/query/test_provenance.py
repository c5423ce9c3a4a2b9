"""Per-story provenance (issue 18 item 10): who reported first, each outlet's lag, and the outlet leaderboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, update

from newsflow.errors import TopicNotFoundError
from newsflow.query.detail import topic_detail
from newsflow.query.provenance import (
    FETCHED_FUTURE,
    FETCHED_NO_TIME,
    PUBLISHED,
    leaderboard_of,
    outlet_leaderboard,
    provenance_of,
    report_time,
    topic_provenance,
)
from newsflow.store.schema import articles
from tests.unit.query.dataset import T0, Dataset

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(outlet: str, minutes: float, *, fetched: float | None = None, fallback: bool = False) -> SimpleNamespace:
    published = AT + timedelta(minutes=minutes)
    fetched_at = AT + timedelta(minutes=minutes if fetched is None else fetched)
    return SimpleNamespace(outlet=outlet, published_at=published, published_is_fallback=fallback, fetched_at=fetched_at)


def test_report_time_is_the_publication_time_unless_missing_or_in_the_future() -> None:
    assert report_time(AT, False, AT + timedelta(minutes=3)) == (AT, PUBLISHED)
    assert report_time(AT + timedelta(minutes=4), False, AT) == (AT + timedelta(minutes=4), PUBLISHED)  # clock skew
    assert report_time(AT + timedelta(hours=2), False, AT) == (AT, FETCHED_FUTURE)
    assert report_time(AT, True, AT + timedelta(minutes=9)) == (AT + timedelta(minutes=9), FETCHED_NO_TIME)


def test_first_reporter_and_lags_in_minutes() -> None:
    story = provenance_of([
        row("Beta", 30), row("Alpha", 10), row("Alpha", 50), row("Gamma", 95.5), row("Beta", 20),
    ])  # fmt: skip
    assert story["first_outlet"] == "Alpha" and story["first_at"] == AT.replace(minute=10).isoformat()
    assert [(e["outlet"], e["lag_minutes"], e["first"], e["articles"]) for e in story["outlets"]] == [
        ("Alpha", 0.0, True, 2), ("Beta", 10.0, False, 2), ("Gamma", 85.5, False, 1),
    ]  # fmt: skip
    assert {e["time_source"] for e in story["outlets"]} == {PUBLISHED}
    assert provenance_of([]) == {"first_outlet": None, "first_at": None, "outlets": []}


def test_missing_and_future_publication_times_use_the_fetch_time_and_say_so() -> None:
    story = provenance_of([
        row("Alpha", 30),
        row("Beta", -600, fetched=40, fallback=True),  # no publication time: the fallback is not believed
        row("Gamma", 24 * 60, fetched=20),  # "published" tomorrow: fetched 20 minutes in
    ])  # fmt: skip
    entries = {e["outlet"]: e for e in story["outlets"]}
    assert story["first_outlet"] == "Gamma"
    assert entries["Gamma"]["time_source"] == FETCHED_FUTURE and entries["Gamma"]["lag_minutes"] == 0.0
    assert entries["Alpha"]["time_source"] == PUBLISHED and entries["Alpha"]["lag_minutes"] == 10.0
    assert entries["Beta"]["time_source"] == FETCHED_NO_TIME and entries["Beta"]["lag_minutes"] == 20.0


def test_leaderboard_counts_first_reports_coverage_and_median_lag() -> None:
    stories = [
        provenance_of([row("Alpha", 0), row("Beta", 10)]),
        provenance_of([row("Alpha", 0), row("Beta", 30), row("Gamma", 5, fetched=5, fallback=True)]),
        provenance_of([row("Beta", 0), row("Alpha", 60)]),
        provenance_of([row("Gamma", 0)]),  # one outlet: no "first"
        provenance_of([row("Alpha", 0), row("Gamma", 0)]),  # a tie: both first
    ]
    board = {r["outlet"]: r for r in leaderboard_of(stories)}
    assert [r["outlet"] for r in leaderboard_of(stories)] == ["Alpha", "Beta", "Gamma"]
    assert board["Alpha"] == {"outlet": "Alpha", "first_reported": 3, "covered": 4, "median_lag_minutes": 60.0,
                              "fetch_times": 0}  # fmt: skip
    assert board["Beta"]["first_reported"] == 1 and board["Beta"]["covered"] == 3
    assert board["Beta"]["median_lag_minutes"] == 20.0  # median of 10 and 30
    assert board["Gamma"] == {"outlet": "Gamma", "first_reported": 1, "covered": 2, "median_lag_minutes": 5.0,
                              "fetch_times": 1}  # fmt: skip


def test_topic_provenance_from_the_store_and_in_the_topic_detail(engine: Engine, dataset: Dataset) -> None:
    with engine.connect() as conn:
        story = topic_provenance(conn, 1)
        detail = topic_detail(conn, 1, max_articles=50, max_hours=48)
        with pytest.raises(TopicNotFoundError):
            topic_provenance(conn, 777)
    # topic 1: Alpha News at +0.5 h, Beta Times first at +1.7 h
    assert story["first_outlet"] == "Alpha News" and story["first_at"] == (T0 + timedelta(hours=0.5)).isoformat()
    assert [(e["outlet"], e["lag_minutes"]) for e in story["outlets"]] == [("Alpha News", 0.0), ("Beta Times", 72.0)]
    assert detail["provenance"] == story


def test_topic_provenance_uses_fetch_times_from_the_store(engine: Engine, dataset: Dataset) -> None:
    with engine.begin() as conn:  # a1 "published" a day late; a2 fetched at +1.0 h
        conn.execute(update(articles).where(articles.c.id == "a1").values(published_at=T0 + timedelta(days=1)))
        conn.execute(update(articles).where(articles.c.id == "a3")
                     .values(published_is_fallback=True, fetched_at=T0 + timedelta(hours=0.6)))  # fmt: skip
        story = topic_provenance(conn, 1)
    entries = {e["outlet"]: e for e in story["outlets"]}
    assert story["first_outlet"] == "Alpha News" and entries["Alpha News"]["time_source"] == FETCHED_FUTURE
    assert entries["Beta Times"]["time_source"] == FETCHED_NO_TIME and entries["Beta Times"]["lag_minutes"] == 6.0


def test_outlet_leaderboard_over_a_time_range(engine: Engine, dataset: Dataset) -> None:
    with engine.connect() as conn:
        everything = outlet_leaderboard(conn)
        before = outlet_leaderboard(conn, until=T0 - timedelta(hours=1))
        late = outlet_leaderboard(conn, since=T0 + timedelta(hours=5.5))
    # only topic 1 has two outlets
    assert everything["topics"] == 1
    assert everything["outlets"] == [
        {"outlet": "Alpha News", "first_reported": 1, "covered": 1, "median_lag_minutes": None, "fetch_times": 0},
        {"outlet": "Beta Times", "first_reported": 0, "covered": 1, "median_lag_minutes": 72.0, "fetch_times": 0},
    ]
    assert before["topics"] == 0 and before["outlets"] == []
    assert late["topics"] == 0  # topic 1's last article is at +5.4 h
