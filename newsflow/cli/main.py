"""The ``newsflow`` console script: one Typer app; each concern registers its commands from its own module."""

from __future__ import annotations

import logging
import sys

import click
import typer
from rich.console import Console

# typer >= 0.25 vendors click as typer._click: commands raise its exception classes, not click's,
# so both families are caught (click's own still come from commands that import click directly).
from typer._click.exceptions import ClickException as TyperClickException

from newsflow.errors import NewsflowError

USAGE_ERRORS = (click.ClickException, TyperClickException)
EXITS = (click.exceptions.Exit, typer.Exit)
ABORTS = (click.exceptions.Abort, typer.Abort)

# pretty_exceptions off: typer would print a traceback box before main() can turn a usage error into one line.
app = typer.Typer(
    help="newsflow: streaming news ingestion and story clustering.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _register_commands() -> None:
    # Imported here so `newsflow --help` stays cheap; each module only imports heavy things inside commands.
    from newsflow.cli import demo_cmd, infra_cmd, model_cmd, store_cmd

    for module in (infra_cmd, store_cmd, model_cmd, demo_cmd):
        module.register(app)
    for optional in (
        "newsflow.cli.feeds_cmd",
        "newsflow.cli.ingest_cmd",
        "newsflow.cli.samplefeeds_cmd",
        "newsflow.cli.metrics_cmd",
        "newsflow.cli.clustering_cmd",
        "newsflow.cli.topics_cmd",
        "newsflow.cli.outlets_cmd",
        "newsflow.cli.api_cmd",
        "newsflow.cli.alerts_cmd",
        "newsflow.cli.status_cmd",
        "newsflow.cli.dlq_cmd",
    ):
        __import__(optional)
        sys.modules[optional].register(app)


@app.callback()
def _configure(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=False)],
    )
    for noisy in ("httpx", "httpcore", "urllib3", "sentence_transformers", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # kafka-python logs every failed connect attempt (27 lines in 11 s against a dead broker); the
    # user gets one named line (BrokerUnavailableError) instead, and --verbose shows the client's log.
    logging.getLogger("kafka").setLevel(logging.DEBUG if verbose else logging.CRITICAL)


def main() -> None:
    """Entry point: named errors become one line on stderr and exit status 1, never a traceback."""
    _register_commands()
    try:
        # Without standalone mode click returns a command's `typer.Exit(code)` instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except NewsflowError as exc:
        # soft_wrap: one line whatever the terminal width, so scripts can grep it.
        err_console.print(f"[bold red]{type(exc).__name__}[/]: {exc}", soft_wrap=True, markup=True)
        sys.exit(1)
    except USAGE_ERRORS as exc:  # usage errors: click's own one-line message
        exc.show()
        sys.exit(exc.exit_code)
    except EXITS as exc:
        sys.exit(exc.exit_code)
    except ABORTS:
        err_console.print("Aborted.")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
