"""``newsflow alerts evaluate|list`` and ``newsflow alerts silence add|list|expire``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from newsflow.cli.alerts_cmd import register
from newsflow.errors import InvalidTimeError, SilenceError, SilenceNotFoundError
from newsflow.settings import Settings
from newsflow.store.database import open_store
from tests.unit.alerts.seed import add_topic, every

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(settings.state_dir))
    monkeypatch.delenv("NEWSFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("NEWSFLOW_ALERT_WEBHOOK_URL", raising=False)
    return settings


def invoke(*args: str) -> tuple[int, str, BaseException | None]:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output, result.exception


def test_silence_add_list_expire(cli_settings: Settings) -> None:
    code, out, _ = invoke("alerts", "silence", "add", "--topic", "7", "--label-contains", "flood", "--duration", "2h",
                          "--comment", "known", "--by", "ops")  # fmt: skip
    assert code == 0, out
    silence_id = out.split()[1]
    code, out, _ = invoke("alerts", "silence", "list", "--format", "json")
    (listed,) = json.loads(out)
    assert listed["id"] == silence_id and listed["matchers"] == {"topic_id": 7, "label_contains": "flood"}
    ends = datetime.fromisoformat(listed["ends_at"]) - datetime.fromisoformat(listed["starts_at"])
    assert ends == timedelta(hours=2) and listed["created_by"] == "ops"
    assert invoke("alerts", "silence", "expire", silence_id)[0] == 0
    assert json.loads(invoke("alerts", "silence", "list", "--format", "json")[1]) == []
    (expired,) = json.loads(invoke("alerts", "silence", "list", "--all", "--format", "json")[1])
    assert expired["expired_at"] is not None


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (["--duration", "2h", "--comment", "c"], SilenceError, "at least one matcher"),
        (["--rule", "r", "--duration", "2 hours", "--comment", "c"], SilenceError, "bad duration"),
        (["--rule", "r", "--comment", "c"], SilenceError, "exactly one"),
        (["--rule", "r", "--until", "tomorrow", "--comment", "c"], SilenceError, "--until"),
    ],
)
def test_bad_silence_input_is_a_named_error(
    cli_settings: Settings, args: list[str], error: type[Exception], message: str
) -> None:
    code, _, exc = invoke("alerts", "silence", "add", *args)
    assert code == 1 and isinstance(exc, error) and message in str(exc)


def test_evaluate_refuses_a_time_without_timezone(cli_settings: Settings) -> None:
    code, _, exc = invoke("alerts", "evaluate", "--now", "2025-02-13T12:00:00")
    assert code == 1 and isinstance(exc, InvalidTimeError) and "--now: give a timezone" in str(exc)


def test_expiring_an_unknown_silence(cli_settings: Settings) -> None:
    code, _, exc = invoke("alerts", "silence", "expire", "nope")
    assert code == 1 and isinstance(exc, SilenceNotFoundError)


def test_evaluate_then_list_as_csv(cli_settings: Settings) -> None:
    engine = open_store(cli_settings)
    add_topic(engine, 3, "Quiet story", every(NOW - timedelta(hours=10), NOW, timedelta(hours=2)))
    code, out, _ = invoke("alerts", "evaluate", "--now", NOW.isoformat())
    assert code == 0, out
    assert json.loads(out)["topics_evaluated"] == 1 and json.loads(out)["fired"] == 0
    code, out, _ = invoke("alerts", "list", "--status", "all", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows == [] and out.startswith("id,status,topic_id")


def test_the_console_script_prints_one_line_for_a_named_error(cli_settings: Settings) -> None:
    # A wide terminal: rich wraps the error line at the terminal width (80 columns in a pipe).
    env = {**os.environ, "NEWSFLOW_STATE_DIR": str(cli_settings.state_dir), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "newsflow.cli", "alerts", "silence", "add", "--duration", "2h", "--comment", "c"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "SilenceError: a silence needs at least one matcher: topic_id, rule or label_contains"]  # fmt: skip
