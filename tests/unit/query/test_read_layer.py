"""The read layer on its own: hour series, LIKE escaping, and the semantic search's centroid cache."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, update

from newsflow.errors import TopicNotFoundError
from newsflow.query.detail import topic_articles, topic_detail, topic_lineage
from newsflow.query.filters import StatusFilter, TopicFilters, TopicSort, escape_like
from newsflow.query.listing import keyword_search, list_topics
from newsflow.query.semantic import CentroidIndex, LazyEncoder, semantic_search
from newsflow.query.summaries import bounded_span, hourly_series, sparkline
from newsflow.settings import Settings
from newsflow.store.schema import topics
from tests.unit.query.dataset import T0, Dataset, unit_vector


class FixedEncoder:
    """Encodes every text as one given vector and counts the calls."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self.vector for _ in texts])


def test_hourly_series_fills_gaps_and_bounds_the_span() -> None:
    first, last = datetime(2026, 3, 1, 8, 40, tzinfo=UTC), datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    series = hourly_series({"2026-03-01T08": 2, "2026-03-01T11": 1}, first, last)
    assert [p["count"] for p in series] == [2, 0, 0, 1, 0]
    assert series[0]["hour"] == "2026-03-01T08:00:00+00:00"
    cut_first, _ = bounded_span(first, last, max_hours=2)
    assert cut_first == datetime(2026, 3, 1, 11, tzinfo=UTC)
    spark = sparkline({"2026-03-01T12": 5, "2026-02-28T13": 1, "2026-02-28T12": 9}, last)
    assert len(spark) == 24 and spark[-1] == 5 and spark[0] == 1  # 12:00 the day before is out of the window


def test_escape_like_makes_wildcards_literal() -> None:
    assert escape_like("100%_a\\b") == "100\\%\\_a\\\\b"


def test_unknown_topic_raises_named_error(engine: Engine, dataset: Dataset) -> None:
    with engine.connect() as conn, pytest.raises(TopicNotFoundError, match="no topic with id 404"):
        topic_detail(conn, 404, max_articles=10, max_hours=10)
    with engine.connect() as conn, pytest.raises(TopicNotFoundError):
        topic_lineage(conn, 404)


def test_list_and_search_reads(engine: Engine, dataset: Dataset) -> None:
    with engine.connect() as conn:
        page = list_topics(conn, TopicFilters(status=StatusFilter.ALL), sort=TopicSort.SIZE, limit=3, z_threshold=3.0)
        assert [t["id"] for t in page.items] == dataset.expected_ids("size", status=None)[:3]
        assert page.total == len(dataset.topics) and page.as_of == dataset.as_of
        found = keyword_search(conn, "Vote", limit=10)
    assert [t["id"] for t in found.items] == [1] and found.items[0]["score"] > 0


def test_semantic_search_ranks_the_nearest_centroid_and_caches_the_matrix(engine: Engine, dataset: Dataset) -> None:
    index = CentroidIndex()
    near_topic_2 = unit_vector(2) + 0.05 * unit_vector(99)
    encoder = FixedEncoder(near_topic_2 / np.linalg.norm(near_topic_2))
    with engine.connect() as conn:
        first = semantic_search(conn, index, encoder, "final", limit=5)
        second = semantic_search(conn, index, encoder, "final", limit=5, offset=5)
    assert first.items[0]["id"] == 2 and first.items[0]["score"] > 0.9
    assert [t["score"] for t in first.items] == sorted((t["score"] for t in first.items), reverse=True)
    assert first.total == len(dataset.topics) - 1  # the merged topic is not searched
    assert not {t["id"] for t in first.items} & {t["id"] for t in second.items}
    assert index.loads == 1 and encoder.calls == 2
    with engine.begin() as conn:  # the clusterer moves topic 6's centroid onto the query
        conn.execute(
            update(topics)
            .where(topics.c.id == 6)
            .values(centroid=encoder.vector.tobytes(), updated_at=T0 + timedelta(hours=12))
        )
    with engine.connect() as conn:
        third = semantic_search(conn, index, encoder, "final", limit=1)
    assert index.loads == 2 and third.items[0]["id"] == 6


def test_lazy_encoder_builds_the_model_once() -> None:
    built: list[Settings] = []

    def factory(settings: Settings) -> FixedEncoder:
        built.append(settings)
        return FixedEncoder(unit_vector(1))

    encoder = LazyEncoder(Settings(), factory=factory)
    assert not built
    encoder.encode(["a"])
    encoder.encode(["b", "c"])
    assert len(built) == 1


def test_newest_articles_are_right_even_when_hourly_counts_lag(engine: Engine, dataset: Dataset) -> None:
    newest = [a["id"] for a in sorted(dataset.articles_of[1], key=lambda a: a["published_at"], reverse=True)]
    with engine.connect() as conn:
        bounded, total = topic_articles(conn, 1, limit=3)  # counts say the newest 3 lie in 03:00-06:00
    assert [a["id"] for a in bounded] == newest[:3] and total == 6
    with engine.begin() as conn:  # counts that claim 3 articles in the last hour, where there are 2
        conn.execute(update(topics).where(topics.c.id == 1).values(hourly_counts={"2026-03-01T05": 3}))
    with engine.connect() as conn:
        stale, _ = topic_articles(conn, 1, limit=3)
        page_two, _ = topic_articles(conn, 1, limit=3, offset=3)
    assert [a["id"] for a in stale] == newest[:3] and [a["id"] for a in page_two] == newest[3:]
