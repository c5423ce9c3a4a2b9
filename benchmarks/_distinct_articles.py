"""Distinct articles for the worker benchmarks: no two share their dense text, so none comes from a cache.

Two kinds, from the shared texts (``shared/data/stories``, the sets ``_embedding_cost`` reads):

* ``lead``: title + body. The first pass is the 682 WikiNews and German articles as they are; pass
  ``p`` then starts each body at its sentence ``p`` (the sentences before it move to the end), and
  once a body has no sentence left to start at, a sentence of another article goes first. The body
  stays whole (the TF-IDF reads it all), the dense text is the title and its first
  ``embedding_lead_chars`` characters as the worker builds it; repeats are dropped. Articles of one
  source keep its title, so they form stories as syndicated and follow-up coverage does.
* ``title``: the distinct UCI headlines without a body (6,330 of them): headline-only feeds.

Deterministic: the same ``n`` gives the same texts; the ids carry the run (``distinct-<run>-<k>``).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from benchmarks._embedding_cost import article_docs
from benchmarks.worker_burst import headlines
from newsflow.contracts import ArticleRecord
from newsflow.records.doc import dense_text
from newsflow.settings import Settings

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
TEXTS = ("lead", "title")


@dataclass(frozen=True)
class Text:
    title: str
    body: str
    language: str | None
    outlet: str


def _lead_candidates() -> Iterator[Text]:
    docs = article_docs()
    sentences = [[s for s in SENTENCE_END.split(d.body) if s.strip()] or [d.body] for d in docs]
    for p in itertools.count():
        for d, doc in enumerate(docs):
            own = sentences[d]
            start, cycle = p % len(own), p // len(own)
            body = own[start:] + own[:start]
            if cycle:  # every start used: another article's sentence goes first
                other = sentences[(d + cycle) % len(docs)]
                body = [other[start % len(other)], *body]
            yield Text(doc.title, " ".join(body), doc.language or "en", f"outlet{d % 97}.example")


def _title_candidates() -> Iterator[Text]:
    for title, host in headlines():
        yield Text(title, "", "en", host)


def distinct_texts(n: int, kind: str, settings: Settings) -> list[Text]:
    """``n`` texts of ``kind`` (``lead`` or ``title``) whose dense texts are pairwise different."""
    if kind not in TEXTS:
        raise ValueError(f"unknown text kind {kind!r}: one of {', '.join(TEXTS)}")
    seen: set[str] = set()
    out: list[Text] = []
    for text in _lead_candidates() if kind == "lead" else _title_candidates():
        key = dense_text(text.title, text.body, settings.embedding_lead_chars)
        if text.title.strip() and key not in seen:
            seen.add(key)
            out.append(text)
            if len(out) == n:
                return out
    raise ValueError(f"only {len(out)} distinct {kind} texts in the shared data, {n} asked for")


def dense_texts(texts: list[Text], settings: Settings) -> list[str]:
    """What the worker embeds for each text (``Doc.dense_text``)."""
    return [dense_text(t.title, t.body, settings.embedding_lead_chars) for t in texts]


def article_records(texts: list[Text], run: str, end: datetime, hours: float) -> list[ArticleRecord]:
    """One article per text, ids ``distinct-<run>-<k>``, published times spread over ``hours`` up to ``end``."""
    span = timedelta(hours=hours)
    return [record(text, f"distinct-{run}-{k}", end - span + span * (k / max(1, len(texts))))
            for k, text in enumerate(texts)]  # fmt: skip


def record(text: Text, article_id: str, when: datetime) -> ArticleRecord:
    return ArticleRecord(
        id=article_id, url=f"https://{text.outlet}/{article_id}", title=text.title, content=text.body,
        published=when, fetched=when + timedelta(minutes=1), language=text.language, outlet=text.outlet,
        feed=f"{text.outlet}-main", content_hash=hashlib.sha256(f"{text.title}\n{text.body}".encode()).hexdigest(),
    )  # fmt: skip
