"""``newsflow outlets``: the outlet leaderboard over a time range (who reports stories first, and lags).

Reads through ``newsflow.query.provenance`` (the same code as ``GET /api/v1/outlets``): for the
topics active in [--since, --until] covered by at least two outlets, per outlet the stories it
reported first, the stories it covered and its median lag (minutes) behind the first report.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsflow.cli.options import OutputFormat, parse_time, write_csv, write_json

console = Console()
COLUMNS = ["outlet", "first_reported", "covered", "median_lag_minutes", "fetch_times"]


def register(app: typer.Typer) -> None:
    app.command("outlets")(outlets_command)


def outlets_command(
    since: str = typer.Option(
        "7d", "--since", help="Topics active at or after: ISO time (UTC if no zone) or 24h, 2d, 1w, yesterday."
    ),
    until: str | None = typer.Option(None, "--until", help="Topics active at or before (same forms as --since)."),
    output: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", help="table, json or csv."),
) -> None:
    """Outlet leaderboard: stories first-reported, stories covered, median lag (minutes) when not first."""
    from newsflow.query.provenance import outlet_leaderboard
    from newsflow.settings import load_settings
    from newsflow.store.database import open_store

    start = parse_time(since, what="--since", assume_utc=True)
    end = parse_time(until, what="--until", assume_utc=True) if until else None
    with open_store(load_settings(), create=False).connect() as conn:  # a read never creates a store
        board = outlet_leaderboard(conn, start, end)
    if output is OutputFormat.JSON:
        write_json(board)
    elif output is OutputFormat.CSV:
        write_csv(board["outlets"], COLUMNS)
    elif not board["outlets"]:
        console.print("No stories covered by at least 2 outlets in that time.")
    else:
        span = f"{start:%Y-%m-%d %H:%M}" + (f" .. {end:%Y-%m-%d %H:%M}" if end else " .. now")
        table = Table(title=f"Outlets over {board['topics']} stories ({span} UTC)")
        for name in ("outlet", "first reported", "covered", "median lag", "fetch times"):
            table.add_column(name, justify="left" if name == "outlet" else "right")
        for r in board["outlets"]:
            lag = "-" if r["median_lag_minutes"] is None else f"{r['median_lag_minutes']:g} min"
            table.add_row(escape(r["outlet"]), str(r["first_reported"]), str(r["covered"]), lag, str(r["fetch_times"]))
        console.print(table)
        if any(r["fetch_times"] for r in board["outlets"]):
            console.print("[dim]fetch times: stories where an outlet's time is its fetch time "
                          "(no publication time, or one in the future)[/]")  # fmt: skip
