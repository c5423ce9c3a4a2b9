"""CLI for clustering: ``newsflow worker``, ``newsflow recluster``, ``newsflow topics``, ``newsflow eval``.

Settings are built here (entry point) and passed down; heavy imports (torch, hdbscan, SQLAlchemy)
happen inside the commands so ``newsflow --help`` stays fast.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from newsflow.settings import Settings

console = Console()


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("recluster")(recluster)
    app.command("topics")(topics)
    app.command("eval")(evaluate)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise typer.BadParameter("give a timezone, e.g. 2025-02-13T12:00:00+00:00")
    return parsed.astimezone(UTC)


def worker(
    until_idle: bool = typer.Option(False, "--until-idle", help="Stop once no message arrived for --idle-timeout s."),
    idle_timeout: float = typer.Option(10.0, "--idle-timeout", help="Seconds without messages before stopping."),
) -> None:
    """Consume articles from Kafka, embed and assign them to topics, store them (Ctrl-C/SIGTERM stops cleanly)."""
    from clustering.worker import run_worker
    from newsflow.settings import load_settings

    report = run_worker(load_settings(), until_idle=until_idle, idle_timeout_s=idle_timeout)
    console.print_json(json.dumps(report.as_dict()))


def recluster(
    now: str | None = typer.Option(None, "--now", help="Re-cluster as of this ISO-8601 time (default: now)."),
) -> None:
    """Re-cluster the recent window with HDBSCAN, reconcile topic ids, record and publish lineage events."""
    from clustering.jobs import recluster_now
    from newsflow.settings import load_settings

    report = recluster_now(load_settings(), now=_parse_time(now))
    console.print_json(json.dumps(report.as_dict(), default=str))


def topic_rows(settings: Settings, limit: int, min_size: int) -> list[dict[str, Any]]:
    from newsflow.store.database import open_store
    from newsflow.store.topics_repo import list_topics

    with open_store(settings).connect() as conn:
        return list_topics(conn, limit=limit, min_size=min_size)


def print_topics_table(settings: Settings, limit: int = 20, min_size: int = 2) -> None:
    """The current topics as a table: id, label (with its representative headline), sizes, times, keywords."""
    rows = topic_rows(settings, limit, min_size)
    table = Table(title=f"Topics (≥ {min_size} articles, most recent first)", show_lines=False)
    for name, justify in [("id", "right"), ("label", "left"), ("articles", "right"), ("outlets", "right"),
                          ("first seen", "left"), ("last seen", "left"), ("top keywords", "left")]:  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        label = f"[bold]{r['label'] or '-'}[/]\n[dim]{r['representative_title']}[/]"
        table.add_row(
            str(r["id"]), label, str(r["article_count"]), str(r["outlet_count"]),
            _when(r["first_seen"]), _when(r["last_seen"]), ", ".join(r["keywords"][:6]),
        )  # fmt: skip
    if not rows:
        console.print(f"No topics with at least {min_size} articles yet.")
        return
    console.print(table)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def topics(
    limit: int = typer.Option(20, "--limit", min=1, help="How many topics."),
    min_size: int = typer.Option(2, "--min-size", min=1, help="Only topics with at least this many articles."),
    output: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", help="table, json or csv."),
) -> None:
    """List current topics, most recently active first."""
    from newsflow.settings import load_settings

    settings = load_settings()
    if output is OutputFormat.TABLE:
        print_topics_table(settings, limit=limit, min_size=min_size)
        return
    rows = [_plain(r) for r in topic_rows(settings, limit, min_size)]
    if output is OutputFormat.JSON:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    cols = [
        "id",
        "label",
        "article_count",
        "outlet_count",
        "first_seen",
        "last_seen",
        "keywords",
        "representative_title",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=cols, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "keywords": " ".join(r["keywords"])})
    sys.stdout.write(buffer.getvalue())


def evaluate(
    input_path: Path | None = typer.Argument(
        None, help="JSONL: id, title, text, published, story?, source?, language?"
    ),
    out: Path | None = typer.Option(None, "--out", help="Write id<TAB>topic_id for every article here."),
    make_input: Path | None = typer.Option(
        None, "--make-input", help="Instead: write evaluation JSONL files from a stories folder into this directory."
    ),
    stories: Path = typer.Option(Path("../shared/data/stories"), "--stories", help="Folder with the labelled sets."),
) -> None:
    """Stream labelled articles through the clustering on a simulated clock; print B-cubed and pairwise scores."""
    from newsflow.settings import load_settings

    if make_input is not None:
        from clustering.eval_data import write_eval_inputs

        for path, count in write_eval_inputs(stories, make_input, seed=load_settings().random_seed).items():
            console.print(f"wrote {count} articles to {path}")
        return
    if input_path is None or out is None:
        raise typer.BadParameter("give INPUT.jsonl and --out PRED.tsv (or --make-input DIR)")
    from clustering.evaluate import run_evaluation

    result = run_evaluation(load_settings(), input_path, out)
    console.print(f"wrote {result.articles} predictions to {out} ({result.clusters} clusters, {result.seconds:.1f} s)")
    if result.scores:
        for key, value in result.scores.items():
            console.print(f"{key:>20}: {value:.4f}" if isinstance(value, float) else f"{key:>20}: {value}")
