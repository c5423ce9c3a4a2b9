"""``newsflow demo``: the main job end to end on the embedded default store.

Sample feeds served on 127.0.0.1 → the Airflow DAG ``ingest_feeds`` (``airflow dags test``) →
Kafka ``news.articles`` → the clustering worker → re-clustering → a table of topics. Each step
uses the same code as production; only the feeds are local. The feeds carry live times (the newest
item is published "now"); the German sample (default) ends with where the seed's story lines went.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from newsflow.errors import NewsflowError
from newsflow.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from newsflow.records.feed import FeedSpec
    from newsflow.samplefeeds import Sample

log = logging.getLogger(__name__)
console = Console()


SEED_FEED = "welt.de"  # the sample feed holding the seed article (newsflow.samplefeeds)
DEFAULT_FEEDS: dict[str, int | None] = {"de": None, "en": 15}  # outlets served by default (None: all)
RECLUSTER_DAG = "recluster_topics"
CATCH_UP_EVERY = timedelta(days=1)  # the DAG runs every 15 minutes; a day is enough for a sample dated by day


class DemoStepError(NewsflowError):
    """A step of the demo pipeline failed; the message says which and where its log is."""


def _run_ingest_dag(settings: Settings) -> None:
    """Run ``ingest_feeds`` once through Airflow, as its own process so Airflow owns its logging."""
    from newsflow.infra.airflow_local import airflow_environment, migrate_db

    migrate_db(settings)  # idempotent; `newsflow infra up` did it already unless the state dir is new
    env = {**os.environ, **airflow_environment(settings)}
    env.update(
        NEWSFLOW_STATE_DIR=str(settings.state_dir),
        NEWSFLOW_DATABASE_URL=settings.database_url,
        NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        NEWSFLOW_KAFKA_TOPIC_PREFIX=settings.kafka_topic_prefix,
        NEWSFLOW_ALLOW_PRIVATE_FEED_ADDRESSES="true",  # the sample feeds live on 127.0.0.1
    )
    log_path = settings.state_dir / "logs" / "demo-ingest-dag.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "airflow", "dags", "test", "ingest_feeds"]
    with log_path.open("w") as log_file:
        result = subprocess.run(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, timeout=1800)
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(empty log)"]
        raise DemoStepError(f"`airflow dags test ingest_feeds` exited {result.returncode}: {tail[0]} (log: {log_path})")
    console.print(f"  DAG run finished (log: {log_path})")


def _seed_article_line(settings: Settings) -> str:
    from sqlalchemy import select

    from newsflow.store import schema
    from newsflow.store.database import open_store

    engine = open_store(settings)
    query = (
        select(schema.articles.c.title, schema.topic_memberships.c.topic_id)
        .select_from(schema.articles.outerjoin(schema.topic_memberships))
        .where(schema.articles.c.feed_name == SEED_FEED)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise DemoStepError("the welt.de seed article did not reach the store")
    where = f"topic {row.topic_id}" if row.topic_id is not None else "unassigned (no similar coverage yet)"
    return f"seed article in the store: “{row.title}” → {where}"


def _store_placements(settings: Settings) -> tuple[dict[str, int | None], dict[int, str]]:
    """(article URL -> topic id or None, topic id -> label) for every stored article."""
    from sqlalchemy import select

    from newsflow.store import schema
    from newsflow.store.database import open_store

    articles, memberships, topics = schema.articles, schema.topic_memberships, schema.topics
    query = select(articles.c.url, memberships.c.topic_id).select_from(articles.outerjoin(memberships))
    with open_store(settings).connect() as conn:
        placed = {row.url: row.topic_id for row in conn.execute(query)}
        labels = {row.id: row.label for row in conn.execute(select(topics.c.id, topics.c.label))}
    return placed, labels


def _story_line_lines(settings: Settings) -> list[str]:
    """The closing summary on the German sample: the seed's story lines, by gold label, as stored."""
    from ingest.urls import canonical_url
    from newsflow.samplefeeds import WELT_LINK, gold_stories
    from newsflow.samplefeeds.storylines import render_story_lines, summarise_story_lines

    placed, labels = _store_placements(settings)
    gold = {canonical_url(link): story for link, story in gold_stories(sample="de").items()}
    summary = summarise_story_lines(placed, gold, seed=canonical_url(WELT_LINK))
    return render_story_lines(summary, labels)


def _pause_other_sample_feeds(engine: Engine, specs: list[FeedSpec]) -> None:
    """Feeds of an earlier demo run over the other sample point at a server that is gone: pause them."""
    from newsflow.store.feeds_repo import list_feeds, set_enabled

    wanted = {s.name for s in specs}
    for feed in list_feeds(engine, enabled_only=True):
        if "sample" in feed.tags and feed.name not in wanted:
            set_enabled(engine, feed.name, False)


def _publication_range(settings: Settings) -> tuple[datetime | None, datetime | None]:
    """The oldest and newest publication time stored: "now" for the live-timed sample feeds is the newest,
    also on a rerun."""
    from sqlalchemy import func, select

    from newsflow.store import schema
    from newsflow.store.database import open_store

    published = schema.articles.c.published_at
    with open_store(settings).connect() as conn:
        first, last = conn.execute(select(func.min(published), func.max(published))).one()
    return first, last


def run_demo(settings: Settings, feeds: int | None, sample: Sample = "de") -> None:
    from clustering.jobs import catch_up
    from clustering.worker import run_worker
    from newsflow.alerts.evaluate import evaluate_alerts
    from newsflow.cli.topics_cmd import print_topics_table
    from newsflow.kafka import ensure_topics
    from newsflow.query.filters import StatusFilter
    from newsflow.samplefeeds import sample_feed_specs, serve_sample_feeds
    from newsflow.store.database import open_store
    from newsflow.store.feeds_repo import register_feeds

    started = time.monotonic()
    engine = open_store(settings)
    ensure_topics(settings)
    with serve_sample_feeds(sample=sample, now=datetime.now(UTC)) as server:
        specs = sample_feed_specs(server, top_n=feeds)
        register_feeds(engine, specs)
        _pause_other_sample_feeds(engine, specs)
        console.print(
            f"[bold]1/5[/] serving {len(specs)} sample feeds ({sample}, live times) at {server.base_url};"
            " running DAG ingest_feeds"
        )
        _run_ingest_dag(settings)
    console.print("[bold]2/5[/] clustering worker: consuming news.articles until idle")
    report = run_worker(settings, until_idle=True, idle_timeout_s=5.0)
    console.print(f"  {report}")
    first, sample_now = _publication_range(settings)
    # The sample's weeks arrive at once: re-cluster each day of them as the recluster_topics DAG would
    # have while they came in, then the recent window (German story lines: the rare-earth deal 3 topics
    # and 3 unassigned articles -> 1 topic of 14, the peace talks 6 topics and 4 unassigned -> 4 and 0).
    console.print(f"[bold]3/5[/] re-clustering (HDBSCAN) each day of the sample, as {RECLUSTER_DAG} would have")
    reports = catch_up(settings, first or sample_now, sample_now, every=CATCH_UP_EVERY) if sample_now else []
    console.print(f"  {len(reports)} re-clusterings; the last: {reports[-1] if reports else 'none (no articles)'}")
    console.print("[bold]4/5[/] growth alerts (DAG evaluate_alerts' job) at the sample clock")
    alerts = evaluate_alerts(settings, now=sample_now)
    console.print(f"  {alerts.topics_evaluated} topics measured, {alerts.firing} alert(s) firing")
    console.print("[bold]5/5[/] topics")
    print_topics_table(settings, limit=25, min_size=2)
    # A stream of weeks: most of its stories have faded out of the re-clustering's window by now.
    print_topics_table(settings, limit=25, min_size=2, status=StatusFilter.FADED)
    console.print(_seed_article_line(settings))
    if sample == "de":
        for line in _story_line_lines(settings):
            console.print(line, highlight=False, markup=False)
    console.print(f"demo finished in {time.monotonic() - started:.0f} s; store: {settings.database_url}")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        sample: str = typer.Option(
            "de", "--sample", help="Sample feeds: de (German stream of early 2025) or en (UCI English headlines)."
        ),
        feeds: int | None = typer.Option(
            None, min=1, help="How many sample outlets to serve (plus welt.de); default: all for de, 15 for en."
        ),
    ) -> None:
        """Run the main job end to end on local Kafka + SQLite over the bundled sample feeds."""
        from newsflow.settings import load_settings

        chosen = _sample_option(sample)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        settings = load_settings()
        Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
        run_demo(settings, feeds if feeds is not None else DEFAULT_FEEDS[chosen], chosen)


def _sample_option(value: str) -> Sample:
    from newsflow.samplefeeds import parse_sample

    try:
        return parse_sample(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--sample") from exc
