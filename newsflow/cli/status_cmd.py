"""``newsflow status``: the store in use, consumer lag, failing and paused feeds, last ingest and
re-clustering, alerts, dead letters. A list it cuts ends with ``… and N more``."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from newsflow.pipeline_status import PipelineStatus, Section

console = Console()
FEEDS_SHOWN = 10  # feed lines under "feeds failing"; the rest are "… and N more"


class StatusFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def _lag_lines(value: dict[str, Any]) -> list[str]:
    parts = ", ".join(f"p{p['partition']}={p['lag']}" for p in value["partitions"]) or "no partitions"
    return [f"consumer lag: {value['total']} ({value['group']} on {value['topic']}: {parts})"]


def more_line(shown: int, total: int, where: str) -> list[str]:
    """``  … and N more (where)`` when a list was cut, else nothing."""
    return [f"  … and {total - shown} more ({where})"] if total > shown else []


def _feed_state(feed: dict[str, Any]) -> str:
    failures = feed["consecutive_failures"]
    if feed["paused"]:
        return f"paused after {failures} failures" if failures else "paused"
    return f"{failures} failures"


def _feeds_lines(value: dict[str, Any]) -> list[str]:
    lines = [f"feeds failing: {value['count']} of {value['feeds_total']}; paused: {value['paused']}"]
    shown = value["feeds"][:FEEDS_SHOWN]
    for f in shown:
        lines.append(f"  {f['feed']}: {_feed_state(f)}; {f['last_error'] or '-'}")
    return lines + more_line(len(shown), len(value["feeds"]), "`newsflow feeds health`")


def _alerts_lines(value: dict[str, Any]) -> list[str]:
    lines = [f"alerts firing: {value['count']}"]
    for a in value["top"]:
        silenced = f" (silenced by {a['silenced_by']})" if a["silenced_by"] else ""
        lines.append(f"  topic {a['topic_id']} [{a['rule']}] since {a['fired_at']}: {a['summary']}{silenced}")
    return lines + more_line(len(value["top"]), value["count"], "`newsflow alerts list`")


def _dag_line(dag: dict[str, Any]) -> str:
    """ "ingest_feeds success at 2026-12-04 21:10 (scheduled)", "… paused", "… not parsed yet"."""
    if dag["paused"] is None:
        return f"{dag['dag_id']} not parsed yet"
    run = f"{dag['last_state']} at {dag['last_run_after']} ({dag['last_run_type']})" if dag["last_state"] else "no runs"
    return f"{dag['dag_id']} {run}{', paused' if dag['paused'] else ''}"


def section_lines(section: Section) -> list[str]:
    """The human-readable lines of one section; a section that failed is one ``name: ErrorName: ...`` line."""
    title = section.name.replace("_", " ")
    if section.error is not None:
        return [f"{title}: {section.error}"]
    value = section.value or {}
    if section.name == "store":
        return [f"store: {value['url']} ({value['origin']})"]
    if section.name == "consumer_lag":
        return _lag_lines(value)
    if section.name == "feeds_failing":
        return _feeds_lines(value)
    if section.name == "alerts_firing":
        return _alerts_lines(value)
    if section.name == "last_ingest":
        return [f"last ingest: {value['last_success_at'] or 'never'} (last poll {value['last_polled_at'] or 'never'})"]
    if section.name == "last_recluster":
        return [f"last re-clustering: {value['last_run_at'] or 'never'}"]
    if section.name == "dag_runs":
        return ["dag runs: " + " · ".join(_dag_line(d) for d in value["dags"])]
    if section.name == "dead_letters":
        return [f"dead letters: {value['count']} ({value['not_replayed']} not replayed; `newsflow dlq list`)"]
    return [f"{title}: {value.get('count', value)}"]


def render_status(report: PipelineStatus) -> str:
    """One line per section (more for lists); the store's error is written out once, on its own line."""
    store_error = next((s.error for s in report.sections if s.name == "store"), None)
    lines = []
    for s in report.sections:
        if store_error and s.name != "store" and s.error == store_error:
            lines.append(f"{s.name.replace('_', ' ')}: {store_error.split(':')[0]} (see store)")
        else:
            lines += section_lines(s)
    return "\n".join(lines)


def status(
    fmt: StatusFormat = typer.Option(StatusFormat.TABLE, "--format", help="table or json."),
) -> None:
    """Summarise the pipeline; exit status 1 only when the store cannot be reached."""
    import logging

    from newsflow.pipeline_status import collect_status
    from newsflow.settings import load_settings

    # a broker that is down is one line of the report, not screens of kafka-python's reconnect log
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    report = collect_status(load_settings())
    if fmt is StatusFormat.JSON:
        console.print_json(json.dumps(report.as_dict()))
    else:
        console.print(render_status(report), markup=False, highlight=False, soft_wrap=True)  # a line stays one line
    if not report.store_ok:
        # SystemExit, not typer.Exit: main() runs typer with standalone_mode=False, which drops Exit's code
        raise SystemExit(1)
