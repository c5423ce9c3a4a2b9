"""Re-clustering decisions over the articles' pairwise same-story probabilities (issue 15): a core split by
average linkage over its members' pairs, and a veto on two groups whose articles are unlikely pairs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from clustering.reclustering.pairwise import ArticlePairs, split_cores
from clustering.reclustering.recluster import ReclusterParams, link_groups
from newsflow.settings import Settings
from tests.unit.clustering.stories import toy_unit
from tests.unit.clustering.test_same_story import _batch, dense_only_model

SETTINGS = Settings(sparse_features=2**12)


def test_pairwise_mean_probability_averages_every_pair() -> None:
    model = dense_only_model(cut_at=0.8)
    a = [toy_unit(1.0, 0.0), toy_unit(1.0, 0.1)]
    b = [toy_unit(1.0, 0.05), toy_unit(0.0, 1.0)]
    batch = _batch([*a, *b], [0.0] * 4, SETTINGS)
    got = ArticlePairs(batch, model).mean_between(np.array([0, 1]), np.array([2, 3]))
    cos = batch.dense[[0, 1]].astype(np.float64) @ batch.dense[[2, 3]].T.astype(np.float64)
    expected = (1 / (1 + np.exp(-40.0 * (cos - 0.8)))).mean()
    assert got == pytest.approx(expected, abs=1e-6)
    assert 0.4 < got < 0.6  # two sure pairs and two hopeless ones


def test_a_core_of_two_stories_is_split_and_a_stray_member_becomes_noise() -> None:
    model = dense_only_model(cut_at=0.8)
    a = [toy_unit(1.0, 0.05 * k) for k in range(3)]
    b = [toy_unit(0.05 * k, 1.0) for k in range(3)]
    stray = toy_unit(1.0, 1.0, 1.0)  # cosine ≤ 0.6 to every other member
    batch = _batch([*a, *b, stray, toy_unit(0.0, 0.0, 1.0)], [0.0] * 8, SETTINGS)
    labels = np.array([0, 0, 0, 0, 0, 0, 0, -1])  # HDBSCAN put both stories and the stray in one core
    got = split_cores(ArticlePairs(batch, model), labels, 0.6)
    assert len(set(got[:3].tolist())) == 1 and len(set(got[3:6].tolist())) == 1
    assert got[0] >= 0 and got[3] >= 0 and got[0] != got[3]
    assert got[6] == -1 and got[7] == -1  # the stray is left to the linkage; noise stays noise
    one_story = split_cores(ArticlePairs(batch, model), np.array([0, 0, 0, -1, -1, -1, -1, -1]), 0.6)
    assert one_story[0] == one_story[1] == one_story[2] >= 0 and (one_story[3:] == -1).all()  # stays whole


def test_the_veto_keeps_two_groups_of_texts_apart_that_the_similarity_cut_would_link(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = dense_only_model(cut_at=0.8)
    monkeypatch.setattr("clustering.reclustering.recluster.configured_model", lambda _params: model)
    a = [toy_unit(1.0, 0.05 * k) for k in range(3)]
    b = [toy_unit(1.0, 0.9 + 0.05 * k) for k in range(3)]  # cosine ≈ 0.75 to a: under the model's 0.8
    headlines = _batch([*a, *b], [0.0] * 6, SETTINGS)
    texts = dataclasses.replace(headlines, long=np.full(6, 0.3))  # some 300 characters of body each
    cores = np.array([0, 0, 0, 1, 1, 1])
    lax = SETTINGS.model_copy(update={"recluster_merge_threshold": 0.3, "recluster_group_merge_threshold": 0.3,
                                      "core_probability": 0.5, "dense_weight": 1.0, "sparse_weight": 0.0,
                                      "group_veto_probability": 0.0, "core_split_probability": 0.0})  # fmt: skip
    vetoing = ReclusterParams.from_settings(lax.model_copy(update={"group_veto_probability": 0.5}))
    assert len(set(link_groups(texts, cores, ReclusterParams.from_settings(lax)).tolist())) == 1  # the cut links
    vetoed = link_groups(texts, cores, vetoing)
    assert vetoed[0] == vetoed[2] != vetoed[3] == vetoed[5] and vetoed.min() >= 0
    assert len(set(link_groups(headlines, cores, vetoing).tolist())) == 1  # bare headlines: no veto


def test_the_veto_follows_members_through_the_sums_merges() -> None:
    from clustering.reclustering.agglomerate import ClusterSums
    from clustering.reclustering.pairwise import PairwiseVeto

    batch = _batch([toy_unit(1.0, 0.05 * k) for k in range(4)], [0.0] * 4, SETTINGS)
    groups = np.array([0, 1, 1, 2])
    sums = ClusterSums.of(batch, groups, 3)
    veto = PairwiseVeto(ArticlePairs(batch, dense_only_model(cut_at=0.8)), sums, groups, 0.5)
    sums.merge(np.array([0]), np.array([2]))
    assert sorted(veto.members[0].tolist()) == [0, 3] and 2 not in veto.members
    assert veto.members[1].tolist() == [1, 2] and sums.size.tolist() == [2.0, 2.0, 0.0]


def test_split_cores_leaves_no_core_and_a_lone_member_as_noise() -> None:
    batch = _batch([toy_unit(1.0, 0.0), toy_unit(0.0, 1.0)], [0.0, 0.0], SETTINGS)
    model = dense_only_model(cut_at=0.8)
    assert split_cores(ArticlePairs(batch, model), np.array([-1, -1]), 0.6).tolist() == [-1, -1]
    assert split_cores(ArticlePairs(batch, model), np.array([3, -1]), 0.6).tolist() == [-1, -1]
