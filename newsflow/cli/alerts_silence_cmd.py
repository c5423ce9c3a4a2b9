"""``newsflow alerts silence add|list|expire`` (a subgroup of ``newsflow alerts``, see ``alerts_cmd``).

Bad input (no matcher, a bad duration or end time, an unknown silence id) is a named error: one line
``SilenceError: ...`` and exit status 1.
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from newsflow.cli.alerts_common import console, current_settings, print_rows, reading, writing
from newsflow.cli.options import OutputFormat, parse_time
from newsflow.errors import SilenceError

silence_app = typer.Typer(help="Silences: hold back notifications of matching alerts for a while.",
                          no_args_is_help=True)  # fmt: skip

SILENCE_COLUMNS = ["id", "matchers", "comment", "created_by", "starts_at", "ends_at", "expired_at"]


def register(alerts: typer.Typer) -> None:
    """Add the group under ``alerts`` (the ``alerts`` group's app, not the top-level one)."""
    alerts.add_typer(silence_app, name="silence")


@silence_app.command("add")
def silence_add(
    comment: str = typer.Option(..., "--comment", help="Why (required)."),
    topic: int | None = typer.Option(None, "--topic", help="Match alerts of this topic id."),
    rule: str | None = typer.Option(None, "--rule", help="Match alerts of this rule."),
    label_contains: str | None = typer.Option(None, "--label-contains", help="Match topics whose label has this text."),
    duration: str | None = typer.Option(None, "--duration", help="How long, e.g. 30m, 2h, 1d."),
    until: str | None = typer.Option(None, "--until", help="Until this ISO-8601 time, with a zone."),
    by: str = typer.Option("", "--by", help="Who creates it."),
) -> None:
    """Create a silence (at least one matcher; --duration or --until)."""
    from newsflow.alerts.silences import SilenceRequest, new_silence, parse_duration
    from newsflow.store import alerts_repo

    request = SilenceRequest(
        matchers={"topic_id": topic, "rule": rule, "label_contains": label_contains},
        comment=comment,
        created_by=by,
        duration=parse_duration(duration) if duration is not None else None,
        ends_at=parse_time(until, what="--until", error=SilenceError, relative=False) if until is not None else None,
    )
    silence = new_silence(request, datetime.now(UTC))
    with writing(current_settings()) as conn:
        alerts_repo.insert_silence(conn, silence)
    console.print(f"silence {silence.id} until {silence.ends_at.isoformat(timespec='seconds')}")


@silence_app.command("list")
def silence_list(
    all_: bool = typer.Option(False, "--all", help="Also ended and expired silences."),
    fmt: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", help="table, json or csv."),
) -> None:
    """Silences not ended or expired (with --all: every one)."""
    from newsflow.store import alerts_repo

    with reading(current_settings()) as conn:
        found, total = alerts_repo.list_silences(conn, datetime.now(UTC), active_only=not all_, limit=1000)
    rows = [alerts_repo.silence_as_dict(s) for s in found]
    print_rows(rows, SILENCE_COLUMNS, fmt, f"silences: {len(rows)} of {total}")


@silence_app.command("expire")
def silence_expire(silence_id: str = typer.Argument(..., help="The silence's id.")) -> None:
    """End a silence now (``SilenceNotFoundError`` for an unknown id)."""
    from newsflow.store import alerts_repo

    with writing(current_settings()) as conn:
        silence = alerts_repo.expire_silence(conn, silence_id, datetime.now(UTC))
    console.print(f"silence {silence.id} expired at {(silence.expired_at or silence.ends_at).isoformat()}")
