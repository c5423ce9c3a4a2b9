"""What topic memory costs the worker: reload time and memory with two weeks of history in the store.

A fresh store gets ``--history`` re-keyed UCI headlines published between two weeks and three days
ago (before the re-clustering window, inside topic memory), in topics of ``--topic-size`` members
(written directly, as the worker would have), plus ``--unassigned`` articles without a topic. The
worker's state is then loaded twice (the first load also embeds what it remembers; the second
finds every vector in the cache, as a worker does after each re-clustering), with topic memory on
and off. Prints per load: seconds, rows remembered, topics online and the process's peak RSS.

    python benchmarks/worker_reload.py [--history 40000] [--topic-size 10] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.worker_burst import fresh_store, headlines
from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.processor import BatchProcessor
from newsflow.contracts import ArticleRecord
from newsflow.settings import Settings, load_settings
from newsflow.store import articles_repo, memberships_repo, topics_repo
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache

NOW = datetime.now(UTC).replace(microsecond=0)


def history(n: int, run: str) -> list[ArticleRecord]:
    """``n`` headlines spread evenly over [now - 330 h, now - 80 h]: remembered, never in the window."""
    rows = headlines()
    start, span = NOW - timedelta(hours=330), timedelta(hours=250)
    out = []
    for k in range(n):
        title, host = rows[k % len(rows)]
        when = start + span * (k / max(n, 1))
        out.append(ArticleRecord(
            id=f"hist-{run}-{k}", url=f"https://{host}/{run}/{k}", title=f"{title} ({k})", published=when,
            fetched=when + timedelta(minutes=1), language="en", outlet=host, feed=f"{host}-main",
            content_hash=hashlib.sha256(f"{title} ({k})".encode()).hexdigest(),
        ))  # fmt: skip
    return out


def seed(settings: Settings, args: argparse.Namespace, run: str) -> None:
    records = history(args.history + args.unassigned, run)
    placed = records[: args.history]
    topic_ids = list(range(1, args.history // args.topic_size + 2))
    with open_store(settings).begin() as conn:
        articles_repo.upsert_articles(conn, records, NOW)
        topics_repo.create_topics(conn, topic_ids, NOW)
        members = [
            memberships_repo.Membership(r.id, 1 + k // args.topic_size, 1.0, "online") for k, r in enumerate(placed)
        ]
        memberships_repo.write_memberships(conn, members, NOW)
        topics_repo.refresh_stats(conn, topic_ids, NOW)
    print(
        f"seeded {len(placed)} members in {len(topic_ids)} topics and {args.unassigned} unassigned articles", flush=True
    )


def load(settings: Settings, embedder: Embedder, label: str) -> None:
    engine = open_store(settings)
    processor = BatchProcessor(settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: NOW)
    started = time.perf_counter()
    processor.reload(NOW)
    seconds = time.perf_counter() - started
    assert processor.clusterer is not None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<28} {seconds:7.2f} s  {len(processor.clusterer.member_of):>6} members and "
          f"{len(processor.clusterer.pool):>5} pooled online, {len(processor.clusterer.topics):>5} topics, "
          f"peak RSS {peak:,.0f} MiB", flush=True)  # fmt: skip
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=40000)
    parser.add_argument("--topic-size", type=int, default=10)
    parser.add_argument("--unassigned", type=int, default=10000)
    parser.add_argument("--database-url", default="", help="PostgreSQL server to create a fresh database on")
    args = parser.parse_args()
    settings = load_settings(database_url=args.database_url) if args.database_url else load_settings()
    store = fresh_store(settings, uuid.uuid4().hex[:8])
    seed(store, args, uuid.uuid4().hex[:8])
    embedder = Embedder(store)
    load(store.model_copy(update={"topic_memory_hours": 0.0}), embedder, "memory off")
    load(store, embedder, "memory on, first load")
    load(store, embedder, "memory on, vectors cached")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
