"""ingest_feeds: poll every due feed and publish new articles to Kafka, politely per host.

Thin on purpose: the work is ``ingest.runner`` (the same code as ``newsflow ingest once``);
newsflow is imported inside the tasks so parsing this file stays cheap for the scheduler.
Settings come from the environment of the worker (``NEWSFLOW_*``, e.g. NEWSFLOW_DATABASE_URL).

Per-host concurrency: the due feeds are grouped by host into lanes (``ingest.hosts``) and one
mapped task polls one lane's feeds one after the other, so a host never gets more than
``MAX_REQUESTS_PER_HOST`` requests at once, whatever the executor runs in parallel; different
hosts run side by side, at most ``MAX_PARALLEL_HOSTS`` lanes at a time. Each mapped task is
named after its host in the UI, and its log and XCom list one outcome per feed.

Idempotence: feeds are listed as due at the run's data-interval end, and a feed that was
already polled since then (a cleared or retried task) is skipped; otherwise conditional GET
and the ingest ledger make a repeated poll publish nothing twice. A feed's own failures
(timeouts, bad XML, HTTP errors) are recorded in its health row with backoff and the task
succeeds; only broker or store failures fail the task, and its retry skips the lane's feeds
that were already done.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from newsflow.dag_support import EVERY_15_MINUTES, interval_end, schedule_args

# One request at a time per host: what feed readers do, and what outlets' rate limits expect.
MAX_REQUESTS_PER_HOST = 1
# At most this many lanes (hosts) are polled at once per run: easy on the workers and the broker.
MAX_PARALLEL_HOSTS = 8


@dag(
    dag_id="ingest_feeds",
    **schedule_args(EVERY_15_MINUTES, timeout=timedelta(minutes=30), tag="ingest"),
    doc_md=__doc__,
)
def ingest_feeds() -> None:
    @task
    def due_hosts(**context: Any) -> list[dict[str, Any]]:
        """The enabled feeds due at the end of this run's data interval, as host lanes."""
        from ingest.runner import due_host_lanes
        from newsflow.settings import load_settings

        lanes = due_host_lanes(load_settings(), as_of=interval_end(context), per_host=MAX_REQUESTS_PER_HOST)
        return [lane.as_dict() for lane in lanes]

    @task(max_active_tis_per_dagrun=MAX_PARALLEL_HOSTS, map_index_template="{{ host_lane }}")
    def poll_host(lane: dict[str, Any], **context: Any) -> list[dict[str, Any]]:
        """Poll one host lane's feeds in turn; one outcome per feed (also written to each feed's health row)."""
        from airflow.sdk import get_current_context

        from ingest.runner import run_polls
        from newsflow.settings import load_settings

        get_current_context()["host_lane"] = lane["label"]  # type: ignore[typeddict-unknown-key]  # names the map index
        outcomes = run_polls(
            load_settings(), lane["feeds"], skip_if_polled_since=interval_end(context), missing_ok=True
        )
        return [o.as_dict() for o in outcomes]

    @task(trigger_rule="all_done")
    def summarise(lanes: list[list[dict[str, Any]]]) -> dict[str, int]:
        """Totals for the run (the task log lists failed feeds by name)."""
        import logging

        log = logging.getLogger("newsflow.dags.ingest_feeds")
        totals: dict[str, int] = {"hosts": 0, "feeds": 0, "published": 0, "failed": 0}
        # Indexing up to len() instead of iterating: iterating the lazy XCom sequence probes one past
        # the end, which Airflow logs as an error. A lane whose task failed has no XCom (None).
        lane_outcomes = [lanes[i] for i in range(len(lanes or []))]
        totals["hosts"] = sum(1 for lane in lane_outcomes if lane is not None)
        for o in (o for lane in lane_outcomes for o in lane or []):
            totals["feeds"] += 1
            totals["published"] += int(o.get("published", 0))
            if o.get("outcome") == "failed":
                totals["failed"] += 1
                log.warning("feed %s failed: %s", o.get("feed"), o.get("error"))
        log.info("ingest run: %s", totals)
        return totals

    summarise(poll_host.expand(lane=due_hosts()))  # type: ignore[arg-type]  # XComArg: a list at run time


ingest_feeds()
