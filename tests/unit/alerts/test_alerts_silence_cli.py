"""``newsflow alerts silence add|list|expire`` (``newsflow.cli.alerts_silence_cmd``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from newsflow.errors import SilenceError, SilenceNotFoundError
from newsflow.settings import Settings
from tests.unit.alerts.cli_invoke import invoke

REPO = Path(__file__).resolve().parents[3]


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


def test_expiring_an_unknown_silence(cli_settings: Settings) -> None:
    code, _, exc = invoke("alerts", "silence", "expire", "nope")
    assert code == 1 and isinstance(exc, SilenceNotFoundError)


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
