"""CLI for ingestion outside Airflow: ``newsflow ingest once``.

Settings are built here (entry point) and passed down; heavy imports happen inside commands so
``newsflow --help`` stays fast.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from newsflow.cli.options import utc_seconds

if TYPE_CHECKING:
    from ingest.poll import PollOutcome

console = Console()
ingest_app = typer.Typer(help="Run ingestion outside Airflow.")


def register(app: typer.Typer) -> None:
    app.add_typer(ingest_app, name="ingest", no_args_is_help=True)


def outcome_table(outcomes: list[PollOutcome]) -> Table:
    table = Table("feed", "outcome", "published", "revisions", "near-dup", "duplicates", "next poll", "error")
    for o in outcomes:
        style = "red" if o.outcome == "failed" else ""
        table.add_row(
            o.feed, o.outcome, str(o.published), str(o.revisions), str(o.near_duplicates), str(o.duplicates),
            utc_seconds(o.next_poll_at), o.error or "", style=style,
        )  # fmt: skip
    return table


@ingest_app.command("once")
def ingest_once(
    feed: list[str] = typer.Option([], "--feed", "-f", help="Poll this feed even if not due (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Outcomes as JSON lines."),
    fail_on_error: bool = typer.Option(False, help="Exit 1 if any feed failed."),
) -> None:
    """Poll every due feed (or the named ones) once, as the Airflow DAG would, and print the outcomes."""
    from ingest.runner import run_polls
    from newsflow.settings import load_settings

    outcomes = run_polls(load_settings(), feed or None)
    if as_json:
        for o in outcomes:
            print(json.dumps(o.as_dict()))
    elif outcomes:
        console.print(outcome_table(outcomes))
    else:
        console.print("no feed is due")
    if fail_on_error and any(o.outcome == "failed" for o in outcomes):
        raise typer.Exit(1)
