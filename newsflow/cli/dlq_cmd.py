"""``newsflow dlq list|replay``: inspect the dead-letter topic and re-publish what failed."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING

import click
import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from newsflow.kafka import DeadLetter

console = Console()
dlq_app = typer.Typer(help="The dead-letter topic: messages the worker could not process.", no_args_is_help=True)
PREVIEW_CHARS = 80


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq")


def _preview(text: str, chars: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def entry_as_dict(d: DeadLetter, preview_chars: int = PREVIEW_CHARS) -> dict[str, object]:
    r = d.record
    if r is None:
        return {"position": d.position, "unreadable": d.unreadable}
    return {
        "position": d.position,
        "reason": r.reason,
        "error_type": r.error_type,
        "stage": r.stage,
        "source_topic": r.source_topic,
        "source_partition": r.partition,
        "source_offset": r.offset,
        "key": r.key,
        "failed_at": r.failed_at.isoformat(),
        "payload_preview": _preview(r.payload, preview_chars),
    }


@dlq_app.command("list")
def list_cmd(
    limit: int = typer.Option(50, "--limit", min=1, help="Show the newest N dead letters."),
    fmt: ListFormat = typer.Option(ListFormat.TABLE, "--format", help="table or json."),
) -> None:
    """Show dead letters (reason, error, stage, source position, key, payload preview); moves no offsets."""
    from newsflow.dlq import list_dead_letters
    from newsflow.settings import load_settings

    rows = [entry_as_dict(d) for d in list_dead_letters(load_settings(), limit=limit)]
    if fmt is ListFormat.JSON:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"dead letters ({len(rows)} shown)")
    for column in ("dlq pos", "failed at", "stage", "error", "reason", "source", "key", "payload"):
        table.add_column(column, overflow="fold")
    for row in rows:
        source = f"{row.get('source_topic')}[{row.get('source_partition')}]@{row.get('source_offset')}"
        table.add_row(
            str(row["position"]), str(row.get("failed_at", "-"))[:19], str(row.get("stage", "-")),
            str(row.get("error_type", "unreadable")), str(row.get("reason", row.get("unreadable"))),
            source if "source_topic" in row else "-", str(row.get("key") or "-"), str(row.get("payload_preview", "")),
        )  # fmt: skip
    console.print(table)


@dlq_app.command("replay")
def replay_cmd(
    offsets: list[str] = typer.Option(
        [], "--offset", help="Dead-letter position PARTITION:OFFSET (as `dlq list` shows); repeatable."
    ),
    replay_all: bool = typer.Option(False, "--all", help="Replay every dead letter not replayed before."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be replayed; publish and commit nothing."),
) -> None:
    """Re-publish original payloads to their source topic; a second replay does not resend them."""
    from newsflow.dlq import parse_position, replay_dead_letters
    from newsflow.settings import load_settings

    # click's own exceptions: main() prints them as one usage line (typer's are not click's in this version)
    if bool(offsets) == replay_all:
        raise click.UsageError("give either --all or one or more --offset PARTITION:OFFSET")
    try:
        positions = [parse_position(o) for o in offsets]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--offset") from exc
    report = replay_dead_letters(load_settings(), positions or None, dry_run=dry_run)
    console.print_json(json.dumps(report.as_dict()))
