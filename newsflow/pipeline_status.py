"""One summary of the pipeline for operators (``newsflow status``).

Eight sections — the store in use, consumer lag, feeds failing and paused, last ingest, last
re-clustering, alerts firing, dead letters, the last run of each Airflow DAG — each read
independently: a service that is down turns its sections into one named error line
(``BrokerUnavailableError: ...``) and the rest is still shown. Only an unreachable (or missing:
``StoreNotFoundError``, status never creates one) store makes the whole status "failed" (the
CLI's exit status 1), since the store is what every other part of newsflow writes to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from newsflow.dlq import replay_group
from newsflow.errors import NewsflowError, StoreUnavailableError
from newsflow.kafka import consumer_lag, count_dead_letters, topic_names
from newsflow.settings import Settings
from newsflow.store import schema
from newsflow.store.database import open_store, safe_store_url, store_origin

log = logging.getLogger(__name__)
RECLUSTER_JOB = "recluster"  # clustering.sql_state.RECLUSTER_JOB (not imported: keeps numpy out of the CLI)
INGEST_JOB = "ingest"
TOP_ALERTS = 5
SECTIONS = ("store", "consumer_lag", "feeds_failing", "last_ingest", "last_recluster", "alerts_firing", "dead_letters",
            "dag_runs")  # fmt: skip


@dataclass(frozen=True)
class Section:
    name: str
    value: dict[str, Any] | None = None
    error: str | None = None  # "ErrorName: message" when the section could not be read


@dataclass
class PipelineStatus:
    sections: list[Section] = field(default_factory=list)
    store_ok: bool = True

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"store_ok": self.store_ok}
        for s in self.sections:
            out[s.name] = s.value if s.error is None else {**(s.value or {}), "error": s.error}
        return out


def _named(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _read(name: str, read: Callable[[], dict[str, Any]]) -> Section:
    try:
        return Section(name, read())
    except (NewsflowError, SQLAlchemyError, OSError) as exc:
        log.debug("status section %s failed: %s", name, exc)
        return Section(name, error=_named(exc))


# --- store sections -------------------------------------------------------------------------------


def feeds_failing(conn: Connection) -> dict[str, Any]:
    """Feeds failing (enabled, with a failure streak) and paused ones, counted apart; failing first."""
    fh, feeds = schema.feed_health, schema.feeds
    failures = func.coalesce(fh.c.consecutive_failures, 0)
    query = (
        select(feeds.c.name, feeds.c.enabled, fh.c.consecutive_failures, fh.c.last_error, fh.c.last_error_at)
        .select_from(feeds.outerjoin(fh, fh.c.feed_name == feeds.c.name))
        .where(or_(fh.c.consecutive_failures > 0, feeds.c.enabled.is_(False)))
        .order_by(feeds.c.enabled.desc(), failures.desc(), feeds.c.name)
    )
    rows = [
        {"feed": r.name, "paused": not r.enabled, "consecutive_failures": r.consecutive_failures or 0,
         "last_error": r.last_error, "last_error_at": _iso(r.last_error_at)}
        for r in conn.execute(query)
    ]  # fmt: skip
    total = conn.execute(select(func.count()).select_from(feeds)).scalar_one()
    paused = sum(1 for r in rows if r["paused"])
    # count: failing feeds that are still polled; a paused feed is counted once, as paused
    return {"count": len(rows) - paused, "paused": paused, "feeds_total": total, "feeds": rows}


def last_ingest(conn: Connection) -> dict[str, Any]:
    """The newest successful feed poll (or the ``ingest`` job run, where something records one)."""
    fh, jr = schema.feed_health, schema.job_runs
    success = _utc(conn.execute(select(func.max(fh.c.last_success_at))).scalar_one(), conn)
    polled = _utc(conn.execute(select(func.max(fh.c.last_polled_at))).scalar_one(), conn)
    job = conn.execute(select(jr.c.last_run_at).where(jr.c.job == INGEST_JOB)).scalar_one_or_none()
    if job is not None and (success is None or job > success):
        success = job
    return {"last_success_at": _iso(success), "last_polled_at": _iso(polled)}


def _utc(value: Any, conn: Connection) -> datetime | None:
    # aggregates (max) lose the column's type on SQLite: normalise like the column would
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return schema.UtcDateTime().process_result_value(value, conn.dialect)


def last_recluster(conn: Connection) -> dict[str, Any]:
    jr = schema.job_runs
    row = conn.execute(select(jr.c.last_run_at, jr.c.details).where(jr.c.job == RECLUSTER_JOB)).first()
    if row is None:
        return {"last_run_at": None, "details": {}}
    return {"last_run_at": _iso(row.last_run_at), "details": dict(row.details or {})}


def alerts_firing(conn: Connection, top: int = TOP_ALERTS) -> dict[str, Any]:
    al = schema.alerts
    firing = al.c.status == "firing"
    count = conn.execute(select(func.count()).select_from(al).where(firing)).scalar_one()
    rows = conn.execute(
        select(al.c.id, al.c.topic_id, al.c.rule, al.c.summary, al.c.fired_at, al.c.silenced_by)
        .where(firing)
        .order_by(al.c.fired_at.desc(), al.c.id)
        .limit(top)
    )
    top_rows = [
        {"id": r.id, "topic_id": r.topic_id, "rule": r.rule, "summary": r.summary,
         "fired_at": _iso(r.fired_at), "silenced_by": r.silenced_by}
        for r in rows
    ]  # fmt: skip
    return {"count": count, "top": top_rows}


STORE_SECTIONS: dict[str, Callable[[Connection], dict[str, Any]]] = {
    "feeds_failing": feeds_failing,
    "last_ingest": last_ingest,
    "last_recluster": last_recluster,
    "alerts_firing": alerts_firing,
}


def _store_sections(engine: Engine) -> list[Section]:
    out = []
    for name, read in STORE_SECTIONS.items():

        def one(read: Callable[[Connection], dict[str, Any]] = read) -> dict[str, Any]:
            with engine.connect() as conn:
                return read(conn)

        out.append(_read(name, one))
    return out


def dead_letters(settings: Settings) -> dict[str, Any]:
    """All entries on the dead-letter topic, and those `newsflow dlq replay --all` has not re-published yet."""
    pending = consumer_lag(settings, group=replay_group(settings), topic=topic_names(settings).deadletter)
    return {"count": count_dead_letters(settings), "not_replayed": pending.total}


# --- the whole status -------------------------------------------------------------------------------


def dag_runs(settings: Settings) -> dict[str, Any]:
    """newsflow's DAGs in the local Airflow: paused or not, and each one's newest run."""
    from newsflow.infra.airflow_local import dag_states

    return {"dags": [asdict(d) for d in dag_states(settings)]}


def open_status_store(settings: Settings) -> Engine:
    """The store without migrating it (status must not change anything), or ``StoreUnavailableError``."""
    return open_store(settings, run_migrations=False, create=False)


def collect_status(settings: Settings, open_engine: Callable[[Settings], Engine] = open_status_store) -> PipelineStatus:
    status = PipelineStatus()
    lag = _read("consumer_lag", lambda: consumer_lag(settings).as_dict())
    dead = _read("dead_letters", lambda: dead_letters(settings))
    runs = _read("dag_runs", lambda: dag_runs(settings))
    where = {"url": safe_store_url(settings), "origin": store_origin(settings)}
    try:
        engine = open_engine(settings)
    except (StoreUnavailableError, SQLAlchemyError) as exc:
        error = _named(exc) if isinstance(exc, StoreUnavailableError) else f"StoreUnavailableError: {where['url']}"
        status.store_ok = False
        used = Section("store", where, error=error)
        store = [Section(name, error=error) for name in STORE_SECTIONS]
    else:
        used = Section("store", where)
        try:
            store = _store_sections(engine)
        finally:
            engine.dispose()
    by_name = {s.name: s for s in [used, lag, dead, runs, *store]}
    status.sections = [by_name[n] for n in SECTIONS]
    return status
