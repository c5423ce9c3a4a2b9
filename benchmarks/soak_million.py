"""Soak benchmark: N articles (default 1,000,000) through Kafka and the worker into the store, counted exactly.

What it measures: the pipeline around the model (Kafka, decoding, online assignment, store writes,
offset commits, memory over a long run), NOT the embedding model. The articles are re-keyed,
re-timed copies of the 6,366 shared UCI rows (6,330 distinct headlines, see ``worker_burst.py``):
after the first 6,366 every text is in the store's embedding cache already, so at 1,000,000
articles more than 99 % of the vectors are cache hits and the model encodes 6,330 texts in all.
Its articles/s is not a rate the worker reaches on distinct news; ``clustering_embedding.py``
measures the model on distinct headlines and title + lead texts. At the end it prints the worker's
own counts (texts through the model, cache hits) from the worker's log.

Producer and worker run at the same time, as in production: the articles are published in chunks
of ``--chunk`` at ``--rate`` articles/s at most (0: as fast as the broker takes them) while the
worker consumes. Every ``--every`` seconds it prints published, stored, consumer lag, the worker's
RSS and the stored articles/s; at the end, the overall throughput, the peak RSS, and the exact
checks: N distinct articles in the store, lag 0, no dead letters (exit status 1 otherwise).

Published times are spread over ``--hours`` (default 48, inside the 72-hour re-clustering window,
so the worker's online state covers them all: the realistic worst case for its memory).

    export NEWSFLOW_DATABASE_URL=postgresql+psycopg://newsflow@127.0.0.1:55432/newsflow
    python benchmarks/soak_million.py [--n 1000000] [--chunk 5000] [--rate 0] [--every 10]
"""

from __future__ import annotations

import argparse
import ast
import itertools
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.worker_burst import (
    REPO,
    check_exact,
    finish,
    fresh_store,
    headlines,
    publish_stream,
    rss_mb,
    stored,
    stream,
    worker_env,
)
from newsflow.kafka import consumer_lag, ensure_topics, topic_names
from newsflow.settings import Settings, load_settings


class Publisher(threading.Thread):
    """Publishes the stream in chunks, at most ``rate`` articles/s; counts what the broker acknowledged."""

    def __init__(self, settings: Settings, n: int, run: str, hours: float, chunk: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.settings, self.n, self.run_id, self.hours, self.chunk, self.rate = settings, n, run, hours, chunk, rate
        self.published = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            records = stream(self.n, self.run_id, datetime.now(UTC), self.hours)
            started = time.monotonic()
            while batch := list(itertools.islice(records, self.chunk)):
                count, _ = publish_stream(self.settings, iter(batch))
                self.published += count
                if self.rate:
                    ahead = self.published / self.rate - (time.monotonic() - started)
                    time.sleep(max(0.0, ahead))
        except BaseException as exc:  # reported by the main thread
            self.error = exc


def worker_counts(log: Path) -> str:
    """The worker's embedding counts from its final report line (``worker stopped (...): {...}``)."""
    counts = ("embedded", "embed_cache_hits", "near_copy_reuses", "revision_reuses")
    for line in reversed(log.read_text(encoding="utf-8", errors="replace").splitlines()):
        if "worker stopped" in line and "{" in line:
            report = ast.literal_eval(line[line.index("{") : line.rindex("}") + 1])
            return ", ".join(f"{k} {report[k]:,}" for k in counts if k in report)
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=0.0, help="max articles/s published (0: unthrottled)")
    parser.add_argument("--hours", type=float, default=48.0)
    parser.add_argument("--every", type=float, default=10.0)
    parser.add_argument("--log", type=Path, default=Path("/tmp/newsflow-soak-worker.log"))
    parser.add_argument("--keep", action="store_true", help="keep the run's Kafka topics and store afterwards")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    own = load_settings(kafka_topic_prefix=f"bench-soak-{run}.", kafka_consumer_group=f"bench-{run}")  # own group
    settings = fresh_store(own, run)
    ensure_topics(settings)
    print(f"soak: {args.n} articles via {topic_names(settings).articles}", flush=True)
    publisher = Publisher(settings, args.n, run, args.hours, args.chunk, args.rate)
    started = time.monotonic()
    publisher.start()
    cmd = [sys.executable, "-m", "newsflow.cli", "worker", "--until-idle", "--idle-timeout", "30"]
    peak = 0.0
    with args.log.open("wb") as log:
        worker = subprocess.Popen(cmd, cwd=REPO, env=worker_env(settings), stdout=log, stderr=subprocess.STDOUT)
        print(f"{'t (s)':>7} {'published':>10} {'stored':>9} {'lag':>9} {'RSS MiB':>8} {'stored/s':>9}", flush=True)
        last = (0.0, 0)
        while worker.poll() is None:
            time.sleep(args.every)
            try:
                rss, peak_now = rss_mb(worker.pid)
            except FileNotFoundError:
                break
            peak = max(peak, peak_now)
            t, done = time.monotonic() - started, stored(settings)
            rate = (done - last[1]) / max(1e-9, t - last[0])
            last = (t, done)
            lag = consumer_lag(settings).total
            print(f"{t:7.0f} {publisher.published:10d} {done:9d} {lag:9d} {rss:8.0f} {rate:9.0f}", flush=True)
        status = worker.wait()
    publisher.join(timeout=60)
    elapsed = time.monotonic() - started
    problems = check_exact(settings, args.n)
    if publisher.error is not None:
        problems.append(f"publisher failed: {type(publisher.error).__name__}: {publisher.error}")
    if status:
        problems.append(f"worker exit status {status} (log {args.log})")
    print(
        f"{args.n} articles in {elapsed:.0f} s end to end: {args.n / elapsed:.0f} articles/s overall "
        f"(includes the worker's 30 s idle wait); worker peak RSS {peak:.0f} MiB"
    )
    distinct = len({title for title, _ in headlines()})
    print(
        f"NOT an embedding rate: the stream repeats {distinct:,} distinct headlines, so at most "
        f"{min(distinct, args.n):,} of the {args.n:,} texts needed the model; the worker's counts: "
        f"{worker_counts(args.log) or 'not found in its log'}"
    )
    return finish(settings, run, problems, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
