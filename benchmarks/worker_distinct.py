"""Worker end to end on distinct articles: Kafka → worker process(es) → store, every text through the model.

Unlike ``worker_burst.py`` (re-keyed copies: after the first pass the vectors come from the cache),
every article here has a dense text of its own (``_distinct_articles``: title + lead of realistic
length, or headlines only with ``--text title``) and the run gets a fresh, empty store (a new
PostgreSQL database beside the configured one, or a new SQLite file), so the embedding cache starts
empty and the worker's own count of cache hits must end at 0.

The worker(s) run as their own processes (``python -m newsflow.cli worker --until-idle``), each
pinned with ``taskset`` to its share of ``--cores`` (split evenly among ``--workers``), with
``--threads`` embedding threads (``NEWSFLOW_EMBEDDING_THREADS``, ``OMP_NUM_THREADS``; default: one
per core it owns). They join one consumer group on a topic of ``--partitions`` partitions; once
every worker holds partitions, the articles are published round-robin over the partitions (equal
shares). Printed: the start-up (launch → every worker in the group), articles/s from the first
message polled to the last batch committed (lag 0; from the workers' reports) and including
start-up, per worker and per core; tokens per article, useful GFLOP/s and their share of the
compute limit of the cores used (``_embedding_cost``); peak RSS and CPU seconds per worker; and the
exact checks: every id stored once, lag 0, no dead letters, every text embedded, no cache hits.

    export NEWSFLOW_DATABASE_URL=postgresql+psycopg://newsflow@127.0.0.1:55432/newsflow  # or unset: SQLite
    python benchmarks/worker_distinct.py [--n 3000] [--text lead|title] [--cores 0,1] [--threads 2]
        [--workers 1] [--partitions 2] [--idle-timeout 30] [--keep]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kafka.admin import KafkaAdminClient  # noqa: E402
from kafka.errors import CoordinatorNotAvailableError  # noqa: E402
from sqlalchemy import select  # noqa: E402

from benchmarks._distinct_articles import TEXTS, Text, article_records, dense_texts, distinct_texts  # noqa: E402
from benchmarks._embedding_cost import Arch, measured_peak, stated_peak, token_lengths  # noqa: E402
from benchmarks.worker_burst import check_exact, clean_up, fresh_store, publish_stream, stored, worker_env  # noqa: E402
from newsflow.kafka import ensure_topics, topic_names  # noqa: E402
from newsflow.settings import Settings, load_settings  # noqa: E402
from newsflow.store import schema  # noqa: E402
from newsflow.store.database import open_store  # noqa: E402

log = logging.getLogger("bench.worker_distinct")
GROUP_WAIT_S = 300.0  # model loading on a busy machine can take a while


@dataclass
class Worker:
    cores: list[int]
    proc: subprocess.Popen[bytes]
    launched: float
    out: Path
    report: dict[str, Any] = field(default_factory=dict)
    peak_rss_mib: float = 0.0
    cpu_s: float = 0.0  # CPU seconds of the whole process
    cpu_idle_s: float = 0.0  # ... of its start-up: until the group was ready, before any article

    @property
    def work_cpu_s(self) -> float:
        return self.cpu_s - self.cpu_idle_s

    @property
    def busy_s(self) -> float:
        return float(self.report.get("last_batch_at", 0.0)) - float(self.report.get("first_message_at", 0.0))


@dataclass
class Outcome:
    n: int
    cores: int
    workers: list[Worker]
    ready_s: float  # launch → every worker holds partitions
    busy_s: float  # first message polled → last batch committed, over all workers
    total_s: float  # launch → last batch committed
    problems: list[str]

    @property
    def rate(self) -> float:
        return self.n / self.busy_s if self.busy_s > 0 else 0.0

    @property
    def rate_per_core(self) -> float:
        return self.rate / self.cores

    @property
    def rate_per_cpu_s(self) -> float:
        """Articles per CPU second the workers spent after start-up: what the cores gave them, whatever
        else ran on them (on a shared machine the wall rate falls with the load, this holds)."""
        cpu = sum(w.work_cpu_s for w in self.workers)
        return self.n / cpu if cpu > 0 else 0.0


def launch(settings: Settings, cores: list[int], threads: int, idle_s: float, log_path: Path) -> Worker:
    """Start one worker process pinned to ``cores`` (none: unpinned), stdout (its JSON report) beside its log."""
    pin = ["taskset", "-c", ",".join(map(str, cores))] if cores else []
    cmd = [*pin, sys.executable, "-m", "newsflow.cli", "worker", "--until-idle", "--idle-timeout", str(idle_s)]
    threads_env = {"NEWSFLOW_EMBEDDING_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)} if threads else {}
    out = log_path.with_suffix(".json")
    with log_path.open("wb") as err, out.open("wb") as report:
        proc = subprocess.Popen(cmd, cwd=REPO, env={**worker_env(settings), **threads_env}, stdout=report, stderr=err)
    return Worker(cores, proc, time.time(), out)


def wait_in_group(settings: Settings, workers: list[Worker], timeout_s: float = GROUP_WAIT_S) -> list[list[int]]:
    """Block until the group is stable with every worker holding partitions; the partitions of each member."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if any(w.proc.poll() is not None for w in workers):
                raise RuntimeError("a worker exited before joining the group (see its log)")
            try:
                group = admin.describe_groups([settings.kafka_consumer_group])[settings.kafka_consumer_group]
            except CoordinatorNotAvailableError:  # a broker just started: its offsets topic is not up yet
                time.sleep(0.5)
                continue
            held = [
                sorted(p for t in m["member_assignment"]["assigned_partitions"] for p in t["partitions"])
                for m in group.get("members", []) if m.get("member_assignment")
            ]  # fmt: skip
            if group.get("group_state") == "Stable" and len(held) == len(workers) and all(held):
                return held
            time.sleep(0.25)
    finally:
        admin.close()
    raise TimeoutError(f"the workers did not all hold partitions within {timeout_s:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reap(worker: Worker) -> int:
    """Wait for the worker; read its report, peak RSS and CPU seconds (``wait4``); its exit status."""
    _, status, usage = os.wait4(worker.proc.pid, 0)
    worker.proc.returncode = os.waitstatus_to_exitcode(status)
    worker.peak_rss_mib, worker.cpu_s = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    try:
        worker.report = json.loads(worker.out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("no report from worker %d: %s", worker.proc.pid, exc)
    return worker.proc.returncode


def id_problems(settings: Settings, ids: set[str]) -> list[str]:
    """Ids missing from the store or stored without being published."""
    engine = open_store(settings, run_migrations=False)
    try:
        with engine.connect() as conn:
            got = [r[0] for r in conn.execute(select(schema.articles.c.id))]
    finally:
        engine.dispose()
    missing, extra = len(ids - set(got)), len(set(got) - ids)
    return [f"{missing} ids missing, {extra} unexpected"] if missing or extra else []


def report_problems(workers: list[Worker], n: int) -> list[str]:
    """What the workers' own counts say is wrong: not every text embedded, vectors from a cache, no share."""
    problems = [f"worker {w.proc.pid} sent no report" for w in workers if not w.report]
    total = {k: sum(int(w.report.get(k, 0)) for w in workers) for k in ("stored", "embedded")}
    reused = {k: sum(int(w.report.get(k, 0)) for w in workers)
              for k in ("embed_cache_hits", "near_copy_reuses", "revision_reuses")}  # fmt: skip
    if total["stored"] != n or total["embedded"] != n:
        problems.append(f"workers stored {total['stored']} and embedded {total['embedded']} of {n}")
    problems += [f"{k} {v}" for k, v in reused.items() if v]
    problems += [f"worker {w.proc.pid} consumed nothing" for w in workers if not w.report.get("consumed")]
    return problems


def measure(texts: list[Text], args: argparse.Namespace, label: str = "") -> Outcome:
    """One run: fresh store and topics, the workers, the articles; prints the figures, cleans up unless --keep."""
    run = uuid.uuid4().hex[:8]
    cores = [int(c) for c in args.cores.split(",")] if args.cores else []
    if len(cores) % args.workers:
        raise SystemExit(f"--cores {args.cores}: not an equal share for {args.workers} workers")
    share = len(cores) // args.workers
    own = load_settings(kafka_topic_prefix=f"bench-distinct-{run}.", kafka_consumer_group=f"bench-{run}",
                        kafka_partitions=args.partitions)  # fmt: skip
    settings = fresh_store(own, run)
    cached = stored(settings, schema.embeddings)  # a fresh store: none
    problems = [f"{cached} vectors cached before the run"] if cached else []
    ensure_topics(settings)
    records = article_records(texts, run, datetime.now(UTC), hours=24.0)
    threads = args.threads or share  # unpinned and not given: the configured embedding_threads
    logs = Path(args.log_dir)
    logs.mkdir(parents=True, exist_ok=True)
    workers: list[Worker] = []
    try:
        for i in range(args.workers):
            log_path = logs / f"worker-{run}-{i}.log"
            workers.append(launch(settings, cores[i * share : (i + 1) * share], threads, args.idle_timeout, log_path))
        held = wait_in_group(settings, workers)
        ready = time.time()
        for w in workers:
            w.cpu_idle_s = cpu_seconds(w.proc.pid)
        count, seconds = publish_stream(settings, iter(records), spread=args.partitions)
        print(f"{label}{args.workers} worker(s), {threads or 'default'} embedding thread(s) each, in group "
              f"{settings.kafka_consumer_group} after {ready - workers[0].launched:.1f} s, partitions {held}; "
              f"published {count} to {topic_names(settings).articles} in {seconds:.1f} s", flush=True)  # fmt: skip
        problems += [f"worker exit status {status}" for status in map(reap, workers) if status]
    except BaseException:  # stop the workers this run started, remove what it made, and say why
        for w in workers:
            if w.proc.returncode is None:
                w.proc.terminate()
                w.proc.wait()
        if not args.keep:
            clean_up(settings, run)
        raise
    problems += report_problems(workers, len(records)) + check_exact(settings, len(records))
    problems += id_problems(settings, {r.id for r in records})
    started = [float(w.report.get("first_message_at", 0.0)) for w in workers if w.report.get("first_message_at")]
    ended = max((float(w.report.get("last_batch_at", 0.0)) for w in workers), default=0.0)
    busy = ended - min(started) if started else 0.0
    outcome = Outcome(len(records), len(cores) or len(os.sched_getaffinity(0)), workers,
                      ready - workers[0].launched, busy, ended - workers[0].launched, problems)  # fmt: skip
    print_outcome(outcome, label)
    if not args.keep:
        clean_up(settings, run)
    return outcome


def print_outcome(o: Outcome, label: str = "") -> None:
    for w in o.workers:
        r, rate = w.report, w.report.get("consumed", 0) / w.busy_s if w.busy_s > 0 else 0.0
        # skipped: messages read again after a rebalance (a member left mid-batch), already stored: no model call
        print(f"{label}worker pid {w.proc.pid} on CPUs {w.cores or 'any'}: consumed {r.get('consumed', 0)} "
              f"({r.get('skipped', 0)} skipped as stored), stored "
              f"{r.get('stored', 0)}, embedded {r.get('embedded', 0)}, cache hits {r.get('embed_cache_hits', 0)}; "
              f"{rate:.1f} articles/s over {w.busy_s:.1f} s busy; CPU {w.work_cpu_s:.1f} s after start-up "
              f"({w.cpu_s:.1f} s in all); peak RSS {w.peak_rss_mib:.0f} MiB")  # fmt: skip
    with_start = o.n / o.total_s if o.total_s > 0 else 0.0
    print(f"{label}{o.n} articles: {o.rate:.1f} articles/s from first message to lag 0 ({o.busy_s:.1f} s), "
          f"{o.rate_per_core:.1f} per core on {o.cores} core(s), {o.rate_per_cpu_s:.1f} per CPU second of the "
          f"workers; {with_start:.1f} articles/s including start-up ({o.ready_s:.1f} s to join, {o.total_s:.1f} s "
          f"in all)")  # fmt: skip
    print(f"{label}" + ("checks: every id stored once, lag 0, no dead letters, every text embedded, 0 cache hits"
                        if not o.problems else "PROBLEMS: " + "; ".join(o.problems)), flush=True)  # fmt: skip


def compute_share(texts: list[Text], outcomes: dict[str, Outcome], settings: Settings) -> None:
    """Tokens per article (the model's tokenizer) and each run's useful GFLOP/s against its cores' peak."""
    from sentence_transformers import SentenceTransformer

    from clustering.embedding.embed import resolve_model

    _, location = resolve_model(settings)
    model = SentenceTransformer(location, device="cpu", local_files_only=True)
    model.max_seq_length = settings.embedding_max_seq_length
    lengths, arch = token_lengths(model, dense_texts(texts, settings)), Arch.of(model)
    per_core = measured_peak(1)
    print(f"tokens per article: mean {sum(lengths) / len(lengths):.0f}, median {sorted(lengths)[len(lengths) // 2]} "
          f"(max_seq_length {settings.embedding_max_seq_length}); {arch.dense_flop_per_token / 1e6:.1f} MFLOP/token "
          f"+ attention; compute limit per core: stated {stated_peak(1) / 1e9:.0f} GFLOP/s, measured float32 "
          f"matrix product {per_core / 1e9:.0f} GFLOP/s per CPU second")  # fmt: skip
    for label, o in outcomes.items():
        wall = arch.flop(lengths) / o.busy_s if o.busy_s > 0 else 0.0
        cpu = arch.flop(lengths) / o.n * o.rate_per_cpu_s
        print(f"{label}useful {wall / 1e9:.1f} GFLOP/s = {wall / stated_peak(o.cores):.0%} of the stated peak of "
              f"{o.cores} core(s); per CPU second of the workers {cpu / 1e9:.1f} GFLOP = {cpu / per_core:.0%} of "
              f"the measured matrix product")  # fmt: skip


def quiet_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for noisy in ("kafka", "alembic", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def add_run_options(parser: argparse.ArgumentParser, n: int) -> None:
    parser.add_argument("--n", type=int, default=n, help="distinct articles")
    parser.add_argument("--text", choices=TEXTS, default="lead", help="title + lead, or headlines only")
    parser.add_argument("--idle-timeout", type=float, default=30.0, help="the workers' --idle-timeout (s)")
    parser.add_argument("--log-dir", default="/tmp/newsflow-worker-distinct", help="worker logs and reports")
    parser.add_argument("--keep", action="store_true", help="keep the run's Kafka topics and store afterwards")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(parser, 3000)
    parser.add_argument("--cores", default="", help="CPU ids to pin the workers to, e.g. 0 or 0,1 (default: none)")
    parser.add_argument("--threads", type=int, default=0, help="embedding threads per worker (0: its cores)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes in one consumer group")
    parser.add_argument("--partitions", type=int, default=2, help="partitions of the articles topic")
    args = parser.parse_args()
    quiet_logging()
    settings = load_settings()
    texts = distinct_texts(args.n, args.text, settings)
    print(f"{len(texts)} distinct {args.text} texts", flush=True)
    outcome = measure(texts, args)
    compute_share(texts, {"": outcome}, settings)
    return 1 if outcome.problems else 0


if __name__ == "__main__":
    sys.exit(main())
