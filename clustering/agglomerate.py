"""Agglomeration over candidate pairs: merge mutually most similar clusters, round after round.

Both tidy-up steps of re-clustering are agglomerations: average linkage over HDBSCAN's cores and
noise points, and the merging of established stories by centroid similarity. Neither needs a
clusters² matrix: a pair can only qualify when its members are neighbours in the window's graph
(or, for centroids, when the centroids are neighbours), so only those candidate pairs are scored.

Each round scores the candidate pairs, lets every cluster pick its most similar partner (ties: the
lower id), and merges the pairs that picked each other above the threshold — for average linkage
that is the reciprocal-nearest-neighbour scheme, which gives the same clusters as merging the
best pair one at a time. Merged clusters keep the lower id, their sums are added, their candidate
pairs are united and rescored; other pairs keep their scores.

Similarities come from member sums, never from member pairs: with the bilinear dense + sparse
similarity the mean pairwise similarity of two clusters is the product of their means (times the
time decay of the gap between their spans), and a centroid similarity is the cosine of the sums.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from clustering.represent import Batch, SimilarityWeights

log = logging.getLogger(__name__)
_PAIR_BLOCK = 16_384  # pairs scored at once (bounds the gathered rows)


@dataclass
class ClusterSums:
    """Per cluster (ids 0..m−1): member count, dense and sparse sums, first and last hour.

    Each member's vectors enter the sums scaled by the square roots of its weights (``Batch.roots``),
    so a product of two clusters' sums is the sum of their members' pairwise weighted similarities.
    """

    size: np.ndarray
    dense: np.ndarray  # (m, d) float32
    sparse: sp.csr_matrix  # (m, F) float32
    first: np.ndarray
    last: np.ndarray
    roots: np.ndarray  # (m, 2) sums of the members' weight roots (their means weigh centroid pairs)
    long: np.ndarray  # (m,) sums of the members' ``Batch.long`` (headline 0 … full text 1)
    foreign: np.ndarray  # (m,) sums of the members' ``Batch.foreign`` (not in English)

    @classmethod
    def of(cls, batch: Batch, groups: np.ndarray, m: int) -> ClusterSums:
        """Sums of the rows of ``batch`` by ``groups`` (every row in 0..m−1)."""
        member = sp.csr_matrix(
            (np.ones(len(groups), dtype=np.float32), (groups, np.arange(len(groups)))), shape=(m, len(groups))
        )
        first = np.full(m, np.inf)
        last = np.full(m, -np.inf)
        np.minimum.at(first, groups, batch.hours)
        np.maximum.at(last, groups, batch.hours)
        return cls(
            size=np.bincount(groups, minlength=m).astype(np.float64),
            dense=np.asarray(member @ (batch.dense * batch.roots[:, :1].astype(np.float32)), dtype=np.float32),
            sparse=sp.csr_matrix(member @ (sp.diags(batch.roots[:, 1]) @ batch.sparse), dtype=np.float32),
            first=first,
            last=last,
            roots=np.asarray(member @ batch.roots, dtype=np.float64),
            long=np.bincount(groups, weights=batch.long, minlength=m).astype(np.float64),
            foreign=np.bincount(groups, weights=batch.foreign, minlength=m).astype(np.float64),
        )

    def merge(self, keep: np.ndarray, gone: np.ndarray) -> None:
        """Add cluster ``gone[i]`` into ``keep[i]`` (the ids in ``keep`` and ``gone`` are all distinct)."""
        m = len(self.size)
        into = np.arange(m)
        into[gone] = keep
        fold = sp.csr_matrix((np.ones(m, dtype=np.float32), (into, np.arange(m))), shape=(m, m))
        self.size = np.bincount(into, weights=self.size, minlength=m)
        self.size[gone] = 0
        self.dense[keep] += self.dense[gone]
        self.dense[gone] = 0.0
        self.sparse = sp.csr_matrix(fold @ self.sparse, dtype=np.float32)
        self.roots[keep] += self.roots[gone]
        self.roots[gone] = 0.0
        self.long[keep] += self.long[gone]
        self.long[gone] = 0.0
        self.foreign[keep] += self.foreign[gone]
        self.foreign[gone] = 0.0
        self.first[keep] = np.minimum(self.first[keep], self.first[gone])
        self.last[keep] = np.maximum(self.last[keep], self.last[gone])


PairScore = Callable[[ClusterSums, np.ndarray, np.ndarray], np.ndarray]


def mean_similarity(weights: SimilarityWeights) -> PairScore:
    """Average pairwise similarity of two clusters' members (average linkage)."""

    def score(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        scale = 1.0 / (sums.size[a] * sums.size[b])
        return _combined(sums, a, b, weights, scale, scale, np.ones(len(a)), np.ones(len(a)))  # weights in the sums

    return score


def with_group_margin(score: PairScore, margin: float) -> PairScore:
    """``score`` lowered by ``margin`` for pairs of two groups (2+ members each): a two-level cut.

    A single article joins a group at the agglomeration's threshold, while two groups must clear
    it by ``margin``: one article's similarity to a story is the evidence it belongs there, but two
    groups that are only loosely similar on average are more often two stories on one subject
    (two earthquakes, two elections) than one story. Pruning stays valid: a merged pair's raw
    score is a weighted mean of its parts' and the margin only grows as groups form.
    """
    if margin <= 0:
        return score

    def lowered(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raw = score(sums, a, b)
        groups = (sums.size[a] >= 2) & (sums.size[b] >= 2)
        return np.where(groups, raw - margin, raw)

    return lowered


def with_length_threshold(score: PairScore, threshold: float, threshold_long: float) -> PairScore:
    """``score`` shifted so that agglomerating at ``threshold`` merges a pair of full-text clusters
    at ``threshold_long`` instead (between: by the pair's mean ``long`` share).

    Full texts lean on TF-IDF, whose cosines run lower than the embedding's, so the same evidence
    gives a lower combined similarity than between headlines; the cut follows the scale.
    """
    if threshold_long == threshold:
        return score

    def shifted(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        long = (sums.long[a] / np.maximum(sums.size[a], 1.0) + sums.long[b] / np.maximum(sums.size[b], 1.0)) / 2
        return score(sums, a, b) + (threshold - threshold_long) * long

    return shifted


def centroid_similarity(weights: SimilarityWeights) -> PairScore:
    """Cosine of two clusters' dense sums and of their sparse sums, combined with the time decay."""

    def score(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        dn = np.linalg.norm(sums.dense, axis=1).astype(np.float64)
        sn = np.sqrt(np.asarray(sums.sparse.multiply(sums.sparse).sum(axis=1), dtype=np.float64).ravel())
        dense_scale = 1.0 / np.maximum(dn[a] * dn[b], 1e-12)
        sparse_scale = np.where((sn[a] > 0) & (sn[b] > 0), 1.0 / np.maximum(sn[a] * sn[b], 1e-24), 0.0)
        mean_roots = sums.roots / np.maximum(sums.size, 1.0)[:, None]
        coef = mean_roots[a] * mean_roots[b]  # cosines lose the weights: the clusters' mean weights
        return _combined(sums, a, b, weights, dense_scale, sparse_scale, coef[:, 0], coef[:, 1])

    return score


def _combined(
    sums: ClusterSums, a: np.ndarray, b: np.ndarray, weights: SimilarityWeights,
    dense_scale: np.ndarray, sparse_scale: np.ndarray, dense_coef: np.ndarray, sparse_coef: np.ndarray,
) -> np.ndarray:  # fmt: skip
    out = np.empty(len(a), dtype=np.float64)
    for s in range(0, len(a), _PAIR_BLOCK):
        x, y = a[s : s + _PAIR_BLOCK], b[s : s + _PAIR_BLOCK]
        dense = np.einsum("ij,ij->i", sums.dense[x], sums.dense[y]).astype(np.float64)
        sparse = np.asarray(sums.sparse[x].multiply(sums.sparse[y]).sum(axis=1), dtype=np.float64).ravel()
        gap = np.maximum(np.maximum(sums.first[x] - sums.last[y], sums.first[y] - sums.last[x]), 0.0)
        block = slice(s, s + _PAIR_BLOCK)
        out[block] = weights.combine(
            dense * dense_scale[block], sparse * sparse_scale[block], gap, dense_coef[block], sparse_coef[block]
        )
    return out


def canonical_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct unordered pairs (lower id first), self pairs dropped, sorted."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    ok = lo != hi
    if not ok.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pairs = np.unique(np.column_stack([lo[ok], hi[ok]]).astype(np.int64), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _mutual_best(a: np.ndarray, b: np.ndarray, sims: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose clusters picked each other as most similar partner (ties: the lower id)."""
    node = np.concatenate([a, b])
    other = np.concatenate([b, a])
    s = np.concatenate([sims, sims])
    order = np.lexsort((other, -s, node))
    node, other = node[order], other[order]
    first = np.ones(len(node), dtype=bool)
    first[1:] = node[1:] != node[:-1]
    best = np.full(m, -1, dtype=np.int64)
    best[node[first]] = other[first]
    mutual = (best[a] == b) & (best[b] == a)
    return a[mutual], b[mutual]


def agglomerate(
    sums: ClusterSums, a: np.ndarray, b: np.ndarray, score: PairScore, threshold: float, *,
    prune: bool, max_rounds: int,
) -> np.ndarray:  # fmt: skip
    """Merge mutually best candidate pairs at or above ``threshold`` until none is left.

    Returns, per starting cluster, the id of the cluster it ended in. ``prune`` drops pairs below
    the threshold for good — right for average linkage, whose merged similarity is a weighted mean
    of the parts' and so cannot rise above the threshold when none of the parts is.
    """
    m = len(sums.size)
    into = np.arange(m)
    a, b = canonical_pairs(a, b)
    sims = score(sums, a, b)
    for _ in range(max_rounds):
        if prune:
            keep = sims >= threshold
            a, b, sims = a[keep], b[keep], sims[keep]
        ok = sims >= threshold
        keep_ids, gone_ids = _mutual_best(a[ok], b[ok], sims[ok], m)
        if len(keep_ids) == 0:
            break
        sums.merge(keep_ids, gone_ids)
        step = np.arange(m)
        step[gone_ids] = keep_ids
        into = step[into]
        changed = np.zeros(m, dtype=bool)
        changed[keep_ids] = True
        changed[gone_ids] = True
        touched = changed[a] | changed[b]
        na, nb = canonical_pairs(step[a[touched]], step[b[touched]])
        a = np.concatenate([a[~touched], na])
        b = np.concatenate([b[~touched], nb])
        sims = np.concatenate([sims[~touched], score(sums, na, nb)])
    else:
        log.warning("agglomeration stopped after %d rounds with pairs left above %.2f", max_rounds, threshold)
    return into
