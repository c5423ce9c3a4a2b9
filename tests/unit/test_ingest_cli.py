"""``newsflow ingest once``: the outcome table it prints (``newsflow.cli.ingest_cmd``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rich.console import Console

from ingest.poll import PollOutcome
from newsflow.cli.ingest_cmd import outcome_table


<<<<<<< HEAD
@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("NEWSFLOW_DATABASE_URL", raising=False)
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_feeds_lifecycle(cli: Callable[..., str]) -> None:
    cli("feeds", "add", "welt", "https://www.welt.de/feeds/latest.rss", "--outlet", "WELT", "--language", "de")
    cli("feeds", "add", "bbc", "https://feeds.bbci.co.uk/news/rss.xml", "--tag", "en", "--tag", "world")
    listed = [json.loads(line) for line in cli("feeds", "list", "--json").splitlines()]
    assert [(f["name"], f["outlet"], f["language"], f["tags"]) for f in listed] == [
        ("bbc", "feeds.bbci.co.uk", None, ["en", "world"]),
        ("welt", "WELT", "de", []),
    ]

    def fulltext() -> dict[str, bool]:
        return {f["name"]: f["fulltext"] for f in map(json.loads, cli("feeds", "list", "--json").splitlines())}

    cli("feeds", "add", "teasers", "https://teasers.test/rss", "--fulltext")
    assert fulltext() == {"bbc": False, "teasers": True, "welt": False}
    cli("feeds", "fulltext", "teasers", "--off")
    assert fulltext()["teasers"] is False
    cli("feeds", "remove", "teasers")
    cli("feeds", "pause", "welt")
    assert "paused" in cli("feeds", "list")
    cli("feeds", "resume", "welt")
    cli("feeds", "remove", "bbc")
    assert [json.loads(line)["name"] for line in cli("feeds", "list", "--json").splitlines()] == ["welt"]
    [health] = [json.loads(line) for line in cli("feeds", "health", "--json").splitlines()]
    assert (health["name"], health["polls"], health["last_outcome"]) == ("welt", 0, None)
    cli("feeds", "health")  # the table renders


def test_opml_import_export(cli: Callable[..., str], tmp_path: Path) -> None:
    assert "imported 3 feeds" in cli("feeds", "import", str(FIXTURES / "feeds.opml"))
    out = tmp_path / "out.opml"
    cli("feeds", "export", str(out))
    assert out.read_bytes().count(b"<outline") == 3


def test_the_production_list_imports(cli: Callable[..., str]) -> None:
    path = FIXTURES.parents[2] / "config" / "feeds.production.opml"
    out = cli("feeds", "import", str(path))
    listed = [json.loads(line) for line in cli("feeds", "list", "--json").splitlines()]
    assert f"imported {len(listed)} feeds" in out
    assert {"welt-neueste", "welt-politik", "tagesschau", "bbc-world"} <= {f["name"] for f in listed}


def test_unknown_feed_is_a_named_error(cli: Callable[..., str]) -> None:
    from newsflow.errors import UnknownFeed

    with pytest.raises(UnknownFeed):
        cli("feeds", "pause", "nope")


def test_feeds_list_and_health_speak_json_and_csv(cli: Callable[..., str]) -> None:
    import csv
    import io

    cli("feeds", "add", "welt", "https://www.welt.de/feeds/latest.rss", "--outlet", "WELT", "--tag", "de")
    listed = json.loads(cli("feeds", "list", "--format", "json"))
    assert [(f["name"], f["tags"]) for f in listed] == [("welt", ["de"])]
    [row] = list(csv.DictReader(io.StringIO(cli("feeds", "list", "-f", "csv"))))
    assert (row["name"], row["outlet"], row["tags"]) == ("welt", "WELT", "de")
    [health] = json.loads(cli("feeds", "health", "--format", "json"))
    assert (health["name"], health["polls"]) == ("welt", 0)
    [hrow] = list(csv.DictReader(io.StringIO(cli("feeds", "health", "--format", "csv"))))
    assert hrow["name"] == "welt" and hrow["consecutive_failures"] == "0"
=======
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
>>>>>>> dag-cli
