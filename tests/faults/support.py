"""Fixtures, helpers and checks for the fault-injection tests.

The services to break are found through ``Settings`` built from the environment (the same
``NEWSFLOW_*`` variables and ``NEWSFLOW_STATE_DIR`` that ``tests/conftest.py`` uses): in CI the
suite's shared broker and PostgreSQL, during development a private copy on other ports. Every
fixture that stops a service starts it again afterwards, also when the test fails.

Each test runs from a known stream of articles (real UCI headlines, ids ``fault-0000``...) and
ends with ``assert_recovered``: every article in the store exactly once, every membership pointing
at an existing topic and article, committed offset == end offset on every partition, and only the
expected dead letters.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsflow.contracts import ArticleRecord
from newsflow.infra import kafka_local, postgres_local
from newsflow.kafka import consumer_lag, count_dead_letters, make_producer, publish, topic_names
from newsflow.settings import Settings
from newsflow.store import schema
from newsflow.store.database import open_store
from tests.conftest import INFRA_STATE_DIR, REPO_ROOT, SHARED_DATA

UCI = SHARED_DATA / "stories" / "uci_news_prefix.csv"
T0 = datetime(2025, 2, 13, 6, 0, tzinfo=UTC)


def infra_settings() -> Settings:
    """Settings of the running infrastructure (ports, state dir) as the environment gives them."""
    return Settings(state_dir=INFRA_STATE_DIR)


@pytest.fixture
def fault_settings(kafka_settings: Settings, postgres_settings: Settings) -> Settings:
    """A fresh PostgreSQL database and topic prefix, 2 partitions, small batches and short timeouts."""
    from newsflow.kafka import ensure_topics

    run = os.urandom(5).hex()
    settings = postgres_settings.model_copy(
        update={
            "kafka_topic_prefix": f"fault-{run}.",
            "kafka_consumer_group": f"clustering-{run}",  # a group of its own: no rebalance with other runs
            "kafka_partitions": 2,
            "worker_batch_size": 8,
            "kafka_request_timeout_ms": 6000,
            "ingest_publish_timeout_s": 6.0,
        }
    )
    ensure_topics(settings)
    open_store(settings).dispose()  # migrated up front, as `newsflow store migrate` would: workers start concurrently
    return settings


# --- the known stream ---------------------------------------------------------------------------------


def known_records(n: int, prefix: str = "fault", start: datetime = T0) -> list[ArticleRecord]:
    """``n`` real headlines (UCI, first rows) as article records with ids ``<prefix>-0000``..., published
    every 3 minutes from ``start``; deterministic."""
    out: list[ArticleRecord] = []
    with UCI.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if len(out) == n:
                break
            k = len(out)
            title = row["TITLE"]
            when = start + timedelta(minutes=3 * k)
            out.append(
                ArticleRecord(
                    id=f"{prefix}-{k:04d}",
                    url=f"https://{row['HOSTNAME']}/{prefix}/{k}",
                    title=title,
                    published=when,
                    fetched=when + timedelta(minutes=2),
                    language="en",
                    outlet=row["HOSTNAME"],
                    feed=f"{row['HOSTNAME']}-main",
                    content_hash=hashlib.sha256(title.encode()).hexdigest(),
                )
            )
    return out


def produce(settings: Settings, records: list[ArticleRecord]) -> None:
    producer = make_producer(settings)
    try:
        publish(producer, topic_names(settings).articles, [(r.id, r) for r in records], timeout_s=30)
    finally:
        producer.close()


# --- subprocesses ---------------------------------------------------------------------------------------


def newsflow_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a separate newsflow process needs to act on this test's store and topics."""
    env = dict(os.environ)
    env.update(
        {
            "NEWSFLOW_STATE_DIR": str(settings.state_dir),
            "NEWSFLOW_DATABASE_URL": settings.database_url,
            "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "NEWSFLOW_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
            "NEWSFLOW_KAFKA_PARTITIONS": str(settings.kafka_partitions),
            "NEWSFLOW_KAFKA_CONSUMER_GROUP": settings.kafka_consumer_group,
            "NEWSFLOW_WORKER_BATCH_SIZE": str(settings.worker_batch_size),
            "NEWSFLOW_KAFKA_REQUEST_TIMEOUT_MS": str(settings.kafka_request_timeout_ms),
            "NEWSFLOW_INGEST_PUBLISH_TIMEOUT_S": str(settings.ingest_publish_timeout_s),
            "NEWSFLOW_ALLOW_PRIVATE_FEED_ADDRESSES": "true",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            **extra,
        }
    )
    return env


def start_newsflow(settings: Settings, args: list[str], log_path: Path, **extra: str) -> subprocess.Popen[bytes]:
    """``python -m newsflow.cli ARGS`` in its own process (so it can be SIGKILLed), output to ``log_path``."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "newsflow.cli", *args],
            cwd=REPO_ROOT, env=newsflow_env(settings, **extra), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def run_worker_process(settings: Settings, log_path: Path, idle_timeout_s: float = 4.0, timeout_s: float = 120) -> int:
    """Run ``newsflow worker --until-idle`` to the end; its exit status."""
    proc = start_newsflow(settings, ["worker", "--until-idle", "--idle-timeout", str(idle_timeout_s)], log_path)
    try:
        return proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def stored_count(settings: Settings) -> int:
    engine = open_store(settings, run_migrations=False)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(schema.articles)).scalar_one())
    except Exception:  # the schema may not exist yet while the worker starts: count as nothing stored
        return 0
    finally:
        engine.dispose()


# --- breaking services (and always mending them) ------------------------------------------------------


@dataclass
class Services:
    settings: Settings

    def stop_broker(self) -> None:
        assert kafka_local.stop_kafka(self.settings) is not None, "no broker of ours was running"

    def start_broker(self) -> None:
        kafka_local.start_kafka(self.settings)

    def stop_postgres(self) -> None:
        assert postgres_local.stop_postgres(self.settings) is not None, "no PostgreSQL of ours was running"

    def start_postgres(self) -> None:
        postgres_local.start_postgres(self.settings)

    def mend(self) -> None:
        """Start whatever is down (idempotent: a running service is left alone)."""
        if kafka_local.kafka_status(self.settings).state != "running":
            self.start_broker()
        if postgres_local.postgres_status(self.settings).state != "running":
            self.start_postgres()


@pytest.fixture
def services() -> Iterator[Services]:
    svc = Services(infra_settings())
    try:
        yield svc
    finally:
        svc.mend()


# --- the checks after recovery ------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    article_ids: set[str]
    dead_letters: int = 0


def assert_recovered(settings: Settings, expected: Expected) -> None:
    engine = open_store(settings, run_migrations=False)
    try:
        with engine.connect() as conn:
            ids = [r.id for r in conn.execute(select(schema.articles.c.id))]
            assert len(ids) == len(set(ids)), "an article is stored twice"
            missing, extra = sorted(expected.article_ids - set(ids)), sorted(set(ids) - expected.article_ids)
            assert not missing and not extra, f"missing {missing[:5]}, extra {extra[:5]}"
            m, t, a = schema.topic_memberships, schema.topics, schema.articles
            orphans = conn.execute(
                select(m.c.article_id, m.c.topic_id)
                .select_from(m.outerjoin(t, t.c.id == m.c.topic_id).outerjoin(a, a.c.id == m.c.article_id))
                .where(t.c.id.is_(None) | a.c.id.is_(None))
            ).all()
            assert orphans == [], f"memberships pointing nowhere: {orphans[:5]}"
            per_topic = select(m.c.topic_id, func.count().label("n")).group_by(m.c.topic_id)
            counts: dict[int, int] = {r.topic_id: r.n for r in conn.execute(per_topic)}
            stats = {r.id: r.article_count for r in conn.execute(select(t.c.id, t.c.article_count)) if r.article_count}
            both = set(stats) | set(counts)
            drifted = {k: (stats.get(k), counts.get(k)) for k in both if stats.get(k) != counts.get(k)}
            assert not drifted, f"topic article counts drifted from memberships (stored, actual): {drifted}"
    finally:
        engine.dispose()
    lag = consumer_lag(settings)
    skipped = [p for p in lag.partitions if p.lag or (p.end > p.start and p.committed != p.end)]
    assert lag.partitions and not skipped, f"offsets not committed to the end: {skipped}"
    assert count_dead_letters(settings) == expected.dead_letters
