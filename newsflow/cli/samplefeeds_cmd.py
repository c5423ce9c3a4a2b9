"""CLI for the local sample feeds: ``newsflow samplefeeds serve``.

Settings are built here (entry point) and passed down; heavy imports happen inside commands so
``newsflow --help`` stays fast.
"""

from __future__ import annotations

import time

import typer
from rich.console import Console

console = Console()
samples_app = typer.Typer(help="Local sample feeds (German by default, or UCI; + welt.de) for demos and tests.")


def register(app: typer.Typer) -> None:
    app.add_typer(samples_app, name="samplefeeds", no_args_is_help=True)


@samples_app.command("serve")
def samplefeeds_serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8765, help="Port (0: any free port)."),
    register: int = typer.Option(
        -1, help="Also register welt.de + the N largest sample feeds in the store (-1: register nothing)."
    ),
    sample: str = typer.Option("de", "--sample", help="Sample feeds: de (German, default) or en (UCI English)."),
    live: bool = typer.Option(False, "--live", help="Shift times so that the newest item is published now."),
) -> None:
    """Serve the sample feeds until Ctrl-C."""
    from datetime import UTC, datetime

    from newsflow.samplefeeds import parse_sample, sample_feed_specs, serve_sample_feeds

    try:
        chosen = parse_sample(sample)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--sample") from exc
    with serve_sample_feeds(host, port, sample=chosen, now=datetime.now(UTC) if live else None) as server:
        console.print(f"sample feeds at {server.base_url}/ ({len(server.feeds)} feeds; OPML at /feeds.opml)")
        if register >= 0:
            from newsflow.settings import load_settings
            from newsflow.store.database import open_store
            from newsflow.store.feeds_repo import register_feeds

            count = register_feeds(open_store(load_settings()), sample_feed_specs(server, register, sample=chosen))
            console.print(f"registered {count} sample feeds in the store")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopped")
