"""Draw the texts of the entity gold set (``benchmarks/data/entities_gold.jsonl``) from the shared sets.

Deterministic (seed 18): ~150 UCI headlines, ~40 WikiNews articles (title + first two sentences)
and ~100 German items (title + first two sentences). Prints one JSON object a line without the
``entities`` field; the gold set adds the hand-annotated entities to exactly these texts.

    python benchmarks/entity_gold_sample.py > /tmp/entity_texts.jsonl
"""

from __future__ import annotations

import csv
import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

STORIES = Path(__file__).parents[2] / "shared" / "data" / "stories"
SEED = 18
_SENTENCE = re.compile(r"(?<=[.!?])[\"”“]?\s+(?=[\"„“]?[A-ZÄÖÜ0-9])")


def lead(text: str, sentences: int = 2, max_chars: int = 500) -> str:
    """The first ``sentences`` sentences of ``text`` (one line), at most ``max_chars`` characters."""
    flat = " ".join(text.split())
    return " ".join(_SENTENCE.split(flat)[:sentences])[:max_chars]


def uci(rng: random.Random, n: int) -> Iterator[dict[str, str]]:
    with (STORIES / "uci_news_prefix.csv").open(encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r["ID"]))
    for row in rng.sample(rows, n):
        yield {"id": f"uci-{row['ID']}", "language": "en", "text": " ".join(row["TITLE"].split())}


def wikinews(rng: random.Random, n: int) -> Iterator[dict[str, str]]:
    articles = []
    for name in ("wikinews_events_big.json", "wikinews_events_medium.json"):
        events = json.loads((STORIES / name).read_text(encoding="utf-8"))
        for e, event in enumerate(events):
            for a, art in enumerate(event["articles"]):
                if art.get("title") and len(art.get("text") or "") > 200:
                    articles.append((f"wn-{name.split('_')[-1][:-5]}-{e}-{a}", art))
    for key, art in rng.sample(articles, n):
        yield {"id": key, "language": "en", "text": " ".join(art["title"].split()) + "\n" + lead(art["text"])}


def german(rng: random.Random, n: int) -> Iterator[dict[str, str]]:
    lines = (STORIES / "de_feb2025_paraphrased.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    for item in rng.sample(items, n):
        yield {"id": item["id"], "language": "de", "text": item["title"] + "\n" + lead(item["text"])}


def main() -> None:
    rng = random.Random(SEED)
    for record in [*uci(rng, 150), *wikinews(rng, 40), *german(rng, 100)]:
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
