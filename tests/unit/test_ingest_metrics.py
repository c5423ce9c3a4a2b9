"""Feed health as Prometheus metrics and in ``newsflow feeds health``, from a store with known rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import typer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from typer.testing import CliRunner

from newsflow.cli import feeds_cmd, metrics_cmd
from newsflow.metrics import render_metrics, serve_metrics
from newsflow.records.feed import FeedSpec
from newsflow.records.ledger import LedgerEntry
from newsflow.settings import Settings
from newsflow.store import feed_health_repo, feeds_repo, ingest_ledger_repo
from newsflow.store.database import open_store

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def entry(article_id: str, published: datetime) -> LedgerEntry:
    return LedgerEntry(article_id, "hash", 1, None, "steady", f"https://x.test/{article_id}", None, published)


def fill(engine: Engine) -> None:
    """steady: 4 polls (2 answered 304), 4 articles with delays 5, 10, 20, 30 min, 3 of them in the last 24 h;
    failing: 2 timeouts in a row; fresh: never polled; paused: paused by the operator."""
    feeds_repo.register_feeds(
        engine, [FeedSpec(n, f"https://{n}.test/rss", n.title()) for n in ("steady", "failing", "fresh", "paused")]
    )
    feeds_repo.set_enabled(engine, "paused", False)
    recent, old = NOW - timedelta(hours=1), NOW - timedelta(days=2)
    with engine.begin() as conn:
        for i, (published, not_modified) in enumerate(((3, False), (0, True), (0, True), (1, False))):
            feed_health_repo.record_success(
                conn, "steady", feed_health_repo.get_state(conn, "steady"), at=NOW - (4 - i) * MINUTE,
                etag=None, last_modified=None, not_modified=not_modified, published=published, next_poll_at=NOW,
                outcome="not_modified" if not_modified else "published",
            )  # fmt: skip
        ingest_ledger_repo.record_entries(
            conn, [entry("a", recent - 5 * MINUTE), entry("b", recent - 10 * MINUTE), entry("c", recent - 30 * MINUTE)],
            recorded_at=recent,
        )  # fmt: skip
        ingest_ledger_repo.record_entries(conn, [entry("d", old - 20 * MINUTE)], recorded_at=old)
        for _ in range(2):
            feed_health_repo.record_failure(
                conn, "failing", feed_health_repo.get_state(conn, "failing"), at=NOW, error="FetchTimeout: slow",
                next_poll_at=NOW + timedelta(hours=1),
            )  # fmt: skip


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = open_store(settings)
    fill(engine)
    return engine


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, feed: str) -> float | None:
    return metrics.get((f"newsflow_feed_{name}", (("feed", feed),)))


def test_rendered_metrics_match_the_store(engine: Engine) -> None:
    text = render_metrics(engine, clock=lambda: NOW)
    m = samples(text)
    assert value(m, "polls_total", "steady") == 4
    assert value(m, "not_modified_total", "steady") == 2
    assert value(m, "articles_published_total", "steady") == 4
    assert value(m, "articles_last_24h", "steady") == 3
    assert value(m, "publish_delay_median_seconds", "steady") == 15 * 60  # median of 5, 10, 20, 30 min
    assert value(m, "last_success_timestamp_seconds", "steady") == (NOW - MINUTE).timestamp()
    assert value(m, "consecutive_failures", "steady") == 0
    assert value(m, "consecutive_failures", "failing") == 2
    assert value(m, "polls_total", "failing") == 2
    assert m[("newsflow_feed_last_error_info", (("error", "FetchTimeout"), ("feed", "failing")))] == 1
    assert not any(name == "newsflow_feed_last_error_info" and ("feed", "steady") in labels for name, labels in m)
    assert value(m, "next_poll_timestamp_seconds", "failing") == (NOW + timedelta(hours=1)).timestamp()
    # never polled: counted as zero, but no timestamps or delay made up
    assert value(m, "polls_total", "fresh") == 0
    assert value(m, "last_success_timestamp_seconds", "fresh") is None
    assert value(m, "publish_delay_median_seconds", "fresh") is None
    assert (value(m, "enabled", "paused"), value(m, "enabled", "fresh")) == (0, 1)
    assert "# TYPE newsflow_feed_polls_total counter" in text.splitlines()


def test_served_metrics_are_the_same_text(engine: Engine) -> None:
    server = serve_metrics(engine, "127.0.0.1", 0)
    try:
        response = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    served, rendered = samples(response.text), samples(render_metrics(engine))
    # articles_last_24h and the delay depend on "now"; the counters must agree exactly
    assert {k: v for k, v in served.items() if "_total" in k[0]} == {
        k: v for k, v in rendered.items() if "_total" in k[0]
    }
    assert value(served, "polls_total", "steady") == 4


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(settings.state_dir))
    monkeypatch.delenv("NEWSFLOW_DATABASE_URL", raising=False)
    app = typer.Typer()
    feeds_cmd.register(app)
    metrics_cmd.register(app)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "250"})
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_feeds_health_prints_the_same_figures(cli: Callable[..., str], settings: Settings) -> None:
    fill(open_store(settings))
    rows = {r["name"]: r for r in map(json.loads, cli("feeds", "health", "--json").splitlines())}
    steady = rows["steady"]
    # articles_last_24h is relative to the real clock here; the rows were written relative to NOW
    assert (steady["polls"], steady["not_modified"], steady["not_modified_ratio"]) == (4, 2, 0.5)
    assert (steady["articles_published"], steady["median_delay_s"]) == (4, 900.0)
    assert rows["failing"]["last_error"] == "FetchTimeout: slow" and rows["failing"]["consecutive_failures"] == 2
    table = cli("feeds", "health")
    assert "art/day" in table and "median delay" in table
    [steady_line] = [line for line in table.splitlines() if "steady" in line]
    assert "50%" in steady_line and "15 min" in steady_line
    [failing_line] = [line for line in table.splitlines() if "failing" in line]
    assert "FetchTimeout" in failing_line


def test_metrics_command_prints_the_exposition(cli: Callable[..., str], settings: Settings) -> None:
    fill(open_store(settings))
    m = samples(cli("metrics"))
    assert value(m, "not_modified_total", "steady") == 2 and value(m, "consecutive_failures", "failing") == 2


def test_the_health_table_wraps_a_long_error_name_at_120_columns(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18 item 9: at 120 columns the table cut error names ("FetchTimeout: read timed o…")."""
    engine = open_store(settings)
    fill(engine)
    error = "PrivateAddressRefusedError: https://feeds.example-outlet.test/politics/rss.xml resolves to 10.0.0.7"
    with engine.begin() as conn:
        feed_health_repo.record_failure(
            conn, "failing", feed_health_repo.get_state(conn, "failing"), at=NOW, error=error,
            next_poll_at=NOW + timedelta(hours=1),
        )  # fmt: skip
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(settings.state_dir))
    monkeypatch.delenv("NEWSFLOW_DATABASE_URL", raising=False)
    app = typer.Typer()
    feeds_cmd.register(app)
    result = CliRunner().invoke(app, ["feeds", "health"], catch_exceptions=False, env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 120
    # The error column's cells, read down the table and joined, hold the whole error text.
    cells = [line.split("│")[5].strip() for line in result.output.splitlines() if line.count("│") > 5]
    assert "".join(cells).replace(" ", "").find(error.replace(" ", "")) >= 0
