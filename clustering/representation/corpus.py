"""Document frequencies over every article stored, for the TF-IDF side of every decision.

With ``settings.document_frequencies == "corpus"`` (the default) the worker's online state, the
re-clustering and ``newsflow eval`` weigh terms by their frequency over all articles seen so far,
not over the 72-hour window. In a long stream a subject's words ("Ukraine", "earnings", "wedding")
come back week after week: over the window they look rare and glue different stories of one subject
together; over the corpus they weigh what they are worth, and the words of the story itself carry
the TF-IDF similarity. Measured held-out (2 folds by story, e5): a 4,000-headline stream over five
months B-cubed precision 0.923 → 0.949 (recall 0.690 → 0.670), sparse_mix2 0.903 → 0.913 (recall
0.871 → 0.863); the 36-hour sets (UCI, WikiNews) and the German set unchanged, since their window
holds nearly the whole stream.

The store keeps the counts (``term_frequencies_repo``): a writer adds an article's terms in the
transaction that first stores it. A store from before the table is counted once, the first time
the frequencies are read (``corpus_frequencies``), in pages, with progress in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Connection, Engine

from clustering.representation.represent import SparseVectoriser, doc_tokens
from newsflow.records.doc import Doc
from newsflow.settings import Settings
from newsflow.store import articles_repo, term_frequencies_repo, topics_repo

log = logging.getLogger(__name__)
_PROGRESS_EVERY = 100_000  # articles between progress lines of a first count


def documents_per_term(counts: sp.csr_matrix) -> dict[int, int]:
    """How many rows of ``counts`` (raw term counts, one row per article) contain each term column."""
    canonical = sp.csr_matrix(counts, copy=True)
    canonical.sum_duplicates()  # (a term twice in one row is one document)
    columns, documents = np.unique(canonical.indices[canonical.data > 0], return_counts=True)
    return dict(zip(columns.tolist(), documents.tolist(), strict=True))


def count_articles(conn: Connection, counts: sp.csr_matrix) -> None:
    """Add the articles whose raw term counts are the rows of ``counts`` to the stored frequencies
    (inside the transaction that first stores them)."""
    term_frequencies_repo.add_documents(conn, documents_per_term(counts), counts.shape[0])


@dataclass(frozen=True)
class CorpusParams:
    """The hashing space the frequencies are kept over, and the text an article's terms come from."""

    sparse_features: int
    sparse_text_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> CorpusParams:
        return cls(sparse_features=settings.sparse_features, sparse_text_chars=settings.sparse_text_chars)


def corpus_frequencies(engine: Engine, params: CorpusParams) -> tuple[np.ndarray, int]:
    """The stored frequencies over ``params.sparse_features`` columns and the articles counted;
    a store that never counted them is counted first (once: under the topic write lock)."""
    with engine.connect() as conn:
        stored = term_frequencies_repo.load(conn, params.sparse_features)
    if stored is not None:
        return stored
    with engine.begin() as conn:
        topics_repo.lock_topic_writes(conn)  # writers wait: none stores an article while it is counted
        if not term_frequencies_repo.is_counted(conn):  # (unless another process counted meanwhile)
            _count_stored_articles(conn, params)
        stored = term_frequencies_repo.load(conn, params.sparse_features)
    assert stored is not None
    return stored


def _count_stored_articles(conn: Connection, params: CorpusParams) -> None:
    vectoriser = SparseVectoriser(params.sparse_features)
    df = np.zeros(params.sparse_features, dtype=np.int64)
    articles = 0
    for page in articles_repo.iter_docs(conn):
        counts = vectoriser.counts(_token_lists(page, params.sparse_text_chars))
        for term, documents in documents_per_term(counts).items():
            df[term] += documents
        articles += len(page)
        if articles % _PROGRESS_EVERY < len(page):
            log.info("counting term frequencies over the stored articles: %d so far", articles)
    term_frequencies_repo.add_documents(conn, {int(t): int(df[t]) for t in np.flatnonzero(df)}, articles)
    log.info("term frequencies counted over %d stored articles", articles)


def _token_lists(docs: Sequence[Doc], sparse_text_chars: int) -> list[list[str]]:
    return [doc_tokens(d, sparse_text_chars) for d in docs]
