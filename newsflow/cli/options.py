"""Option types the analyst and operator commands share: output formats, time parsing and formatting."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from newsflow.errors import InvalidTimeError


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


RELATIVE = re.compile(r"(\d+)\s*(m|min|h|d|w)(?:\s+ago)?")
UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DAY_WORDS = {"today": 0, "yesterday": 1}  # the start of that day (UTC)
TIME_FORMS = "ISO-8601 (2025-02-13, 2025-02-13T12:00:00+00:00) or relative (30m, 24h, 2d, 1w, today, yesterday)"


def relative_time(value: str, now: datetime) -> datetime | None:
    """``24h``, ``2d``, ``30m``, ``1w`` (or ``2d ago``) before ``now``; ``today``, ``yesterday``: 00:00 UTC."""
    text = value.strip().lower()
    if text == "now":
        return now
    if text in DAY_WORDS:
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - timedelta(days=DAY_WORDS[text])
    match = RELATIVE.fullmatch(text)
    if match is None:
        return None
    return now - timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def parse_time(
    value: str,
    *,
    what: str = "time",
    error: type[Exception] = InvalidTimeError,
    assume_utc: bool = False,
    relative: bool = True,
    now: datetime | None = None,
) -> datetime:
    """A time option as aware UTC: ISO-8601, or (with ``relative``) a form such as ``24h`` or ``yesterday``.

    Without a zone an ISO time is UTC when ``assume_utc``, else ``error``. Every refusal is ``error``
    (by default ``InvalidTimeError``: one line and exit status 1 on the command line).
    """
    if relative:
        found = relative_time(value, now or datetime.now(UTC))
        if found is not None:
            return found
    forms = TIME_FORMS if relative else "ISO-8601 (e.g. 2025-02-13T12:00:00+00:00)"
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise error(f"{what}: not a time: {value!r}; give {forms}") from exc
    if parsed.tzinfo is None:
        if not assume_utc:
            raise error(f"{what}: give a timezone, e.g. 2025-02-13T12:00:00+00:00")
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def utc_seconds(value: datetime | None) -> str:
    """A time for a table cell: UTC to the second (``2025-02-13 12:00:00``), or ``-`` for none."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def write_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (non-ASCII kept as written)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def write_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """``rows`` as CSV on stdout with a header of ``columns`` (other keys ignored)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    sys.stdout.write(buffer.getvalue())
