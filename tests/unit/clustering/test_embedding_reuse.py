"""Fewer forward passes: near-copies borrow their original's vector, unchanged revisions hit the cache.

A counting fake model stands in for sentence-transformers (every text it sees is a forward pass);
the worker's batch step runs on SQLite with toy settings (dense similarity only).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from clustering.embedding.embed import CachedEmbedder, Embedder, MemoryCache
from clustering.embedding.reuse import EmbedCounts, word_overlap
from clustering.processor import BatchOutcome, BatchProcessor
from clustering.worker import WorkerReport, _add
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import T0, TOY_DIM, record, revise, toy_settings
from tests.unit.clustering.test_processor import messages

NOW = T0 + timedelta(hours=3)
LEAD = "The wire report, carried by many outlets, says the talks went on late into the night."


class CountingModel:
    """Deterministic unit vectors from each text's hash; remembers every text it encoded."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def get_embedding_dimension(self) -> int:
        return TOY_DIM

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        self.seen.extend(texts)
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).normal(size=TOY_DIM).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows)


@pytest.fixture
def model() -> CountingModel:
    return CountingModel()


@pytest.fixture
def processor(settings: Settings, model: CountingModel) -> BatchProcessor:
    # The test's own SQLite store (a copy keeps the toy settings' database_url, filled in at validation).
    cfg = toy_settings().model_copy(update={"state_dir": settings.state_dir, "database_url": settings.database_url})
    assert cfg.database_url.startswith("sqlite:///") and str(settings.state_dir) in cfg.database_url
    engine = open_store(cfg)
    embedder = CachedEmbedder(Embedder(cfg, model=model, model_id="counting"), SqlVectorCache(engine))
    return BatchProcessor(cfg, engine, embedder, lambda: NOW)


def test_a_near_copy_takes_its_originals_vector_without_a_forward_pass(
    processor: BatchProcessor, model: CountingModel
) -> None:
    original = record("orig", "Talks on the budget run late", summary=LEAD)
    first = processor.process(messages([original]))
    assert len(model.seen) == 1 and first.vectors == EmbedCounts(embedded=1)

    copy = record("copy", "Budget talks run late", summary=LEAD, outlet="bbc.co.uk", near_duplicate_of="orig")
    outcome = processor.process(messages([copy], start=1))
    assert outcome.stored == 1 and len(model.seen) == 1  # no forward pass
    assert outcome.vectors == EmbedCounts(near_copy_reuses=1)
    vectors = processor.embedder.embed(_dense(processor, original, copy))
    np.testing.assert_array_equal(vectors[0], vectors[1])  # cached under the copy's text: a reload reuses it too
    assert len(model.seen) == 1


def test_a_near_copy_in_the_originals_batch_shares_its_forward_pass(
    processor: BatchProcessor, model: CountingModel
) -> None:
    original = record("orig", "Talks on the budget run late", summary=LEAD)
    copy = record("copy", "Budget talks run late", summary=LEAD, outlet="bbc.co.uk", near_duplicate_of="orig")
    outcome = processor.process(messages([original, copy]))
    assert model.seen == [_dense(processor, original)[0]]
    assert outcome.vectors == EmbedCounts(embedded=1, near_copy_reuses=1)


def test_a_near_copy_whose_original_is_unknown_is_embedded(processor: BatchProcessor, model: CountingModel) -> None:
    copy = record("copy", "Budget talks run late", summary=LEAD, near_duplicate_of="never-stored")
    outcome = processor.process(messages([copy]))
    assert len(model.seen) == 1 and outcome.vectors == EmbedCounts(embedded=1)


def test_a_near_copy_link_between_texts_that_do_not_read_alike_lends_nothing(
    processor: BatchProcessor, model: CountingModel
) -> None:
    # SimHash over long texts links some unrelated articles; their dense texts share few words.
    processor.process(messages([record("orig", "Talks on the budget run late", summary=LEAD)]))
    other = record("other", "Whale auction taken offline", summary="The listing is gone.", near_duplicate_of="orig")
    outcome = processor.process(messages([other], start=1))
    assert len(model.seen) == 2 and outcome.vectors == EmbedCounts(embedded=1)
    assert word_overlap("Sbarro files for bankruptcy again", "Sbarro Again Files for Bankruptcy") == 1.0


def test_an_unchanged_revision_does_no_forward_pass_and_is_counted(
    processor: BatchProcessor, model: CountingModel
) -> None:
    old = record("r", "Talks on the budget run late", summary=LEAD)
    processor.process(messages([old]))
    same_text = revise(old, outlet="welt.de")  # revision 2: another outlet, the same dense text
    outcome = processor.process(messages([same_text], start=1))
    assert outcome.stored == 1 and len(model.seen) == 1
    assert outcome.vectors == EmbedCounts(revision_reuses=1)

    new_text = revise(same_text, "Budget talks end without a deal")  # revision 3: a new headline
    outcome = processor.process(messages([new_text], start=2))
    assert len(model.seen) == 2 and outcome.vectors == EmbedCounts(embedded=1)


def test_the_same_text_from_another_feed_is_a_cache_hit(processor: BatchProcessor, model: CountingModel) -> None:
    processor.process(messages([record("a", "Talks on the budget run late", summary=LEAD)]))
    outcome = processor.process(messages([record("b", "Talks on the budget run late", summary=LEAD)], start=1))
    assert len(model.seen) == 1 and outcome.vectors == EmbedCounts(cache_hits=1)


def test_embed_reusing_borrows_only_what_is_known(settings: Settings, model: CountingModel) -> None:
    embedder = Embedder(settings, model=model, model_id="counting")
    cached = CachedEmbedder(embedder, MemoryCache())
    cached.embed(["original"])
    got = cached.embed_reusing(["copy", "other copy", "fresh", "fresh"], {0: "original", 1: "not cached"})
    assert model.seen == ["original", "other copy", "fresh"]  # a repeated text is encoded once
    assert got.reused == {0} and got.computed == {1, 2} and got.cached(3)
    np.testing.assert_array_equal(got.vectors[0], cached.embed(["original"])[0])
    assert (cached.reused, cached.cache_hits) == (1, 2)


def test_the_worker_report_adds_up_the_counts() -> None:
    report = WorkerReport()
    _add(report, 3, BatchOutcome(stored=3, vectors=EmbedCounts(embedded=1, cache_hits=1, near_copy_reuses=1)))
    _add(report, 1, BatchOutcome(stored=1, vectors=EmbedCounts(revision_reuses=1)))
    counts = (report.embedded, report.embed_cache_hits, report.near_copy_reuses, report.revision_reuses)
    assert counts == (1, 1, 1, 1)
    assert {"embedded", "near_copy_reuses", "revision_reuses"} <= report.as_dict().keys()


def _dense(processor: BatchProcessor, *records: Any) -> list[str]:
    from newsflow.store.articles_repo import doc_from_record

    return [doc_from_record(r).dense_text(processor.settings) for r in records]


def test_vectors_cut_at_another_length_are_not_served_from_the_cache(settings: Settings, model: CountingModel) -> None:
    """A text truncated at 64 tokens has another vector than at 128: the cache must not mix them,
    while the default length keeps the bare model id (caches filled before stay valid)."""
    cache = MemoryCache()
    default = CachedEmbedder(Embedder(settings, model=model, model_id="counting"), cache)
    default.embed(["a long lead"])
    shorter = settings.model_copy(update={"embedding_max_seq_length": 64})
    CachedEmbedder(Embedder(shorter, model=model, model_id="counting"), cache).embed(["a long lead"])
    assert model.seen == ["a long lead", "a long lead"]  # the second length ran the model again
    assert default.namespace == "counting" and {m for m, _ in cache._data} == {"counting", "counting#max_seq_length=64"}
