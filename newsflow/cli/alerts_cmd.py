"""``newsflow alerts evaluate|list``; its subgroup ``newsflow alerts silence`` is ``alerts_silence_cmd``.

Settings are built here (entry point) and passed down. Bad input (a time without a zone) is a named
error: one line ``InvalidTimeError: ...`` and exit status 1.
"""

from __future__ import annotations

import json
from enum import StrEnum

import typer

from newsflow.cli import alerts_silence_cmd
from newsflow.cli.alerts_common import console, current_settings, print_rows, reading
from newsflow.cli.options import OutputFormat, parse_time

alerts_app = typer.Typer(help="Growth alerts: evaluate the rule, list alerts, manage silences.", no_args_is_help=True)
alerts_silence_cmd.register(alerts_app)

ALERT_COLUMNS = ["id", "status", "topic_id", "summary", "fired_at", "resolved_at", "notify_count", "silenced_by"]


class StatusChoice(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    ALL = "all"


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


@alerts_app.command("evaluate")
def evaluate(
    now: str | None = typer.Option(None, "--now", help="As of: ISO-8601 with a zone, or 2h, 1d, yesterday."),
) -> None:
    """Measure topic growth, fire / repeat / resolve alerts and notify the sinks (what the DAG runs)."""
    from newsflow.alerts.evaluate import evaluate_alerts

    when = parse_time(now, what="--now") if now else None
    report = evaluate_alerts(current_settings(), now=when)
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

    with reading(current_settings()) as conn:
        found, total = alerts_repo.list_alerts(conn, status.value, topic, limit)
    rows = [alerts_repo.alert_as_dict(a) for a in found]
    print_rows(rows, ALERT_COLUMNS, fmt, f"alerts ({status.value}): {len(rows)} of {total}")
