"""Ingestion benchmark: generated feeds served on 127.0.0.1, polled through the real Kafka broker.

Measures and prints (it asserts nothing; the figures go into notes with the command):

1. stages: parse -> normalise -> dedupe -> produce (acks=all) over the feeds' bytes, in one
   process, no HTTP and no store: the pipeline's own articles/s;
2. cold poll cycle: ``run_polls`` over every feed, end to end (HTTP fetch, the stages, the ledger
   and health writes in the store, broker acks): articles/s and wall time;
3. 304 cycle: the same feeds again, all answering 304 Not Modified: wall time of the cycle;

and the process's peak RSS. Issue 3's targets: >= 2,000 articles/s (1), <= 2 s for 100 feeds (3).

    python benchmarks/ingest_throughput.py [--feeds 100] [--items 50] [--database-url URL]

Needs the broker of ``newsflow infra up`` (NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS to use another). Each
run writes to its own topic prefix (deleted at the end) and, unless --database-url is given, to
a throw-away SQLite store.
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaAdminClient

from ingest.dedupe import Ledger, deduplicate, fingerprint
from ingest.normalise import normalise_feed
from ingest.parse import parse_feed
from ingest.runner import run_polls
from newsflow.kafka import ensure_topics, make_producer, publish, topic_names
from newsflow.records.feed import FeedSpec
from newsflow.samplefeeds.build import SampleFeed, SampleItem
from newsflow.samplefeeds.server import SampleFeedServer
from newsflow.settings import Settings
from newsflow.store import feeds_repo
from newsflow.store.database import open_store

FUNCTION_WORDS = ("the", "of", "and", "to", "in", "a", "is", "that", "for", "on", "said", "with", "as", "at", "by")
SYLLABLES = ("ka", "ri", "to", "men", "sa", "lo", "de", "vi", "na", "pe", "ur", "os", "tal", "gen", "mar", "dor")
ANCHOR = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    """Made-up content words, so articles differ the way real ones do (a tiny vocabulary would make
    every text a near-duplicate of every other and turn the benchmark into a SimHash stress test)."""
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(size)]


def sentence(rng: random.Random, words: list[str], length: int) -> str:
    # About every third word a function word; content words skewed to the front of the list (a few
    # frequent ones, a long tail), roughly as in news text.
    picked = [
        rng.choice(FUNCTION_WORDS) if i % 3 == 1 else words[int(len(words) * rng.random() ** 2.5)]
        for i in range(length)
    ]
    return " ".join(picked).capitalize() + "."


def generate(feeds: int, items: int, seed: int = 7) -> dict[str, SampleFeed]:
    """``feeds`` feeds of ``items`` distinct articles each: a headline and a ~70-word HTML teaser."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    rng.shuffle(words)
    out = {}
    for f in range(feeds):
        name = f"bench-{f:04d}"
        entries = tuple(
            SampleItem(
                title=sentence(rng, words, 8),
                link=f"https://bench{f}.example/news/{i}?utm_source=rss",
                published=ANCHOR - timedelta(minutes=7 * i + f),
                description=f"<p>{sentence(rng, words, 35)}</p><p>{sentence(rng, words, 35)}</p>",
            )
            for i in range(items)
        )
        out[name] = SampleFeed(name, f"Bench {f}", "en", f"https://bench{f}.example/", entries)
    return out


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench_stages(settings: Settings, server: SampleFeedServer, specs: list[FeedSpec]) -> tuple[int, float]:
    """Articles published and seconds for parse -> normalise -> dedupe -> produce, HTTP and store left out."""
    bodies = [(spec, server.render(spec.name)) for spec in specs]
    producer = make_producer(settings, client_id="bench-stages")
    topic = topic_names(settings).articles.replace("news.articles", "bench.stages")
    ensure_topics(settings, [topic])
    producer.partitions_for(topic)  # the new topic's metadata, fetched outside the timing
    ledger, published = Ledger(), 0
    started = time.perf_counter()
    for spec, rendered in bodies:
        assert rendered is not None
        parsed = parse_feed(rendered[0], content_type="application/rss+xml", base_url=spec.url)
        entries = normalise_feed(parsed, feed=spec, base_url=spec.url, fetched_at=ANCHOR)
        result = deduplicate(fingerprint(entries), ledger)
        published += publish(producer, topic, [(r.id, r) for r in result.records], timeout_s=30)
    elapsed = time.perf_counter() - started
    producer.close()
    return published, elapsed


def timed_cycle(settings: Settings, names: list[str]) -> tuple[dict[str, int], float]:
    started = time.perf_counter()
    outcomes = run_polls(settings, names)
    elapsed = time.perf_counter() - started
    counts = {
        "articles": sum(o.published for o in outcomes),
        "near_duplicates": sum(o.near_duplicates for o in outcomes),
    }
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    return counts, elapsed


def drop_topics(settings: Settings) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(settings.kafka_topic_prefix)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--items", type=int, default=50, help="articles per feed")
    parser.add_argument("--database-url", default="", help="store to use (default: a temporary SQLite file)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as state:
        run(args, Path(state))


def run(args: argparse.Namespace, state: Path) -> None:
    settings = Settings(
        state_dir=state,
        database_url=args.database_url,
        kafka_topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.",
        allow_private_feed_addresses=True,  # the feeds are on 127.0.0.1
    )
    ensure_topics(settings)
    open_store(settings).dispose()  # migrations outside the timings
    with SampleFeedServer(generate(args.feeds, args.items)) as server:
        specs = [
            FeedSpec(n, server.feed_url(n), f.outlet, language="en", poll_interval_s=0)
            for n, f in sorted(server.feeds.items())
        ]
        engine = open_store(settings)
        feeds_repo.register_feeds(engine, specs)
        engine.dispose()
        names = [s.name for s in specs]
        try:
            staged, staged_s = bench_stages(settings, server, specs)
            cold, cold_s = timed_cycle(settings, names)
            warm, warm_s = timed_cycle(settings, names)
        finally:
            drop_topics(settings)
    total = args.feeds * args.items
    print(f"feeds: {args.feeds} x {args.items} articles = {total}; store: {settings.database_url.split(':')[0]}")
    print(f"stages (parse->normalise->dedupe->produce, acks=all): {staged} articles in {staged_s:.2f} s "
          f"= {staged / staged_s:,.0f} articles/s")  # fmt: skip
    print(f"cold poll cycle (HTTP + stages + store + acks): {cold} in {cold_s:.2f} s "
          f"= {cold['articles'] / cold_s:,.0f} articles/s")  # fmt: skip
    print(f"304 cycle over {args.feeds} feeds: {warm} in {warm_s:.2f} s")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")
    if cold["articles"] != total or warm.get("not_modified") != args.feeds:
        sys.exit("unexpected outcomes: the figures above do not measure what they claim")


if __name__ == "__main__":
    main()
