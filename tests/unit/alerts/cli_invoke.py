"""``newsflow alerts ...`` (its ``silence`` subgroup included) through Typer's test runner."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from newsflow.cli.alerts_cmd import register


def invoke(*args: str) -> tuple[int, str, BaseException | None]:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output, result.exception
