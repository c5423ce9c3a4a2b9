"""``newsflow samplefeeds serve`` (``newsflow.cli.samplefeeds_cmd``): a bad sample is refused before serving."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from newsflow.cli.samplefeeds_cmd import register


def test_an_unknown_sample_is_a_usage_error_and_nothing_is_served() -> None:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["samplefeeds", "serve", "--sample", "fr", "--port", "0"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "'fr' is not one of" in result.output and "sample feeds at" not in result.output
