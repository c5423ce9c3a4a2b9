"""CLI for the Prometheus metrics: ``newsflow metrics`` (feed health and consumer lag).

Settings are built here (entry point) and passed down; heavy imports happen inside the command so
``newsflow --help`` stays fast.
"""

from __future__ import annotations

import sys
import time

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics)


def metrics(
    serve: bool = typer.Option(False, "--serve", help="Serve /metrics over HTTP until Ctrl-C instead of printing."),
    host: str = typer.Option("127.0.0.1", help="Address to serve on (with --serve)."),
    port: int = typer.Option(9464, help="Port to serve on (with --serve; 0: any free port)."),
    lag: bool = typer.Option(True, "--lag/--no-lag", help="Include the worker group's consumer lag (asks the broker)."),
) -> None:
    """Feed health and consumer lag in the Prometheus text format: print once, or serve for scraping."""
    from newsflow.consumer_lag import ConsumerLagCollector
    from newsflow.metrics import render_metrics, serve_metrics
    from newsflow.settings import load_settings
    from newsflow.store.database import open_store

    settings = load_settings()
    engine = open_store(settings, create=False)
    extra = [ConsumerLagCollector(settings)] if lag else []
    if not serve:
        sys.stdout.write(render_metrics(engine, extra=extra))
        return
    server = serve_metrics(engine, host, port, extra=extra)
    console.print(f"feed metrics at http://{host}:{server.server_port}/metrics")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
        console.print("stopped")
