"""The user's example end to end, on the demo's path: the German sample feeds on 127.0.0.1 → the
Airflow DAG ``ingest_feeds`` (``airflow dags test``) → Kafka → the clustering worker → re-clustering →
the store, with the default settings (the default embedding model, multilingual-e5-small).

The acceptance of issue 16: the peace talks, the rare-earth deal and the prisoner releases end in
separate topics, and the welt.de seed article (the Trump–Putin call) sits in a peace-talk topic.
"""

from __future__ import annotations

import pytest

from ingest.urls import canonical_url
from newsflow.cli.demo_cmd import _store_placements, run_demo
from newsflow.samplefeeds import WELT_LINK, gold_stories
from newsflow.samplefeeds.storylines import summarise_story_lines
from newsflow.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_german_stream_keeps_the_seed_story_lines_apart(kafka_settings: Settings) -> None:
    settings = Settings(  # the test's store, broker prefix and Airflow home; every clustering default
        state_dir=kafka_settings.state_dir,
        kafka_topic_prefix=kafka_settings.kafka_topic_prefix,
        kafka_partitions=kafka_settings.kafka_partitions,
        allow_private_feed_addresses=True,
        airflow_home=kafka_settings.airflow_home,
    )
    assert settings.embedding_model == "multilingual-e5-small"
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    run_demo(settings, feeds=None, sample="de")

    placed, _ = _store_placements(settings)
    gold = {canonical_url(link): story for link, story in gold_stories(sample="de").items()}
    summary = summarise_story_lines(placed, gold, seed=canonical_url(WELT_LINK))
    assert summary.seed_stored and summary.seed_in_peace_topic, summary
    assert summary.separate, summary.mixed
    lines = {p.line: p for p in summary.lines}
    assert all(p.missing == 0 for p in lines.values()), "every labelled article reached the store"
    # The rare-earth deal (14 articles over 24 days) has a topic of its own for at least half its coverage: the
    # deal of 22-28 February. Its early February pieces, a week before, need the stale-topic cut to continue it.
    assert lines["rare-earth deal"].topics[0][1] >= 7, lines["rare-earth deal"]
