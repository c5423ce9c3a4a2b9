"""Decisions from the same-story model's article-pair probabilities, around the re-clustering's sums.

Centroids and mean cosines blur two stories that share their actors: a German window's rare-earth
deal and the Trump–Putin call have a centroid same-story probability of 0.61, yet their articles'
mean pairwise probability is 0.39 while each story's own pairs average about 0.82. Two decisions
therefore look at the article pairs:

- ``split_cores``: an HDBSCAN core is split by average linkage over its members' pairwise
  probabilities (density is relative: one core can hold the first articles of two stories);
- ``PairwiseVeto``: two groups of the linkage or of the story merging join only when their articles'
  mean pairwise probability reaches the cut, whatever their centroids say.

Both are bounded: a side of more than ``_SIDE_SAMPLE`` members is estimated on that many, spread
over its time order, and a core of more than ``_SPLIT_MAX_MEMBERS`` is left whole.
"""

from __future__ import annotations

import numpy as np

from clustering.reclustering.agglomerate import ClusterSums, Compact, PairScore, row_products
from clustering.representation.represent import Batch
from clustering.story_model.same_story import SameStoryModel

_SIDE_SAMPLE = 48  # members per side whose pairs estimate a mean probability (evenly spaced in time order)
# The veto looks only at groups whose articles carry some body text on average (``Batch.long`` 0.1: about
# 100 characters at the default ``long_text_chars``): a pair of bare headlines shares too few words for its
# probability to refuse a merge (held-out UCI headlines with a veto at 0.5: B-cubed recall 0.67 -> 0.59).
_VETO_MIN_LONG = 0.1
_PAIR_CHUNK = 8192  # pairs whose rows are gathered at once (a 50k window's cores hold millions of pairs)
_SPLIT_MAX_MEMBERS = 400  # a larger core is kept whole: its pairs would cost more than the whole re-clustering


def _spread(rows: np.ndarray, k: int) -> np.ndarray:
    return rows if len(rows) <= k else rows[np.linspace(0, len(rows) - 1, k).round().astype(np.int64)]


class ArticlePairs:
    """The model's same-story probabilities of article pairs of one batch (as pairs of single articles:
    sizes one, spread zero). The sparse rows are compacted once, so a pair costs no scipy object: a
    window's thousands of small cores and vetoes cost arithmetic, not overhead."""

    def __init__(self, batch: Batch, model: SameStoryModel):
        self.batch, self.model = batch, model
        self.rows = Compact.of(batch.sparse).local

    def of(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """The probability of each pair of rows ``i[k]``, ``j[k]``."""
        parts = [self._of(i[k : k + _PAIR_CHUNK], j[k : k + _PAIR_CHUNK]) for k in range(0, len(i), _PAIR_CHUNK)]
        return np.concatenate([np.zeros(0), *parts])

    def _of(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        b = self.batch
        d = np.einsum("ij,ij->i", b.dense[i].astype(np.float64), b.dense[j].astype(np.float64))
        s = row_products(self.rows.take(i), self.rows.take(j))
        gap = np.abs(b.hours[i] - b.hours[j])
        return self.model.proba(d, s, gap, 1.0, 1.0, (b.long[i] + b.long[j]) / 2, (b.foreign[i] + b.foreign[j]) / 2)

    def mean_between(self, a: np.ndarray, b: np.ndarray) -> float:
        """The mean probability over the pairs of rows ``a`` × rows ``b`` (estimated on ``_SIDE_SAMPLE``
        members of a larger side, spread over its time order)."""
        a, b = _spread(np.sort(a), _SIDE_SAMPLE), _spread(np.sort(b), _SIDE_SAMPLE)
        return float(self.of(np.repeat(a, len(b)), np.tile(b, len(a))).mean())


class PairwiseVeto:
    """Wraps pair scores so that two groups (2+ members each) whose articles' mean pairwise same-story
    probability is below ``cut`` never merge. Members are followed through ``sums``' merges."""

    def __init__(self, pairs: ArticlePairs, sums: ClusterSums, groups: np.ndarray, cut: float):
        self.pairs, self.cut = pairs, cut
        m = len(sums.size)
        order = np.argsort(groups, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(groups, minlength=m))])
        self.members: dict[int, np.ndarray] = {k: order[bounds[k] : bounds[k + 1]] for k in range(m)}
        self.known: dict[tuple[int, int, int, int], float] = {}
        sums.on_merge.append(self._merged)

    def _merged(self, keep: np.ndarray, gone: np.ndarray) -> None:
        for k, g in zip(keep.tolist(), gone.tolist(), strict=True):
            self.members[k] = np.concatenate([self.members[k], self.members.pop(g)])

    def wrap(self, score: PairScore, threshold: float) -> PairScore:
        """``score`` with -inf for the group pairs at or above ``threshold`` that the veto refuses (the
        pairs below it cannot merge anyway, so their article pairs are never looked at)."""

        def vetoed(sums: ClusterSums, a: np.ndarray, b: np.ndarray) -> np.ndarray:
            out = score(sums, a, b).copy()
            texts = sums.long >= _VETO_MIN_LONG * sums.size  # (a mean over each group's members)
            asked = (sums.size[a] >= 2) & (sums.size[b] >= 2) & texts[a] & texts[b] & (out >= threshold)
            for k in np.flatnonzero(asked):
                key = (int(a[k]), len(self.members[int(a[k])]), int(b[k]), len(self.members[int(b[k])]))
                if key not in self.known:  # (an id and its size name one set of members)
                    rows_a, rows_b = self.members[key[0]], self.members[key[2]]
                    self.known[key] = self.pairs.mean_between(rows_a, rows_b)
                if self.known[key] < self.cut:
                    out[k] = -np.inf
            return out

        return vetoed


def split_cores(pairs: ArticlePairs, labels: np.ndarray, cut: float) -> np.ndarray:
    """Each core split by average linkage over its members' pairwise same-story probabilities, cut at
    ``cut``; members left alone become noise, for the linkage to decide."""
    from scipy.cluster.hierarchy import fcluster, linkage

    out = np.full(len(labels), -1, dtype=np.int64)
    members = np.flatnonzero(labels >= 0)
    members = members[np.argsort(labels[members], kind="stable")]
    cores = np.split(members, np.flatnonzero(np.diff(labels[members])) + 1)
    asked = [at for at in cores if 2 <= len(at) <= _SPLIT_MAX_MEMBERS]
    # Every asked core's pairs at once, in linkage's condensed order (row-major upper triangle).
    triangles = [np.triu_indices(len(at), 1) for at in asked]
    none = np.zeros(0, dtype=np.int64)
    i = np.concatenate([none, *(at[iu] for at, (iu, _) in zip(asked, triangles, strict=True))])
    j = np.concatenate([none, *(at[ju] for at, (_, ju) in zip(asked, triangles, strict=True))])
    p = pairs.of(i, j)
    starts = np.concatenate([[0], np.cumsum([len(iu) for iu, _ in triangles], dtype=np.int64)])
    stories: list[np.ndarray] = []
    k = 0  # the next asked core's place in ``starts``
    for at in cores:
        if len(at) < 2:  # (no core at all, or one member left by the pruning: noise)
            continue
        if len(at) > _SPLIT_MAX_MEMBERS:
            stories.append(at)
            continue
        core_p = p[starts[k] : starts[k + 1]]
        k += 1
        if core_p.min() >= cut:  # every pair at or above the cut: average linkage keeps the core whole
            stories.append(at)
            continue
        parts = fcluster(linkage(1.0 - core_p, method="average"), t=1.0 - cut, criterion="distance")
        counts = np.bincount(parts)
        stories += [at[parts == part] for part in np.unique(parts) if counts[part] >= 2]
    for story_id, at in enumerate(stories):
        out[at] = story_id
    return out
