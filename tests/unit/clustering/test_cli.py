"""``newsflow topics`` (table, json, csv) and ``print_topics_table`` over a small store."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from clustering.embed import CachedEmbedder, Embedder
from clustering.processor import BatchProcessor, RawMessage
from newsflow.cli import clustering_cmd
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import T0, story_records


@pytest.fixture
def filled(settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Settings:
    engine = open_store(settings)
    proc = BatchProcessor(
        settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: T0 + timedelta(hours=3)
    )
    proc.process([RawMessage("a", 0, k, r.id, r.to_bytes()) for k, r in enumerate(story_records())])
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(settings.state_dir))
    return settings


def app() -> typer.Typer:
    cli = typer.Typer()
    clustering_cmd.register(cli)
    return cli


def test_topics_as_json_and_csv(filled: Settings) -> None:
    runner = CliRunner()
    as_json = runner.invoke(app(), ["topics", "--format", "json", "--min-size", "3"])
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)
    assert len(rows) == 3 and all(r["article_count"] >= 3 and r["keywords"] for r in rows)
    as_csv = runner.invoke(app(), ["topics", "--format", "csv", "--limit", "2"])
    parsed = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert len(parsed) == 2 and {"id", "label", "article_count", "keywords"} <= set(parsed[0])


def test_print_topics_table(
    filled: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clustering_cmd, "console", Console(width=200))
    clustering_cmd.print_topics_table(filled, limit=5, min_size=2)
    out = capsys.readouterr().out
    assert "Topics" in out and "Flappy Bird" in out and "first seen" in out
    clustering_cmd.print_topics_table(filled, min_size=99)
    assert "No topics with at least 99 articles" in capsys.readouterr().out
