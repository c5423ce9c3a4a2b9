"""Semantic search: a text embedded with the worker's model, ranked against topic centroids by cosine.

The centroid matrix (20k topics x 384 float32 = 30 MB) is read once per process and kept in a
``CentroidIndex``; each search first asks the store for ``(max(updated_at), count)`` of the topics
and reloads only when that changed, so requests do not re-read every centroid.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Connection, func, select

from newsflow.errors import ModelLoadError
from newsflow.query.listing import TopicPage, summaries_by_id
from newsflow.query.summaries import reference_hour
from newsflow.settings import Settings
from newsflow.store.schema import topics

log = logging.getLogger(__name__)


class QueryEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class CentroidIndex:
    """Unit-normalised centroids of every topic not merged away, reloaded when the topics change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[Any, int] | None = None
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.loads = 0  # how often the matrix was read from the store (tests check the caching)

    def refresh(self, conn: Connection) -> None:
        version_row = conn.execute(select(func.max(topics.c.updated_at), func.count()).select_from(topics)).one()
        version = (version_row[0], int(version_row[1]))
        with self._lock:
            if version == self._version:
                return
            self._load(conn)
            self._version = version

    def _load(self, conn: Connection) -> None:
        query = select(topics.c.id, topics.c.centroid).where(
            topics.c.centroid.is_not(None), topics.c.status != "merged"
        )
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        for row in conn.execute(query.order_by(topics.c.id)):
            ids.append(row.id)
            vectors.append(np.frombuffer(row.centroid, dtype="<f4"))
        dims = {v.shape[0] for v in vectors}
        if len(dims) > 1:  # centroids of another model: compare only those of the most common size
            common = max(dims, key=lambda d: sum(v.shape[0] == d for v in vectors))
            kept = [(i, v) for i, v in zip(ids, vectors, strict=True) if v.shape[0] == common]
            log.warning("topic centroids of %d sizes; searching the %d of dimension %d", len(dims), len(kept), common)
            ids, vectors = [i for i, _ in kept], [v for _, v in kept]
        matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, 0), dtype=np.float32)
        if matrix.size:
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix = (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        self.ids, self.matrix = np.asarray(ids, dtype=np.int64), matrix
        self.loads += 1
        log.info("loaded %d topic centroids for semantic search", len(ids))

    def nearest(self, vector: np.ndarray, limit: int, offset: int) -> tuple[list[tuple[int, float]], int]:
        """``([(topic id, cosine)], total)`` for one page, best first, ties broken by id."""
        with self._lock:
            ids, matrix = self.ids, self.matrix
        if not len(ids):
            return [], 0
        if matrix.shape[1] != vector.shape[0]:
            raise ModelLoadError(
                f"the query model gives {vector.shape[0]}-dim vectors but topic centroids have {matrix.shape[1]}: "
                "the API must use the worker's embedding model (NEWSFLOW_EMBEDDING_MODEL)"
            )
        scores = matrix @ vector.astype(np.float32)
        order = np.lexsort((ids, -scores))[offset : offset + limit]
        return [(int(ids[i]), float(scores[i])) for i in order], len(ids)


class LazyEncoder:
    """Loads the configured embedding model on first use (seconds), once, shared by threads."""

    def __init__(self, settings: Settings, factory: Callable[[Settings], QueryEncoder] | None = None) -> None:
        self._settings = settings
        self._factory = factory or _default_encoder
        self._encoder: QueryEncoder | None = None
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            if self._encoder is None:
                self._encoder = self._factory(self._settings)
            encoder = self._encoder
        return encoder.encode(texts)


def _default_encoder(settings: Settings) -> QueryEncoder:
    from clustering.embedding.embed import Embedder  # torch is imported only when semantic search is used

    return Embedder(settings)


def semantic_search(
    conn: Connection,
    index: CentroidIndex,
    encoder: QueryEncoder,
    q: str,
    *,
    limit: int,
    offset: int = 0,
    as_of: datetime | None = None,
) -> TopicPage:
    """Topics nearest to ``q`` by cosine between its embedding and their centroids; items carry ``score``."""
    index.refresh(conn)
    vector = encoder.encode([q])[0]
    ranked, total = index.nearest(vector, limit, offset)
    as_of = as_of or reference_hour(conn)
    summaries = summaries_by_id(conn, [topic_id for topic_id, _ in ranked], as_of)
    items = [{**summaries[t], "score": round(score, 4)} for t, score in ranked if t in summaries]
    return TopicPage(items=items, total=total, as_of=as_of)
