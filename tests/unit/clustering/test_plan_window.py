"""A re-clustering plan from labels the caller already has, centroids without summaries, and a window
represented from frequencies the caller kept: each the same as the work it saves."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from clustering.reclustering.plan import plan_recluster
from clustering.reclustering.recluster import ReclusterParams, cluster_window
from clustering.window import Window, represent_window
from newsflow.records.doc import Doc
from newsflow.records.topic import TopicMeta, TopicStatus
from newsflow.settings import Settings
from tests.unit.clustering.stories import STORIES, T0


def window_docs() -> tuple[list[Doc], np.ndarray]:
    docs = [
        Doc(f"{story}-{k}", title, "", T0 + timedelta(hours=j + k / 10), language="en")
        for j, (story, titles) in enumerate(STORIES.items())
        for k, title in enumerate(titles)
    ]  # fmt: skip
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((len(STORIES), 24))
    dense = np.repeat(centres, 5, axis=0) + 0.3 * rng.standard_normal((len(docs), 24))
    return docs, (dense / np.linalg.norm(dense, axis=1, keepdims=True)).astype(np.float32)


def test_a_plan_from_given_labels_without_summaries_is_the_plan(settings: Settings) -> None:
    docs, dense = window_docs()
    batch, vectoriser = represent_window(docs, dense, settings)
    previous = {f"sac-{k}": 7 for k in range(3)} | {"flappy-0": 8}  # topics to reconcile with
    topics = {7: TopicMeta(7, TopicStatus.ACTIVE, T0, T0, 3, 3), 8: TopicMeta(8, TopicStatus.ACTIVE, T0, T0, 1, 1)}
    now = T0 + timedelta(hours=4)
    full = plan_recluster(Window(batch, vectoriser, previous, topics), now, settings, 9)
    assert np.array_equal(full.labels, cluster_window(batch, ReclusterParams.from_settings(settings)))
    assert full.summaries
    again = plan_recluster(Window(batch, vectoriser, previous, topics), now, settings, 9, labels=full.labels,
                           summarise=False)  # fmt: skip
    assert (again.memberships, again.changed, again.removed) == (full.memberships, full.changed, full.removed)
    assert again.reconciliation == full.reconciliation and again.touched == full.touched
    assert [(e.topic_id, e.kind, e.article_count) for e in again.events] == [
        (e.topic_id, e.kind, e.article_count) for e in full.events
    ]
    assert again.summaries == {} and again.centroids.keys() == full.summaries.keys() == full.centroids.keys()
    for topic_id, summary in full.summaries.items():
        assert summary.centroid is not None
        assert again.centroids[topic_id].tobytes() == summary.centroid.tobytes()
    with pytest.raises(ValueError, match="labels for a window"):
        plan_recluster(Window(batch, vectoriser, previous, topics), now, settings, 9, labels=full.labels[1:])


def test_a_window_represented_from_kept_frequencies_is_the_same(settings: Settings) -> None:
    docs, dense = window_docs()
    counted, vectoriser = represent_window(docs, dense, settings)
    kept, given = represent_window(docs, dense, settings, vectoriser.df.copy())
    assert np.array_equal(given.df, vectoriser.df) and given.n_docs == vectoriser.n_docs == len(docs)
    for name in ("sparse", "counts"):
        a, b = getattr(counted, name), getattr(kept, name)
        assert (a.indptr.tolist(), a.indices.tolist(), a.data.tobytes()) == (
            b.indptr.tolist(), b.indices.tolist(), b.data.tobytes(),
        )  # fmt: skip
    for name in ("dense", "hours", "roots", "long"):
        assert getattr(counted, name).tobytes() == getattr(kept, name).tobytes()
