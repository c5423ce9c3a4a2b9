"""How a topic presents itself: keywords, named entities, a label, the representative headline, statistics.

Keywords are class-based TF-IDF: the topic's members read as one document (term frequencies of the
class), weighted by the inverse document frequency of the window, so words the whole window uses
("market", "report") fall behind the ones that set this story apart. Named entities (``entities.py``)
are ranked the same way: share of members naming them × the window's IDF of their rarest word. The
representative headline is the member closest to the topic's dense centroid.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from clustering.labelling.entity_rank import EntityParams, topic_entities
from clustering.representation.represent import Batch, SparseVectoriser, doc_tokens
from clustering.representation.text import detect_language, surface_words
from newsflow.records.doc import Doc, sparse_text
from newsflow.records.topic import TopicSummary
from newsflow.settings import Settings

LABEL_KEYWORDS = 3
REPRESENTATIVES = 3
ENTITY_MEMBERS = 20  # members (closest to the centroid first) whose names are read: bounds a big topic's cost


@dataclass(frozen=True)
class LabelParams:
    """How many keywords a topic keeps, how much of each member they are read from (its sparse text), and
    how its named entities are ranked."""

    sparse_text_chars: int
    topic_keywords: int
    entities: EntityParams

    @classmethod
    def from_settings(cls, settings: Settings) -> LabelParams:
        return cls(
            sparse_text_chars=settings.sparse_text_chars, topic_keywords=settings.topic_keywords,
            entities=EntityParams.from_settings(settings),
        )  # fmt: skip


def keywords(docs: Sequence[Doc], vectoriser: SparseVectoriser, params: LabelParams) -> list[str]:
    """The top ``params.topic_keywords`` terms of the members by class-based TF-IDF (terms used by one member
    only rank last)."""
    top = params.topic_keywords
    token_lists = [doc_tokens(d, params.sparse_text_chars) for d in docs]
    per_doc = [set(words) for words in token_lists]
    tf: Counter[str] = Counter()
    for words in token_lists:
        tf.update(words)
    if not tf:
        return []
    terms = sorted(tf)
    idf = vectoriser.idf(vectoriser.counts([[t] for t in terms]).indices)
    spread = Counter(t for words in per_doc for t in words)
    total = sum(tf.values())
    need_spread = 2 if len(docs) >= 3 else 1
    scored = [(spread[t] >= need_spread, tf[t] / total * idf[k], t) for k, t in enumerate(terms)]
    scored.sort(key=lambda item: (not item[0], -item[1], item[2]))
    return _as_written([t for _, _, t in scored[:top]], docs, params.sparse_text_chars)


def _as_written(terms: list[str], docs: Sequence[Doc], sparse_text_chars: int) -> list[str]:
    """Each term as the members write it most often (a German stem such as "verhandl" is never shown);
    one pass over the members for all terms."""
    wanted = set(terms)
    words: dict[str, Counter[str]] = {t: Counter() for t in terms}
    parts: dict[str, Counter[str]] = {t: Counter() for t in terms}  # "zöll" of "Metallzölle"
    for d in docs:
        text = sparse_text(d.title, d.body, sparse_text_chars)
        for term, word, whole in surface_words(text, d.language or detect_language(text)):
            if term in wanted:
                (words if whole else parts)[term][word] += 1
    # A whole word as written wins over any compound part ("zölle", not "zöll"); a part over the stem.
    return [_most_written(words[t]) or _most_written(parts[t]) or t for t in terms]


def _most_written(counts: Counter[str]) -> str | None:
    return min(counts, key=lambda w: (-counts[w], w)) if counts else None


def unit_centroid(dense: np.ndarray) -> np.ndarray:
    """The unit-length mean of a topic's dense rows (its summary's centroid)."""
    centroid = dense.mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    return (centroid / norm if norm > 0 else centroid).astype(np.float32)


def summarise(
    docs: Sequence[Doc], dense: np.ndarray, vectoriser: SparseVectoriser, params: LabelParams
) -> TopicSummary:
    """Label, keywords, representative headline and centroid of one topic's members (row-aligned)."""
    words = keywords(docs, vectoriser, params)
    centroid = unit_centroid(dense)
    closeness = dense @ centroid
    # Ties (identical syndicated copies) resolve to the earliest, then the smallest id: stable output.
    order = sorted(range(len(docs)), key=lambda i: (-round(float(closeness[i]), 5), docs[i].published, docs[i].id))
    return TopicSummary(
        label=" · ".join(words[:LABEL_KEYWORDS]),
        keywords=words,
        representative_title=docs[order[0]].title if order else "",
        centroid=centroid,
        representative_ids=[docs[i].id for i in order[:REPRESENTATIVES]],
        entities=topic_entities([docs[i] for i in order[:ENTITY_MEMBERS]], vectoriser, params.entities),
    )


def summarise_all(
    window: Batch, rows_of: Mapping[int, Sequence[int]], vectoriser: SparseVectoriser, params: LabelParams
) -> dict[int, TopicSummary]:
    """Summaries of several topics, each given by its rows in ``window``."""
    out: dict[int, TopicSummary] = {}
    for topic_id, rows in rows_of.items():
        if rows:
            idx = list(rows)
            out[topic_id] = summarise([window.docs[i] for i in idx], window.dense[idx], vectoriser, params)
    return out


def centroids_all(window: Batch, rows_of: Mapping[int, Sequence[int]]) -> dict[int, np.ndarray]:
    """Only the centroids of ``summarise_all``'s summaries (the same values), without the labels."""
    return {topic_id: unit_centroid(window.dense[list(rows)]) for topic_id, rows in rows_of.items() if rows}
