from __future__ import annotations

import numpy as np

from clustering.representation.represent import (
    RepresentParams,
    SimilarityWeights,
    SparseVectoriser,
    doc_tokens,
    gap_to_span,
    represent,
)
from clustering.representation.text import detect_language, tokens
from newsflow.records.doc import Doc
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
    # German: Snowball stems, so inflected forms are one term (umlauts folded by the stemmer).
    assert tokens("Die Gespräche über den Frieden in der Ukraine", "de") == ["gesprach", "fried", "ukrain"]
    assert tokens("Gesprächen", "de") == tokens("Gesprächs", "de") == tokens("Gespräch", "de")


def german_keywords(titles: list[str], top: int) -> list[str]:
    """The keywords of a topic of German headlines."""
    from clustering.labelling.labels import LabelParams, keywords

    docs = [Doc(id=str(k), title=t, body="", published=T0, language="de") for k, t in enumerate(titles)]
    vectoriser = SparseVectoriser(2**12)
    vectoriser.observe(vectoriser.counts([doc_tokens(d, Settings().sparse_text_chars) for d in docs]))
    return keywords(docs, vectoriser, LabelParams.from_settings(Settings(topic_keywords=top)))


def test_german_keywords_are_shown_as_written_not_as_stems() -> None:
    titles = ["Verhandlungen über Seltene Erden", "Neue Verhandlungen zu Seltenen Erden", "Erden-Deal: Verhandlungen"]
    words = german_keywords(titles, 3)
    assert "verhandlungen" in words and "erden" in words
    assert not {"verhandl", "erd", "selt"} & set(words)


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
    params = RepresentParams.from_settings(settings)
    batch = represent(docs, np.eye(2, 4, dtype=np.float32), SparseVectoriser(2**12), params)
    assert batch.dense.shape == (2, 4) and batch.sparse.shape == (2, 2**12)
    assert batch.hours[0] == T0.timestamp() / 3600
    assert [d.id for d in batch.select([1]).docs] == ["b"]


def test_similarity_combines_weights_and_halves_per_decay_period() -> None:
    w = SimilarityWeights(dense=0.6, sparse=0.4, decay_hours=10.0)
    sims = w.combine(np.array([1.0, 1.0]), np.array([0.5, 0.5]), np.array([0.0, 10.0]))
    np.testing.assert_allclose(sims, [0.8, 0.4])
    assert SimilarityWeights(1.0, 0.0, 0.0).combine(np.array([0.3]), np.array([0.0]), np.array([99.0]))[0] == 0.3
    np.testing.assert_allclose(gap_to_span(5.0, np.array([0.0, 6.0, 1.0]), np.array([2.0, 9.0, 7.0])), [3.0, 1.0, 0.0])


def test_an_articles_weights_move_from_headline_to_full_text_with_its_body() -> None:
    w = SimilarityWeights.from_settings(Settings(dense_weight=0.7, sparse_weight=0.3, dense_weight_long=0.3,
                                                 sparse_weight_long=0.7, long_text_chars=1000))  # fmt: skip
    shares = w.long_share([0, 500, 1000, 20000])
    np.testing.assert_allclose(shares, [0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(w.roots(shares) ** 2, [[0.7, 0.3], [0.5, 0.5], [0.3, 0.7], [0.3, 0.7]])
    one = w.of_article(w.roots(w.long_share([20000]))[0])
    np.testing.assert_allclose(one.combine(np.array([0.5]), np.array([0.2]), np.array([0.0])), [0.3 * 0.5 + 0.7 * 0.2])


def test_average_linkage_over_sums_is_the_mean_of_each_pairs_own_weighted_similarity() -> None:
    """Headlines and full texts mixed: a pair is weighted by the geometric mean of its articles'
    weights, and the linkage over cluster sums equals the mean of those pairwise similarities."""
    from clustering.reclustering.agglomerate import ClusterSums, mean_similarity

    settings = Settings(sparse_features=2**12, time_decay_hours=0.0)
    rng = np.random.default_rng(3)
    words = ["bank", "loss", "record", "flappy", "bird", "game", "sac", "fund", "probe", "ukraine"]
    docs = [Doc(f"d{i}", " ".join(rng.choice(words, 4)), "x" * int(rng.choice([0, 400, 5000])), T0) for i in range(12)]
    dense = rng.normal(size=(12, 6)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    batch = represent(docs, dense, SparseVectoriser(2**12), RepresentParams.from_settings(settings))
    assert len({tuple(r) for r in np.round(batch.roots, 6)}) == 3  # three kinds of article
    d, s = dense @ dense.T, (batch.sparse @ batch.sparse.T).toarray()
    pair = np.outer(batch.roots[:, 0], batch.roots[:, 0]) * d + np.outer(batch.roots[:, 1], batch.roots[:, 1]) * s
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3])
    sums = ClusterSums.of(batch, groups, 4)
    a, b = np.array([0, 0, 1, 2]), np.array([1, 2, 3, 3])
    got = mean_similarity(SimilarityWeights.from_settings(settings))(sums, a, b)
    want = [pair[np.ix_(groups == x, groups == y)].mean() for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    uniform = Settings(sparse_features=2**12, time_decay_hours=0.0, dense_weight_long=0.7, sparse_weight_long=0.3)
    flat = represent(docs, dense, SparseVectoriser(2**12), RepresentParams.from_settings(uniform))
    plain = mean_similarity(SimilarityWeights.from_settings(uniform))(ClusterSums.of(flat, groups, 4), a, b)
    want = [(0.7 * d + 0.3 * s)[np.ix_(groups == x, groups == y)].mean() for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(plain, want, rtol=1e-5)  # equal weights: the former fixed mix


def test_full_text_clusters_merge_at_their_own_story_threshold() -> None:
    """0.42 similar: two headline clusters stay apart (cut 0.45), two full-text clusters merge (cut
    0.40), a headline cluster and a full-text one sit in between (cut 0.425)."""
    import scipy.sparse as sp

    from clustering.reclustering.agglomerate import ClusterSums, with_length_threshold

    m = 4
    sums = ClusterSums(
        size=np.array([1.0, 1.0, 2.0, 2.0]), dense=np.zeros((m, 2), dtype=np.float32), sparse=sp.csr_matrix((m, 2)),
        first=np.zeros(m), last=np.zeros(m), roots=np.ones((m, 2)), long=np.array([0.0, 0.0, 2.0, 2.0]),
        foreign=np.zeros(m),
    )  # fmt: skip
    shifted = with_length_threshold(lambda s, a, b: np.full(len(a), 0.42), 0.45, 0.40)
    got = shifted(sums, np.array([0, 2, 0]), np.array([1, 3, 2]))
    assert (got >= 0.45).tolist() == [False, True, False]
    np.testing.assert_allclose(got, [0.42, 0.47, 0.445])


def test_german_compounds_share_their_parts() -> None:
    from clustering.representation.text import compound_parts

    assert compound_parts("Rohstoffabkommen") == ("rohstoff", "abkommen")
    assert compound_parts("Rohstoff-Deal") == ("rohstoff", "deal")
    assert compound_parts("Gespräch") == () and compound_parts("Gesprächen") == ()  # inflection is not a compound
    deal, treaty = set(tokens("Einigung beim Rohstoffdeal", "de")), set(tokens("Das Rohstoffabkommen steht", "de"))
    assert "rohstoff" in deal & treaty  # two compounds for one thing share a term
    assert "rohstoff" not in set(tokens("The raw materials deal", "en"))  # English is not split


def test_a_keyword_is_shown_as_a_whole_word_not_as_a_compound_part() -> None:
    titles = ["Metallzölle treffen Europa", "Trump erhebt Zölle auf Stahl", "Neue Metallzölle ab März"]
    words = german_keywords(titles, 6)
    assert "zölle" in words and "zöll" not in words  # the part "zöll" of "Metallzölle" is the same term
