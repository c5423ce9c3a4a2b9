"""``newsflow`` entry point: usage errors and exit codes reach the shell as one line and the right status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

from newsflow.metrics import render_metrics
from newsflow.settings import Settings
from newsflow.store.database import open_store


def _newsflow(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSFLOW_STATE_DIR": str(cwd / "state"), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "newsflow.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_bad_parameter_raised_inside_a_command_is_a_usage_error_without_traceback(tmp_path: Path) -> None:
    result = _newsflow("topics", "search", " ", cwd=tmp_path)
    assert result.returncode == 2
    assert "give 1 to 500 characters of search text" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_time_on_the_command_line_is_one_named_line_and_exit_status_1(tmp_path: Path) -> None:
    # issue 18 item 6: `--since yesterday` was a 4-line usage box with exit 2; a bad time still is an error
    for args in (["topics", "list", "--since", "notadate"], ["recluster", "--now", "notadate"],
                 ["recluster", "--since", "notadate"]):  # fmt: skip
        result = _newsflow(*args, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        option = args[-2]
        assert result.stderr.strip().splitlines() == [
            f"InvalidTimeError: {option}: not a time: 'notadate'; give ISO-8601 (2025-02-13, "
            "2025-02-13T12:00:00+00:00) or relative (30m, 24h, 2d, 1w, today, yesterday)"
        ]
    assert not (tmp_path / "state").exists()
    late = _newsflow("recluster", "--since", "2025-02-14T00:00Z", "--now", "2025-02-13T00:00Z", cwd=tmp_path)
    assert late.returncode == 1 and late.stderr.strip().splitlines() == [
        "InvalidTimeError: --since 2025-02-14T00:00Z is after --now (2025-02-13T00:00+00:00)"
    ]
    assert not (tmp_path / "state").exists()  # refused before the store is opened


def test_a_named_error_is_one_line_and_exit_status_1(tmp_path: Path) -> None:
    open_store(Settings(state_dir=tmp_path / "state")).dispose()
    result = _newsflow("topics", "show", "424242", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "TopicNotFoundError: no topic with id 424242"


def test_read_commands_never_create_a_store(tmp_path: Path) -> None:
    # issue 18 item 1: `cd elsewhere && newsflow topics` printed "No topics ..." and left ./.newsflow/newsflow.db
    env = {k: v for k, v in os.environ.items() if k not in {"NEWSFLOW_STATE_DIR", "NEWSFLOW_DATABASE_URL"}}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg"), COLUMNS="200")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def newsflow(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "newsflow.cli", *args]
        return subprocess.run(cmd, cwd=elsewhere, env={**env, **extra}, capture_output=True, text=True, timeout=120)

    user_store = tmp_path / "xdg" / "newsflow" / "newsflow.db"
    plain = newsflow("topics")
    assert plain.returncode == 1 and plain.stdout == ""
    assert plain.stderr.strip().splitlines() == [
        f"StoreNotFoundError: {user_store} does not exist (state dir: the per-user data folder: no .newsflow folder "
        "in or above the current folder); create it with `newsflow store migrate` (or `newsflow demo`), or set "
        "NEWSFLOW_STATE_DIR / NEWSFLOW_DATABASE_URL"
    ]
    typo = newsflow("topics", "list", NEWSFLOW_DATABASE_URL=f"sqlite:///{tmp_path}/nonexistent/dir/x.db")
    assert typo.returncode == 1 and typo.stderr.startswith(f"StoreNotFoundError: {tmp_path}/nonexistent/dir/x.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere"] and not any(elsewhere.iterdir())
    (tmp_path / ".newsflow").mkdir()  # a checkout's state folder above the current one is found
    open_store(Settings(state_dir=tmp_path / ".newsflow")).dispose()
    found = newsflow("topics")
    assert found.returncode == 0 and "No topics with at least 2 articles yet." in found.stdout, found.stderr
    assert not user_store.parent.exists()


def test_typer_exit_code_of_a_command_reaches_the_shell(tmp_path: Path) -> None:
    # `ingest once --fail-on-error` ends with typer.Exit(1) when a feed failed: here a feed on a closed port.
    env = {"NEWSFLOW_ALLOW_PRIVATE_FEED_ADDRESSES": "true"}
    added = _newsflow("feeds", "add", "dead", "http://127.0.0.1:9/feed.xml", "--outlet", "Dead", cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    failed = _newsflow("ingest", "once", "--fail-on-error", cwd=tmp_path, env=env)
    assert failed.returncode == 1
    assert "FetchConnectionError" in failed.stderr + failed.stdout
    # The same failure without the flag is reported but exits 0 (the next poll is not due yet either).
    assert _newsflow("ingest", "once", cwd=tmp_path, env=env).returncode == 0


class _FixedLag:
    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily("newsflow_consumer_lag", "lag", labels=["group", "topic", "partition"])
        family.add_metric(["clustering", "news.articles", "0"], 7.0)
        yield family


def test_metrics_include_extra_collectors_such_as_consumer_lag(tmp_path: Path) -> None:
    engine = open_store(Settings(state_dir=tmp_path))
    text = render_metrics(engine, extra=[_FixedLag()])
    assert 'newsflow_consumer_lag{group="clustering",partition="0",topic="news.articles"} 7.0' in text
    assert "newsflow_consumer_lag" not in render_metrics(engine)


def test_a_dead_broker_is_one_named_line_not_the_client_librarys_log(tmp_path: Path) -> None:
    # issue 18 item 5: `dlq list` printed 27 lines of kafka-python errors before the named one
    env = {"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "NEWSFLOW_KAFKA_BOOTSTRAP_TIMEOUT_MS": "1500"}
    result = _newsflow("dlq", "list", cwd=tmp_path, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("BrokerUnavailableError: Kafka broker at 127.0.0.1:1"), lines
    verbose = _newsflow("--verbose", "dlq", "list", cwd=tmp_path, env=env)
    assert "kafka" in verbose.stderr and len(verbose.stderr.strip().splitlines()) > 1  # asked for: the client's log
