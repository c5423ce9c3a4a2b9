"""CLI for the feed registry: ``newsflow feeds add|list|pause|resume|fulltext|remove|import|export|health``.

Settings are built here (entry point) and passed down; heavy imports happen inside commands so
``newsflow --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from newsflow.cli.options import OutputFormat, utc_seconds, write_csv, write_json

if TYPE_CHECKING:
    from sqlalchemy import Engine

console = Console()
feeds_app = typer.Typer(help="The feed registry: add, list, pause, resume, remove, import/export OPML, health.")


def register(app: typer.Typer) -> None:
    app.add_typer(feeds_app, name="feeds", no_args_is_help=True)


def _engine(*, create: bool = True) -> Engine:
    """The store; readers pass ``create=False`` (``StoreNotFoundError`` instead of a new empty store)."""
    from newsflow.settings import load_settings
    from newsflow.store.database import open_store

    return open_store(load_settings(), create=create)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = seconds / 60
    if abs(minutes) < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.0f} h" if abs(minutes) < 48 * 60 else f"{minutes / 1440:.0f} d"


@feeds_app.command("add")
def feeds_add(
    name: str = typer.Argument(..., help="Short unique name, e.g. welt-politik."),
    url: str = typer.Argument(..., help="RSS or Atom URL (http/https)."),
    outlet: str = typer.Option("", help="Publisher shown with articles (default: the URL's host)."),
    language: str | None = typer.Option(None, help="Default language of the feed, e.g. de."),
    interval: int = typer.Option(900, help="Poll interval in seconds (the shortest; it adapts upwards)."),
    tag: list[str] = typer.Option([], "--tag", help="Tag (repeatable)."),
    paused: bool = typer.Option(False, help="Register without polling it yet."),
    fulltext: bool = typer.Option(False, help="Fetch each new article's page and extract its text (teaser feeds)."),
    replace: bool = typer.Option(False, help="Overwrite a feed of the same name."),
) -> None:
    """Register a feed."""
    from urllib.parse import urlsplit

    from newsflow.records.feed import FeedSpec
    from newsflow.store.feeds_repo import add_feed

    spec = FeedSpec(
        name=name,
        url=url,
        outlet=outlet or (urlsplit(url).hostname or name),
        language=language,
        poll_interval_s=interval,
        tags=tuple(tag),
        enabled=not paused,
        fulltext=fulltext,
    )
    add_feed(_engine(), spec, replace=replace)
    console.print(f"added feed [bold]{name}[/] -> {url}")


@feeds_app.command("list")
def feeds_list(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    output: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", "-f", help="table, json or csv."),
) -> None:
    """List registered feeds."""
    from dataclasses import asdict

    from newsflow.store.feeds_repo import list_feeds

    specs = list_feeds(_engine(create=False))
    if as_json:
        for spec in specs:
            print(json.dumps(asdict(spec)))
        return
    if output is not OutputFormat.TABLE:
        rows = [{**asdict(s), "tags": " ".join(s.tags)} for s in specs]
        _write_rows([asdict(s) for s in specs] if output is OutputFormat.JSON else rows, output)
        return
    table = Table("name", "outlet", "lang", "interval", "enabled", "full text", "tags", "url")
    for s in specs:
        table.add_row(
            s.name, s.outlet, s.language or "-", f"{s.poll_interval_s}s", "yes" if s.enabled else "paused",
            "yes" if s.fulltext else "-", ",".join(s.tags), s.url,
        )  # fmt: skip
    console.print(table)


def _write_rows(rows: list[dict[str, Any]], output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        write_json(rows)
    else:
        write_csv(rows, list(rows[0]) if rows else [])


@feeds_app.command("pause")
def feeds_pause(name: str) -> None:
    """Stop polling a feed (kept in the registry)."""
    from newsflow.store.feeds_repo import set_enabled

    set_enabled(_engine(), name, False)
    console.print(f"paused {name}")


@feeds_app.command("resume")
def feeds_resume(name: str) -> None:
    """Poll a paused feed again (also clears its failure streak; it is due at once)."""
    from newsflow.store.feeds_repo import set_enabled

    set_enabled(_engine(), name, True)
    console.print(f"resumed {name}")


@feeds_app.command("fulltext")
def feeds_fulltext(
    name: str,
    on: bool = typer.Option(True, "--on/--off", help="Extract articles' full text from their pages, or stop."),
) -> None:
    """Switch full-text extraction for a feed (new articles from the next poll on)."""
    from newsflow.store.feeds_repo import set_fulltext

    set_fulltext(_engine(), name, on)
    console.print(f"full text {'on' if on else 'off'} for {name}")


@feeds_app.command("remove")
def feeds_remove(name: str) -> None:
    """Delete a feed and its health record (published articles stay)."""
    from newsflow.store.feeds_repo import remove_feed

    remove_feed(_engine(), name)
    console.print(f"removed {name}")


@feeds_app.command("import")
def feeds_import(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="OPML file."),
    language: str | None = typer.Option(None, help="Language for outlines that do not name one."),
    interval: int = typer.Option(900, help="Poll interval in seconds for the imported feeds."),
) -> None:
    """Import feeds from OPML (idempotent: existing names are updated, pause state kept)."""
    from ingest.opml import parse_opml
    from newsflow.store.feeds_repo import register_feeds

    specs = parse_opml(path.read_bytes(), default_language=language, poll_interval_s=interval)
    count = register_feeds(_engine(), specs)
    console.print(f"imported {count} feeds from {path}")


@feeds_app.command("export")
def feeds_export(path: Path | None = typer.Argument(None, help="Write here instead of stdout.")) -> None:
    """Export the registry as OPML."""
    from ingest.opml import to_opml
    from newsflow.store.feeds_repo import list_feeds

    document = to_opml(list_feeds(_engine(create=False)))
    if path is None:
        sys.stdout.write(document.decode("utf-8"))
    else:
        path.write_bytes(document)
        console.print(f"wrote {path}")


@feeds_app.command("health")
def feeds_health(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    output: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", "-f", help="table, json or csv."),
) -> None:
    """Per feed: last outcome and success, named last error, failure streak, 304 ratio, articles/day, delay.

    Articles/day counts the articles first seen from the feed in the last 24 h; the median delay is
    from an article's own publication time to its first fetch. `newsflow metrics` exports the same.
    """
    from dataclasses import asdict

    from newsflow.store.feed_health_repo import health_report

    report = health_report(_engine(create=False), datetime.now(UTC))
    if as_json:
        for h in report:
            print(json.dumps(asdict(h), default=str))
        return
    if output is not OutputFormat.TABLE:
        _write_rows([asdict(h) for h in report], output)
        return
    table = Table(
        "name", "state", "last success", "failures", "last error", "polls", "304", "art/day", "median delay",
        "next poll",
    )  # fmt: skip
    table.columns[4].overflow = "fold"  # a long error name wraps onto more lines instead of being cut
    table.columns[4].min_width = 24
    for h in report:
        state = h.last_outcome or "never polled"
        table.add_row(
            h.name,
            state if h.enabled else f"paused ({state})",
            utc_seconds(h.last_success_at),
            str(h.consecutive_failures),
            (h.last_error or "-") if h.consecutive_failures else "-",
            str(h.polls),
            f"{h.not_modified_ratio:.0%}" if h.not_modified_ratio is not None else "-",
            str(h.articles_last_24h),
            _duration(h.median_delay_s),
            utc_seconds(h.next_poll_at),
        )
    console.print(table)
