"""A new revision of a topic member, at the store edge: the old revision its topic's sums still hold.

The worker re-decides a member from its new revision (``OnlineClusterer.revise_one``), which needs
the old revision as it was counted into the topic. It is read from the store before the batch's
upsert replaces it, embedded through the cache (a hit: it was embedded when it was stored) and given
its sparse row with the document frequencies as they are now — the closest the worker can come to
the row that went into the sums without keeping every member's vectors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import Engine

from clustering.embedding.embed import CachedEmbedder, EmbeddingError
from clustering.online.assign import same_content
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from newsflow.settings import Settings
from newsflow.store import articles_repo

log = logging.getLogger(__name__)


def changed_revisions(
    engine: Engine,
    embedder: CachedEmbedder,
    settings: Settings,
    vectoriser: SparseVectoriser,
    batch: Batch,
    members: Iterable[str],
) -> dict[str, Batch]:
    """The stored revision (one row) of each article of ``batch`` among ``members`` whose embedding or
    tokens changed; a revision with the same content is left out, so it changes nothing.

    Read before the batch's upsert replaces them. Their frequencies are taken out of ``vectoriser``
    (``batch`` counted the new revisions in): an article counts once, and a revision with the same
    tokens leaves the frequencies as they were.
    """
    ids = list(members)
    if not ids:
        return {}
    with engine.connect() as conn:
        docs = articles_repo.docs_by_id(conn, ids)
    if not docs:
        return {}
    try:
        dense = embedder.embed([d.dense_text(settings) for d in docs])
    except EmbeddingError as exc:  # rare (the cache holds them): these wait for the re-clustering
        log.warning("embedding %d old revisions failed (%s); not re-deciding them now", len(docs), exc)
        return {}
    old = represent(docs, dense, vectoriser, RepresentParams.from_settings(settings), observe=False)
    vectoriser.observe(old.counts, sign=-1)
    row_of = {d.id: i for i, d in enumerate(batch.docs)}
    previous = {d.id: old.row(k) for k, d in enumerate(docs) if d.id in row_of}
    return {a: row for a, row in previous.items() if not same_content(row, batch.row(row_of[a]))}
