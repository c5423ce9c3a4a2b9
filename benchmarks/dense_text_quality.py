"""Story quality against the length of the dense text: ``newsflow eval`` per set, per dense-text setting.

The TF-IDF reads the full text whatever the dense text is; only the embedded text changes:

* ``title``: the title alone (``embedding_lead_chars`` 0);
* ``title+1st``: the title and the body's first sentence (ends at ``.``/``!``/``?`` followed by a
  space and a capital, digit or quote, after at least 20 characters; at most ``embedding_lead_chars``);
* ``lead@64`` / ``lead@128`` / ``lead@256``: title + ``embedding_lead_chars`` (500) characters of
  lead, cut by the model at ``embedding_max_seq_length`` 64 / 128 (the default) / 256 tokens.

The model is loaded once; each setting embeds each set's texts afresh into its own in-memory cache
(timed in CPU seconds of the process, which a shared machine's load does not inflate: articles
per CPU second, every text through the model), then ``run_evaluation`` replays the
set on the simulated clock from that cache. Prints B-cubed P/R/F1 per set per setting and the
embedding rate per setting. The bundled same-story model was trained on these sets with the default
dense text, so the scores are in-sample and favour the default a little: compare settings with each
other only. For comparable rates pin it: ``taskset -c 1 env OMP_NUM_THREADS=1``.

    python benchmarks/dense_text_quality.py [--evalin /tmp/s16/evalin] [--sets wikinews_big,...]
        [--settings title,title+1st,lead@64,lead@128,lead@256] [--out /tmp/s17/dense]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from _embedding_cost import token_lengths  # (the offline switches above are set before the HF libraries load)

from clustering.embedding.embed import CachedEmbedder, Embedder, MemoryCache, load_model
from clustering.evaluation.eval_data import read_jsonl
from clustering.evaluation.evaluate import parse_article, run_evaluation
from newsflow.records.doc import Doc, dense_text
from newsflow.settings import Settings, load_settings

log = logging.getLogger("bench.dense_text")
SETS = ("wikinews_big", "wikinews_medium", "de_feb2025", "sparse_mix2")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“„A-ZÀ-ÖØ-Þ0-9])")


def first_sentence(body: str, limit: int) -> str:
    for match in _SENTENCE_END.finditer(body[:limit]):
        if match.start() >= 20:
            return body[: match.start()]
    return body[:limit]


def _title_and_first_sentence(doc: Doc, settings: Settings) -> str:
    lead = settings.embedding_lead_chars
    return dense_text(doc.title, first_sentence(doc.body.strip(), lead), lead)


VARIANTS: dict[str, tuple[dict[str, int], Callable[[Doc, Settings], str] | None]] = {
    "title": ({"embedding_lead_chars": 0}, None),
    "title+1st": ({}, _title_and_first_sentence),
    "lead@64": ({"embedding_max_seq_length": 64}, None),
    "lead@128": ({}, None),
    "lead@256": ({"embedding_max_seq_length": 256}, None),
}


@contextmanager
def dense_text_as(fn: Callable[[Doc, Settings], str] | None) -> Iterator[None]:
    """``Doc.dense_text`` replaced for the duration (the evaluation calls it on every article)."""
    original = Doc.dense_text
    if fn is not None:
        setattr(Doc, "dense_text", fn)  # noqa: B010 (a method of a frozen dataclass, patched on the class)
    try:
        yield
    finally:
        setattr(Doc, "dense_text", original)  # noqa: B010


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evalin", type=Path, default=Path("/tmp/s16/evalin"), help="`eval --make-input` output")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--settings", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/s17/dense"), help="predictions go here")
    parser.add_argument("--no-eval", action="store_true", help="only the embedding rates")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for noisy in ("sentence_transformers", "clustering.evaluation.evaluate", "clustering.reclustering.recluster"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    base = load_settings()
    model_id, model = load_model(base)
    sets = [s.strip() for s in args.sets.split(",")]
    docs = {s: [parse_article(item, n)[0] for n, item in enumerate(read_jsonl(args.evalin / f"{s}.jsonl"), 1)]
            for s in sets}  # fmt: skip
    rows: list[tuple[str, str, dict[str, float | int]]] = []
    rates: dict[str, tuple[int, int, float]] = {}
    for variant in (v.strip() for v in args.settings.split(",")):
        overrides, fn = VARIANTS[variant]
        settings = load_settings(**overrides)
        model.max_seq_length = settings.embedding_max_seq_length
        embedder = CachedEmbedder(Embedder(settings, model=model, model_id=model_id), MemoryCache())
        n_texts = n_tokens = 0
        seconds = 0.0
        with dense_text_as(fn):
            for s in sets:
                texts = sorted({d.dense_text(settings) for d in docs[s]})
                started = time.process_time()
                embedder.embed(texts)  # every text through the model (a fresh cache per setting)
                seconds += time.process_time() - started
                n_texts += len(texts)
                n_tokens += sum(token_lengths(model, texts))
                if args.no_eval:
                    continue
                pred = args.out / f"{variant}.{s}.pred"
                result = run_evaluation(settings, args.evalin / f"{s}.jsonl", pred, embedder)
                rows.append((variant, s, result.scores))
                log.info("%s %s: %s", variant, s, {k: round(float(v), 3) for k, v in result.scores.items()})
        rates[variant] = (n_texts, n_tokens, seconds)

    print(f"model {model_id}; B-cubed precision / recall / F1 (in-sample same-story model: compare rows only)")
    print(f"{'setting':<10} " + " ".join(f"{s:>22}" for s in sets) + f" {'art/CPU s':>10} {'tokens/text':>11}")
    for variant, (n_texts, n_tokens, seconds) in rates.items():
        cells = []
        for s in sets:
            sc = next((r for v, name, r in rows if v == variant and name == s), None)
            cell = f"{sc['bcubed_p']:.3f}/{sc['bcubed_r']:.3f}/{sc['bcubed_f1']:.3f}" if sc else "-"
            cells.append(cell.rjust(22))
        print(f"{variant:<10} " + " ".join(cells) + f" {n_texts / seconds:>10.1f} {n_tokens / n_texts:>11.0f}")


if __name__ == "__main__":
    main()
