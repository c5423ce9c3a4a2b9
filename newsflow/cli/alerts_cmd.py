"""``newsflow alerts evaluate|list`` and ``newsflow alerts silence add|list|expire``.

Settings are built here (entry point) and passed down. Bad input (no matcher, a bad duration or end
time, an unknown silence id) is a named error: one line ``SilenceError: ...`` and exit status 1.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from newsflow.cli.options import OutputFormat, parse_time
from newsflow.errors import SilenceError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from newsflow.settings import Settings

console = Console()
alerts_app = typer.Typer(help="Growth alerts: evaluate the rule, list alerts, manage silences.", no_args_is_help=True)
silence_app = typer.Typer(help="Silences: hold back notifications of matching alerts for a while.",
                          no_args_is_help=True)  # fmt: skip
alerts_app.add_typer(silence_app, name="silence")

ALERT_COLUMNS = ["id", "status", "topic_id", "summary", "fired_at", "resolved_at", "notify_count", "silenced_by"]
SILENCE_COLUMNS = ["id", "matchers", "comment", "created_by", "starts_at", "ends_at", "expired_at"]


class StatusChoice(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    ALL = "all"


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


def _settings() -> Settings:
    from newsflow.settings import load_settings

    return load_settings()


@contextmanager
def _writing(settings: Settings) -> Iterator[Connection]:
    from newsflow.store.database import open_store

    with open_store(settings).begin() as conn:
        yield conn


@contextmanager
def _reading(settings: Settings) -> Iterator[Connection]:
    """The existing store (``StoreNotFoundError`` when there is none: a read never creates one)."""
    from newsflow.store.database import open_store

    with open_store(settings, create=False).connect() as conn:
        yield conn


def _print(rows: Sequence[dict[str, Any]], columns: list[str], fmt: OutputFormat, title: str) -> None:
    if fmt is OutputFormat.JSON:
        sys.stdout.write(json.dumps(list(rows), indent=2, default=str) + "\n")
        return
    if fmt is OutputFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: json.dumps(row[c]) if isinstance(row[c], dict) else row[c] for c in columns})
        sys.stdout.write(buffer.getvalue())
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(c, row[c]) for c in columns))
    console.print(table)


def _cell(column: str, value: Any) -> str:
    """Table cells: times to the minute (UTC), mappings as compact JSON."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if column.endswith("_at") and isinstance(value, str):
        return value[:16].replace("T", " ")
    return str(value)


@alerts_app.command("evaluate")
def evaluate(
    now: str | None = typer.Option(None, "--now", help="As of: ISO-8601 with a zone, or 2h, 1d, yesterday."),
) -> None:
    """Measure topic growth, fire / repeat / resolve alerts and notify the sinks (what the DAG runs)."""
    from newsflow.alerts.evaluate import evaluate_alerts

    when = parse_time(now, what="--now") if now else None
    report = evaluate_alerts(_settings(), now=when)
    console.print_json(json.dumps(report.as_dict(), default=str))


@alerts_app.command("list")
def list_alerts(
    status: StatusChoice = typer.Option(StatusChoice.FIRING, "--status", help="firing, resolved or all."),
    topic: int | None = typer.Option(None, "--topic", help="Only alerts of this topic id."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many (newest first)."),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", help="table, json or csv."),
) -> None:
    """Stored alerts, newest first."""
    from newsflow.store import alerts_repo

    with _reading(_settings()) as conn:
        found, total = alerts_repo.list_alerts(conn, status.value, topic, limit)
    rows = [alerts_repo.alert_as_dict(a) for a in found]
    _print(rows, ALERT_COLUMNS, fmt, f"alerts ({status.value}): {len(rows)} of {total}")


@silence_app.command("add")
def silence_add(
    comment: str = typer.Option(..., "--comment", help="Why (required)."),
    topic: int | None = typer.Option(None, "--topic", help="Match alerts of this topic id."),
    rule: str | None = typer.Option(None, "--rule", help="Match alerts of this rule."),
    label_contains: str | None = typer.Option(None, "--label-contains", help="Match topics whose label has this text."),
    duration: str | None = typer.Option(None, "--duration", help="How long, e.g. 30m, 2h, 1d."),
    until: str | None = typer.Option(None, "--until", help="Until this ISO-8601 time, with a zone."),
    by: str = typer.Option("", "--by", help="Who creates it."),
) -> None:
    """Create a silence (at least one matcher; --duration or --until)."""
    from newsflow.alerts.silences import SilenceRequest, new_silence, parse_duration
    from newsflow.store import alerts_repo

    request = SilenceRequest(
        matchers={"topic_id": topic, "rule": rule, "label_contains": label_contains},
        comment=comment,
        created_by=by,
        duration=parse_duration(duration) if duration is not None else None,
        ends_at=parse_time(until, what="--until", error=SilenceError, relative=False) if until is not None else None,
    )
    silence = new_silence(request, datetime.now(UTC))
    with _writing(_settings()) as conn:
        alerts_repo.insert_silence(conn, silence)
    console.print(f"silence {silence.id} until {silence.ends_at.isoformat(timespec='seconds')}")


@silence_app.command("list")
def silence_list(
    all_: bool = typer.Option(False, "--all", help="Also ended and expired silences."),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", help="table, json or csv."),
) -> None:
    """Silences not ended or expired (with --all: every one)."""
    from newsflow.store import alerts_repo

    with _reading(_settings()) as conn:
        found, total = alerts_repo.list_silences(conn, datetime.now(UTC), active_only=not all_, limit=1000)
    rows = [alerts_repo.silence_as_dict(s) for s in found]
    _print(rows, SILENCE_COLUMNS, fmt, f"silences: {len(rows)} of {total}")


@silence_app.command("expire")
def silence_expire(silence_id: str = typer.Argument(..., help="The silence's id.")) -> None:
    """End a silence now (``SilenceNotFoundError`` for an unknown id)."""
    from newsflow.store import alerts_repo

    with _writing(_settings()) as conn:
        silence = alerts_repo.expire_silence(conn, silence_id, datetime.now(UTC))
    console.print(f"silence {silence.id} expired at {(silence.expired_at or silence.ends_at).isoformat()}")
