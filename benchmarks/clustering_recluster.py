"""Re-clustering benchmark: wall time and peak RSS of one re-clustering over windows of synthetic articles.

For each window size, in a fresh subprocess (so each size's peak RSS is its own):

1. generate the window: synthetic stories (``_synthetic.py``: 384-dim unit embeddings around story
   centres, made-up keyword headlines and leads, times over 72 h);
2. ``represent_window``: the hashed TF-IDF of the window (what loading a window costs after the
   embeddings come from the cache) — timed, but reported apart;
3. ``plan_recluster``: the real re-clustering stage (features → neighbour graph → HDBSCAN over the
   graph → linkage → story merging in ``cluster_window``, then reconciliation, labels and
   summaries) with the configured settings (``NEWSFLOW_*`` variables apply), on a window with no
   previous topics — timed as a whole, with ``cluster_window`` timed inside it. Windows above
   ``recluster_exact_neighbours_max`` take the approximate neighbour search.

Printed per size: the seconds of each part, clusters found, the share of articles assigned, the
purity of the clusters against the synthetic stories (share of assigned articles in their
cluster's majority story), and the process's RSS after building the window and its peak. The store and
the embedding model are not involved. Issue 4's targets: 50k re-clustered in <= 30 s; worker RSS
<= 1.5 GB with 100k articles in the window.

    python benchmarks/clustering_recluster.py [--sizes 10000 50000 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from typing import Any

import numpy as np

log = logging.getLogger("bench.recluster")


def one_size(n: int, seed: int, mean_story_size: float) -> dict[str, Any]:
    """Measure one window in this process; returns the figures."""
    from _synthetic import current_rss_mib, generate, peak_rss_mib

    import clustering.reclustering.plan as plan_module
    from clustering.reclustering.plan import plan_recluster
    from clustering.reclustering.recluster import ReclusterParams
    from clustering.window import Window, represent_window
    from newsflow.settings import Settings

    settings = Settings()
    rss_start = current_rss_mib()
    t0 = time.perf_counter()
    data = generate(n, seed=seed, mean_story_size=mean_story_size)
    gen_s = time.perf_counter() - t0
    log.info("n=%d: generated %d stories in %.1f s", n, len(data.centres), gen_s)
    rss_data = current_rss_mib()

    t0 = time.perf_counter()
    batch, vectoriser = represent_window(data.docs, data.dense, settings)
    represent_s = time.perf_counter() - t0
    log.info("n=%d: represented the window in %.1f s", n, represent_s)
    rss_window = current_rss_mib()
    window = Window(batch=batch, vectoriser=vectoriser, memberships={}, topics={})

    inner: dict[str, Any] = {}
    real_cluster_window = plan_module.cluster_window

    def timed_cluster_window(b: Any, s: ReclusterParams) -> np.ndarray:
        started = time.perf_counter()
        labels = real_cluster_window(b, s)
        inner["cluster_window_s"] = time.perf_counter() - started
        inner["labels"] = labels
        return labels

    plan_module.cluster_window = timed_cluster_window  # type: ignore[assignment]  # timing probe only
    now = max(d.published for d in data.docs)
    t0 = time.perf_counter()
    plan = plan_recluster(window, now, settings, next_topic_id=1)
    plan_s = time.perf_counter() - t0
    plan_module.cluster_window = real_cluster_window
    log.info("n=%d: planned in %.1f s", n, plan_s)

    labels = inner["labels"]
    # Purity of the clusters against the synthetic stories: a check that the work was real clustering.
    assigned = labels >= 0
    pure = 0
    for c in np.unique(labels[assigned]):
        pure += int(np.bincount(data.story[labels == c]).max())
    return {
        "n": n,
        "stories": len(data.centres),
        "generate_s": gen_s,
        "represent_s": represent_s,
        "cluster_window_s": inner["cluster_window_s"],
        "plan_s": plan_s,
        "clusters": plan.clusters,
        "assigned_share": float(assigned.mean()),
        "purity": pure / max(int(assigned.sum()), 1),
        "rss_start_mib": rss_start,
        "rss_data_mib": rss_data,
        "rss_window_mib": rss_window,
        "peak_rss_mib": peak_rss_mib(),
    }


def run_child(n: int, args: argparse.Namespace) -> dict[str, Any] | None:
    cmd = [sys.executable, __file__, "--child", str(n), "--seed", str(args.seed),
           "--mean-story-size", str(args.mean_story_size)]  # fmt: skip
    log.info("size %d: starting %s", n, " ".join(cmd[1:]))
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=args.timeout, check=False)
    except subprocess.TimeoutExpired:
        log.warning("size %d: no result within %d s", n, args.timeout)
        return None
    if proc.returncode != 0:
        log.warning("size %d: child failed with status %d", n, proc.returncode)
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["child_wall_s"] = time.perf_counter() - started
    return result


def print_table(results: list[dict[str, Any]]) -> None:
    header = (f"{'window':>8} {'stories':>8} {'represent s':>12} {'cluster_window s':>17} {'plan s':>8} "
              f"{'clusters':>9} {'assigned':>9} {'purity':>7} {'RSS data MiB':>13} {'peak RSS MiB':>13}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['n']:>8,} {r['stories']:>8,} {r['represent_s']:>12.2f} {r['cluster_window_s']:>17.2f} "
              f"{r['plan_s']:>8.2f} {r['clusters']:>9,} {r['assigned_share']:>9.1%} {r['purity']:>7.1%} "
              f"{r['rss_window_mib']:>13.0f} {r['peak_rss_mib']:>13.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000], help="window sizes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mean-story-size", type=float, default=8.0, help="mean articles per synthetic story")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds allowed per size")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)  # internal: one size, JSON out
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("clustering").setLevel(logging.WARNING)
    if args.child:
        print(json.dumps(one_size(args.child, args.seed, args.mean_story_size)))
        return
    results = []
    for n in args.sizes:
        r = run_child(n, args)
        if r is not None:
            results.append(r)
            log.info("size %d: plan %.1f s, peak RSS %.0f MiB", n, r["plan_s"], r["peak_rss_mib"])
    print(f"re-clustering (plan_recluster, configured settings), synthetic windows, mean story size "
          f"{args.mean_story_size}, seed {args.seed}; one subprocess per size")  # fmt: skip
    print_table(results)
    for r in results:
        if r["n"] == 50_000:
            print(f"target 50k <= 30 s: plan {r['plan_s']:.1f} s -> {'met' if r['plan_s'] <= 30 else 'NOT met'}")
        if r["n"] == 100_000:
            ok = r["peak_rss_mib"] <= 1536
            print(f"target RSS <= 1.5 GB at 100k: peak {r['peak_rss_mib']:.0f} MiB -> {'met' if ok else 'NOT met'}")
    missing = sorted(set(args.sizes) - {r["n"] for r in results})
    if missing:
        print(f"no result for sizes {missing} (see the log above)")


if __name__ == "__main__":
    main()
