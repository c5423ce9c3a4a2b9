"""Document frequencies over the whole store: counted once per article, used by every decision path."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine

from clustering.embedding.embed import CachedEmbedder, Embedder, MemoryCache
from clustering.evaluation.evaluate import simulate
from clustering.processor import BatchProcessor
from clustering.representation.corpus import CorpusParams, corpus_frequencies, documents_per_term
from clustering.representation.represent import SparseVectoriser, doc_tokens
from clustering.sql_state import load_window
from newsflow.errors import ConfigError
from newsflow.settings import Settings
from newsflow.store import articles_repo, term_frequencies_repo
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import T0, record, revise, story_records
from tests.unit.clustering.test_processor import messages

NOW = T0 + timedelta(hours=3)


def stored(engine: Engine, n_features: int) -> tuple[np.ndarray, int] | None:
    with engine.connect() as conn:
        return term_frequencies_repo.load(conn, n_features)


def expected(settings: Settings, records: list) -> tuple[np.ndarray, int]:  # type: ignore[type-arg]
    """The frequencies counted afresh over ``records``' token lists."""
    vectoriser = SparseVectoriser(settings.sparse_features)
    docs = [articles_repo.doc_from_record(r) for r in records]
    vectoriser.observe(vectoriser.counts([doc_tokens(d, settings.sparse_text_chars) for d in docs]))
    return vectoriser.df, vectoriser.n_docs


@pytest.fixture
def processor(settings: Settings, embedder: Embedder) -> BatchProcessor:
    engine = open_store(settings)
    return BatchProcessor(settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: NOW)


def test_the_repository_adds_up_and_says_when_nothing_was_counted(settings: Settings) -> None:
    engine = open_store(settings)
    assert stored(engine, 16) is None
    with engine.begin() as conn:
        term_frequencies_repo.add_documents(conn, {3: 2, 7: 1}, 2)
        term_frequencies_repo.add_documents(conn, {3: 1}, 1)
    df, n = stored(engine, 16)  # type: ignore[misc]
    assert n == 3 and df[3] == 3 and df[7] == 1 and df.sum() == 4
    with pytest.raises(ConfigError, match="NEWSFLOW_SPARSE_FEATURES"):
        stored(engine, 4)  # counted over more columns than now configured: named, not silently wrong


def test_each_article_counts_once_however_often_it_arrives(processor: BatchProcessor, settings: Settings) -> None:
    records = story_records()
    processor.process(messages(records[:7]))
    processor.process(messages(records))  # the first seven again, in a batch with the rest
    processor.process(messages(records))  # a full replay
    first = records[0]
    processor.process(messages([revise(first, "A new headline for the same article")], start=100))
    df, n = stored(processor.engine, settings.sparse_features)  # type: ignore[misc]
    want_df, want_n = expected(settings, records)
    assert n == want_n == len(records)
    np.testing.assert_array_equal(df, want_df)  # the revision's new words are not counted twice either


def test_a_store_from_before_the_table_is_counted_once(settings: Settings) -> None:
    engine = open_store(settings)
    records = story_records()
    with engine.begin() as conn:
        articles_repo.upsert_articles(conn, records, NOW)  # stored without counting (as before the table)
    params = CorpusParams.from_settings(settings)
    df, n = corpus_frequencies(engine, params)
    want_df, want_n = expected(settings, records)
    assert n == want_n and np.array_equal(df, want_df)
    with engine.begin() as conn:
        articles_repo.upsert_articles(conn, [record("late", "Stored behind the counter's back")], NOW)
    assert corpus_frequencies(engine, params)[1] == want_n  # counted once: no second full count


def test_the_window_weighs_terms_by_the_whole_store(processor: BatchProcessor, settings: Settings) -> None:
    old = [record(f"old-{k}", f"Unicredit results item {k}", NOW - timedelta(days=30)) for k in range(5)]
    processor.process(messages(old))
    processor.process(messages(story_records(), start=10))
    window = load_window(processor.engine, processor.embedder, settings, NOW)
    total = len(old) + len(story_records())
    assert len(window.batch) < total and window.vectoriser.n_docs == total
    by_window = load_window(
        processor.engine, processor.embedder, settings.model_copy(update={"document_frequencies": "window"}), NOW
    )
    assert by_window.vectoriser.n_docs == len(by_window.batch)
    # "unicredit" is in 5 old articles too: rarer in the window than in the store, so it weighs less now.
    col = SparseVectoriser(settings.sparse_features).term_index("unicredit")
    assert window.vectoriser.idf(np.array([col]))[0] < by_window.vectoriser.idf(np.array([col]))[0]


def test_the_evaluation_counts_what_the_store_counts(settings: Settings, embedder: Embedder) -> None:
    old = [record(f"old-{k}", f"Unicredit results item {k}", NOW - timedelta(days=30)) for k in range(5)]
    docs = [articles_repo.doc_from_record(r) for r in old + story_records()]
    sim = simulate(settings, docs, CachedEmbedder(embedder, MemoryCache()))
    assert sim.vectoriser.n_docs == len(docs)  # the last run's frequencies: every article fed, as stored
    np.testing.assert_array_equal(sim.vectoriser.df, expected(settings, old + story_records())[0])
    by_window = settings.model_copy(update={"document_frequencies": "window"})
    assert simulate(by_window, docs, CachedEmbedder(embedder, MemoryCache())).vectoriser.n_docs == len(docs) - 5


def test_documents_per_term_counts_a_row_once_per_term() -> None:
    import scipy.sparse as sp

    counts = sp.csr_matrix((np.array([2.0, 1.0, 1.0, 1.0]), np.array([1, 1, 3, 1]), np.array([0, 2, 4])), shape=(2, 5))
    assert documents_per_term(counts) == {1: 2, 3: 1}
