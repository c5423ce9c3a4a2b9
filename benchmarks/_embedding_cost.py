"""Shared by the embedding benchmarks: distinct texts of realistic length, tokens, FLOP and the CPU's peak.

Texts come from the shared labelled sets (``shared/data/stories``), each distinct:

* headlines: the UCI titles (median about 15 tokens);
* title + lead: the WikiNews and German articles as the worker embeds them (``Doc.dense_text``:
  title, ". ", the first ``embedding_lead_chars`` characters of the body).

The arithmetic of one forward pass of a BERT encoder (the embedding table is a lookup, not counted):
per layer and token, the four attention projections and the two feed-forward matrices cost
``2 · (4h² + 2hi)`` FLOP, and the attention scores and weighted sum ``2 · 2 · n · h`` for a text of
``n`` tokens. Padding is not counted (sentence-transformers sorts each call's texts by length, so
little of it is computed anyway): the figures are useful FLOP.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsflow.records.doc import Doc
from newsflow.settings import Settings

STORIES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "stories"
# This CPU (lscpu: Xeon family 6 model 207, KVM, 2.3 GHz, AVX-512 with FMA): 2 FMA units × 16 fp32
# lanes × 2 FLOP per cycle. ``measured_peak`` gives what a large single-precision matrix product reaches.
STATED_GHZ = 2.3
STATED_FLOP_PER_CYCLE = 64


def distinct(texts: Iterable[str], limit: int) -> list[str]:
    seen: dict[str, None] = {}
    for text in texts:
        if text.strip():
            seen.setdefault(text, None)
        if len(seen) >= limit:
            break
    return list(seen)


def headlines(limit: int, stories: Path = STORIES) -> list[str]:
    with (stories / "uci_news_prefix.csv").open(newline="", encoding="utf-8") as f:
        return distinct(((row.get("TITLE") or "").strip() for row in csv.DictReader(f)), limit)


def article_docs(stories: Path = STORIES) -> list[Doc]:
    """Every WikiNews and German article with a body, as ``Doc``s (time and outlet do not matter here)."""
    when = datetime(2025, 1, 1, tzinfo=UTC)
    docs: list[Doc] = []
    for path in sorted(stories.glob("wikinews_events_*.json")):
        for k, event in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            for j, article in enumerate(event["articles"]):
                title, body = article["title"].strip(), article.get("text", "").strip()
                docs.append(Doc(f"{path.stem}-{k}-{j}", title, body, when))
    for path in sorted(stories.glob("de_feb2025*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                docs.append(Doc(item["id"], item["title"], item.get("text") or "", when, language="de"))
    return [d for d in docs if d.body]


def leads(limit: int, settings: Settings, stories: Path = STORIES) -> list[str]:
    """Title + lead exactly as the worker builds its dense text, distinct, in a fixed order."""
    return distinct((d.dense_text(settings) for d in article_docs(stories)), limit)


@dataclass(frozen=True)
class Arch:
    layers: int
    hidden: int
    intermediate: int

    @classmethod
    def of(cls, model: Any) -> Arch:
        config = model[0].auto_model.config
        return cls(config.num_hidden_layers, config.hidden_size, config.intermediate_size)

    @property
    def dense_flop_per_token(self) -> float:
        h, i = self.hidden, self.intermediate
        return self.layers * 2.0 * (4 * h * h + 2 * h * i)

    def flop(self, lengths: Sequence[int]) -> float:
        """Useful FLOP of encoding texts of these token lengths."""
        return sum(n * (self.dense_flop_per_token + self.layers * 4.0 * n * self.hidden) for n in lengths)


def token_lengths(model: Any, texts: Sequence[str]) -> list[int]:
    """Tokens per text as the model sees them: its default prompt (e5's ``passage: ``) prepended, the
    special tokens counted, cut at its ``max_seq_length``."""
    prompt = model.prompts.get(model.default_prompt_name or "", "") if getattr(model, "prompts", None) else ""
    encoded = model.tokenizer([prompt + t for t in texts], truncation=True, max_length=model.max_seq_length)
    return [len(ids) for ids in encoded["input_ids"]]


def stated_peak(threads: int) -> float:
    return threads * STATED_GHZ * 1e9 * STATED_FLOP_PER_CYCLE


def measured_peak(threads: int, size: int = 1536, windows: int = 8, seconds: float = 0.5) -> float:
    """FLOP per CPU second of a float32 matrix product (torch, ``threads`` threads): the most a dense
    kernel gets here. The best of ``windows`` short windows (a shared machine's noise lowers some)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        torch.mm(a, b)
        best = 0.0
        for _ in range(windows):
            runs, started, cpu = 0, time.perf_counter(), time.process_time()
            while time.perf_counter() - started < seconds:
                torch.mm(a, b)
                runs += 1
            best = max(best, runs * 2.0 * size**3 / (time.process_time() - cpu))
        return best
    finally:
        torch.set_num_threads(before)
