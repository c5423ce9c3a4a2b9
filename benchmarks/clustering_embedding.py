"""Embedding benchmark: newsflow's ``Embedder`` against a plain ``SentenceTransformer.encode`` on this CPU.

Both encode the same texts (the first ``--texts`` distinct headlines of the UCI stories prefix) with
the same model (the configured one; by default the bundled all-MiniLM-L6-v2, loaded offline) and
the same batch size:

1. plain: ``SentenceTransformer(path, device="cpu").encode(texts, batch_size=B)``;
2. newsflow: ``Embedder(settings).encode(texts)`` (normalised float32 rows, settings' batch size and
   max sequence length);
3. newsflow cached: ``CachedEmbedder`` over a ``MemoryCache``: a cold pass (fills the cache), then the
   same texts again (all served from the cache, no model call).

Model loading is outside the timings; each model encodes a warm-up batch first. Passes alternate
plain/newsflow ``--repeats`` times and the best pass of each counts. Prints texts/s and the ratio.

    python benchmarks/clustering_embedding.py [--texts 2000] [--batch-size 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # the offline switches above are set before the HF libraries load
from _synthetic import peak_rss_mib

from clustering.embed import CachedEmbedder, Embedder, MemoryCache, resolve_model
from newsflow.settings import Settings

DEFAULT_INPUT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stories" / "uci_news_prefix.csv"
log = logging.getLogger("bench.embedding")


def load_titles(path: Path, limit: int) -> list[str]:
    seen: dict[str, None] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            title = (row.get("TITLE") or "").strip()
            if title:
                seen.setdefault(title, None)
            if len(seen) >= limit:
                break
    return list(seen)


def timed(fn: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    out = fn(texts)
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT, help="CSV with a TITLE column")
    parser.add_argument("--texts", type=int, default=2000, help="distinct headlines to encode")
    parser.add_argument("--batch-size", type=int, default=0, help="0: the configured embedding_batch_size")
    parser.add_argument("--repeats", type=int, default=2, help="alternating passes of each; the best counts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)

    overrides = {"embedding_batch_size": args.batch_size} if args.batch_size else {}
    settings = Settings(**overrides)
    batch_size = settings.embedding_batch_size
    texts = load_titles(args.input, args.texts)
    log.info("%d headlines from %s", len(texts), args.input)

    from sentence_transformers import SentenceTransformer

    _, location = resolve_model(settings)
    plain_model = SentenceTransformer(location, device="cpu", local_files_only=True)
    embedder = Embedder(settings)

    def plain(batch: Sequence[str]) -> np.ndarray:
        return np.asarray(plain_model.encode(list(batch), batch_size=batch_size, show_progress_bar=False))

    plain(texts[:batch_size])  # warm-up
    embedder.encode(texts[:batch_size])
    plain_s: list[float] = []
    ours_s: list[float] = []
    for r in range(args.repeats):
        s, plain_out = timed(plain, texts)
        plain_s.append(s)
        s, ours_out = timed(embedder.encode, texts)
        ours_s.append(s)
        log.info("pass %d: plain %.2f s, newsflow %.2f s", r + 1, plain_s[-1], ours_s[-1])
    # Same vectors up to normalisation (the plain call does not normalise).
    plain_unit = plain_out / np.linalg.norm(plain_out, axis=1, keepdims=True)
    agreement = float(np.min(np.sum(plain_unit * ours_out, axis=1)))

    cached = CachedEmbedder(embedder, MemoryCache())
    cold_s, _ = timed(cached.embed, texts)
    calls = embedder.encode_calls
    warm_s, _ = timed(cached.embed, texts)
    assert embedder.encode_calls == calls, "the second cached pass ran the model"

    n = len(texts)
    best_plain, best_ours = min(plain_s), min(ours_s)
    print(f"embedding {n:,} distinct UCI headlines, model {embedder.model_id} ({location}), batch size {batch_size}, "
          f"max_seq_length plain {plain_model.max_seq_length} / newsflow {settings.embedding_max_seq_length}, "
          f"torch threads {_torch_threads()}; best of {args.repeats} passes")  # fmt: skip
    header = f"{'pass':<34} {'seconds':>8} {'texts/s':>10} {'vs plain':>9}"
    print(header)
    print("-" * len(header))
    rows = [
        ("plain SentenceTransformer.encode", best_plain),
        ("newsflow Embedder.encode", best_ours),
        ("newsflow CachedEmbedder, cold", cold_s),
        ("newsflow CachedEmbedder, cached", warm_s),
    ]
    for name, s in rows:
        print(f"{name:<34} {s:>8.3f} {n / s:>10,.0f} {best_plain / s:>8.2f}x")
    print(f"min cosine between plain (normalised) and newsflow vectors: {agreement:.6f}")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


if __name__ == "__main__":
    main()
