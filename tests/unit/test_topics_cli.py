"""``newsflow topics list|show|search|timeline|lineage`` through the real console-script app."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from newsflow.cli import main as cli_main
from newsflow.cli import topics_cmd
from newsflow.errors import InvalidTimeError, TopicNotFoundError
from newsflow.settings import Settings
from newsflow.store.database import open_store
from tests.unit.query.dataset import Dataset, fill_store


@pytest.fixture(scope="module")
def app() -> object:
    if not any(group.name == "topics" for group in cli_main.app.registered_groups):
        cli_main._register_commands()
    return cli_main.app


@pytest.fixture
def dataset(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Dataset:
    filled = fill_store(open_store(settings))
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(settings.state_dir))  # load_settings() finds the test store
    monkeypatch.setattr(topics_cmd, "console", Console(width=220))
    return filled


def run(app: object, *args: str) -> str:
    result = CliRunner().invoke(app, list(args))  # type: ignore[arg-type]
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_plain_topics_prints_the_recent_list(app: object, dataset: Dataset) -> None:
    out = run(app, "topics")
    assert "Topics" in out and "election vote" in out and "football final" in out
    assert "storm weather" not in out  # faded
    assert out.index("football final") < out.index("election vote")  # most recently active first


def test_list_json_with_filters(app: object, dataset: Dataset) -> None:
    rows = json.loads(run(app, "topics", "list", "--format", "json", "--min-size", "1", "--sort", "growth"))
    assert [r["id"] for r in rows][:3] == [1, 5, 2] and len(rows) == 20  # the default --limit
    german = json.loads(run(app, "topics", "list", "--language", "de", "--format", "json"))
    assert [r["id"] for r in german] == [2]
    faded = json.loads(run(app, "topics", "list", "--status", "faded", "--format", "json"))
    assert [r["id"] for r in faded] == [3]
    growing = json.loads(run(app, "topics", "list", "--growing", "--format", "json"))
    assert [r["id"] for r in growing] == [1]


def test_list_since_and_until_take_iso_dates_and_relative_forms(app: object, dataset: Dataset) -> None:
    # issue 18 item 6: `--since yesterday` was a usage box with exit 2
    def ids(*args: str) -> list[int]:
        return [r["id"] for r in json.loads(run(app, "topics", "list", "--format", "json", *args))]

    everything = ids()
    assert everything and ids("--since", "1000w") == everything and ids("--until", "now") == everything
    assert ids("--since", "2026-03-01") == everything  # a date: its midnight, UTC
    assert ids("--since", "yesterday") == ids("--since", "24h") == []  # the dataset is older than a day
    assert ids("--until", "2026-02-01") == []
    result = CliRunner().invoke(app, ["topics", "list", "--until", "2 days"])  # type: ignore[arg-type]
    assert result.exit_code == 1 and isinstance(result.exception, InvalidTimeError)
    assert str(result.exception).startswith("--until: not a time: '2 days'")


def test_list_csv(app: object, dataset: Dataset) -> None:
    out = run(app, "topics", "list", "--outlet", "Beta Times", "--format", "csv", "--sort", "size")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in rows] == ["1", "5"]
    assert rows[0]["keywords"] == "election vote parliament" and rows[0]["outlets"] == "Alpha News; Beta Times"
    assert rows[0]["growth_score"] == "5.0"


def test_show_table_json_and_csv(app: object, dataset: Dataset) -> None:
    table = run(app, "topics", "show", "1")
    assert "Topic 1: election vote" in table and "Alpha News" in table and "merged from: 4" in table
    assert "split into: 5" in table and "Election observers publish report" in table
    detail = json.loads(run(app, "topics", "show", "1", "--format", "json"))
    assert detail["articles_total"] == 6 and detail["merged_from"] == [4]
    rows = list(csv.DictReader(io.StringIO(run(app, "topics", "show", "1", "--format", "csv"))))
    assert {r["id"] for r in rows} == {a["id"] for a in dataset.articles_of[1]}


def test_unknown_id_is_a_named_error(app: object, dataset: Dataset) -> None:
    for command in ("show", "timeline", "lineage"):
        result = CliRunner().invoke(app, ["topics", command, "777"])  # type: ignore[arg-type]
        assert result.exit_code == 1 and isinstance(result.exception, TopicNotFoundError)
        assert "777" in str(result.exception)


def test_search_timeline_and_lineage(app: object, dataset: Dataset) -> None:
    found = json.loads(run(app, "topics", "search", "election", "--format", "json"))
    assert {r["id"] for r in found} == {1, 5} and all(r["score"] > 0 for r in found)  # 4, merged, is empty
    everything = json.loads(run(app, "topics", "search", "election", "--status", "all", "--format", "json"))
    assert {r["id"] for r in everything} == {1, 4, 5}
    assert "election recount" in run(app, "topics", "search", "recount")
    series = list(csv.DictReader(io.StringIO(run(app, "topics", "timeline", "1", "--format", "csv"))))
    assert [int(r["count"]) for r in series] == [1, 2, 0, 1, 0, 2]
    assert "articles per hour" in run(app, "topics", "timeline", "1", "--hours", "2")
    lineage = json.loads(run(app, "topics", "lineage", "5", "--format", "json"))
    assert lineage["split_from"] == [1] and [e["kind"] for e in lineage["events"]] == ["born"]
    assert "merged" in run(app, "topics", "lineage", "1")


def test_the_demo_table_of_faded_stories(
    dataset: Dataset, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from newsflow.query.filters import StatusFilter

    topics_cmd.print_topics_table(settings, status=StatusFilter.FADED)
    out = capsys.readouterr().out
    assert "Faded Topics" in out and "storm weather" in out and "election vote" not in out


def test_the_table_titles_a_topic_by_its_headline_with_the_keywords_beneath() -> None:
    from rich.console import Console as RichConsole

    item = {"id": 7, "label": "vote · election", "representative_title": "Voters [bold]queue[/] for hours",
            "article_count": 3, "outlet_count": 2, "first_seen": None, "last_seen": None,
            "growth": {"growth_score": 1.0}, "sparkline": [], "keywords": ["vote", "election"]}  # fmt: skip
    console = RichConsole(width=200, record=True)
    console.print(topics_cmd.topics_table([item], "Topics"))
    out = console.export_text()
    assert "Voters [bold]queue[/] for hours" in out  # the headline, shown literally (no markup injection)
    assert out.index("Voters") < out.index("vote · election")  # the keywords beneath it


def test_a_merged_topic_says_where_it_went(app: object, dataset: Dataset) -> None:
    lineage = json.loads(run(app, "topics", "lineage", "4", "--format", "json"))
    assert lineage["merged_into"] == 1 and lineage["merged_at"] is not None
    assert "merged into #1 at " in run(app, "topics", "lineage", "4")
    assert "merged into #1 at " in run(app, "topics", "show", "4")
    assert json.loads(run(app, "topics", "lineage", "1", "--format", "json"))["merged_into"] is None


def test_show_has_a_provenance_table_and_json_key(app: object, dataset: Dataset) -> None:
    # issue 18 item 10: who reported first, and each other outlet's lag
    table = run(app, "topics", "show", "1")
    assert "Provenance (first: Alpha News at 2026-03-01 00:30)" in table
    assert "+72 min" in table and "published" in table
    assert table.index("Provenance") > table.index("Articles (") and table.index("Provenance") < table.index("Lineage")
    detail = json.loads(run(app, "topics", "show", "1", "--format", "json"))
    assert detail["provenance"]["first_outlet"] == "Alpha News"
    assert [e["lag_minutes"] for e in detail["provenance"]["outlets"]] == [0.0, 72.0]


def test_outlets_leaderboard_json_csv_and_table(app: object, dataset: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsflow.cli import outlets_cmd

    monkeypatch.setattr(outlets_cmd, "console", Console(width=220))
    board = json.loads(run(app, "outlets", "--since", "2026-03-01", "--format", "json"))
    assert board["topics"] == 1 and board["since"] == "2026-03-01T00:00:00+00:00" and board["until"] is None
    assert [(r["outlet"], r["first_reported"], r["covered"], r["median_lag_minutes"]) for r in board["outlets"]] == [
        ("Alpha News", 1, 1, None), ("Beta Times", 0, 1, 72.0),
    ]  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(run(app, "outlets", "--since", "1000w", "--format", "csv"))))
    assert [r["outlet"] for r in rows] == ["Alpha News", "Beta Times"] and rows[1]["median_lag_minutes"] == "72.0"
    table = run(app, "outlets", "--since", "1000w")
    assert "Outlets over 1 stories" in table and "72 min" in table
    assert "No stories" in run(app, "outlets")  # the default --since 7d: the dataset is older
    result = CliRunner().invoke(app, ["outlets", "--since", "soon"])  # type: ignore[arg-type]
    assert result.exit_code == 1 and isinstance(result.exception, InvalidTimeError)
