"""Online assignment: each new article joins the most similar active topic, or waits unassigned.

``OnlineClusterer`` follows river's estimator style: ``predict_one`` answers without changing
anything, ``learn_one`` assigns and updates (``*_many`` for micro-batches, in order). Topic
centroids live in one matrix, so the candidate search is a single matrix-vector product (BLAS)
instead of a loop over topics; the best few dense candidates are re-ranked with the full
similarity (dense + sparse + time, ``represent.SimilarityWeights``).

An article below ``assign_threshold`` waits in a bounded pool of recent unassigned articles. When a
later article is at least ``seed_threshold`` similar to one waiting there, the pair starts a topic
right away instead of waiting for the next re-clustering — a breaking story shows up within a batch.
An article with its full text is compared on its own weights (``SimilarityWeights.of_article``:
TF-IDF counts more) and against the ``*_long`` thresholds (interpolated by ``Batch.long``).

With the same-story model, a stale topic — silent for longer than ``stale_after_hours`` and than
``stale_span_factor`` times its own span — needs ``stale_join_probability`` instead of
``join_probability``: on a subject that comes back after a pause, an unsure article is more often a
new development than the old story's next article (held out: precision up on every sparse and
spread stream, recall within 0.01). A sure one still continues the story.

A new revision of a member is re-decided (``revise_one``): its old revision is taken out of its
topic, the new one is put in where it fits — its own topic while it still clears
``assign_threshold`` there (a slightly better topic elsewhere does not pull it over: no flapping
between near-equal stories), else the best topic that does, else the pool, like a new article.
A revision with the same embedding and tokens changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from clustering.online.centroid_cells import CentroidCells
from clustering.online.centroids import CentroidIndex, PartsScorer, _csr_row, stack_rows
from clustering.reclustering.agglomerate import Compact, CsrRows, csr_matmul, grouping_matrix
from clustering.representation.represent import Batch, SimilarityWeights
from clustering.story_model.same_story import SameStoryModel, SameStoryParams, configured_model
from newsflow.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssignParams:
    """The online assignment's knobs: similarity weights, the same-story model and its cuts (or the similarity
    cuts without one), the candidate search (``CentroidCells``), the hashing space and the pool's size."""

    weights: SimilarityWeights
    story: SameStoryParams
    join_probability: float
    seed_probability: float
    stale_join_probability: float
    stale_after_hours: float
    stale_span_factor: float
    assign_threshold: float
    assign_threshold_long: float
    seed_threshold: float
    seed_threshold_long: float
    assign_candidates: int
    assign_index_min_topics: int
    assign_index_probe: int
    random_seed: int
    sparse_features: int
    seed_pool_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AssignParams:
        return cls(
            weights=SimilarityWeights.from_settings(settings),
            story=SameStoryParams.from_settings(settings),
            join_probability=settings.join_probability,
            seed_probability=settings.seed_probability,
            stale_join_probability=settings.stale_join_probability,
            stale_after_hours=settings.stale_after_hours,
            stale_span_factor=settings.stale_span_factor,
            assign_threshold=settings.assign_threshold,
            assign_threshold_long=settings.assign_threshold_long,
            seed_threshold=settings.seed_threshold,
            seed_threshold_long=settings.seed_threshold_long,
            assign_candidates=settings.assign_candidates,
            assign_index_min_topics=settings.assign_index_min_topics,
            assign_index_probe=settings.assign_index_probe,
            random_seed=settings.random_seed,
            sparse_features=settings.sparse_features,
            seed_pool_size=settings.seed_pool_size,
        )


@dataclass(frozen=True)
class Assignment:
    article_id: str
    topic_id: int | None  # None: unassigned, waiting for the next re-clustering
    similarity: float
    created: bool = False  # this article (with ``partner``) started the topic
    partner: str | None = None
    left: int | None = None  # a revision took the article out of this topic (it moved, or waits unassigned)


class OnlineClusterer:
    """Assigns articles to topics one at a time. Holds the active topics and the unassigned pool."""

    def __init__(self, params: AssignParams, dim: int, next_topic_id: int = 1) -> None:
        self.weights = params.weights
        self.model = configured_model(params.story)
        if self.model is not None:  # probabilities: the same cut for headlines and full texts
            self.assign_cuts = (params.join_probability, params.join_probability)
            self.seed_cuts = (params.seed_probability, params.seed_probability)
        else:  # (headline, full text) cuts: full texts lean on TF-IDF, whose similarities run lower.
            self.assign_cuts = (params.assign_threshold, params.assign_threshold_long)
            self.seed_cuts = (params.seed_threshold, params.seed_threshold_long)
        # A stale topic (silent past ``stale_after_hours`` and past its span) needs the stricter cut: its
        # score is lowered by the difference, so it also ranks below a fresh topic of equal probability.
        self.stale_margin = max(params.stale_join_probability - params.join_probability, 0.0)
        self.stale_after_hours = params.stale_after_hours
        self.stale_span_factor = params.stale_span_factor
        self.candidates = params.assign_candidates
        cells = CentroidCells(params.assign_index_min_topics, params.assign_index_probe, params.random_seed)
        self.topics = CentroidIndex(dim, params.sparse_features, cells=cells)
        self.pool = _Pool(dim, params.seed_pool_size)
        self.member_of: dict[str, int] = {}
        self.next_topic_id = next_topic_id

    # --- state ----------------------------------------------------------------------------------

    def add_topic(self, topic_id: int, members: Batch) -> None:
        """Install a topic with its members (start-up from the store, after a re-clustering)."""
        self.topics.add(topic_id, members.dense, members.sparse, members.hours)
        for doc in members.docs:
            self.member_of[doc.id] = topic_id
        self.next_topic_id = max(self.next_topic_id, topic_id + 1)

    def add_topics(self, labels: np.ndarray, batch: Batch) -> None:
        """Install every topic at once from per-row topic ids (-1: none), with matrix products."""
        rows = np.flatnonzero(labels >= 0)
        if len(rows) == 0:
            return
        ids, at = np.unique(labels[rows], return_inverse=True)
        member = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (at, rows)), shape=(len(ids), len(batch)))
        first = np.full(len(ids), np.inf)
        last = np.full(len(ids), -np.inf)
        np.minimum.at(first, at, batch.hours[rows])
        np.maximum.at(last, at, batch.hours[rows])
        counts = np.bincount(at, minlength=len(ids))
        sparse_sums = _member_sums(at, rows, batch.sparse)
        sparse_sums.sum_duplicates()  # every row sorted at once, as ``CentroidIndex`` keeps them (not one by one)
        self.topics.add_many(ids.tolist(), np.asarray(member @ batch.dense), sparse_sums, counts, first, last)
        for i in rows.tolist():
            self.member_of[batch.docs[i].id] = int(labels[i])
        self.next_topic_id = max(self.next_topic_id, int(ids.max()) + 1)

    def hold(self, batch: Batch) -> None:
        """Put articles in the unassigned pool (start-up, or re-clustering noise)."""
        for i in range(len(batch)):
            self.pool.add(batch, i)

    def absorb(self, batch: Batch, topic_ids: Sequence[int]) -> None:
        """Members another writer placed (a worker sharing the partitions): counted into those topics,
        topics this one has not seen installed, nothing re-decided."""
        for i, topic_id in enumerate(topic_ids):
            if topic_id in self.topics:
                self.topics.update(topic_id, batch.dense[i], batch.sparse[i], batch.hours[i])
            else:
                self.topics.add(topic_id, batch.dense[i : i + 1], batch.sparse[i], batch.hours[i : i + 1])
            self.member_of[batch.docs[i].id] = topic_id
            self.pool.discard(batch.docs[i].id)
            self.next_topic_id = max(self.next_topic_id, topic_id + 1)

    def remove_topic(self, topic_id: int) -> None:
        self.topics.remove(topic_id)

    @property
    def topic_ids(self) -> list[int]:
        return self.topics.ids()

    # --- prediction ----------------------------------------------------------------------------

    def predict_one(self, batch: Batch, i: int) -> Assignment:
        """The topic article ``i`` would join now (``topic_id`` None when below the threshold)."""
        doc = batch.docs[i]
        if doc.near_duplicate_of and doc.near_duplicate_of in self.member_of:
            # A syndicated copy belongs wherever its original went.
            original = self.member_of[doc.near_duplicate_of]
            if original in self.topics:
                return Assignment(doc.id, original, 1.0)
        weights = self.weights.of_article(batch.roots[i])
        best, sim = self.topics.best(
            batch.dense[i], batch.sparse[i], batch.hours[i], weights, self.candidates,
            self._scorer(batch.long[i], batch.foreign[i]),
        )
        if best is not None and sim >= _cut(self.assign_cuts, batch.long[i]):
            return Assignment(doc.id, best, sim)
        return Assignment(doc.id, None, sim)

    def predict_many(self, batch: Batch) -> list[Assignment]:
        return [self.predict_one(batch, i) for i in range(len(batch))]

    # --- learning ------------------------------------------------------------------------------

    def learn_one(self, batch: Batch, i: int, allocate: Callable[[], int] | None = None) -> Assignment:
        """Assign article ``i`` and update the topics; may start a topic with a pooled article."""
        doc = batch.docs[i]
        if doc.id in self.member_of:  # already placed (a replay; revisions go to ``revise_one``)
            return Assignment(doc.id, self.member_of[doc.id], 1.0)
        return self._place(batch, i, allocate)

    def revise_one(self, old: Batch, new: Batch, allocate: Callable[[], int] | None = None) -> Assignment:
        """Re-decide a member from its new revision ``new`` (one row), given the revision ``old`` (one row)
        it was counted into its topic with; anything not a member is learned as ``learn_one`` does."""
        article_id = new.docs[0].id
        own = self.member_of.get(article_id)
        if own is None:
            return self.learn_one(new, 0, allocate)
        if own not in self.topics or same_content(old, new):  # (no live centroid: the re-clustering decides)
            return Assignment(article_id, own, 1.0)
        del self.member_of[article_id]
        if self.topics.retract(own, old.dense[0], old.sparse[0]):  # others remain: does it still fit?
            weights = self.weights.of_article(new.roots[0])
            sim = self.topics.similarity(
                own, new.dense[0], new.sparse[0], new.hours[0], weights, self._scorer(new.long[0], new.foreign[0])
            )
            if sim >= _cut(self.assign_cuts, new.long[0]):
                self.topics.update(own, new.dense[0], new.sparse[0], new.hours[0])
                self.member_of[article_id] = own
                return Assignment(article_id, own, sim)
        placed = self._place(new, 0, allocate)  # as a new article now: another topic, a new pair, or the pool
        if placed.topic_id != own:
            log.debug("revision of %s left topic %s for %s", article_id, own, placed.topic_id)
            return replace(placed, left=own)
        return placed

    def _place(self, batch: Batch, i: int, allocate: Callable[[], int] | None) -> Assignment:
        """Join the best topic, start one with a pooled partner, or wait in the pool."""
        doc = batch.docs[i]
        guess = self.predict_one(batch, i)
        if guess.topic_id is not None:
            self.topics.update(guess.topic_id, batch.dense[i], batch.sparse[i], batch.hours[i])
            self.member_of[doc.id] = guess.topic_id
            self.pool.discard(doc.id)
            return guess
        partner, sim = self.pool.best(batch, i, self.weights.of_article(batch.roots[i]), self.candidates, self.model)
        if partner is not None and sim >= _cut(self.seed_cuts, batch.long[i]):
            topic_id = allocate() if allocate else self._allocate()
            pair = self.pool.take(partner)
            self.topics.add(
                topic_id,
                np.vstack([pair.dense, batch.dense[i : i + 1]]),
                sp.vstack([pair.sparse, batch.sparse[i]]).tocsr(),
                np.array([pair.hours, batch.hours[i]]),
            )
            self.member_of[pair.article_id] = topic_id
            self.member_of[doc.id] = topic_id
            return Assignment(doc.id, topic_id, sim, created=True, partner=pair.article_id)
        self.pool.add(batch, i)
        return Assignment(doc.id, None, max(guess.similarity, sim))

    def learn_many(
        self, batch: Batch, allocate: Callable[[], int] | None = None, previous: Mapping[str, Batch] | None = None
    ) -> list[Assignment]:
        """Learn the rows in order; an article with an entry in ``previous`` (its old revision, one row)
        is revised instead."""
        previous = previous or {}
        return [
            self.revise_one(previous[d.id], batch.row(i), allocate) if d.id in previous
            else self.learn_one(batch, i, allocate)
            for i, d in enumerate(batch.docs)
        ]  # fmt: skip

    def _scorer(self, long: float, foreign: float) -> PartsScorer | None:
        """With a model: an article's probability of telling each candidate topic's story."""
        model = self.model
        if model is None:
            return None
        margin, stale_after, span_factor = self.stale_margin, self.stale_after_hours, self.stale_span_factor

        def score(
            dense: np.ndarray, sparse: np.ndarray, gap: np.ndarray, count: np.ndarray, span: np.ndarray
        ) -> np.ndarray:
            proba = model.proba(dense, sparse, gap, 1.0, count, float(long), float(foreign))
            if margin <= 0:
                return proba
            return proba - margin * (gap > np.maximum(stale_after, span_factor * span))

        return score

    def _allocate(self) -> int:
        topic_id = self.next_topic_id
        self.next_topic_id += 1
        return topic_id

    def forget(self, article_ids: Iterable[str]) -> None:
        """Drop articles from the pool and the membership map (they left the window)."""
        for article_id in article_ids:
            self.pool.discard(article_id)
            self.member_of.pop(article_id, None)


def _member_sums(at: np.ndarray, rows: np.ndarray, sparse: sp.csr_matrix) -> sp.csr_matrix:
    """``csr_matrix(member @ sparse, dtype=float32)`` with ``member[at[k], rows[k]] = 1`` (``rows`` ascending), bit for
    bit: scipy's kernel over only the columns the rows use (its work space follows the columns, 2^18 hashed)."""
    grouping = grouping_matrix(at, int(at.max()) + 1)
    member = CsrRows(grouping.indptr, rows[grouping.indices], grouping.data, sparse.shape[0])
    compact = Compact.of(sparse)
    return compact.replaced(csr_matmul(member, compact.local, np.float32)).full


def _cut(cuts: tuple[float, float], long: float) -> float:
    """The threshold for an article ``long`` of the way from headline-only (0) to full text (1)."""
    return cuts[0] + (cuts[1] - cuts[0]) * float(long)


def same_content(old: Batch, new: Batch) -> bool:
    """Two one-row batches with the same embedding and the same tokens (a replay, a metadata-only
    revision). Raw counts, not the weighted rows: those move with the document frequencies."""
    return np.array_equal(old.dense[0], new.dense[0]) and (old.counts[0] != new.counts[0]).nnz == 0


@dataclass(frozen=True)
class _Pooled:
    article_id: str
    dense: np.ndarray  # (1, d)
    sparse: sp.csr_matrix  # (1, F)
    hours: float


class _Pool:
    """The most recent unassigned articles, as matrices for a vectorised nearest-neighbour search."""

    def __init__(self, dim: int, capacity: int) -> None:
        self.capacity = max(capacity, 1)
        self.dense = np.zeros((self.capacity, dim), dtype=np.float32)
        self.valid = np.zeros(self.capacity, dtype=bool)
        self.hours = np.zeros(self.capacity, dtype=np.float64)
        self.long = np.zeros(self.capacity, dtype=np.float64)
        self.foreign = np.zeros(self.capacity, dtype=np.float64)
        self.sparse: list[sp.csr_matrix | None] = [None] * self.capacity
        self.ids: list[str | None] = [None] * self.capacity
        self.slot_of: dict[str, int] = {}
        self._next = 0  # ring buffer: the oldest entry is overwritten first

    def __len__(self) -> int:
        return len(self.slot_of)

    def add(self, batch: Batch, i: int) -> None:
        article_id = batch.docs[i].id
        if article_id in self.slot_of:
            return
        slot = self._next
        self._next = (self._next + 1) % self.capacity
        if self.ids[slot] is not None:
            self.slot_of.pop(self.ids[slot], None)  # type: ignore[arg-type]
        self.dense[slot] = batch.dense[i]
        self.sparse[slot] = _csr_row(batch.sparse, i)  # (``batch.sparse[i]`` without scipy's general indexing)
        self.hours[slot] = batch.hours[i]
        self.long[slot] = batch.long[i]
        self.foreign[slot] = batch.foreign[i]
        self.ids[slot] = article_id
        self.valid[slot] = True
        self.slot_of[article_id] = slot

    def discard(self, article_id: str) -> None:
        slot = self.slot_of.pop(article_id, None)
        if slot is not None:
            self.valid[slot] = False
            self.ids[slot] = None
            self.sparse[slot] = None

    def take(self, article_id: str) -> _Pooled:
        slot = self.slot_of[article_id]
        entry = _Pooled(article_id, self.dense[slot : slot + 1].copy(), self.sparse[slot], float(self.hours[slot]))
        self.discard(article_id)
        return entry

    def best(
        self, batch: Batch, i: int, weights: SimilarityWeights, k: int, model: SameStoryModel | None = None
    ) -> tuple[str | None, float]:
        """The best waiting partner of article ``i`` and its score (a probability with ``model``)."""
        if not self.slot_of:
            return None, 0.0
        dense = self.dense @ batch.dense[i]
        dense[~self.valid] = -np.inf
        k = min(k, len(self.slot_of))
        cand = np.argpartition(-dense, k - 1)[:k]
        cand = cand[np.isfinite(dense[cand])]
        rows = stack_rows([self.sparse[c] for c in cand])
        sparse = np.asarray((rows @ batch.sparse[i].T).todense()).ravel()
        gap = np.abs(self.hours[cand] - batch.hours[i])
        if model is not None:
            long = (self.long[cand] + batch.long[i]) / 2
            foreign = (self.foreign[cand] + batch.foreign[i]) / 2
            sims = model.proba(dense[cand].astype(np.float64), sparse, gap, 1.0, 1.0, long, foreign)
        else:
            sims = weights.combine(dense[cand], sparse, gap)
        j = int(np.argmax(sims))
        return self.ids[int(cand[j])], float(sims[j])
