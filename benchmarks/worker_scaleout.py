"""Scale-out shown: two workers of one group, each on a core of its own, against one worker on one core.

Both runs use ``worker_distinct.measure`` on the same distinct articles (title + lead by default;
each run has a fresh store, so neither finds a vector in the cache) on a topic of ``--partitions``
partitions (default 2), published round-robin so the partitions hold equal shares:

1. one worker pinned to the first CPU of ``--cores`` (``taskset -c 0``), one embedding thread;
2. two workers pinned to one CPU each (``taskset -c 0`` and ``taskset -c 1``), one thread each.

Each run checks that every worker held partitions (the group's assignment, printed) and consumed
its share, and that the total is exact (every id stored once, lag 0, no dead letters, every text
embedded, no cache hits). Printed: articles/s per core for both and their ratio (the target: the
rate per core holds within 15 %, ratio ≥ 0.85), by wall time and per CPU second of the workers.
On a machine whose cores also serve PostgreSQL, Kafka and other jobs, the wall rate of run 2
competes with them on both cores while run 1 leaves one core to them; the per-CPU-second ratio
shows what the workers themselves lose (contention in the store, the topic lock).

    export NEWSFLOW_DATABASE_URL=postgresql+psycopg://newsflow@127.0.0.1:55432/newsflow
    python benchmarks/worker_scaleout.py [--n 2000] [--text lead|title] [--cores 0,1] [--partitions 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._distinct_articles import distinct_texts
from benchmarks.worker_distinct import Outcome, add_run_options, compute_share, measure, quiet_logging
from newsflow.settings import load_settings

TARGET = 0.85  # the rate per core holds within 15 %


def verdict(one: Outcome, two: Outcome) -> str:
    wall = two.rate_per_core / one.rate_per_core if one.rate_per_core else 0.0
    cpu = two.rate_per_cpu_s / one.rate_per_cpu_s if one.rate_per_cpu_s else 0.0
    holds = "holds" if wall >= TARGET else "does NOT hold"
    return (
        f"articles/s per core: 1 worker on 1 core {one.rate_per_core:.1f}, 2 workers on 2 cores "
        f"{two.rate_per_core:.1f}: ratio {wall:.2f} ({holds} within 15 %); per CPU second of the workers "
        f"{one.rate_per_cpu_s:.1f} vs {two.rate_per_cpu_s:.1f}: ratio {cpu:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(parser, 2000)
    parser.add_argument("--cores", default="0,1", help="two CPU ids: the one worker gets the first")
    parser.add_argument("--partitions", type=int, default=2, help="partitions of the articles topic (≥ 2)")
    args = parser.parse_args()
    quiet_logging()
    cores = args.cores.split(",")
    if len(cores) != 2 or args.partitions < 2:
        raise SystemExit("--cores takes two CPU ids and --partitions at least 2")
    settings = load_settings()
    texts = distinct_texts(args.n, args.text, settings)
    print(f"{len(texts)} distinct {args.text} texts, {args.partitions} partitions, one embedding thread per worker")
    runs = {
        "[1 worker]  ": argparse.Namespace(**{**vars(args), "workers": 1, "threads": 1, "cores": cores[0]}),
        "[2 workers] ": argparse.Namespace(**{**vars(args), "workers": 2, "threads": 1, "cores": ",".join(cores)}),
    }
    outcomes = {label: measure(texts, ns, label) for label, ns in runs.items()}
    compute_share(texts, outcomes, settings)
    one, two = outcomes.values()
    print(verdict(one, two))
    return 1 if one.problems or two.problems else 0


if __name__ == "__main__":
    sys.exit(main())
