"""Small, real story-labelled headlines (UCI News Aggregator, public domain) and record builders for tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np

from newsflow.contracts import ArticleRecord
from newsflow.settings import Settings

T0 = datetime(2025, 2, 13, 8, 0, tzinfo=UTC)
TOY_DIM = 8  # hand-made dense vectors for online-assignment tests


def toy_settings() -> Settings:
    """Dense similarity only, for ``TOY_DIM`` vectors: join a topic at 0.8, start one in a pair at 0.9
    (the similarity cuts, not the same-story model, so the numbers can be read off the vectors)."""
    return Settings(
        same_story_model="off", sparse_features=2**12, dense_weight=1.0, sparse_weight=0.0, time_decay_hours=0.0,
        assign_threshold=0.8, seed_threshold=0.9, assign_candidates=4,
    )  # fmt: skip


def toy_unit(*values: float) -> np.ndarray:
    """A unit ``TOY_DIM`` vector with ``values`` first."""
    v = np.zeros(TOY_DIM, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


STORIES: dict[str, list[str]] = {
    "unicredit": [
        "Unicredit posts 14 bn euro loss for 2013",
        "Italy's UniCredit posts record $19 bln loss after writedowns",
        "UniCredit shocks with 14 billion euro balance sheet clean-up",
        "UniCredit in stunning $21B loss, plans turnaround",
        "UniCredit Posts Record Loss, Plans 8500 Job Cuts; Share Climb",
    ],
    "sac": [
        "SAC Capital to rename as Point72 Asset Management, memo says",
        "SAC Capital takes new name after insider scandal",
        "Steve Cohen renames fund Point72 Asset Management",
        "SAC Capital Starts Anew as Point72",
        "SAC Renames Itself Point72",
    ],
    "flappy": [
        "Flappy Bird could return, creator says",
        "Flappy Bird may rise again, creator says",
        "Flappy Bird creator may ressurect his game",
        "Flappy Bird May Just Come Back to Stores - Developer",
        "'Flappy Bird' maker says that he's thinking about re-releasing the game",
    ],
}
OUTLETS = ["reuters.com", "bbc.co.uk", "welt.de", "cnn.com", "ft.com"]


def record(article_id: str, title: str, published: datetime = T0, *, summary: str = "", revision: int = 1,
           outlet: str = "reuters.com", near_duplicate_of: str | None = None) -> ArticleRecord:  # fmt: skip
    digest = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()
    return ArticleRecord(
        id=article_id,
        url=f"https://{outlet}/{article_id}",
        title=title,
        summary=summary,
        published=published,
        fetched=published + timedelta(minutes=5),
        language="en",
        outlet=outlet,
        feed=f"{outlet}-main",
        revision=revision,
        content_hash=digest,
        near_duplicate_of=near_duplicate_of,
    )


def story_records(start: datetime = T0, spacing_min: int = 7) -> list[ArticleRecord]:
    """The stories interleaved in time (round robin), ids like ``flappy-2``."""
    out: list[ArticleRecord] = []
    rank = 0
    for k in range(max(len(v) for v in STORIES.values())):
        for story, titles in STORIES.items():
            if k < len(titles):
                when = start + timedelta(minutes=spacing_min * rank)
                out.append(record(f"{story}-{k}", titles[k], when, outlet=OUTLETS[k % len(OUTLETS)]))
                rank += 1
    return out


def revise(old: ArticleRecord, title: str | None = None, *, outlet: str | None = None) -> ArticleRecord:
    """The next revision of ``old``: another headline and/or outlet, the same time."""
    return record(old.id, title or old.title, old.published, summary=old.summary, revision=old.revision + 1,
                  outlet=outlet or old.outlet, near_duplicate_of=old.near_duplicate_of)  # fmt: skip
