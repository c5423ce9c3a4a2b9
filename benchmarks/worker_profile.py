"""Per-batch cost of the worker's ``BatchProcessor`` against topic size, without Kafka.

For each topic size S: a fresh store gets ``--stories`` topics of S re-keyed copies of the shared
UCI headlines each (written directly, as the worker would have), the processor loads that window,
and then ``--batches`` batches of ``--batch`` new copies (spread over the same stories) are timed.
Prints the median seconds per batch for each size; ``--profile`` prints the top cProfile entries
of the timed batches of the largest size.

    python benchmarks/worker_profile.py [--sizes 100 1000 10000] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import hashlib
import pstats
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.worker_burst import fresh_store, headlines
from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.processor import BatchProcessor, RawMessage
from newsflow.contracts import ArticleRecord
from newsflow.settings import Settings, load_settings
from newsflow.store import articles_repo, memberships_repo, topics_repo
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache

NOW = datetime.now(UTC).replace(microsecond=0)


@functools.cache
def stories() -> list[tuple[str, str]]:
    return headlines()


def copy(k: int, story: int, run: str) -> ArticleRecord:
    title, host = stories()[story]
    when = NOW - timedelta(hours=24) + timedelta(seconds=k)
    return ArticleRecord(
        id=f"prof-{run}-{story}-{k}", url=f"https://{host}/{run}/{story}/{k}", title=title, published=when,
        fetched=when + timedelta(minutes=1), language="en", outlet=f"{host}{k % 7}", feed=f"{host}-main",
        content_hash=hashlib.sha256(title.encode()).hexdigest(),
    )  # fmt: skip


def message(record: ArticleRecord) -> RawMessage:
    return RawMessage("articles", 0, None, record.id, record.to_bytes())


def seed(processor: BatchProcessor, stories: int, size: int, run: str) -> None:
    """``stories`` topics of ``size`` members each: two copies through the processor, the rest written directly."""
    processor.process([message(copy(k, s, run)) for s in range(stories) for k in range(2)])
    assert processor.clusterer is not None
    topic_of = {s: processor.clusterer.member_of[f"prof-{run}-{s}-0"] for s in range(stories)}
    extra = [copy(k, s, run) for s in range(stories) for k in range(2, size)]
    with processor.engine.begin() as conn:
        articles_repo.upsert_articles(conn, extra, NOW)
        members = [memberships_repo.Membership(r.id, topic_of[int(r.id.split("-")[2])], 1.0, "online") for r in extra]
        memberships_repo.write_memberships(conn, members, NOW)
        topics_repo.refresh_stats(conn, topic_of.values(), NOW)
    processor.clusterer = None  # reload the window with the seeded members


def time_size(settings: Settings, args: argparse.Namespace, size: int, profile: cProfile.Profile | None) -> float:
    run = uuid.uuid4().hex[:8]
    store = (
        fresh_store(settings, run)
        if args.database_url
        else settings.model_copy(update={"database_url": f"sqlite:///{settings.state_dir / f'profile-{run}.db'}"})
    )
    engine = open_store(store)
    processor = BatchProcessor(store, engine, CachedEmbedder(Embedder(store), SqlVectorCache(engine)), lambda: NOW)
    seed(processor, args.stories, size, run)
    processor.process([message(copy(size, s, run)) for s in range(args.stories)])  # warm-up: reload
    seconds: list[float] = []
    k = size + 1
    for _ in range(args.batches):
        batch = [message(copy(k + j // args.stories, j % args.stories, run)) for j in range(args.batch)]
        k += args.batch // args.stories + 1
        started = time.perf_counter()
        if profile:
            profile.enable()
        outcome = processor.process(batch)
        if profile:
            profile.disable()
        seconds.append(time.perf_counter() - started)
        assert outcome.stored == args.batch, outcome
    engine.dispose()
    return statistics.median(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--stories", type=int, default=10)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--database-url", default="", help="PostgreSQL server to create a fresh database on")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (cumulative, tottime)")
    args = parser.parse_args()
    settings = load_settings(database_url=args.database_url) if args.database_url else load_settings()
    for size in args.sizes:
        profile = cProfile.Profile() if args.profile and size == max(args.sizes) else None
        median = time_size(settings, args, size, profile)
        print(f"topic size {size:>6}: {median:.3f} s per batch of {args.batch} ({args.batch / median:.0f} articles/s)")
        if profile:
            pstats.Stats(profile).sort_stats(args.sort).print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
