"""The embedding cache in the store: vectors keyed by (model id, text hash), written once, read often.

Implements ``clustering.embedding.embed.VectorCache`` on the ``embeddings`` table, so every worker, the
re-clustering job and a restarted worker share one cache. Vectors are float32 little-endian bytes.
Writes are ``ON CONFLICT DO NOTHING``: two workers embedding the same text both succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from sqlalchemy import Engine, select

from newsflow.store.schema import embeddings
from newsflow.store.upsert import chunked, upsert

log = logging.getLogger(__name__)
_KEY_CHUNK = 500


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes, dim: int) -> np.ndarray:
    vector = np.frombuffer(blob, dtype="<f4")
    if vector.shape[0] != dim:
        raise ValueError(f"stored vector has {vector.shape[0]} dimensions, expected {dim}")
    return vector.astype(np.float32)


class SqlVectorCache:
    """``VectorCache`` over the store's ``embeddings`` table (each call is its own short transaction)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self.engine.connect() as conn:
            for part in chunked(list(keys), _KEY_CHUNK):
                query = select(embeddings.c.content_hash, embeddings.c.dim, embeddings.c.vector).where(
                    embeddings.c.model == model, embeddings.c.content_hash.in_(part)
                )
                for row in conn.execute(query):
                    found[row.content_hash] = from_bytes(row.vector, row.dim)
        return found

    def put_many(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        rows = [
            {"model": model, "content_hash": key, "dim": int(v.shape[0]), "vector": to_bytes(v)}
            for key, v in vectors.items()
        ]
        with self.engine.begin() as conn:
            upsert(conn, embeddings, rows, ["model", "content_hash"])
        log.debug("cached %d embeddings for %s", len(rows), model)
