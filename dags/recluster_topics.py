"""recluster_topics: every 15 minutes, re-cluster the recent window and publish lineage events.

Thin on purpose: the work is ``clustering.jobs.recluster_now`` (the same code as ``newsflow
recluster``); newsflow and its heavy dependencies (torch, hdbscan) are imported inside the tasks
so parsing this file stays cheap for the scheduler. Settings come from the worker's environment
(``NEWSFLOW_*``).

Idempotence: the window ends at the run's data-interval end, so a re-run of the same interval plans
against the same articles and stores the same events once (they are unique per topic, kind and
time). Events are written to the store's outbox in the re-clustering's transaction; the second task
publishes whatever is pending, so a broker outage retries only the publishing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

from newsflow.dag_support import EVERY_15_MINUTES, interval_end, schedule_args


@dag(
    dag_id="recluster_topics",
    # One run at a time (schedule_args): two re-clusterings at once would race for the same topic ids.
    **schedule_args(EVERY_15_MINUTES, timeout=timedelta(minutes=14), tag="clustering"),
    doc_md=__doc__,
)
def recluster_topics() -> None:
    @task
    def recluster(**context: Any) -> dict[str, Any]:
        """HDBSCAN over the window, reconcile topic ids, record lineage (in one transaction)."""
        from clustering.jobs import recluster_now
        from newsflow.settings import load_settings

        return recluster_now(load_settings(), now=interval_end(context), publish_events=False).as_dict()

    @task
    def publish_events(report: dict[str, Any]) -> int:
        """Send pending lineage events to the topic-events Kafka topic (retried on broker errors)."""
        from clustering.lineage_outbox import publish_pending_events
        from newsflow.settings import load_settings
        from newsflow.store.database import open_store

        settings = load_settings()
        return publish_pending_events(open_store(settings), settings, datetime.now(UTC))

    publish_events(recluster())  # type: ignore[arg-type]  # XComArg: the report dict at run time


recluster_topics()
