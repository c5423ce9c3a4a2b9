"""Replay time of ``newsflow eval`` on a long, low-volume stream (issue 15, item 4).

Builds a reproducible stream from the shared UCI prefix: ``--articles`` headlines (seeded sample)
spread over ``--days`` days, each story over its own seeded run of up to three weeks (the
``*_spread`` construction of ``newsflow eval --make-input``). Over five months the simulated clock
passes about 2,300 re-clustering ticks, which is what made the replay slow, whatever the stories.
The shared prefix has 87 stories, so this stream's stories are bigger than a random sample of the
aggregator's; the replay's cost follows the articles and the ticks, not the labels.

The stream is replayed twice in child processes (``newsflow eval``) over one embedding cache: the
first run embeds, the second is the tuning loop's case (every vector cached). Prints wall and CPU
seconds, the re-clustering count reported by the replay and the B-cubed scores of each run.

    python benchmarks/replay_timing.py [--articles 4000] [--days 150] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clustering.evaluation.eval_data import UCI_FILE, spread, uci_items

STORIES = Path(__file__).resolve().parents[2] / "shared" / "data" / "stories"


def build_stream(stories: Path, articles: int, days: float, seed: int, out: Path) -> int:
    items, start = uci_items(stories / UCI_FILE)
    sample = random.Random(seed).sample(items, min(articles, len(items)))
    stream = spread(sample, start, seed, max_story_days=21.0, days=days)
    with out.open("w", encoding="utf-8") as f:
        for item in stream:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    return len({item["story"] for item in stream})


def replay(stream: Path, state: Path) -> tuple[float, float, str]:
    env = {**os.environ, "NEWSFLOW_STATE_DIR": str(state)}
    env.pop("NEWSFLOW_DATABASE_URL", None)  # the embedding cache lives in the run's own SQLite store
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "newsflow.cli", "eval", str(stream), "--out", str(state / "pred.tsv")],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"ReplayFailed: newsflow eval exited {done.returncode}: {done.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stories", type=Path, default=STORIES)
    ap.add_argument("--articles", type=int, default=4000)
    ap.add_argument("--days", type=float, default=150.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsflow-replay-") as tmp:
        work = Path(tmp)
        stream = work / "stream.jsonl"
        stories = build_stream(args.stories, args.articles, args.days, args.seed, stream)
        print(f"stream: {args.articles} headlines, {stories} stories over {args.days:g} days ({stream.name})")
        for label in ("cold (embeds)", "warm (cached vectors)"):
            wall, cpu, report = replay(stream, work)
            keys = ("wrote", "bcubed_p", "bcubed_r", "bcubed_f1", "predicted_clusters")
            scores = [line.strip() for line in report.splitlines() if line.strip().startswith(keys)]
            print(f"{label:22s} wall {wall:7.1f} s   cpu {cpu:7.1f} s")
            for line in scores:
                print(f"    {line}")


if __name__ == "__main__":
    main()
