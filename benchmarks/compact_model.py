"""The default model run compactly (clustering.embedding.compact_e5) against the plain load: same inputs, same
vectors, less memory.

1. **Ids.** Every distinct text of the shared sets as the worker embeds it (UCI headlines; title +
   lead of the WikiNews and German articles), plus the full German and WikiNews bodies, through the
   plain transformers tokenizer and the SentencePiece one: texts whose ids differ within the
   model's 128-token window, and over 512 tokens.
2. **Vectors.** ``--vectors`` of those texts encoded both ways: the largest absolute difference and
   the smallest cosine.
3. **Memory.** Each way in a fresh process (``--memory-child``) that loads the model through
   ``clustering.embedding.embed.Embedder``, as the worker does, and encodes every distinct text once (so the
   token table's rows are touched as a long stream touches them): resident memory after loading and
   at the end, its peak (VmHWM) and the anonymous part (heap: not backed by a file).

    python benchmarks/compact_model.py [--vectors 400]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._embedding_cost import article_docs, distinct, headlines, leads  # noqa: E402
from newsflow.models import MULTILINGUAL_E5_SMALL, installed_path  # noqa: E402
from newsflow.settings import Settings  # noqa: E402


def memory_mib() -> dict[str, float]:
    values: dict[str, float] = {}
    for path, keys in (("/proc/self/status", ("VmRSS", "VmHWM")), ("/proc/self/smaps_rollup", ("Anonymous",))):
        for line in Path(path).read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in keys:
                values[key] = int(rest.split()[0]) / 1024
    return values


def texts(settings: Settings) -> list[str]:
    return distinct([*headlines(10**6), *leads(10**6, settings)], 10**7)


def memory_child(compact: bool) -> None:
    import clustering.embedding.embed as embed
    from clustering.embedding.embed import Embedder

    if not compact:  # the plain load: as if the directory had no compact files
        embed.has_compact_files = lambda directory: False  # type: ignore[assignment]
    settings = Settings()
    embedder = Embedder(settings)
    loaded = memory_mib()
    started = time.process_time()
    all_texts = texts(settings)
    embedder.encode(all_texts)
    end = memory_mib()
    print(json.dumps({"texts": len(all_texts), "loaded": loaded, "end": end, "cpu_s": time.process_time() - started}))


def compare_ids(plain: object, compact: object, batch: list[str], max_length: int) -> int:
    kwargs = {"truncation": "longest_first", "max_length": max_length}
    a = plain[0].processor(batch, **kwargs)["input_ids"]  # type: ignore[index]
    b = compact[0].processor(batch, **kwargs)["input_ids"]  # type: ignore[index]
    return sum(1 for x, y in zip(a, b, strict=True) if list(x) != list(y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=400)
    parser.add_argument("--memory-child", choices=("plain", "compact"))
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child == "compact")
        return
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from clustering.embedding.compact_e5 import make_compact

    directory = installed_path(MULTILINGUAL_E5_SMALL)
    if directory is None:
        sys.exit("ModelLoadError: multilingual-e5-small is not installed (scripts/bootstrap.sh installs it)")
    settings = Settings()
    plain = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    compact = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    make_compact(compact, directory)
    dense = texts(settings)
    bodies = distinct((f"{d.title} {d.body}" for d in article_docs()), 10**6)
    print(f"ids: {len(dense)} dense texts, {len(bodies)} full articles")
    print(f"  dense texts differing within 128 tokens: {compare_ids(plain, compact, dense, 128)}")
    print(f"  full articles differing within 128 tokens: {compare_ids(plain, compact, bodies, 128)}")
    print(f"  full articles differing within 512 tokens: {compare_ids(plain, compact, bodies, 512)}")
    for model in (plain, compact):
        model.max_seq_length = settings.embedding_max_seq_length
    sample = dense[: args.vectors]
    a = plain.encode(sample, normalize_embeddings=True)
    b = compact.encode(sample, normalize_embeddings=True)
    print(f"vectors: {len(sample)} texts, max |difference| {float(np.abs(a - b).max()):.3g}, "
          f"min cosine {float((a * b).sum(1).min()):.7f}")  # fmt: skip
    del plain, compact
    print(f"{'load':8} {'RSS loaded':>10} {'anon loaded':>11} {'RSS end':>8} {'anon end':>8} {'peak':>6} {'CPU s':>6}")
    for way in ("plain", "compact"):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", way], capture_output=True, text=True, check=True, cwd=REPO
        ).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        lo, end = r["loaded"], r["end"]
        print(f"{way:8} {lo['VmRSS']:10.0f} {lo['Anonymous']:11.0f} {end['VmRSS']:8.0f} {end['Anonymous']:8.0f} "
              f"{end['VmHWM']:6.0f} {r['cpu_s']:6.0f}   (MiB; {r['texts']} texts encoded)")  # fmt: skip


if __name__ == "__main__":
    main()
