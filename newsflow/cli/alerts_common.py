"""What the ``newsflow alerts`` and ``newsflow alerts silence`` commands share: settings, store, output.

Settings are built here (entry point) and passed down; the store and its repositories are imported
inside the helpers so ``newsflow --help`` stays fast.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from newsflow.cli.options import OutputFormat

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from newsflow.settings import Settings

console = Console()


def current_settings() -> Settings:
    from newsflow.settings import load_settings

    return load_settings()


@contextmanager
def writing(settings: Settings) -> Iterator[Connection]:
    from newsflow.store.database import open_store

    with open_store(settings).begin() as conn:
        yield conn


@contextmanager
def reading(settings: Settings) -> Iterator[Connection]:
    """The existing store (``StoreNotFoundError`` when there is none: a read never creates one)."""
    from newsflow.store.database import open_store

    with open_store(settings, create=False).connect() as conn:
        yield conn


def print_rows(rows: Sequence[dict[str, Any]], columns: list[str], fmt: OutputFormat, title: str) -> None:
    if fmt is OutputFormat.JSON:
        sys.stdout.write(json.dumps(list(rows), indent=2, default=str) + "\n")
        return
    if fmt is OutputFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: json.dumps(row[c]) if isinstance(row[c], dict) else row[c] for c in columns})
        sys.stdout.write(buffer.getvalue())
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(c, row[c]) for c in columns))
    console.print(table)


def _cell(column: str, value: Any) -> str:
    """Table cells: times to the minute (UTC), mappings as compact JSON."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if column.endswith("_at") and isinstance(value, str):
        return value[:16].replace("T", " ")
    return str(value)
