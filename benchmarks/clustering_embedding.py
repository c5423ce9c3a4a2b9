"""Embedding benchmark on distinct texts: articles/s, tokens/s and the share of the CPU's compute limit.

Every text is encoded by the model, none comes from a cache: the texts are distinct (see
``_embedding_cost``) and neither path below has a cache. Per model (by default the default
multilingual-e5-small and the bundled all-MiniLM-L6-v2) and per text set (UCI headlines; title +
lead as the worker builds its dense text), two paths encode the same texts, alternating
``--repeats`` times (the best pass of each counts):

1. plain: ``SentenceTransformer(path, device="cpu").encode(texts, batch_size=B)``, with the same
   ``max_seq_length`` as newsflow (so both do the same work);
2. newsflow: ``Embedder(settings).encode(texts)`` (normalised float32 rows).

A last row serves the same texts from a ``CachedEmbedder`` whose cache already holds them (no model
call): what a replay of stored texts costs, and what the old soak benchmark measured.

Printed per row: wall seconds and articles per wall second; CPU seconds of the process and, per CPU
second, articles, tokens (prompt and special tokens included, cut at ``max_seq_length``), useful
GFLOP and their share of the compute limit: the stated peak (threads × 2.3 GHz × 64 fp32
FLOP/cycle, AVX-512 with two FMA units) and a measured float32 matrix product on the same threads.
On a machine shared with other jobs the wall figures fall with the load; per CPU second they hold
(with one thread: what one core of its own would do). Model loading is outside the timings; each
path encodes a warm-up batch first. Pin it for figures that compare: ``taskset -c 1 env
OMP_NUM_THREADS=1``.

    python benchmarks/clustering_embedding.py [--headlines 1000] [--leads 400] [--repeats 2]
        [--models multilingual-e5-small,all-MiniLM-L6-v2] [--batch-size 0]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # the offline switches above are set before the HF libraries load
from _embedding_cost import Arch, headlines, leads, measured_peak, stated_peak, token_lengths
from _synthetic import peak_rss_mib

from clustering.embedding.embed import CachedEmbedder, Embedder, MemoryCache, resolve_model, text_key
from newsflow.settings import Settings

log = logging.getLogger("bench.embedding")


def timed(fn: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> tuple[float, float, np.ndarray]:
    """(wall seconds, CPU seconds of this process, result)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(texts)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def bench_model(name: str, sets: dict[str, list[str]], args: argparse.Namespace, peaks: tuple[float, float]) -> None:
    from sentence_transformers import SentenceTransformer

    overrides = {"embedding_batch_size": args.batch_size} if args.batch_size else {}
    settings = Settings(embedding_model=name, **overrides)
    batch_size = settings.embedding_batch_size
    _, location = resolve_model(settings)
    plain_model = SentenceTransformer(location, device="cpu", local_files_only=True)
    plain_model.max_seq_length = settings.embedding_max_seq_length
    embedder = Embedder(settings)
    # The architecture and token counts from the plain model: the embedder may run an onnxruntime export
    # (the default on a CPU), whose tokenizer gives the same ids and which has no torch config.
    arch = Arch.of(plain_model)
    backend = "onnxruntime" if type(embedder.model).__name__ == "OnnxEncoder" else "sentence-transformers"
    print(f"\nmodel {embedder.model_id} (newsflow path on {backend}): {arch.layers} layers, hidden {arch.hidden}, "
          f"intermediate {arch.intermediate}: {arch.dense_flop_per_token / 1e6:.1f} MFLOP/token + attention; "
          f"batch size {batch_size}, max_seq_length {settings.embedding_max_seq_length}")  # fmt: skip

    def plain(batch: Sequence[str]) -> np.ndarray:
        return np.asarray(plain_model.encode(list(batch), batch_size=batch_size, show_progress_bar=False))

    header = (
        f"{'texts':<10} {'pass':<10} {'n':>5} {'tok/text':>8} {'wall s':>8} {'art/wall s':>10} {'CPU s':>8} "
        f"{'art/CPU s':>10} {'tok/CPU s':>9} {'GFLOP/s':>8} {'of peak':>8} {'of sgemm':>8}"
    )
    print(header)
    print("-" * len(header))
    for set_name, texts in sets.items():
        lengths = token_lengths(plain_model, texts)
        flop, tokens = arch.flop(lengths), sum(lengths)
        plain(texts[:batch_size])  # warm-up
        embedder.encode(texts[:batch_size])
        plain_s: list[tuple[float, float]] = []
        ours_s: list[tuple[float, float]] = []
        for r in range(args.repeats):
            wall, cpu, plain_out = timed(plain, texts)
            plain_s.append((wall, cpu))
            wall, cpu, ours_out = timed(embedder.encode, texts)
            ours_s.append((wall, cpu))
            log.info("%s %s pass %d: plain %.2f s, newsflow %.2f s", name, set_name, r + 1, plain_s[-1][0],
                     ours_s[-1][0])  # fmt: skip
        plain_unit = plain_out / np.linalg.norm(plain_out, axis=1, keepdims=True)
        agreement = float(np.min(np.sum(plain_unit * ours_out, axis=1)))
        cache = MemoryCache()
        cache.put_many(embedder.model_id, {text_key(t): v for t, v in zip(texts, ours_out, strict=True)})
        calls = embedder.encode_calls
        cached_s, cached_cpu, _ = timed(CachedEmbedder(embedder, cache).embed, texts)
        assert embedder.encode_calls == calls, "the cached pass ran the model"
        median = statistics.median(lengths)
        for label, (s, cpu), counted in (("plain", min(plain_s), True), ("newsflow", min(ours_s), True),
                                         ("cached", (cached_s, cached_cpu), False)):  # fmt: skip
            n = len(texts)
            if counted:
                gflop = flop / cpu / 1e9
                share = f"{gflop * 1e9 / peaks[0]:>7.0%} {gflop * 1e9 / peaks[1]:>8.0%}"
                rate = f"{n / cpu:>10,.1f} {tokens / cpu:>9,.0f} {gflop:>8.1f} {share}"
            else:
                rate = f"{n / cpu:>10,.0f} {'(no model call)':>35}"
            print(f"{set_name:<10} {label:<10} {n:>5} {median:>8.0f} {s:>8.2f} {n / s:>10,.1f} {cpu:>8.2f} {rate}")
        print(f"{'':<10} min cosine plain (normalised) vs newsflow: {agreement:.6f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--headlines", type=int, default=1000, help="distinct UCI headlines")
    parser.add_argument("--leads", type=int, default=400, help="distinct title + lead texts (WikiNews, German)")
    parser.add_argument("--models", default="multilingual-e5-small,all-MiniLM-L6-v2")
    parser.add_argument("--batch-size", type=int, default=0, help="0: the configured embedding_batch_size")
    parser.add_argument("--repeats", type=int, default=2, help="alternating passes of each path; the best counts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)

    import torch

    threads = torch.get_num_threads()
    peaks = (stated_peak(threads), measured_peak(threads))
    sets = {"headlines": headlines(args.headlines), "title+lead": leads(args.leads, Settings())}
    print(f"distinct texts: {len(sets['headlines'])} UCI headlines, {len(sets['title+lead'])} title + lead "
          f"(WikiNews, German; lead {Settings().embedding_lead_chars} characters); torch threads {threads}, "
          f"CPU affinity {sorted(os.sched_getaffinity(0))}")  # fmt: skip
    print(f"compute limit on {threads} thread(s): stated {peaks[0] / 1e9:.0f} GFLOP/s (2.3 GHz × 64 FLOP/cycle), "
          f"measured float32 matrix product {peaks[1] / 1e9:.0f} GFLOP/s")  # fmt: skip
    for name in args.models.split(","):
        bench_model(name.strip(), sets, args, peaks)
    print(f"\npeak RSS: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
