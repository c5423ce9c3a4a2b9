"""Document frequencies of the hashed TF-IDF terms over the whole store (``term_frequencies``).

The clustering weighs terms by how rare they are. Counted over the 72-hour window alone, a story's
own words look common in a quiet window and a subject's words ("Ukraine", "stocks") look rare in a
long stream; counted over every stored article they mean what IDF means. Writers add an article's
terms once, in the transaction that first stores it (under the topic write lock, so two workers
never count one article twice); a replayed or revised article adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from newsflow.errors import ConfigError
from newsflow.store.schema import term_frequencies
from newsflow.store.upsert import chunked

CORPUS_SIZE = -1  # the row that holds how many articles were counted
_ROWS_PER_STATEMENT = 5_000


def add_documents(conn: Connection, documents_per_term: Mapping[int, int], articles: int) -> None:
    """Add ``articles`` counted articles whose terms are ``documents_per_term`` (term column → how many
    of them contain it) to the stored frequencies; with 0 articles it only marks them counted."""
    if articles < 0:
        raise ValueError(f"cannot count {articles} articles")
    rows = [{"term": CORPUS_SIZE, "documents": articles}]
    rows += [{"term": int(t), "documents": int(n)} for t, n in sorted(documents_per_term.items()) if n > 0]
    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    stmt = insert(term_frequencies)
    stmt = stmt.on_conflict_do_update(
        index_elements=["term"], set_={"documents": term_frequencies.c.documents + stmt.excluded.documents}
    )
    for part in chunked(rows, _ROWS_PER_STATEMENT):
        conn.execute(stmt, list(part))  # executemany: one cached statement (see ``upsert.py``)


def load(conn: Connection, n_features: int) -> tuple[np.ndarray, int] | None:
    """The frequencies as an array over ``n_features`` term columns and the number of articles
    counted, or None if nothing was ever counted (a store that predates the table)."""
    df = np.zeros(n_features, dtype=np.int64)
    counted: int | None = None
    for term, documents in conn.execute(select(term_frequencies.c.term, term_frequencies.c.documents)):
        if term == CORPUS_SIZE:
            counted = int(documents)
        elif 0 <= term < n_features:
            df[term] = documents
        else:
            raise ConfigError(
                f"the store's term frequencies were counted over more than {n_features} hashed columns "
                f"(column {term}): NEWSFLOW_SPARSE_FEATURES changed since; set it back, or empty the "
                "term_frequencies table to have them counted again"
            )
    return None if counted is None else (df, counted)


def is_counted(conn: Connection) -> bool:
    query = select(term_frequencies.c.term).where(term_frequencies.c.term == CORPUS_SIZE)
    return conn.execute(query).first() is not None
