"""Precision / recall of the entity tags (``clustering.labelling.entities``) on the hand-annotated gold set.

The gold set (``benchmarks/data/entities_gold.jsonl``, rules in ``benchmarks/data/README.md``)
holds 290 texts drawn from the shared labelled sets: UCI headlines, WikiNews titles + two
sentences, German items (title + two sentences), each with the entity strings a reader names.

An article's tags are the names ``mentions`` finds plainly (``sure``) and the German single
words that a second member must confirm (``weak``): a story repeats its nouns, so a weak noun
reaches the topic as soon as two members use it. Positional runs (``maybe``) count only where
another member names them plainly, so they are left out. Strings are compared case-folded,
without dots ("U.S." = "US"), a leading "the", a possessive or a German genitive "s".

    python benchmarks/entity_tags.py            # P / R / F1 per set, false tags by kind, cost
    python benchmarks/entity_tags.py --show 20  # also the most frequent false and missed tags
"""

from __future__ import annotations

import argparse
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clustering.labelling import entities, entity_words
from clustering.labelling.entities import mentions
from clustering.representation.text import _german_morphology

GOLD = Path(__file__).parent / "data" / "entities_gold.jsonl"
_LINE_START = re.compile(r"(?:^|[.!?:;\"“”„«»'‘’()\[\]–—|-]\s*)$")


@dataclass(frozen=True)
class Item:
    id: str
    language: str
    text: str
    entities: tuple[str, ...]

    @property
    def group(self) -> str:
        return "de" if self.language == "de" else "en-wikinews" if self.id.startswith("wn-") else "en-uci"


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_kinds: Counter[str] = field(default_factory=Counter)
    false_tags: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load(path: Path = GOLD) -> list[Item]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Item(r["id"], r["language"], r["text"], tuple(r["entities"])) for r in rows]


def key(name: str) -> str:
    """The form two entity strings are compared in."""
    name = unicodedata.normalize("NFKC", name).replace("\u00ad", "").replace("’", "'").casefold()
    name = " ".join(name.replace(".", "").split())
    name = name.removeprefix("the ")
    return name[:-2] if name.endswith("'s") else name


def tags(item: Item) -> set[str]:
    """What the article contributes to its topic's tags: plain names and (German) words a second member confirms."""
    found = mentions(item.text, item.language)
    return set(found.sure | found.weak)


def _matches(tag: str, gold: set[str]) -> str | None:
    k = key(tag)
    for g in gold:
        if k == g or (k.endswith("s") and k[:-1] == g):  # German genitive "Europas"
            return g
    return None


def false_kind(tag: str, item: Item, gold: set[str]) -> str:
    """Why a tag is wrong: part of a real name, a shouted word, a word capitalised by position, a German noun."""
    words = key(tag).split()
    if any(set(words) & set(g.split()) for g in gold):
        return "partial or overlong name"
    if tag.isupper() and len(tag) > 1:
        return "all-caps word"
    text = unicodedata.normalize("NFKC", item.text).replace("’", "'")
    for line in text.split("\n"):
        at = line.find(tag.split()[0])
        if at < 0:
            continue
        if _LINE_START.search(line[:at]) or re.fullmatch(r"[\d\s.,]*", line[:at]):
            return "sentence-initial word"
        if item.language != "de" and entities._is_title_case(line, item.language):
            return "title-case headline word"
        break
    if item.language == "de":
        return "German noun or adjective"
    return "other capitalised word"


def score(items: Iterable[Item]) -> dict[str, Score]:
    """Scores per group ("en-uci", "en-wikinews", "de") and over all ("all")."""
    scores: dict[str, Score] = {}
    for item in items:
        gold = {key(g) for g in item.entities}
        hit: set[str] = set()
        for group in (item.group, "all"):
            scores.setdefault(group, Score())
        for tag in sorted(tags(item)):
            match = _matches(tag, gold)
            for group in (item.group, "all"):
                s = scores[group]
                if match and match not in hit:
                    s.tp += 1
                elif not match:
                    s.fp += 1
                    s.false_kinds[false_kind(tag, item, gold)] += 1
                    s.false_tags[tag] += 1
            if match:
                hit.add(match)
        for g in gold - hit:
            for group in (item.group, "all"):
                scores[group].fn += 1
                scores[group].missed[g] += 1
    return scores


def cost_per_article(items: Sequence[Item], repeat: int = 3) -> dict[str, tuple[float, float]]:
    """Microseconds per article: ``(cold, warm)`` per language.

    Cold: every cache cleared (``mentions`` and the word caches, HanTa's too), each word looked up
    anew. Warm: only ``mentions`` cleared, the words seen before (a long-running worker's case: news
    repeats its names). ``mentions`` caches per text, so a window pays this once per article.
    """
    out: dict[str, tuple[float, float]] = {}
    for lang in ("en", "de"):
        texts = [i.text for i in items if (i.language == "de") == (lang == "de")]
        cold = warm = float("inf")
        for _ in range(repeat):
            for cached in (mentions, *_word_caches()):
                cached.cache_clear()
            _german_morphology().cache.clear()  # HanTa's own cache of analysed words
            if hasattr(entity_words, "_english_morphology"):
                entity_words._english_morphology().cache.clear()
            cold = min(cold, _time(texts, lang))
            mentions.cache_clear()
            warm = min(warm, _time(texts, lang))
        out[lang] = (cold, warm)
    return out


def _time(texts: Sequence[str], lang: str) -> float:
    start = time.perf_counter()
    for text in texts:
        mentions(text, lang)
    return (time.perf_counter() - start) / len(texts) * 1e6


def _word_caches() -> list[Any]:
    """The word caches of the extractor (the older one, without HanTa, had fewer: the benchmark runs on both)."""
    names = ("_is_name_word", "_noun_like_de", "noun_like_de", "german_word_class", "_german_tags", "_english_tags")
    return [getattr(m, n) for m in (entities, entity_words) for n in names if hasattr(m, n)]


def report(items: Sequence[Item], show: int = 0) -> str:
    scores = score(items)
    lines = [f"{'set':<12} {'texts':>5} {'gold':>5} {'tags':>5} {'P':>6} {'R':>6} {'F1':>6}"]
    counts = Counter(i.group for i in items)
    counts["all"] = len(items)
    for group in ("en-uci", "en-wikinews", "de", "all"):
        s = scores[group]
        lines.append(
            f"{group:<12} {counts[group]:>5} {s.tp + s.fn:>5} {s.tp + s.fp:>5} "
            f"{s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}"
        )
    lines.append("\nfalse tags by kind:")
    for group in ("en-uci", "en-wikinews", "de"):
        kinds = ", ".join(f"{k} {n}" for k, n in scores[group].false_kinds.most_common())
        lines.append(f"  {group:<12} {kinds or '-'}")
    if show:
        for group in ("en-uci", "en-wikinews", "de"):
            s = scores[group]
            lines.append(f"\n{group} false: " + ", ".join(f"{t} {n}" for t, n in s.false_tags.most_common(show)))
            lines.append(f"{group} missed: " + ", ".join(f"{t} {n}" for t, n in s.missed.most_common(show)))
    cost = cost_per_article(items)
    lines.append(
        "\ncost per article (µs, cold / words seen before): "
        + ", ".join(f"{lang} {cold:.0f} / {warm:.0f}" for lang, (cold, warm) in cost.items())
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--show", type=int, default=0, help="list the N most frequent false and missed tags")
    args = parser.parse_args()
    print(report(load(args.gold), args.show))


if __name__ == "__main__":
    main()
