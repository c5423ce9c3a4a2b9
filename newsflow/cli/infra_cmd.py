"""``newsflow infra up|down|status``: local Kafka, PostgreSQL and Airflow on 127.0.0.1, no Docker."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from newsflow.infra.processes import ServiceStatus
    from newsflow.settings import Settings

infra_app = typer.Typer(help="Local Kafka, PostgreSQL and Airflow on 127.0.0.1 (state in NEWSFLOW_STATE_DIR).",
                        no_args_is_help=True)  # fmt: skip
console = Console()

_STATE_STYLES = {"running": "green", "ready": "green", "stopped": "dim", "missing": "yellow"}


def _settings() -> Settings:
    from pydantic import ValidationError

    from newsflow.errors import ConfigError
    from newsflow.settings import load_settings

    try:
        return load_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"NEWSFLOW_{str(first['loc'][0]).upper()}: {first['msg']}") from exc


def print_status_table(rows: list[ServiceStatus]) -> None:
    from rich.table import Table

    table = Table("service", "state", "pid", "address")
    table.add_column("detail", overflow="fold")  # log paths stay whole when the terminal is narrow
    for row in rows:
        style = _STATE_STYLES.get(row.state, "")
        state = f"[{style}]{row.state}[/]" if style else row.state
        table.add_row(row.service, state, str(row.pid or ""), row.address, row.detail)
    console.print(table)


@infra_app.command("up")
def up_command(
    postgres: bool = typer.Option(False, "--postgres", help="Also create and start a PostgreSQL cluster."),
    airflow_services: bool = typer.Option(
        False, "--airflow-services", help="Also start Airflow's scheduler, dag-processor and api-server."
    ),
    keep_paused: bool = typer.Option(
        False, "--keep-paused", help="With --airflow-services: leave newsflow's DAGs paused (Airflow's default)."
    ),
) -> None:
    """Start the local Kafka broker (and more) and migrate Airflow's DB; harmless when already up."""
    from newsflow.infra import services

    settings = _settings()
    started = time.monotonic()
    services.up(settings, postgres=postgres, airflow_services=airflow_services, keep_paused=keep_paused)
    print_status_table(services.status(settings, check_imports=False))
    console.print(f"infra up in {time.monotonic() - started:.1f} s (state: {settings.state_dir})")
    if airflow_services:
        from newsflow.infra.airflow_local import ui_login

        console.print(ui_login(settings), soft_wrap=True)
        paused = "paused (--keep-paused)" if keep_paused else "unpaused: they run on their schedules"
        console.print(f"newsflow's DAGs are {paused}; `newsflow status` shows their last runs")


@infra_app.command("down")
def down_command() -> None:
    """Stop every service `infra up` started from this state dir; leaves no process behind."""
    from newsflow.infra import services

    stopped = services.down(_settings())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@infra_app.command("status")
def status_command() -> None:
    """Show each local service: state, pid, address, and details (topics, version, DAG import errors)."""
    from newsflow.infra import services

    print_status_table(services.status(_settings()))


def register(app: typer.Typer) -> None:
    app.add_typer(infra_app, name="infra")
