"""``evaluate_alerts``: the scheduled job (DAG ``evaluate_alerts``, ``newsflow alerts evaluate``).

One evaluation at ``now`` (default: the current time; a simulated clock works, since everything is
judged on the articles' published times): read the arrivals of the lookback, measure each topic's
growth, run the alert lifecycle, then in one transaction store the growth rows and the alert
episodes (so an alert is stored even when every sink fails), deliver the notifications group by
group to every sink, and store each delivery's outcome and the job's bookkeeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from newsflow.alerts.growth import GrowthParams, measure
from newsflow.alerts.lifecycle import Plan, Policy, TopicInfo, plan_evaluation
from newsflow.alerts.sinks import Sink, deliver_groups, sinks_from_settings
from newsflow.records.alert import Delivery, Growth
from newsflow.settings import Settings
from newsflow.store import alerts_repo, topics_repo
from newsflow.store.database import open_store

log = logging.getLogger(__name__)
EVALUATE_JOB = "evaluate_alerts"


@dataclass
class EvaluationReport:
    at: datetime
    topics_evaluated: int = 0
    breaching: int = 0
    firing: int = 0  # alerts firing after this evaluation
    fired: int = 0
    repeated: int = 0
    resolved: int = 0
    silenced: int = 0
    deliveries_sent: int = 0
    deliveries_failed: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


def as_utc(when: datetime) -> datetime:
    """A plain aware UTC ``datetime`` (Airflow hands out pendulum objects, which the store must not see)."""
    if when.tzinfo is None:
        raise ValueError("an evaluation time must carry a timezone")
    utc = when.astimezone(UTC)
    return datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=UTC)


def measure_topics(engine: Engine, params: GrowthParams, now: datetime) -> tuple[list[Growth], dict[int, TopicInfo]]:
    """Growth of every topic with arrivals in the lookback or a firing alert, and what the lifecycle knows of them."""
    with engine.connect() as conn:
        arrivals = alerts_repo.arrivals_between(conn, now - params.lookback, now)
        firing_topics = {a.topic_id for a in alerts_repo.firing_alerts(conn)}
        rows = alerts_repo.topic_rows(conn, set(arrivals) | firing_topics)
    growths = [
        measure(t, rows[t].first_seen, arrivals.get(t, []), now, params)
        for t in sorted(rows)
        if rows[t].status != "merged"
    ]
    infos = {
        t: TopicInfo(label=r.label, merged_into=r.merged_into if r.status == "merged" else None,
                     article_count=r.article_count)
        for t, r in rows.items()
    }  # fmt: skip
    return growths, infos


def plan_now(engine: Engine, settings: Settings, now: datetime) -> tuple[Plan, list[Growth], dict[int, TopicInfo]]:
    growths, infos = measure_topics(engine, GrowthParams.from_settings(settings), now)
    with engine.connect() as conn:
        firing = alerts_repo.firing_alerts(conn)
        silences = alerts_repo.silences_in_force(conn, now)
    plan = plan_evaluation(growths, firing, infos, silences, Policy.from_settings(settings), now)
    return plan, growths, infos


def evaluate_alerts(
    settings: Settings,
    now: datetime | None = None,
    *,
    engine: Engine | None = None,
    sinks: Callable[[dict[int, TopicInfo]], list[Sink]] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> EvaluationReport:
    """Evaluate the growth rule at ``now`` and notify; ``sinks`` / ``transport`` let tests replace the edges."""
    started = time.monotonic()
    now = as_utc(now or datetime.now(UTC))
    engine = engine or open_store(settings)
    plan, growths, infos = plan_now(engine, settings, now)
    with engine.begin() as conn:
        alerts_repo.save_growth(conn, growths)
        alerts_repo.clear_stale_growth(conn, now)
        alerts_repo.save_alerts(conn, plan.alerts)
    deliveries = _deliver(plan, infos, settings, now, sinks, transport)
    report = _report(now, plan, growths, deliveries)
    report.seconds = round(time.monotonic() - started, 3)
    with engine.begin() as conn:
        alerts_repo.record_deliveries(conn, deliveries)
        topics_repo.record_job_run(conn, EVALUATE_JOB, now, report.as_dict())
    log.info("alerts at %s: %s", now.isoformat(timespec="seconds"), report.as_dict())
    return report


def _deliver(
    plan: Plan,
    infos: dict[int, TopicInfo],
    settings: Settings,
    now: datetime,
    sinks: Callable[[dict[int, TopicInfo]], list[Sink]] | None,
    transport: httpx.BaseTransport | None,
) -> list[Delivery]:
    groups = plan.groups()
    if not groups:
        return []
    chosen = sinks(infos) if sinks else sinks_from_settings(settings, infos, transport=transport)
    try:
        return deliver_groups(chosen, groups, now)
    finally:
        for sink in chosen:
            sink.close()


def _report(now: datetime, plan: Plan, growths: list[Growth], deliveries: list[Delivery]) -> EvaluationReport:
    return EvaluationReport(
        at=now,
        topics_evaluated=len(growths),
        breaching=sum(1 for g in growths if g.breaching),
        firing=sum(1 for a in plan.alerts if a.status == "firing"),
        fired=plan.count("firing"),
        repeated=plan.count("repeat"),
        resolved=sum(1 for a in plan.alerts if a.status == "resolved"),
        silenced=len(plan.silenced),
        deliveries_sent=sum(1 for d in deliveries if d.status == "sent"),
        deliveries_failed=sum(1 for d in deliveries if d.status == "failed"),
    )
