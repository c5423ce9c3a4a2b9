"""The re-clustering stages on synthetic vectors with a known answer."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
import scipy.sparse as sp

from clustering.labelling.labels import LabelParams, keywords, summarise
from clustering.reclustering.joint_features import FeatureParams, _sparse_projection
from clustering.reclustering.recluster import ReclusterParams, cluster_window, link_groups, merge_stories, prune_cores
from clustering.representation.represent import Batch, RepresentParams, SparseVectoriser, represent
from newsflow.records.doc import Doc
from newsflow.settings import Settings
from tests.unit.clustering.stories import STORIES, T0

DIM = 16


@pytest.fixture
def cfg() -> Settings:
    return Settings(  # the similarity cuts (model off): thresholds read off the synthetic vectors
        same_story_model="off", sparse_features=2**12, dense_weight=1.0, sparse_weight=0.0, time_decay_hours=0.0,
        hdbscan_min_cluster_size=2, hdbscan_min_samples=1, recluster_merge_threshold=0.5,
        story_merge_threshold=0.8, story_min_size=3, assign_threshold=0.5, recluster_dims=8,
    )  # fmt: skip


def blobs(cfg: Settings, centres: list[int], per: int, noise: float, seed: int = 0) -> tuple[Batch, np.ndarray]:
    """``per`` points around each axis in ``centres`` (axis ``k``); returns the batch and the true labels."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for label, axis in enumerate(centres):
        for _ in range(per):
            v = rng.normal(scale=noise, size=DIM)
            v[axis] += 1.0
            rows.append(v / np.linalg.norm(v))
            truth.append(label)
    docs = [Doc(f"d{i}", f"doc {i}", "", T0 + timedelta(minutes=i)) for i in range(len(rows))]
    batch = represent(docs, np.array(rows, dtype=np.float32), SparseVectoriser(cfg.sparse_features),
                      RepresentParams.from_settings(cfg))  # fmt: skip
    return batch, np.array(truth)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = {(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_cluster_window_recovers_separated_stories(cfg: Settings) -> None:
    batch, truth = blobs(cfg, [0, 1, 2, 3], per=6, noise=0.15)
    labels = cluster_window(batch, ReclusterParams.from_settings(cfg))
    assert same_partition(labels, truth) and labels[0] == 0  # canonical numbering: first row is cluster 0


def test_prune_cores_turns_members_unlike_their_core_into_noise(cfg: Settings) -> None:
    batch, _ = blobs(cfg, [0, 3, 7], per=3, noise=0.05)
    # Cores as HDBSCAN may return them from a sparse window: story 0 (rows 0-2) with row 4 of story 3
    # in it, and a "core" of two strangers (row 3 of story 3, row 6 of story 7).
    cores = np.array([0, 0, 0, 1, 0, -1, 1, -1, -1])
    pruned = prune_cores(batch, cores, threshold=0.5, threshold_long=0.5)
    assert pruned.tolist() == [0, 0, 0, -1, -1, -1, -1, -1, -1]  # the stranger and the core of strangers go
    assert prune_cores(batch, cores, threshold=0.0, threshold_long=0.0).tolist() == cores.tolist()  # 0: off


def test_prune_cores_holds_full_texts_to_their_own_cut(cfg: Settings) -> None:
    batch, _ = blobs(cfg, [0], per=3, noise=0.9, seed=3)  # loosely similar: mean similarity well below 1
    cores = np.zeros(3, dtype=np.int64)
    sims = batch.dense @ batch.dense.T
    loose = float(min((sims.sum(axis=1) - 1) / 2))
    assert prune_cores(batch, cores, threshold=loose + 0.01, threshold_long=0.0).min() == -1
    batch.long[:] = 1.0  # the same rows as full texts: judged on the full-text cut
    assert prune_cores(batch, cores, threshold=loose + 0.01, threshold_long=loose - 0.01).tolist() == [0, 0, 0]


def test_link_groups_joins_cores_and_leaves_outliers_alone(cfg: Settings) -> None:
    batch, _ = blobs(cfg, [0, 0, 5], per=3, noise=0.05)  # two cores of one story, one other story
    cores = np.array([0, 0, 0, 1, 1, 1, -1, -1, -1])
    linked = link_groups(batch, cores, ReclusterParams.from_settings(cfg))
    assert linked[0] == linked[3] != -1  # the two cores of story 0 become one
    assert len(set(linked[6:].tolist())) == 1 and linked[6] not in (-1, linked[0])  # noise of story 5 pairs up
    lone = link_groups(batch.select([0, 1, 2, 6]), np.array([0, 0, 0, -1]), ReclusterParams.from_settings(cfg))
    assert lone.tolist() == [lone[0]] * 3 + [-1]  # a noise point with no partner stays unassigned


def test_link_groups_merges_two_groups_only_above_the_group_threshold(cfg: Settings) -> None:
    b = (0.3, float(np.sqrt(1 - 0.09)), 0.0, 0.0)  # cos(a, b) = 0.3
    y = -0.09 / b[1]
    c = (0.3, y, float(np.sqrt(1 - 0.09 - y * y)), 0.0)  # cos(a, c) = 0.3, cos(b, c) = 0
    rows = np.array([(1, 0, 0, 0), (1, 0, 0, 0), b, b, c, (0, 0, 0, 1)], dtype=np.float32)
    docs = [Doc(f"d{i}", f"doc {i}", "", T0 + timedelta(minutes=i)) for i in range(len(rows))]
    batch = represent(docs, rows, SparseVectoriser(cfg.sparse_features), RepresentParams.from_settings(cfg))
    cores = np.array([0, 0, 1, 1, -1, -1])
    two_level = cfg.model_copy(update={"recluster_merge_threshold": 0.25, "recluster_group_merge_threshold": 0.35})
    linked = link_groups(batch, cores, ReclusterParams.from_settings(two_level))
    assert linked[0] == linked[4] != linked[2]  # the article joins a group at 0.3; the two groups stay apart
    assert linked[5] == -1 and linked[2] == linked[3] != -1
    one_level = two_level.model_copy(update={"recluster_group_merge_threshold": 0.25})
    flat = link_groups(batch, cores, ReclusterParams.from_settings(one_level))
    assert flat[0] == flat[2] != -1  # one threshold: plain average linkage joins the two groups instead


def test_merge_stories_merges_established_clusters_only(cfg: Settings) -> None:
    batch, _ = blobs(cfg, [0, 0, 1], per=3, noise=0.05)
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    merged = merge_stories(batch, labels, ReclusterParams.from_settings(cfg))
    assert merged[0] == merged[3] and merged[6] != merged[0]
    small = merge_stories(batch, np.array([0, 0, 0, 1, 1, -1, 2, 2, 2]), ReclusterParams.from_settings(cfg))
    assert small[3] != small[0]  # a two-article cluster is not established: no centroid merge


def test_keywords_label_and_representative_headline(settings: Settings) -> None:
    docs = [
        Doc(f"{s}-{k}", t, "", T0, outlet=f"o{k}", language="en") for s, ts in STORIES.items() for k, t in enumerate(ts)
    ]
    vec = SparseVectoriser(settings.sparse_features)
    batch = represent(docs, np.eye(len(docs), 8, dtype=np.float32), vec, RepresentParams.from_settings(settings))
    sac = [i for i, d in enumerate(docs) if d.id.startswith("sac")]
    top3 = LabelParams.from_settings(settings.model_copy(update={"topic_keywords": 3}))
    words = keywords([docs[i] for i in sac], vec, top3)
    assert words[:2] == ["sac", "point72"] or set(words[:2]) == {"sac", "point72"}
    summary = summarise([docs[i] for i in sac], batch.dense[sac], vec, LabelParams.from_settings(settings))
    assert summary.label.split(" · ")[:2] == words[:2] and summary.representative_title in STORIES["sac"]


@pytest.mark.parametrize("rows", [20, 600])  # exactly (Gram eigenvectors), and the randomised SVD
def test_sparse_projection_keeps_dot_products(cfg: Settings, rows: int) -> None:
    rng = np.random.default_rng(0)
    topics = sp.random(12, 5000, density=0.01, random_state=1, dtype=np.float32)  # rank 12 < k
    window = sp.csr_matrix(sp.csr_matrix(rng.random((rows, 12), dtype=np.float32)) @ topics)
    reduced = _sparse_projection(window, 16, FeatureParams.from_settings(cfg))
    assert reduced.shape == (rows, 16)
    gram = (window @ window.T).toarray()
    assert np.abs(reduced @ reduced.T - gram).max() <= 1e-3 * gram.max()
