"""Placeholder: filled in by the work on issues 5/6."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Registers nothing yet."""
