"""The worker benchmarks' distinct articles (benchmarks/_distinct_articles.py): no dense text twice, deterministic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benchmarks._distinct_articles import article_records, dense_texts, distinct_texts
from newsflow.settings import Settings

SETTINGS = Settings()


def test_title_and_lead_texts_are_distinct_past_the_natural_articles_and_of_realistic_length() -> None:
    texts = distinct_texts(1500, "lead", SETTINGS)  # more than the 682 shared articles: rotated bodies
    dense = dense_texts(texts, SETTINGS)
    assert len(set(dense)) == 1500
    assert sorted(map(len, dense))[750] > 400  # title + a lead of up to 500 characters
    assert all(t.body for t in texts) and texts == distinct_texts(1500, "lead", SETTINGS)


def test_headlines_have_no_body_and_run_out_by_name() -> None:
    texts = distinct_texts(50, "title", SETTINGS)
    assert len({t.title for t in texts}) == 50 and not any(t.body for t in texts)
    with pytest.raises(ValueError, match="distinct title texts"):
        distinct_texts(10**6, "title", SETTINGS)


def test_records_carry_the_run_in_their_ids_and_the_whole_body() -> None:
    texts = distinct_texts(3, "lead", SETTINGS)
    records = article_records(texts, "run1", datetime(2025, 2, 1, tzinfo=UTC), hours=24.0)
    assert [r.id for r in records] == ["distinct-run1-0", "distinct-run1-1", "distinct-run1-2"]
    assert [r.content for r in records] == [t.body for t in texts]
    assert records[0].published < records[-1].published <= datetime(2025, 2, 1, tzinfo=UTC)
