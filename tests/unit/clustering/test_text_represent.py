from __future__ import annotations

import numpy as np

from clustering.represent import Doc, SimilarityWeights, SparseVectoriser, gap_to_span, represent
from clustering.text import detect_language, tokens
from newsflow.settings import Settings
from tests.unit.clustering.stories import T0


def test_tokens_fold_possessives_plurals_and_drop_stop_words() -> None:
    assert tokens("Carney's warning: the banks' talks said U.S. rates", "en") == [
        "carney",
        "warning",
        "bank",
        "talk",
        "us",
        "rate",
    ]
    assert tokens("Die Gespräche über den Frieden in der Ukraine", "de") == ["gespräche", "frieden", "ukraine"]


def test_language_is_guessed_from_stop_words() -> None:
    assert detect_language("Trump und Putin telefonieren über die Ukraine und den Krieg") == "de"
    assert detect_language("The talks on the war in Ukraine are to begin in Saudi Arabia") == "en"
    assert detect_language("Point72", default=None) is None


def test_running_document_frequencies_weigh_rare_terms_up() -> None:
    vec = SparseVectoriser(2**12)
    counts = vec.counts([["bank", "carney"], ["bank", "flappy"], ["bank", "unicredit"]])
    vec.observe(counts)
    assert vec.n_docs == 3
    weighted = vec.weigh(vec.counts([["bank", "carney"]]))
    row = dict(zip(weighted.indices, weighted.data, strict=True))
    assert row[vec.term_index("carney")] > row[vec.term_index("bank")]
    np.testing.assert_allclose(np.sqrt((weighted.data**2).sum()), 1.0, rtol=1e-6)
    vec.observe(counts, sign=-1)
    assert vec.n_docs == 0 and vec.df.sum() == 0


def test_represent_aligns_rows_and_times() -> None:
    settings = Settings(sparse_features=2**12)
    docs = [Doc("a", "Flappy Bird could return", "", T0), Doc("b", "UniCredit loss", "Record loss", T0)]
    batch = represent(docs, np.eye(2, 4, dtype=np.float32), SparseVectoriser(2**12), settings)
    assert batch.dense.shape == (2, 4) and batch.sparse.shape == (2, 2**12)
    assert batch.hours[0] == T0.timestamp() / 3600
    assert [d.id for d in batch.select([1]).docs] == ["b"]


def test_similarity_combines_weights_and_halves_per_decay_period() -> None:
    w = SimilarityWeights(dense=0.6, sparse=0.4, decay_hours=10.0)
    sims = w.combine(np.array([1.0, 1.0]), np.array([0.5, 0.5]), np.array([0.0, 10.0]))
    np.testing.assert_allclose(sims, [0.8, 0.4])
    assert SimilarityWeights(1.0, 0.0, 0.0).combine(np.array([0.3]), np.array([0.0]), np.array([99.0]))[0] == 0.3
    np.testing.assert_allclose(gap_to_span(5.0, np.array([0.0, 6.0, 1.0]), np.array([2.0, 9.0, 7.0])), [3.0, 1.0, 0.0])
