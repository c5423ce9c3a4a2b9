"""Periodic re-clustering of the window: HDBSCAN over a neighbour graph of the joint representation, then tidying.

1. Features (``joint_features.py``): the dense embeddings and a TruncatedSVD of the sparse TF-IDF,
   each row scaled by the square roots of its article's weights (``SimilarityWeights``: headline or
   full text) so that dot products approximate the pair's weighted ``dense·cos + sparse·cos``;
   unit rows, float32, optionally reduced with PCA (``recluster_dims``, 0: none).
2. The neighbour graph (``neighbours.py``): each article's ``recluster_neighbours`` most similar
   articles — exact for ordinary windows, an inverted-file + shared-rare-term search for large ones.
   It is the only all-pairs work; every later step looks at graph pairs only, so memory and time
   grow with window × neighbours, not window².
3. HDBSCAN over the graph (``graph_hdbscan.py``, the ``hdbscan`` package's tree condensing and
   selection) finds dense story cores; members less similar to their core than
   ``recluster_core_min_similarity`` (``..._long`` for full texts) are put back with the noise
   (``prune_cores``): HDBSCAN's density is relative, so a sparse window's cores can hold strangers.
4. Average linkage over the cores and the noise points (``link_groups``), cut at two levels: a
   single article joins a group (or pairs with another) at ``recluster_merge_threshold``, two
   groups merge at ``recluster_group_merge_threshold``: noise points join the story they are
   closest to on average, cores of one story come together, and whatever stays alone is unassigned.
   Between full texts both cuts rise by ``recluster_merge_threshold_long`` − ``recluster_merge_threshold``
   (interpolated by the pair's share of full text): one subject's events, told at length, share
   more words than two headlines of one story.
5. Established clusters (``story_min_size`` members or more) whose centroids are at least
   ``story_merge_threshold`` similar (``story_merge_threshold_long`` between full texts, whose
   TF-IDF-weighted similarities run lower) are merged (``merge_stories``): a big story told in many
   different headlines stays one topic.

Steps 4 and 5 are rounds of mutual-best merges over candidate pairs (``agglomerate.py``).
Deterministic for a given input and parameters (``random_seed`` seeds the SVD, PCA and k-means).
Pure: a ``Batch`` and ``ReclusterParams`` in, one label per row out (-1 unassigned).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clustering.reclustering.agglomerate import (
    ClusterSums,
    Compact,
    CsrRows,
    PairScore,
    agglomerate,
    centroid_similarity,
    csr_matmul,
    csr_minus,
    grouping_matrix,
    mean_similarity,
    row_products,
    with_group_margin,
    with_length_threshold,
)
from clustering.reclustering.graph_hdbscan import HdbscanParams, graph_hdbscan_labels
from clustering.reclustering.joint_features import FeatureParams, neighbour_graph
from clustering.reclustering.neighbours import KnnGraph, NeighbourParams, knn_graph
from clustering.reclustering.pairwise import ArticlePairs, PairwiseVeto, split_cores
from clustering.representation.represent import Batch, SimilarityWeights
from clustering.story_model.same_story import SameStoryModel, SameStoryParams, configured_model
from newsflow.settings import Settings

log = logging.getLogger(__name__)
_MAX_LINK_ROUNDS = 500  # a chain of merges this long would be a bug, not a story
_MAX_MERGE_ROUNDS = 50


@dataclass(frozen=True)
class ReclusterParams:
    """The re-clustering's knobs: its stages' own (features, neighbours, HDBSCAN), the similarity weights,
    which same-story model decides what (``same_story_recluster``) with its cuts, and the similarity cuts."""

    features: FeatureParams
    neighbours: NeighbourParams
    hdbscan: HdbscanParams
    weights: SimilarityWeights
    story: SameStoryParams
    same_story_recluster: str
    core_probability: float
    core_split_probability: float
    group_veto_probability: float
    join_probability: float
    merge_probability: float
    recluster_core_min_similarity: float
    recluster_core_min_similarity_long: float
    recluster_merge_threshold: float
    recluster_merge_threshold_long: float
    recluster_group_merge_threshold: float
    story_min_size: int
    story_merge_threshold: float
    story_merge_threshold_long: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ReclusterParams:
        return cls(
            features=FeatureParams.from_settings(settings),
            neighbours=NeighbourParams.from_settings(settings),
            hdbscan=HdbscanParams.from_settings(settings),
            weights=SimilarityWeights.from_settings(settings),
            story=SameStoryParams.from_settings(settings),
            same_story_recluster=settings.same_story_recluster,
            core_probability=settings.core_probability,
            core_split_probability=settings.core_split_probability,
            group_veto_probability=settings.group_veto_probability,
            join_probability=settings.join_probability,
            merge_probability=settings.merge_probability,
            recluster_core_min_similarity=settings.recluster_core_min_similarity,
            recluster_core_min_similarity_long=settings.recluster_core_min_similarity_long,
            recluster_merge_threshold=settings.recluster_merge_threshold,
            recluster_merge_threshold_long=(
                settings.recluster_merge_threshold
                if settings.recluster_merge_threshold_long is None
                else settings.recluster_merge_threshold_long
            ),
            recluster_group_merge_threshold=settings.recluster_group_merge_threshold,
            story_min_size=settings.story_min_size,
            story_merge_threshold=settings.story_merge_threshold,
            story_merge_threshold_long=settings.story_merge_threshold_long,
        )


def prune_cores(
    batch: Batch, labels: np.ndarray, threshold: float, threshold_long: float, rounds: int = 3,
    model: SameStoryModel | None = None,
) -> np.ndarray:  # fmt: skip
    """Members of HDBSCAN's cores whose mean similarity to the rest of their core is below
    ``threshold`` (``threshold_long`` for a full text, between: by its ``long`` share) become noise,
    as do cores left with one member. With a same-story ``model`` the cut is a probability: a member
    stays while it is at least ``threshold`` likely to tell the story of the rest of its core.

    HDBSCAN's density is relative: in a small or sparse window (a quiet hour, a low-volume
    stream) its cores can gather articles that are not similar in absolute terms, and the linkage
    after it never splits a core. The linkage then decides about those articles on the same
    absolute cut as about every other noise point.
    """
    out = labels.copy()
    if threshold <= 0 and threshold_long <= 0:
        return out
    if model is not None:
        return _prune_cores_by_model(batch, out, model, threshold, rounds)
    cut = threshold + (threshold_long - threshold) * batch.long
    # No time decay: a member lies inside its core's time span, where the linkage's decay is 1 too.
    scaled_dense = batch.dense * batch.roots[:, :1].astype(np.float32)
    scaled_sparse = sp.csr_matrix(sp.diags(batch.roots[:, 1]) @ batch.sparse, dtype=np.float32)
    own = (
        np.einsum("ij,ij->i", scaled_dense, scaled_dense)
        + np.asarray(scaled_sparse.multiply(scaled_sparse).sum(axis=1)).ravel()
    )
    for _ in range(rounds):
        members = np.flatnonzero(out >= 0)
        if len(members) == 0:
            break
        ids, groups = np.unique(out[members], return_inverse=True)
        sums = ClusterSums.of(batch.select(members.tolist()), groups, len(ids))
        together = (
            np.einsum("ij,ij->i", scaled_dense[members], sums.dense[groups])
            + np.asarray(scaled_sparse[members].multiply(sums.sparse[groups]).sum(axis=1)).ravel()
        )
        others = sums.size[groups] - 1
        mean = np.where(others > 0, (together - own[members]) / np.maximum(others, 1), -np.inf)
        weak = members[mean < cut[members]]
        if len(weak) == 0:
            break
        out[weak] = -1
    kept = out >= 0
    counts = np.bincount(out[kept], minlength=int(out.max()) + 1 if kept.any() else 1)
    kept[kept] = counts[out[kept]] >= 2
    return np.where(kept, out, -1)


def _prune_cores_by_model(
    batch: Batch, labels: np.ndarray, model: SameStoryModel, cut: float, rounds: int
) -> np.ndarray:
    out = labels
    window = Compact.of(batch.sparse).local  # the columns the window uses: the kernels' work space follows them
    window_dense = batch.dense.astype(np.float64)
    for _ in range(rounds):
        members = np.flatnonzero(out >= 0)
        if len(members) == 0:
            break
        ids, groups = np.unique(out[members], return_inverse=True)
        n = len(members)
        grouping = grouping_matrix(groups, len(ids))
        member = CsrRows(grouping.indptr, grouping.indices, np.ones(n), n)  # float64, as the sums are taken
        dense, sparse = window_dense[members], window.take(members)
        rest_dense = np.asarray(member.csr() @ dense)[groups] - dense
        # scipy's kernels on the CSR arrays: the same bits as ``(member @ sparse)[groups] - sparse``, and the
        # products below as ``.multiply(...).sum(axis=1)``, without thousands of checked sparse objects.
        rest_sparse = csr_minus(csr_matmul(member, sparse, np.float64).take(groups), sparse)
        size = np.bincount(groups).astype(np.float64)[groups] - 1
        dn = np.linalg.norm(rest_dense, axis=1)
        sn = np.sqrt(row_products(rest_sparse, rest_sparse))
        d = np.divide(np.einsum("ij,ij->i", rest_dense, dense), dn, out=np.zeros(len(members)), where=dn > 0)
        dots = row_products(rest_sparse, sparse)
        s = np.divide(dots, sn, out=np.zeros(len(members)), where=sn > 0)
        p = model.proba(d, s, np.zeros(n), 1.0, np.maximum(size, 1.0), batch.long[members], batch.foreign[members])
        weak = members[(p < cut) | (size < 1)]
        if len(weak) == 0:
            break
        out = out.copy()
        out[weak] = -1
    kept = out >= 0
    counts = np.bincount(out[kept], minlength=int(out.max()) + 1 if kept.any() else 1)
    kept[kept] = counts[out[kept]] >= 2
    return np.where(kept, out, -1)


def _model(params: ReclusterParams, *decides: str) -> SameStoryModel | None:
    """The same-story model if ``params.same_story_recluster`` is one of ``decides`` (None: the cuts)."""
    return configured_model(params.story) if params.same_story_recluster in decides else None


def model_score(model: SameStoryModel) -> PairScore:
    """The probability that two clusters tell one story, from their sums (cosines of the centroids)."""

    def score(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        dn = np.linalg.norm(sums.dense, axis=1).astype(np.float64)
        sn = sums.sparse_norms()  # (scipy's kernels on the raw arrays: the bits of ``.multiply(...).sum(axis=1)``)
        dense = np.einsum("ij,ij->i", sums.dense[a], sums.dense[b]).astype(np.float64)
        sparse = sums.sparse_dots(a, b)
        d = np.divide(dense, dn[a] * dn[b], out=np.zeros(len(a)), where=dn[a] * dn[b] > 0)
        s = np.divide(sparse, sn[a] * sn[b], out=np.zeros(len(a)), where=sn[a] * sn[b] > 0)
        gap = np.maximum(np.maximum(sums.first[a] - sums.last[b], sums.first[b] - sums.last[a]), 0.0)
        size = np.maximum(sums.size, 1.0)
        long = (sums.long[a] / size[a] + sums.long[b] / size[b]) / 2
        foreign = (sums.foreign[a] / size[a] + sums.foreign[b] / size[b]) / 2
        return model.proba(d, s, gap, size[a], size[b], long, foreign)

    return score


def link_groups(batch: Batch, labels: np.ndarray, params: ReclusterParams, graph: KnnGraph | None = None) -> np.ndarray:
    """Average linkage over HDBSCAN's cores and its noise points, cut at two levels.

    A pair with a single article in it merges at ``recluster_merge_threshold``; two groups of two or
    more articles merge at ``recluster_group_merge_threshold`` (never below the first): on the
    tuning data, loosely similar groups were more often two stories on one subject than one story.
    Between full texts both cuts rise by the step up to ``recluster_merge_threshold_long`` (``with_length_threshold``).

    Each group (a core, or one noise article) is represented by the sums of its members' dense and
    sparse vectors: with a bilinear similarity the mean pairwise similarity of two groups is the
    product of their means, so this is average linkage over articles that starts from HDBSCAN's
    cores instead of from single articles. Candidate pairs are groups with neighbouring members.
    Groups that stay alone (single noise articles) are unassigned.
    """
    if len(labels) == 0:
        return labels.copy()
    graph = graph if graph is not None else neighbour_graph(batch, params.features, params.neighbours)
    pairs = None  # the model's article pairs, for the core split and the veto (one copy of the rows for both)
    if (pruner := _model(params, "cores", "all")) is not None:
        groups = prune_cores(batch, labels, params.core_probability, params.core_probability, model=pruner)
        if params.core_split_probability > 0 or params.group_veto_probability > 0:
            pairs = ArticlePairs(batch, pruner)
        if pairs is not None and params.core_split_probability > 0:
            groups = split_cores(pairs, groups, params.core_split_probability)
    else:
        groups = prune_cores(
            batch, labels, params.recluster_core_min_similarity, params.recluster_core_min_similarity_long
        )
    noise = np.flatnonzero(groups < 0)
    groups[noise] = int(groups.max()) + 1 + np.arange(len(noise))
    _, groups = np.unique(groups, return_inverse=True)
    m = int(groups.max()) + 1
    i, j, _ = graph.edges()
    sums = ClusterSums.of(batch, groups, m)
    if (model := _model(params, "all")) is not None:  # singles join at one probability, groups at another
        score = with_group_margin(model_score(model), params.merge_probability - params.join_probability)
        into = agglomerate(
            sums, groups[i], groups[j], score, params.join_probability, prune=False, max_rounds=_MAX_LINK_ROUNDS
        )
    else:
        margin = params.recluster_group_merge_threshold - params.recluster_merge_threshold
        score = with_group_margin(mean_similarity(params.weights), margin)
        score = with_length_threshold(score, params.recluster_merge_threshold, params.recluster_merge_threshold_long)
        if pairs is not None and params.group_veto_probability > 0:
            score = PairwiseVeto(pairs, sums, groups, params.group_veto_probability).wrap(
                score, params.recluster_merge_threshold
            )
        into = agglomerate(
            sums, groups[i], groups[j], score, params.recluster_merge_threshold, prune=True,
            max_rounds=_MAX_LINK_ROUNDS,
        )  # fmt: skip
    merged = into[groups]
    counts = np.bincount(merged, minlength=m)
    return np.where(counts[merged] >= 2, merged, -1).astype(np.int64)


def merge_stories(
    batch: Batch, labels: np.ndarray, params: ReclusterParams, graph: KnnGraph | None = None
) -> np.ndarray:
    """Merge established clusters whose centroids are at least ``story_merge_threshold`` similar.

    Average linkage asks every pair of articles to be similar on average, which splits a large story
    told in many different headlines. The centroid of a cluster with ``story_min_size`` or more
    members is a steadier estimate of its story, so such clusters are compared centroid to centroid
    (cosine of the joint dense + sparse sums, with time decay). Candidates: the clusters whose
    dense centroids are among each other's ``recluster_neighbours`` nearest, and clusters with
    neighbouring members.
    """
    assigned = np.flatnonzero(labels >= 0)
    if len(assigned) == 0:
        return labels.copy()
    ids, groups = np.unique(labels[assigned], return_inverse=True)
    chosen = batch.select(assigned.tolist())
    sums = ClusterSums.of(chosen, groups, len(ids))
    big = np.flatnonzero(sums.size >= params.story_min_size)
    if len(big) < 2:
        return labels.copy()
    model = _model(params, "cores", "all")
    vetoes = None
    if model is not None and params.group_veto_probability > 0:
        vetoes = PairwiseVeto(ArticlePairs(chosen, model), sums, groups, params.group_veto_probability)

    def veto(score: PairScore, threshold: float) -> PairScore:
        return score if vetoes is None else vetoes.wrap(score, threshold)

    unit = sums.dense[big] / np.maximum(np.linalg.norm(sums.dense[big], axis=1, keepdims=True), 1e-12)
    exact = dataclasses.replace(params.neighbours, recluster_exact_neighbours_max=len(big))
    near = knn_graph(unit, sums.sparse[big], exact)
    a, b, _ = near.edges()
    a, b = big[a], big[b]
    if graph is not None:
        cluster_of = np.full(len(labels), -1, dtype=np.int64)
        cluster_of[assigned] = groups
        i, j, _ = graph.edges()
        ci, cj = cluster_of[i], cluster_of[j]
        is_big = np.zeros(len(ids), dtype=bool)
        is_big[big] = True
        both = (ci >= 0) & (cj >= 0)
        both[both] = is_big[ci[both]] & is_big[cj[both]]
        a, b = np.concatenate([a, ci[both]]), np.concatenate([b, cj[both]])
    into = np.arange(len(ids))
    if params.same_story_recluster != "all":
        score = with_length_threshold(
            centroid_similarity(params.weights), params.story_merge_threshold, params.story_merge_threshold_long
        )
        cut_at = params.story_merge_threshold
        into = agglomerate(sums, a, b, veto(score, cut_at), cut_at, prune=False, max_rounds=_MAX_MERGE_ROUNDS)
    if model is not None:
        # After the cuts, the model merges what they miss: German cosines of an English embedding run
        # lower than the cuts assume (held-out German F1 0.720 -> 0.741, the English sets unchanged).
        into = _merge_by_model(sums, into, a, b, model, params.merge_probability, veto)
    out = labels.copy()
    out[assigned] = ids[into[groups]]
    return out


def _merge_by_model(
    sums: ClusterSums, into: np.ndarray, a: np.ndarray, b: np.ndarray, model: SameStoryModel, cut: float,
    veto: Callable[[PairScore, float], PairScore] = lambda score, _threshold: score,
) -> np.ndarray:  # fmt: skip
    """``into`` (cluster → merged cluster) after the model joins merged clusters at ``cut``; ``sums`` are
    the merged sums (``agglomerate`` merged them in place)."""
    ma, mb = into[a], into[b]
    keep = ma != mb
    again = agglomerate(sums, ma[keep], mb[keep], veto(model_score(model), cut), cut, prune=False,
                        max_rounds=_MAX_MERGE_ROUNDS)  # fmt: skip
    return again[into]


def cluster_window(batch: Batch, params: ReclusterParams) -> np.ndarray:
    """One label per row of ``batch`` (-1: unassigned), deterministic for the same input and parameters."""
    if len(batch) == 0:
        return np.zeros(0, dtype=np.int64)
    graph = neighbour_graph(batch, params.features, params.neighbours)
    labels = graph_hdbscan_labels(graph, params.hdbscan)
    cores = int(labels.max()) + 1 if len(labels) else 0
    labels = link_groups(batch, labels, params, graph)
    labels = merge_stories(batch, labels, params, graph)
    log.debug(
        "re-clustered %d articles: %d cores → %d clusters, %d unassigned",
        len(batch), cores, len(set(labels[labels >= 0].tolist())), int((labels < 0).sum()),
    )  # fmt: skip
    return _canonical(labels)


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters by first appearance, so equal partitions get equal labels."""
    mapping: dict[int, int] = {}
    out = np.full(len(labels), -1, dtype=np.int64)
    for i, x in enumerate(labels.tolist()):
        if x >= 0:
            out[i] = mapping.setdefault(x, len(mapping))
    return out
