"""``newsflow topics list|show|search|timeline|lineage``: the analysts' read layer on the command line.

Plain ``newsflow topics`` prints the list (most recently active first, as before). Every command
reads through ``newsflow.query`` (the same code as the REST API) and prints a rich table, or
``--format json|csv`` for scripts. An unknown id is ``TopicNotFoundError`` (one line, exit 1).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsflow.cli.options import OutputFormat, parse_time, write_csv, write_json
from newsflow.query.filters import StatusFilter, TopicFilters, TopicSort

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from newsflow.settings import Settings

console = Console()
topics_app = typer.Typer(help="Query topics: list, show, search, timeline, lineage.", invoke_without_command=True)

LIST_COLUMNS = ["id", "label", "status", "article_count", "outlet_count", "first_seen", "last_seen",
                "growth_score", "z_score", "keywords", "outlets", "languages", "representative_title"]  # fmt: skip
SPARK_BARS = " ▁▂▃▄▅▆▇█"


def register(app: typer.Typer) -> None:
    app.add_typer(topics_app, name="topics")


@contextmanager
def _reading(settings: Settings) -> Iterator[Connection]:
    from newsflow.store.database import open_store

    with open_store(settings, create=False).connect() as conn:  # a read never creates a store
        yield conn


def _settings() -> Settings:
    from newsflow.settings import load_settings

    return load_settings()


def _parse_time(value: str | None, what: str) -> datetime | None:
    """ISO-8601 (UTC if no zone) or relative (24h, 2d, yesterday); else ``InvalidTimeError`` (exit 1)."""
    return parse_time(value, what=what, assume_utc=True) if value else None


def _when(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M") if value else "-"


def _spark(counts: Sequence[int]) -> str:
    top = max(counts, default=0)
    if not top:
        return "·" * len(counts)
    return "".join(SPARK_BARS[round(c / top * (len(SPARK_BARS) - 1))] for c in counts)


def _flat(item: dict[str, Any]) -> dict[str, Any]:
    """A TopicSummary as one CSV row: lists joined, growth spread out."""
    growth = item.get("growth", {})
    return {**item, "growth_score": growth.get("growth_score"), "z_score": growth.get("z_score"),
            "keywords": " ".join(item["keywords"]), "outlets": "; ".join(item["outlets"]),
            "languages": " ".join(item["languages"])}  # fmt: skip


def topics_table(items: Sequence[dict[str, Any]], title: str, with_score: bool = False) -> Table:
    table = Table(title=title)
    columns = ["id", "topic", "articles", "outlets", "first seen", "last seen", "growth", "24 h", "top keywords"]
    for name in columns + (["score"] if with_score else []):
        table.add_column(name, justify="right" if name in {"id", "articles", "outlets", "growth", "score"} else "left")
    for t in items:
        # The representative headline is the topic's title, as a news reader expects; the keywords go beneath.
        title = t["representative_title"] or t["label"] or f"Topic {t['id']}"
        label = f"[bold]{escape(title)}[/]\n[dim]{escape(t['label'] or '-')}[/]"
        cells = [str(t["id"]), label, str(t["article_count"]), str(t["outlet_count"]), _when(t["first_seen"]),
                 _when(t["last_seen"]), f"{t['growth']['growth_score']:.1f}", _spark(t["sparkline"]),
                 ", ".join(t["keywords"][:6])]  # fmt: skip
        table.add_row(*cells, *([f"{t['score']:.3f}"] if with_score else []))
    return table


def print_topics_table(
    settings: Settings, limit: int = 20, min_size: int = 2, status: StatusFilter = StatusFilter.ACTIVE
) -> None:
    """The topics of one status (default: active) as a table, most recently active first (the demo's last step)."""
    from newsflow.query.listing import list_topics

    with _reading(settings) as conn:
        page = list_topics(conn, TopicFilters(min_size=min_size, status=status), sort=TopicSort.RECENT, limit=limit,
                           z_threshold=settings.alert_z_threshold)  # fmt: skip
    which = "" if status is StatusFilter.ACTIVE else f"{status.value} "
    if not page.items:
        console.print(f"No {which}topics with at least {min_size} articles yet.")
        return
    console.print(topics_table(page.items, f"{which.capitalize()}Topics (≥ {min_size} articles, most recent first)"))


def _print_items(items: list[dict[str, Any]], output: OutputFormat, title: str, with_score: bool = False) -> None:
    if output is OutputFormat.JSON:
        write_json(items)
    elif output is OutputFormat.CSV:
        write_csv([_flat(i) for i in items], LIST_COLUMNS + (["score"] if with_score else []))
    elif not items:
        console.print("No topics match.")
    else:
        console.print(topics_table(items, title, with_score))


@topics_app.callback()
def _topics_default(ctx: typer.Context) -> None:
    """Plain ``newsflow topics``: the list with its defaults."""
    if ctx.invoked_subcommand is None:
        print_topics_table(_settings())


FORMAT_OPTION = typer.Option(OutputFormat.TABLE, "--format", help="table, json or csv.")


@topics_app.command("list")
def list_command(
    since: str | None = typer.Option(
        None, "--since", help="Active at or after: ISO time (UTC if no zone) or 24h, 2d, 30m, 1w, today, yesterday."
    ),
    until: str | None = typer.Option(None, "--until", help="Active at or before (same forms as --since)."),
    language: str | None = typer.Option(None, "--language", help="Only topics with articles in this language."),
    outlet: str | None = typer.Option(None, "--outlet", help="Only topics covered by this outlet."),
    min_size: int = typer.Option(2, "--min-size", min=1, help="At least this many articles."),
    growing: bool = typer.Option(False, "--growing", help="Only topics growing now (z-score >= alert threshold)."),
    status: StatusFilter = typer.Option(StatusFilter.ACTIVE, "--status", help="active, faded, merged or all."),
    sort: TopicSort = typer.Option(TopicSort.RECENT, "--sort", help="recent, growth or size."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many topics."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many."),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """List topics with filters (default: active, ≥ 2 articles, most recently active first)."""
    from newsflow.query.listing import list_topics

    settings = _settings()
    filters = TopicFilters(since=_parse_time(since, "--since"), until=_parse_time(until, "--until"),
                           language=language, outlet=outlet, min_size=min_size, growing=growing,
                           status=status)  # fmt: skip
    with _reading(settings) as conn:
        page = list_topics(conn, filters, sort=sort, limit=limit, offset=offset,
                           z_threshold=settings.alert_z_threshold)  # fmt: skip
    shown = f"{offset + 1}-{offset + len(page.items)} of {page.total}"
    title = f"Topics {shown} (by {sort.value}, as of {page.as_of:%Y-%m-%d %H:%M})"
    _print_items(page.items, output, title)


@topics_app.command("search")
def search_command(
    text: str = typer.Argument(..., help="Words to look for (or a description, with --semantic)."),
    semantic: bool = typer.Option(False, "--semantic", help="Nearest topics by meaning (embedding model)."),
    status: StatusFilter = typer.Option(
        StatusFilter.CURRENT, "--status", help="Keyword search: current (not merged), active, faded, merged or all."
    ),
    limit: int = typer.Option(20, "--limit", min=1),
    offset: int = typer.Option(0, "--offset", min=0),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Keyword search over labels, keywords and headlines, or semantic search over topic centroids."""
    from newsflow.query.listing import keyword_search
    from newsflow.query.semantic import CentroidIndex, LazyEncoder, semantic_search

    settings = _settings()
    if not text.strip() or len(text) > settings.api_max_query_chars:
        raise typer.BadParameter(f"give 1 to {settings.api_max_query_chars} characters of search text")
    with _reading(settings) as conn:
        if semantic:
            page = semantic_search(conn, CentroidIndex(), LazyEncoder(settings), text, limit=limit, offset=offset)
        else:
            filters = TopicFilters(q=text, status=status)
            page = keyword_search(conn, text, limit=limit, offset=offset, filters=filters)
    mode = "semantic" if semantic else "keyword"
    _print_items(page.items, output, f"{mode} search {text!r}: {page.total} topics", with_score=True)


@topics_app.command("show")
def show_command(
    topic_id: int = typer.Argument(..., help="Topic id."),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """One topic: summary, growth, articles grouped by outlet, provenance, lineage (csv: its articles)."""
    from newsflow.query.detail import topic_detail

    settings = _settings()
    with _reading(settings) as conn:
        detail = topic_detail(conn, topic_id, max_articles=settings.api_max_articles_per_topic,
                              max_hours=settings.api_max_timeline_hours)  # fmt: skip
    if output is OutputFormat.JSON:
        write_json(detail)
        return
    articles = [{**a, "topic_id": topic_id} for group in detail["articles_by_outlet"] for a in group["articles"]]
    if output is OutputFormat.CSV:
        write_csv(articles, ["topic_id", "outlet", "published_at", "language", "title", "url", "id"])
        return
    _print_detail(detail, articles)


def _print_detail(detail: dict[str, Any], articles: list[dict[str, Any]]) -> None:
    growth = detail["growth"]
    console.print(f"[bold]Topic {detail['id']}: {detail['label'] or '-'}[/] ({detail['status']})")
    if detail.get("merged_into") is not None:
        console.print(f"[bold]{_merged_note(detail)}[/]: its articles are there now")
    console.print(f"[dim]{detail['representative_title']}[/]")
    console.print(f"{detail['article_count']} articles from {detail['outlet_count']} outlets "
                  f"({', '.join(detail['outlets'])}); languages: {', '.join(detail['languages']) or '-'}")  # fmt: skip
    console.print(f"seen {_when(detail['first_seen'])} .. {_when(detail['last_seen'])}; keywords: "
                  f"{', '.join(detail['keywords'])}")  # fmt: skip
    console.print(f"entities: {', '.join(detail['entities']) or '-'}", markup=False)
    hourly = _spark([p["count"] for p in detail["growth_series"]])
    console.print(f"growth score {growth['growth_score']:.2f}, z {growth['z_score']:.2f}, "
                  f"{growth['recent_count']} recent; hourly: {hourly}")  # fmt: skip
    table = Table(title=f"Articles ({len(articles)} of {detail['articles_total']}, by outlet)")
    for name in ("outlet", "published", "title", "url"):
        table.add_column(name)
    for a in articles:
        table.add_row(a["outlet"], _when(a["published_at"]), a["title"], a["url"])
    console.print(table)
    _print_provenance(detail.get("provenance") or {})
    _print_lineage(detail["lineage"], detail)


def _print_provenance(provenance: dict[str, Any]) -> None:
    """Who reported first and each other outlet's lag; a time that is a fetch time says so."""
    entries = provenance.get("outlets") or []
    if not entries:
        return
    table = Table(title=f"Provenance (first: {escape(provenance['first_outlet'])} at {_when(provenance['first_at'])})")
    for name in ("outlet", "first report", "lag", "time from"):
        table.add_column(name, justify="right" if name == "lag" else "left")
    for e in entries:
        lag = "first" if e["first"] else f"+{e['lag_minutes']:g} min"
        table.add_row(escape(e["outlet"]), _when(e["first_at"]), lag, e["time_source"])
    console.print(table)


def _print_lineage(events: list[dict[str, Any]], links: dict[str, Any]) -> None:
    table = Table(title="Lineage")
    for name in ("at", "event", "related", "articles", "label"):
        table.add_column(name)
    for e in events:
        table.add_row(_when(e["at"]), e["kind"], ", ".join(map(str, e["related"])), str(e["article_count"]), e["label"])
    console.print(table)
    for key in ("merged_from", "split_into", "split_from"):
        if links[key]:
            console.print(f"{key.replace('_', ' ')}: {', '.join(map(str, links[key]))}")
    if links.get("merged_into") is not None:
        console.print(_merged_note(links))


def _merged_note(links: dict[str, Any]) -> str:
    """ "merged into #27 at 2025-02-13 14:00 UTC" (the time when the survivor's lineage records it)."""
    at = f" at {_when(links['merged_at'])}" if links.get("merged_at") else ""
    return f"merged into #{links['merged_into']}{at}"


@topics_app.command("timeline")
def timeline_command(
    topic_id: int = typer.Argument(..., help="Topic id."),
    hours: int | None = typer.Option(None, "--hours", min=1, help="Hours up to the topic's last article."),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Hourly article counts of a topic, zeros included."""
    from newsflow.query.detail import topic_timeline

    settings = _settings()
    with _reading(settings) as conn:
        timeline = topic_timeline(conn, topic_id, min(hours or settings.api_max_timeline_hours,
                                                      settings.api_max_timeline_hours))  # fmt: skip
    series = timeline["series"]
    if output is OutputFormat.JSON:
        write_json(timeline)
    elif output is OutputFormat.CSV:
        write_csv(series, ["hour", "count"])
    else:
        top = max((p["count"] for p in series), default=0) or 1
        table = Table(title=f"Topic {topic_id}: articles per hour")
        for name in ("hour", "count", ""):
            table.add_column(name)
        for p in series:
            table.add_row(_when(p["hour"]), str(p["count"]), "█" * round(p["count"] / top * 40))
        console.print(table)


@topics_app.command("lineage")
def lineage_command(
    topic_id: int = typer.Argument(..., help="Topic id."),
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Lineage events of a topic and what it merged from, split into or split from."""
    from newsflow.query.detail import topic_lineage

    with _reading(_settings()) as conn:
        lineage = topic_lineage(conn, topic_id)
    if output is OutputFormat.JSON:
        write_json(lineage)
    elif output is OutputFormat.CSV:
        rows = [{**e, "related": " ".join(map(str, e["related"]))} for e in lineage["events"]]
        write_csv(rows, ["at", "kind", "related", "article_count", "label"])
    else:
        console.print(f"[bold]Topic {topic_id}[/]")
        _print_lineage(lineage["events"], lineage)
