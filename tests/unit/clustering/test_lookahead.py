"""Forward passes started ahead (clustering/embedding/lookahead.py) and the worker's commit of its own batch.

The worker polls the next batch while it stores this one and has the model encode it meanwhile:
the vectors must come back through ``encode`` without a second pass, a failed pass ahead must
leave the batch's own error handling intact, and only the stored batch's offsets are committed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from clustering.embedding.embed import CachedEmbedder, Embedder, EmbeddingError, MemoryCache
from clustering.embedding.lookahead import Lookahead
from clustering.processor import BatchProcessor, RawMessage
from clustering.worker import _commit
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import T0, record, toy_settings
from tests.unit.clustering.test_embedding_reuse import CountingModel
from tests.unit.clustering.test_processor import messages


class FailingOn(CountingModel):
    """Fails every pass that holds ``bad``; the calling threads are recorded."""

    def __init__(self, bad: str) -> None:
        super().__init__()
        self.bad = bad
        self.threads: list[str] = []

    def encode(self, texts: list[str], **kw: Any) -> np.ndarray:
        self.threads.append(threading.current_thread().name)
        if self.bad in texts:
            raise ValueError("tokenizer broke")
        return super().encode(texts, **kw)


def test_texts_encoded_ahead_come_back_without_a_second_pass() -> None:
    model = CountingModel()
    embedder = Embedder(toy_settings(), model=model, model_id="counting")
    expected = CountingModel().encode(["a", "b", "c"])
    embedder.prefetch(["a", "b"])
    got = embedder.encode(["c", "a", "b"])
    np.testing.assert_allclose(got, expected[[2, 0, 1]])
    assert sorted(model.seen) == ["a", "b", "c"]  # a and b once (ahead), c in line
    assert embedder.prefetched == 2
    embedder.encode(["a"])  # handed out once: asked again, it is a pass of its own
    assert sorted(model.seen) == ["a", "a", "b", "c"]
    embedder.close()


def test_the_batch_in_hand_and_the_one_ahead_are_both_kept_and_older_ones_dropped() -> None:
    calls: list[list[str]] = []

    def forward(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.ones((len(texts), 2), dtype=np.float32)

    ahead = Lookahead(forward, keep=2)
    ahead.start(["n1"])
    ahead.start(["n2"])  # the worker starts batch n+1 before batch n asks for its vectors
    assert sorted(ahead.take(["n1"])) == [0]
    ahead.start(["n3"])
    ahead.start(["n4"])  # n2 was never taken and is now the oldest of three: dropped
    assert ahead.take(["n2", "n3", "n4"]).keys() == {1, 2}
    assert ahead.served == 3
    ahead.close()
    assert calls == [["n1"], ["n2"], ["n3"], ["n4"]]


def test_a_pass_ahead_that_fails_leaves_the_error_to_the_batch() -> None:
    model = FailingOn("bad")
    embedder = Embedder(toy_settings(), model=model, model_id="failing")
    embedder.prefetch(["ok", "bad"])
    with pytest.raises(EmbeddingError, match="tokenizer broke"):
        embedder.encode(["ok", "bad"])  # nothing came back from ahead: the batch's own pass fails by name
    assert model.threads[0].startswith("embed-ahead") and model.threads[1] == threading.current_thread().name
    embedder.close()


def test_the_processor_prefetches_only_texts_the_cache_lacks(settings: Settings) -> None:
    cfg = toy_settings().model_copy(update={"state_dir": settings.state_dir, "database_url": settings.database_url})
    model = CountingModel()
    embedder = CachedEmbedder(Embedder(cfg, model=model, model_id="counting"), SqlVectorCache(open_store(cfg)))
    processor = BatchProcessor(cfg, open_store(cfg), embedder, clock=lambda: T0 + timedelta(hours=1))
    first = [record("a1", "Storm hits the coast", T0), record("a2", "Markets rally on rate hopes", T0)]
    processor.process(messages(first))
    seen = len(model.seen)
    later = [*first, record("a3", "Election results are in", T0 + timedelta(minutes=5))]
    processor.prefetch([*messages(later), RawMessage("news.articles", 0, 99, "junk", b"not json")])
    outcome = processor.process(messages(later[2:]))
    assert outcome.stored == 1 and outcome.vectors.embedded == 1
    assert len(model.seen) == seen + 1  # only a3 went through the model, once, ahead
    assert embedder.embedder.prefetched == 1
    embedder.embedder.close()


class RecordingConsumer:
    def __init__(self) -> None:
        self.committed: list[Any] = []

    def commit(self, offsets: Any = None) -> None:
        self.committed.append(offsets)


def test_the_worker_commits_the_batch_it_stored_not_the_one_polled_ahead() -> None:
    consumer = RecordingConsumer()
    batch = [RawMessage("t", 0, 7, None, b""), RawMessage("t", 1, 3, None, b""), RawMessage("t", 0, 9, None, b"")]
    _commit(consumer, batch)
    (offsets,) = consumer.committed
    assert {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()} == {("t", 0): 10, ("t", 1): 4}


def test_a_memory_cache_embedder_can_prefetch_too() -> None:
    model = CountingModel()
    embedder = CachedEmbedder(Embedder(toy_settings(), model=model, model_id="counting"), MemoryCache())
    embedder.embed(["known"])
    embedder.prefetch(["known", "new"])
    embedder.embed(["known", "new"])
    assert model.seen == ["known", "new"]
    embedder.embedder.close()


class UnreachableCache(MemoryCache):
    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT ...", {}, ConnectionRefusedError("connection refused"))


def test_a_store_outage_during_the_lookahead_is_left_to_the_batch(settings: Settings) -> None:
    cfg = toy_settings().model_copy(update={"state_dir": settings.state_dir, "database_url": settings.database_url})
    model = CountingModel()
    embedder = CachedEmbedder(Embedder(cfg, model=model, model_id="counting"), UnreachableCache())
    processor = BatchProcessor(cfg, open_store(cfg), embedder, clock=lambda: T0)
    processor.prefetch(messages([record("b1", "Storm hits the coast", T0)]))  # no error: nothing started
    assert model.seen == [] and embedder.embedder.prefetched == 0
