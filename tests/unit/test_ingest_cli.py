"""``newsflow ingest once``: the outcome table it prints (``newsflow.cli.ingest_cmd``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rich.console import Console

from ingest.poll import PollOutcome
from newsflow.cli.ingest_cmd import outcome_table


def test_the_outcome_table_shows_next_polls_in_utc_and_failures_in_red() -> None:
    berlin_time = datetime(2025, 2, 13, 13, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    table = outcome_table(
        [
            PollOutcome("welt", "published", published=3, duplicates=1, next_poll_at=berlin_time),
            PollOutcome("bbc", "failed", error="FetchTimeout: slow"),
        ]
    )
    console = Console(width=200, record=True)
    console.print(table)
    lines = console.export_text().splitlines()
    [welt] = [line for line in lines if "welt" in line]
    [bbc] = [line for line in lines if "bbc" in line]
    assert "2025-02-13 12:00:05" in welt and "3" in welt.split()
    assert "FetchTimeout: slow" in bbc and " - " in bbc  # no next poll: a dash
    assert [row.style for row in table.rows] == ["", "red"]
