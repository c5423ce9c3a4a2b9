"""Topic merge: topics of one story that the re-clustering left apart are merged, asked of the model.

A story's articles can end up in several topics: the online assignment starts a topic from two
articles before the story's others arrive, and the re-clustering only merges the *clusters* it forms.
A fragment it leaves as noise keeps its topic (``plan._final_memberships``), and a cluster is the
heir of one topic at most — so two topics of one story, each continued by its own cluster or by
none, stay two topics. On the German stream that was most of the recall lost: same-day fragments
of one story (Riyadh talks 8 + 4 articles, the Bundestag election 8 + 3 + 1) whose window members
the same-story model, asked topic against topic, rates 0.87–0.99 likely to tell one story.

After reconciliation, every pair of current topics with members in the window whose dense centroids
are near neighbours is scored by the same-story model from the sums of those members (the sides
the model was trained on: dense and TF-IDF cosines, time gap between the spans, sizes), and
mutually best pairs at ``topic_merge_probability`` or more merge, round after round (``agglomerate``).
Each merged group keeps its oldest (lowest) id. Pure: a batch, each topic's rows in it, a model and
``TopicMergeParams`` in; absorbed topic → survivor out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clustering.reclustering.agglomerate import ClusterSums, agglomerate
from clustering.reclustering.neighbours import NeighbourParams, knn_graph
from clustering.reclustering.recluster import model_score
from clustering.representation.represent import Batch
from clustering.story_model.same_story import SameStoryModel
from newsflow.settings import Settings

_MAX_ROUNDS = 50  # a chain of topic merges this long would be a bug, not a story


@dataclass(frozen=True)
class TopicMergeParams:
    """The probability at which two topics merge (0: off), and the neighbour search that proposes the pairs."""

    topic_merge_probability: float
    neighbours: NeighbourParams

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicMergeParams:
        return cls(
            topic_merge_probability=settings.topic_merge_probability,
            neighbours=NeighbourParams.from_settings(settings),
        )


def merge_topics(
    batch: Batch, rows_of: dict[int, list[int]], model: SameStoryModel, params: TopicMergeParams
) -> dict[int, int]:
    """Absorbed topic → surviving topic for the topics whose rows in ``batch`` tell one story with
    probability ``topic_merge_probability`` or more (empty when it is 0 or fewer than two topics have rows)."""
    cut = params.topic_merge_probability
    topic_ids = sorted(t for t, rows in rows_of.items() if rows)
    if cut <= 0 or len(topic_ids) < 2:
        return {}
    rows = np.concatenate([np.asarray(rows_of[t], dtype=np.int64) for t in topic_ids])
    groups = np.repeat(np.arange(len(topic_ids)), [len(rows_of[t]) for t in topic_ids])
    sums = ClusterSums.of(batch.select(rows.tolist()), groups, len(topic_ids))
    a, b = _candidates(sums, params.neighbours)
    into = agglomerate(sums, a, b, model_score(model), cut, prune=False, max_rounds=_MAX_ROUNDS)
    survivor: dict[int, int] = {}
    for k, group in enumerate(into.tolist()):
        survivor.setdefault(group, topic_ids[k])  # topic_ids ascend: the group's first is its oldest
    return {t: survivor[into[k]] for k, t in enumerate(topic_ids) if survivor[into[k]] != t}


def _candidates(sums: ClusterSums, neighbours: NeighbourParams) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of topics whose dense centroids are among each other's nearest neighbours."""
    unit = sums.dense / np.maximum(np.linalg.norm(sums.dense, axis=1, keepdims=True), 1e-12)
    graph = knn_graph(unit, sums.sparse, neighbours)
    a, b, _ = graph.edges()
    return a, b
