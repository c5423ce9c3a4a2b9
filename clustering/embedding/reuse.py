"""Fewer forward passes: the texts of a batch whose vector is known without running the model.

* A syndicated near-copy (ingest links it to the first copy, ``near_duplicate_of``: SimHash within a
  few bits of the whole text) takes its original's vector, if their dense texts share at least
  ``MIN_WORD_OVERLAP`` of their words (Jaccard). The check costs no model call and keeps the link's
  false positives out: on the shared sets, SimHash put 3 of 5 long-text pairs within 3 bits that
  were unrelated articles (dense-text cosine 0.16–0.24, word overlap under 0.1), while the copies
  it should find (same words, another order or case) share all their words. The original is in
  the same batch or in the store; its vector comes from the cache (it was embedded when it was
  stored) or from the same model call (``CachedEmbedder.embed_reusing``). An original the store no
  longer has, or whose vector the cache lacks and the call does not compute, lends nothing.
* A revision whose dense text did not change (a new teaser body past the lead, another outlet
  field, a corrected time) has the same cache key as the stored revision: the cache serves it. It is
  counted here as such, apart from the cache's other hits (the same text from another feed).

The store is read only when the batch holds a near-copy whose original is not in it, or a new
revision of a stored article: one query, by id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from clustering.embedding.embed import Embedded
from newsflow.records.doc import Doc
from newsflow.settings import Settings
from newsflow.store import articles_repo

log = logging.getLogger(__name__)
MIN_WORD_OVERLAP = 0.8  # Jaccard of the two dense texts' word sets for a near-copy to borrow the vector
_WORD = re.compile(r"\w+")


def word_overlap(a: str, b: str) -> float:
    """Jaccard of the case-folded word sets of two texts (1.0 for two texts without words)."""
    x, y = set(_WORD.findall(a.casefold())), set(_WORD.findall(b.casefold()))
    return len(x & y) / len(x | y) if x | y else 1.0


@dataclass(frozen=True)
class EmbedCounts:
    """Where the vectors of one batch came from; every embedded article counts in exactly one field."""

    embedded: int = 0  # forward passes (texts through the model)
    cache_hits: int = 0  # the same text embedded before (another feed, a replay, a reload)
    near_copy_reuses: int = 0  # a syndicated near-copy given its original's vector
    revision_reuses: int = 0  # a new revision whose dense text is the stored revision's

    def __add__(self, other: EmbedCounts) -> EmbedCounts:
        return EmbedCounts(
            self.embedded + other.embedded,
            self.cache_hits + other.cache_hits,
            self.near_copy_reuses + other.near_copy_reuses,
            self.revision_reuses + other.revision_reuses,
        )


@dataclass(frozen=True)
class ReusePlan:
    sources: dict[int, str]  # index in the batch → its original's dense text
    unchanged: frozenset[int]  # indices of revisions whose dense text is the stored one

    def count(self, got: Embedded, indices: Sequence[int] | None = None) -> EmbedCounts:
        """The counts of ``got``, whose rows are the batch's ``indices`` (all of it by default)."""
        at = list(indices) if indices is not None else list(range(got.vectors.shape[0]))
        copies = sum(1 for k in got.reused if at[k] in self.sources)
        revisions = sum(1 for k, i in enumerate(at) if i in self.unchanged and got.cached(k))
        return EmbedCounts(
            embedded=len(got.computed),
            cache_hits=len(at) - len(got.computed) - len(got.reused) - revisions,
            near_copy_reuses=copies,
            revision_reuses=revisions,
        )


def plan_reuse(
    engine: Engine, settings: Settings, docs: Sequence[Doc], texts: Sequence[str], stored: Mapping[str, int]
) -> ReusePlan:
    """The near-copies of ``docs`` with a known original that reads alike, and the revisions that kept
    their dense text.

    ``texts`` are the docs' dense texts; ``stored`` the revision stored per article id (read before
    the batch's upsert replaces them).
    """
    batch = {d.id: t for d, t in zip(docs, texts, strict=True)}
    index = {d.id: i for i, d in enumerate(docs)}
    originals = {d.near_duplicate_of for d in docs if d.near_duplicate_of and d.near_duplicate_of != d.id}
    revised = {d.id for d in docs if stored.get(d.id, 0) > 0}
    wanted = (originals - batch.keys()) | revised
    before: dict[str, str] = {}
    if wanted:
        with engine.connect() as conn:
            before = {d.id: d.dense_text(settings) for d in articles_repo.docs_by_id(conn, sorted(wanted))}
    sources: dict[int, str] = {}
    for i, doc in enumerate(docs):
        original = doc.near_duplicate_of
        text = batch.get(original, before.get(original)) if original and original != doc.id else None
        if text is not None and word_overlap(text, texts[i]) >= MIN_WORD_OVERLAP:
            sources[i] = text
    unchanged = frozenset(index[a] for a in revised if before.get(a) == batch[a])
    if sources or unchanged:
        log.debug("%d near-copies with a known original, %d revisions with the same dense text", len(sources),
                  len(unchanged))  # fmt: skip
    return ReusePlan(sources, unchanged)
