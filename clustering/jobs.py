"""``recluster_now``: the re-clustering job, shared by ``newsflow recluster`` and the Airflow DAG;
``catch_up``: its runs over a stretch of past time, as the DAG would have made them.

Loads the window from the store, plans the re-clustering (``plan.py``), applies the plan in one
transaction (topics, memberships, statistics, summaries, lineage events, the job's bookkeeping),
then publishes the new lineage events on the topic-events Kafka topic from the store's outbox.
A broker outage does not undo the re-clustering: the events stay pending and go out with the next
run or the next worker batch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.lineage_outbox import publish_pending_events
from clustering.reclustering.plan import ReclusterPlan, plan_recluster
from clustering.sql_state import RECLUSTER_JOB, SqlTopicWrites, load_window, next_topic_id
from clustering.topic_state import apply_plan
from clustering.window import window_start
from newsflow.errors import BrokerUnavailableError
from newsflow.settings import Settings
from newsflow.store import lineage_repo, memberships_repo, topics_repo
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache

log = logging.getLogger(__name__)
_RETRIES = 3


@dataclass
class ReclusterReport:
    at: datetime
    window_articles: int = 0
    clusters: int = 0
    unassigned: int = 0
    changed_memberships: int = 0
    new_topics: list[int] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    events_published: int = 0
    events_pending: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


def as_utc(when: datetime) -> datetime:
    """A plain aware UTC ``datetime`` (Airflow hands out pendulum objects, which the store must not see)."""
    if when.tzinfo is None:
        raise ValueError("a re-clustering time must carry a timezone")
    utc = when.astimezone(UTC)
    return datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=UTC)


def commit_plan(engine: Engine, plan: ReclusterPlan, report: ReclusterReport, window_from: datetime) -> None:
    """Write one plan in one transaction; ``IntegrityError`` if a new topic id was taken meanwhile.

    Also drops the membership tombstones from before ``window_from``: this commit makes every worker
    reload its online state from the store, so none needs them any more.
    """
    with engine.begin() as conn:
        topics_repo.lock_topic_writes(conn)
        apply_plan(SqlTopicWrites(conn), plan)
        topics_repo.record_job_run(conn, RECLUSTER_JOB, plan.now, report.as_dict())
        if pruned := memberships_repo.prune_removals(conn, window_from):
            log.debug("pruned %d membership tombstones from before %s", pruned, window_from.isoformat())


def recluster_now(
    settings: Settings,
    now: datetime | None = None,
    *,
    embedder: Embedder | None = None,
    publish_events: bool = True,
) -> ReclusterReport:
    """Re-cluster the window ending at ``now`` (default: the current time) and publish lineage events.

    ``embedder`` lets a caller that already holds the model reuse it; ``publish_events=False`` leaves
    the events pending in the store's outbox (for runs without a broker).
    """
    started = time.monotonic()
    now = as_utc(now or datetime.now(UTC))
    engine = open_store(settings)
    cached = CachedEmbedder(embedder or Embedder(settings), SqlVectorCache(engine))
    report = ReclusterReport(at=now)
    for attempt in range(_RETRIES):
        window = load_window(engine, cached, settings, now, until=now)
        plan = plan_recluster(window, now, settings, next_topic_id(engine))
        report.window_articles, report.clusters, report.unassigned = plan.window_size, plan.clusters, plan.unassigned
        report.changed_memberships = len(plan.changed) + len(plan.removed)
        report.new_topics = list(plan.reconciliation.new_topics)
        report.events = plan.event_counts()
        report.seconds = round(time.monotonic() - started, 3)
        try:
            commit_plan(engine, plan, report, window_start(now, settings))
            break
        except IntegrityError:
            if attempt == _RETRIES - 1:
                raise
            log.info("a new topic id was taken by a worker meanwhile; planning again")
    try:
        if publish_events:
            report.events_published = publish_pending_events(engine, settings, now)
    except BrokerUnavailableError as exc:
        log.warning("lineage events stay pending in the store (they go out with the next run): %s", exc)
    with engine.connect() as conn:
        report.events_pending = len(lineage_repo.pending(conn))
    report.seconds = round(time.monotonic() - started, 3)
    log.info("recluster at %s: %s", now.isoformat(timespec="seconds"), report.as_dict())
    return report


def catch_up(
    settings: Settings, since: datetime, until: datetime, *, every: timedelta = timedelta(days=1),
    embedder: Embedder | None = None,
) -> list[ReclusterReport]:  # fmt: skip
    """Re-cluster at ``until`` and every ``every`` before it back to ``since``, oldest first, as the
    ``recluster_topics`` DAG would have run while those articles arrived (what a backfill of it does).

    For articles of weeks that arrive at once — a feed's archive on its first poll, a worker back
    from an outage, the demo's sample feeds: online assignment alone saw each of them only against
    what came before it in the batch, and one run at ``until`` re-clusters the last window only.
    Each run's window ends at its own time (``load_window``), so runs for earlier days leave later
    articles alone. Lineage events stay pending; the last run publishes them.
    """
    since, until = as_utc(since), as_utc(until)
    embedder = embedder or Embedder(settings)  # (loaded once, not once per run)
    steps = max(int((until - since) / every), 0)
    runs = [until - k * every for k in range(steps, 0, -1)]
    reports = [recluster_now(settings, at, embedder=embedder, publish_events=False) for at in runs]
    if reports:
        log.info("caught up %d re-clusterings from %s", len(reports), runs[0].isoformat(timespec="minutes"))
    return [*reports, recluster_now(settings, until, embedder=embedder)]
