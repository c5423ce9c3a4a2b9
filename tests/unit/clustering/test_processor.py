"""The worker's batch step on SQLite, no broker: topics form, replays change nothing, bad input is dead-lettered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select

from clustering.embedding.embed import CachedEmbedder, Embedder, EmbeddingError
from clustering.processor import BatchProcessor, RawMessage
from newsflow.settings import Settings
from newsflow.store import schema
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache
from tests.unit.clustering.stories import STORIES, T0, record, story_records

NOW = T0 + timedelta(hours=3)


def messages(records: Sequence[Any], start: int = 0) -> list[RawMessage]:
    return [RawMessage("news.articles", 0, start + k, r.id, r.to_bytes()) for k, r in enumerate(records)]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = (schema.articles, schema.topics, schema.topic_memberships, schema.lineage_events, schema.embeddings)
    with engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t))), key=repr) for t in tables}


def memberships(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(schema.topic_memberships.c.article_id, schema.topic_memberships.c.topic_id))
        return {r.article_id: r.topic_id for r in rows}


@pytest.fixture
def processor(settings: Settings, embedder: Embedder) -> BatchProcessor:
    engine = open_store(settings)
    return BatchProcessor(settings, engine, CachedEmbedder(embedder, SqlVectorCache(engine)), lambda: NOW)


def test_stories_become_topics_and_a_replay_changes_nothing(processor: BatchProcessor, embedder: Embedder) -> None:
    msgs = messages(story_records())
    outcomes = [processor.process(msgs[i : i + 5]) for i in range(0, len(msgs), 5)]
    assert sum(o.stored for o in outcomes) == 15 and not any(o.dead_letters for o in outcomes)
    members = memberships(processor.engine)
    by_story: dict[str, set[int]] = {}
    for article_id, topic_id in members.items():
        by_story.setdefault(article_id.split("-")[0], set()).add(topic_id)
    assert set(by_story) == set(STORIES) and all(len(t) == 1 for t in by_story.values())
    assert len(members) >= 12  # most articles placed online; stragglers wait for the re-clustering
    before, encoded = snapshot(processor.engine), embedder.encoded_texts

    replay = processor.process(msgs)  # same process
    fresh = BatchProcessor(processor.settings, processor.engine, processor.embedder, lambda: NOW + timedelta(hours=1))
    restarted = fresh.process(msgs)  # a restarted worker
    assert replay.skipped == restarted.skipped == 15 and replay.stored == restarted.stored == 0
    assert snapshot(processor.engine) == before
    assert embedder.encoded_texts == encoded


def test_topics_carry_stats_labels_and_born_events(processor: BatchProcessor) -> None:
    processor.process(messages(story_records()))
    with processor.engine.connect() as conn:
        topics = {r.id: r for r in conn.execute(select(schema.topics))}
        events = list(conn.execute(select(schema.lineage_events)))
    flappy = next(t for t in topics.values() if "flappy" in t.keywords)
    assert flappy.article_count >= 4 and flappy.outlet_count >= 3 and flappy.status == "active"
    assert "Flappy Bird" in flappy.representative_title and "flappy" in flappy.label
    assert sum(flappy.hourly_counts.values()) == flappy.article_count
    assert flappy.first_seen >= T0 and flappy.last_seen <= T0 + timedelta(hours=2)
    assert sorted(e.topic_id for e in events if e.kind == "born") == sorted(topics)


def test_bad_messages_are_dead_lettered_and_the_rest_goes_on(processor: BatchProcessor) -> None:
    good = record("flappy-x", "Flappy Bird could return, creator says")
    blank = record("blank", "   ...  ")
    raw = [b"{not json", b'{"schema":"alert","version":1}', good.to_bytes(), blank.to_bytes()]
    outcome = processor.process([RawMessage("news.articles", 2, k, f"k{k}", v) for k, v in enumerate(raw)])
    assert outcome.stored == 1
    reasons = {d.offset: (d.stage, d.reason) for d in outcome.dead_letters}
    assert reasons[0][0] == "decode" and "not JSON" in reasons[0][1]
    assert "expected schema 'article'" in reasons[1][1]
    assert reasons[3] == ("validate", "no usable text in title or body")
    assert outcome.dead_letters[0].payload == "{not json" and outcome.dead_letters[0].partition == 2


class _FailsOn(Embedder):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if any("EXPLODE" in t for t in texts):
            raise EmbeddingError("model failed on this input")
        return super().encode(texts)


def test_embedder_failure_dead_letters_only_the_culprit(settings: Settings, embedder: Embedder) -> None:
    engine = open_store(settings)
    failing = _FailsOn(settings, model=embedder.model, model_id=embedder.model_id)
    proc = BatchProcessor(settings, engine, CachedEmbedder(failing, SqlVectorCache(engine)), lambda: NOW)
    recs = [record("a", "Flappy Bird could return"), record("b", "EXPLODE"), record("c", "SAC Renames Itself Point72")]
    outcome = proc.process(messages(recs))
    assert outcome.stored == 2 and [(d.key, d.stage) for d in outcome.dead_letters] == [("b", "embed")]


def test_new_revision_replaces_and_old_revision_is_ignored(processor: BatchProcessor) -> None:
    processor.process(messages([record("r", "Flappy Bird could return")]))
    processor.process(messages([record("r", "Flappy Bird is back, creator says", revision=2)]))
    late = processor.process(messages([record("r", "Flappy Bird could return")]))  # revision 1 again, late
    with processor.engine.connect() as conn:
        row = conn.execute(select(schema.articles).where(schema.articles.c.id == "r")).one()
    assert (row.revision, row.title, late.skipped) == (2, "Flappy Bird is back, creator says", 1)
