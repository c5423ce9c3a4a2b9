"""ingest_feeds: poll every due feed, one mapped task per feed, and publish new articles to Kafka.

Thin on purpose: the work is ``ingest.runner`` (the same code as ``newsflow ingest once``);
newsflow is imported inside the tasks so parsing this file stays cheap for the scheduler.
Settings come from the environment of the worker (``NEWSFLOW_*``, e.g. NEWSFLOW_DATABASE_URL).

Idempotence: feeds are listed as due at the run's data-interval end, and a feed task that was
already polled since then (a cleared or re-run task) does nothing; otherwise conditional GET
and the ingest ledger make a repeated poll publish nothing twice. A feed's own failures
(timeouts, bad XML, HTTP errors) are recorded in its health row with backoff and the task
succeeds; only broker or store failures fail the task, and those are retried.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

# At most this many feeds are fetched at once per run: polite to outlets, easy on the broker.
MAX_PARALLEL_FEEDS = 8


def _interval_end(context: dict[str, Any]) -> datetime:
    end = context.get("data_interval_end") or context.get("logical_date")
    return end.astimezone(UTC) if end else datetime.now(UTC)


@dag(
    dag_id="ingest_feeds",
    schedule=timedelta(minutes=15),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    tags=["newsflow", "ingest"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True},
    doc_md=__doc__,
)
def ingest_feeds() -> None:
    @task
    def due_feeds(**context: Any) -> list[str]:
        """Names of the enabled feeds due at the end of this run's data interval."""
        from ingest.runner import due_feed_names
        from newsflow.settings import load_settings

        return due_feed_names(load_settings(), as_of=_interval_end(context))

    @task(max_active_tis_per_dagrun=MAX_PARALLEL_FEEDS, map_index_template="{{ feed_name }}")
    def poll_feed(feed_name: str, **context: Any) -> dict[str, Any]:
        """Poll one feed; returns its outcome (also written to the feed's health row)."""
        from airflow.sdk import get_current_context

        from ingest.errors import UnknownFeed
        from ingest.runner import run_polls
        from newsflow.settings import load_settings

        get_current_context()["feed_name"] = feed_name  # type: ignore[typeddict-unknown-key]  # names the map index
        try:
            [outcome] = run_polls(load_settings(), [feed_name], skip_if_polled_since=_interval_end(context))
        except UnknownFeed:  # removed since the listing: nothing to do, nothing to retry
            return {"feed": feed_name, "outcome": "removed", "published": 0}
        return outcome.as_dict()

    @task(trigger_rule="all_done")
    def summarise(outcomes: list[dict[str, Any]]) -> dict[str, int]:
        """Totals for the run (the task log lists failed feeds by name)."""
        import logging

        log = logging.getLogger("newsflow.dags.ingest_feeds")
        totals: dict[str, int] = {"feeds": 0, "published": 0, "failed": 0}
        # Indexing up to len() instead of iterating: iterating the lazy XCom sequence probes one past
        # the end, which Airflow logs as an error.
        for o in (outcomes[i] for i in range(len(outcomes or []))):
            if not o:
                continue
            totals["feeds"] += 1
            totals["published"] += int(o.get("published", 0))
            if o.get("outcome") == "failed":
                totals["failed"] += 1
                log.warning("feed %s failed: %s", o.get("feed"), o.get("error"))
        log.info("ingest run: %s", totals)
        return totals

    summarise(poll_feed.expand(feed_name=due_feeds()))  # type: ignore[arg-type]  # XComArg: a list at run time


ingest_feeds()
