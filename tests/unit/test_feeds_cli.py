"""``newsflow feeds ...`` through Typer's test runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from newsflow.cli.feeds_cmd import register

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


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
