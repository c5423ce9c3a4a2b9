"""Option types the analyst and operator commands share: output formats and time parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import typer


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def parse_time(
    value: str, *, what: str = "time", error: type[Exception] = typer.BadParameter, assume_utc: bool = False
) -> datetime:
    """An ISO-8601 time as aware UTC; without a zone it is UTC when ``assume_utc``, else ``error``."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise error(f"{what}: not an ISO-8601 time: {value!r} (e.g. 2025-02-13T12:00:00+00:00)") from exc
    if parsed.tzinfo is None:
        if not assume_utc:
            raise error(f"{what}: give a timezone, e.g. 2025-02-13T12:00:00+00:00")
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
