"""Burst benchmark: N articles land on Kafka at once; the worker drains them with bounded memory.

The articles are re-keyed, re-timed copies of the shared UCI headlines (``/work/shared/data/stories``):
ids ``burst-<run>-<k>``, published times spread over the last ``--hours`` hours, the text of row
``k mod rows``. Copies share their text, so after the first pass the embeddings come from the store's
cache, which is what makes 100,000 articles feasible on a CPU; everything else (decode, assignment,
store writes, offset commits) runs per article as in production.

The worker runs as its own process (``python -m newsflow.cli worker --until-idle``); every
``--every`` seconds this prints its resident memory (RSS, from /proc), the group's consumer lag
and the articles stored so far. At the end it checks the counts exactly: every id stored once,
lag 0, no dead letters.

    export NEWSFLOW_DATABASE_URL=postgresql+psycopg://newsflow@127.0.0.1:55432/newsflow  # or SQLite
    python benchmarks/worker_burst.py [--n 100000] [--every 5] [--hours 48] [--history 40000]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kafka import KafkaProducer  # noqa: E402
from sqlalchemy import Table, func, select  # noqa: E402

from newsflow.contracts import ArticleRecord  # noqa: E402
from newsflow.kafka import consumer_lag, count_dead_letters, ensure_topics, topic_names  # noqa: E402
from newsflow.settings import Settings, load_settings  # noqa: E402
from newsflow.store import schema  # noqa: E402
from newsflow.store.database import open_store  # noqa: E402

UCI = REPO.parent / "shared" / "data" / "stories" / "uci_news_prefix.csv"


def headlines() -> list[tuple[str, str]]:
    """(title, hostname) of every shared UCI row."""
    with UCI.open(encoding="utf-8") as handle:
        return [(r["TITLE"], r["HOSTNAME"]) for r in csv.DictReader(handle)]


def stream(n: int, run: str, end: datetime, hours: float) -> Iterator[ArticleRecord]:
    """``n`` re-keyed, re-timed copies of the shared headlines, oldest first."""
    rows = headlines()
    span = timedelta(hours=hours)
    for k in range(n):
        title, host = rows[k % len(rows)]
        when = end - span + span * (k / max(1, n))
        yield ArticleRecord(
            id=f"burst-{run}-{k}",
            url=f"https://{host}/{run}/{k}",
            title=title,
            published=when,
            fetched=when + timedelta(minutes=1),
            language="en",
            outlet=host,
            feed=f"{host}-main",
            content_hash=hashlib.sha256(title.encode()).hexdigest(),
        )


def publish_stream(settings: Settings, records: Iterator[ArticleRecord], spread: int = 0) -> tuple[int, float]:
    """Produce everything (acks=all, batched); (count, seconds). ``spread``: round-robin over that many
    partitions (equal shares) instead of by key."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=50, batch_size=256 * 1024
    )
    topic = topic_names(settings).articles
    started, count = time.monotonic(), 0
    for record in records:
        partition = count % spread if spread else None
        producer.send(topic, key=record.id.encode(), value=record.to_bytes(), partition=partition)
        count += 1
    producer.flush(timeout=600)
    producer.close()
    return count, time.monotonic() - started


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def stored(settings: Settings, table: Table = schema.articles) -> int:
    """Rows in the store's ``table`` (articles unless told)."""
    engine = open_store(settings, run_migrations=False)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


@dataclass
class Sample:
    t: float
    rss: float
    peak: float
    lag: int
    stored: int


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSFLOW_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "NEWSFLOW_KAFKA_CONSUMER_GROUP": settings.kafka_consumer_group,
        "NEWSFLOW_DATABASE_URL": settings.database_url,
        "HF_HUB_OFFLINE": "1",
    }


def watch_worker(settings: Settings, every_s: float, log_path: Path, idle_s: float = 15.0) -> tuple[list[Sample], int]:
    """Run the worker until idle, sampling RSS / lag / stored; (samples, exit status)."""
    cmd = [sys.executable, "-m", "newsflow.cli", "worker", "--until-idle", "--idle-timeout", str(idle_s)]
    samples: list[Sample] = []
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=worker_env(settings), stdout=log, stderr=subprocess.STDOUT)
        print(f"{'t (s)':>7} {'RSS MiB':>8} {'peak MiB':>9} {'lag':>9} {'stored':>9} {'art/s':>7}", flush=True)
        previous = (0.0, 0)
        while proc.poll() is None:
            time.sleep(every_s)
            try:
                rss, peak = rss_mb(proc.pid)
            except FileNotFoundError:
                break
            s = Sample(time.monotonic() - started, rss, peak, consumer_lag(settings).total, stored(settings))
            rate = (s.stored - previous[1]) / max(1e-9, s.t - previous[0])
            previous = (s.t, s.stored)
            samples.append(s)
            print(f"{s.t:7.0f} {s.rss:8.0f} {s.peak:9.0f} {s.lag:9d} {s.stored:9d} {rate:7.0f}", flush=True)
        return samples, proc.wait()


def check_exact(settings: Settings, n: int) -> list[str]:
    """What is wrong at the end (empty: every article stored once, nothing lagging, nothing dead-lettered)."""
    problems = []
    count = stored(settings)
    if count != n:
        problems.append(f"stored {count} articles, expected {n}")
    lag = consumer_lag(settings).total
    if lag:
        problems.append(f"consumer lag {lag} at the end")
    dead = count_dead_letters(settings)
    if dead:
        problems.append(f"{dead} dead letters")
    return problems


def fresh_store(settings: Settings, run: str) -> Settings:
    """A new, empty database next to the configured one (PostgreSQL) or a new SQLite file: exact counts per run."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    name = f"newsflow_bench_{run}"
    if url.get_backend_name() == "sqlite":
        fresh = url.set(database=str(settings.state_dir / f"{name}.db"))
    else:
        password = settings.database_password.get_secret_value() if settings.database_password else None
        admin_url = url.set(database="postgres", password=password or url.password)
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        fresh = url.set(database=name)
    out = settings.model_copy(update={"database_url": fresh.render_as_string(hide_password=False)})
    open_store(out).dispose()
    print(f"store: {fresh.render_as_string(hide_password=True)}", flush=True)
    return out


def clean_up(settings: Settings, run: str) -> None:
    """Delete the run's Kafka topics, consumer group and database (PostgreSQL) or SQLite file: nothing left."""
    from kafka.admin import KafkaAdminClient
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_client = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        ours = [t for t in admin_client.list_topics() if t.startswith(settings.kafka_topic_prefix)]
        if ours:
            admin_client.delete_topics(ours)
        admin_client.delete_groups([settings.kafka_consumer_group])
    finally:
        admin_client.close()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        Path(str(url.database)).unlink(missing_ok=True)
    else:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "newsflow_bench_{run}" WITH (FORCE)'))
        admin.dispose()
    print(f"removed {len(ours)} Kafka topics ({settings.kafka_topic_prefix}*) and the run's store", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--hours", type=float, default=48.0, help="published times spread over this many hours")
    parser.add_argument("--log", type=Path, default=Path("/tmp/newsflow-worker-burst.log"))
    parser.add_argument("--keep", action="store_true", help="keep the run's Kafka topics and store afterwards")
    parser.add_argument(
        "--history", type=int, default=0,
        help="first store this many members of older topics (inside topic memory, before the window) "
             "and a quarter as many unassigned older articles: the worker then holds them online too",
    )  # fmt: skip
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    own = load_settings(kafka_topic_prefix=f"bench-burst-{run}.", kafka_consumer_group=f"bench-{run}")  # own group
    settings = fresh_store(own, run)
    seeded = remember_history(settings, args.history, run) if args.history else 0
    ensure_topics(settings)
    count, seconds = publish_stream(settings, stream(args.n, run, datetime.now(UTC), args.hours))
    print(f"published {count} articles to {topic_names(settings).articles} in {seconds:.1f} s", flush=True)
    samples, status = watch_worker(settings, args.every, args.log)
    problems = check_exact(settings, args.n + seeded) + ([f"worker exit status {status}"] if status else [])
    if samples:
        busy = samples[-1].t
        print(f"drained {args.n} in {busy:.0f} s ({args.n / busy:.0f} articles/s incl. start-up and idle wait);"
              f" peak RSS {max(s.peak for s in samples):.0f} MiB")  # fmt: skip
    return finish(settings, run, problems, keep=args.keep)


def remember_history(settings: Settings, members: int, run: str) -> int:
    """Store ``members`` older topic members plus a quarter as many unassigned older articles, with
    their vectors cached as a running worker would have them; the number of articles stored."""
    from benchmarks.worker_reload import load, seed  # worker_reload builds on this module
    from clustering.embedding.embed import Embedder

    history = argparse.Namespace(history=members, topic_size=10, unassigned=members // 4)
    seed(settings, history, run)
    load(settings, Embedder(settings), "history embedded and cached")
    return members + members // 4


def finish(settings: Settings, run: str, problems: list[str], *, keep: bool) -> int:
    """Print the verdict, remove the run's topics, group and store unless ``keep``; the exit status."""
    print("counts exact" if not problems else "PROBLEMS: " + "; ".join(problems))
    if not keep:
        clean_up(settings, run)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
