"""Online assignment benchmark: latency per article with thousands of active topics.

Builds the real ``OnlineClusterer`` with ``--topics`` active topics (default 5,000), installed with
``add_topics`` from a synthetic window (``_synthetic.py``: stories of a few articles each, 384-dim
unit embeddings around story centres, made-up keyword headlines), then times, one article at a time:

1. ``predict_one`` (the candidate search + re-ranking; changes nothing) for ``--articles`` new
   articles (default 1,000): most belong to the installed stories, ``--new-share`` to unseen ones;
2. ``learn_one`` for the same articles (assignment and centroid update, or the unassigned pool's
   seeding search), in arrival order.

The embeddings and the sparse representation of the new articles are computed before the timing:
the figures exclude the embedding model and the tokenising, and measure the assignment alone.
Issue 4's target: p99 <= 20 ms. From ``assign_index_min_topics`` active topics the search probes
centroid cells; the same articles are also timed against a search of every topic, and the answers
compared.

    python benchmarks/clustering_assignment.py [--topics 5000] [--articles 1000] [--members 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time

import numpy as np
from _synthetic import generate, peak_rss_mib

from clustering.online.assign import Assignment, AssignParams, OnlineClusterer
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from clustering.threads import limit_blas_threads
from newsflow.settings import Settings

log = logging.getLogger("bench.assignment")


def percentiles(ms: np.ndarray) -> dict[str, float]:
    return {
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "mean": float(ms.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=5000, help="active topics installed before timing")
    parser.add_argument("--members", type=int, default=4, help="window articles per installed topic")
    parser.add_argument("--articles", type=int, default=1000, help="new articles timed")
    parser.add_argument("--new-share", type=float, default=0.2, help="share of new articles from unseen stories")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--subjects",
        type=int,
        default=0,
        help="group the stories under this many subjects (0: independent random story centres)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    settings = Settings()
    limit_blas_threads(settings.worker_blas_threads)  # as the worker does

    # Stories of exactly ``members + 1`` articles: ``members`` installed, one held back as a new article.
    per_story = args.members + 1
    unseen = round(args.articles * args.new_share)
    total = int(1.3 * (args.topics * per_story + unseen))  # spare stories: sizes vary, unseen ones
    data = generate(total, mean_story_size=per_story, singleton_share=0.0, seed=args.seed, subjects=args.subjects)
    rows_of: dict[int, list[int]] = {}
    for i, s in enumerate(data.story.tolist()):
        rows_of.setdefault(s, []).append(i)
    # The generator's story sizes vary; take the first ``topics`` stories big enough, keep the rest aside.
    big = [s for s, rows in rows_of.items() if len(rows) >= 2][: args.topics]
    if len(big) < args.topics:
        sys.exit(f"only {len(big)} stories of 2+ articles generated; lower --topics or raise --members")
    install: list[int] = []
    labels: list[int] = []
    held: list[int] = []
    for topic, s in enumerate(big):
        rows = rows_of[s]
        install.extend(rows[:-1])
        labels.extend([topic + 1] * (len(rows) - 1))
        held.append(rows[-1])
    chosen = set(big)
    others = [rows[0] for s, rows in rows_of.items() if s not in chosen][:unseen]
    rng = np.random.default_rng(args.seed)
    known = rng.choice(held, size=args.articles - len(others), replace=False).tolist()
    queries = sorted(known + others)  # arrival order = publication order

    vectoriser = SparseVectoriser(settings.sparse_features)
    representing = RepresentParams.from_settings(settings)
    window = represent([data.docs[i] for i in install], data.dense[install], vectoriser, representing)
    new = represent([data.docs[i] for i in queries], data.dense[queries], vectoriser, representing, observe=False)
    params = AssignParams.from_settings(settings)
    clusterer = OnlineClusterer(params, data.dense.shape[1], next_topic_id=1)
    t0 = time.perf_counter()
    clusterer.add_topics(np.asarray(labels, dtype=np.int64), window)
    install_s = time.perf_counter() - t0
    log.info("installed %d topics from %d articles in %.2f s", len(clusterer.topics), len(window), install_s)

    predict_ms, predictions = time_predictions(clusterer, new)
    # The same articles against a search of every topic: what the centroid cells cost in answers and save in time.
    exact = OnlineClusterer(dataclasses.replace(params, assign_index_min_topics=2**62), data.dense.shape[1])
    exact.add_topics(np.asarray(labels, dtype=np.int64), window)
    exact_ms, exact_predictions = time_predictions(exact, new)
    del exact
    agree = sum(1 for a, b in zip(predictions, exact_predictions, strict=True) if a.topic_id == b.topic_id)
    learn_ms = np.empty(len(new))
    learned = []
    for i in range(len(new)):
        started = time.perf_counter()
        learned.append(clusterer.learn_one(new, i))
        learn_ms[i] = (time.perf_counter() - started) * 1000

    # Sanity: held-back articles should mostly go to their own story's topic.
    topic_of_story = {s: t + 1 for t, s in enumerate(big)}
    expected = [topic_of_story.get(int(data.story[q])) for q in queries]
    right = sum(1 for p, e in zip(predictions, expected, strict=True) if e is not None and p.topic_id == e)
    right_exact = sum(1 for p, e in zip(exact_predictions, expected, strict=True) if e is not None and p.topic_id == e)
    assigned = sum(1 for p in predictions if p.topic_id is not None)
    created = sum(1 for a in learned if a.created)

    print(f"online assignment: {len(clusterer.topics) - created:,} active topics installed from {len(window):,} "
          f"articles; {len(new):,} new articles ({len(others)} from unseen stories), one at a time")  # fmt: skip
    print("precomputed embeddings and sparse rows: the model and tokenising are excluded from the timings")
    header = f"{'operation':<26} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}"
    print(header)
    print("-" * len(header))
    search = "cells" if clusterer.topics.cells.active else "all topics"
    rows = ((f"predict_one ({search})", predict_ms), ("predict_one (all topics)", exact_ms), ("learn_one", learn_ms))
    for name, ms in rows:
        p = percentiles(ms)
        print(f"{name:<26} {p['p50']:>8.2f} {p['p90']:>8.2f} {p['p99']:>8.2f} {p['max']:>8.2f} {p['mean']:>8.2f}")
    if clusterer.topics.cells.active:
        cells = clusterer.topics.cells
        assert cells.centres is not None
        print(f"centroid cells: {len(cells.centres)} cells, {settings.assign_index_probe} probed per article; "
              f"same topic as the search of all topics for {agree} of {len(new)} articles; held-back articles "
              f"to their own story's topic: {right} with cells, {right_exact} searching all")  # fmt: skip
    print(f"predict_one: {assigned} of {len(new)} assigned, {right} of {len(known)} held-back articles to their "
          f"own story's topic; learn_one started {created} topics")  # fmt: skip
    p99 = max(percentiles(predict_ms)["p99"], percentiles(learn_ms)["p99"])
    print(f"target p99 <= 20 ms: worst p99 {p99:.2f} ms -> {'met' if p99 <= 20 else 'NOT met'}")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


def time_predictions(clusterer: OnlineClusterer, new: Batch) -> tuple[np.ndarray, list[Assignment]]:
    for i in range(min(20, len(new))):  # warm-up (BLAS threads, first sparse ops), not timed
        clusterer.predict_one(new, i)
    ms = np.empty(len(new))
    predictions = []
    for i in range(len(new)):
        started = time.perf_counter()
        predictions.append(clusterer.predict_one(new, i))
        ms[i] = (time.perf_counter() - started) * 1000
    return ms, predictions


if __name__ == "__main__":
    main()
