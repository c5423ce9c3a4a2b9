"""Dead letters on the real broker: the worker puts poison there, `dlq list` shows it without moving any
offsets, `dlq replay` re-publishes originals once, and what still fails comes back with its new reason."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from kafka import KafkaProducer
from sqlalchemy import select
from typer.testing import CliRunner

from clustering.worker import run_worker
from newsflow.contracts import DeadLetterRecord
from newsflow.dlq import list_dead_letters, replay_dead_letters
from newsflow.kafka import consumer_lag, make_producer, publish, topic_names
from newsflow.settings import Settings
from newsflow.store import schema
from newsflow.store.database import open_store
from tests.unit.clustering.stories import T0, record

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NOW = T0 + timedelta(hours=2)
POISON = {"poison-json": b"{definitely not json", "poison-blank": record("poison-blank", " -- ").to_bytes()}
RESCUED = record("rescued", "Flappy Bird could return, creator says")  # failed once in the embedder, say


def _setup(settings: Settings) -> None:
    names = topic_names(settings)
    producer = make_producer(settings)
    good = [record(f"good-{k}", t) for k, t in enumerate(["SAC Renames Itself Point72", "UniCredit posts loss"])]
    publish(producer, names.articles, [(r.id, r) for r in good], timeout_s=30)
    earlier_failure = DeadLetterRecord(
        source_topic=names.articles, partition=0, offset=99, key=RESCUED.id, payload=RESCUED.to_bytes().decode(),
        error_type="EmbeddingError", reason="model failed on this input", stage="embed", failed_at=NOW,
    )  # fmt: skip
    publish(producer, names.deadletter, [(RESCUED.id, earlier_failure)], timeout_s=30)
    producer.close()
    raw = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    for key, payload in POISON.items():
        raw.send(names.articles, key=key.encode(), value=payload)
    raw.flush(timeout=30)
    raw.close()


def _stored_ids(settings: Settings) -> set[str]:
    engine = open_store(settings)
    with engine.connect() as conn:
        ids = {r.id for r in conn.execute(select(schema.articles.c.id))}
    engine.dispose()
    return ids


def test_list_then_replay_once_and_failures_return_with_their_reason(
    kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = kafka_settings
    _setup(settings)
    first = run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: NOW)
    assert (first.stored, first.dead_lettered) == (2, 2)
    lag_before = consumer_lag(settings).as_dict()

    letters = list_dead_letters(settings)
    by_key = {d.record.key: d.record for d in letters if d.record}
    assert set(by_key) == {"rescued", *POISON}
    assert (by_key["poison-json"].stage, by_key["poison-json"].error_type) == ("decode", "RecordError")
    assert by_key["poison-json"].payload == POISON["poison-json"].decode()
    assert (by_key["poison-blank"].stage, by_key["poison-blank"].reason) == (
        "validate",
        "no usable text in title or body",
    )
    assert by_key["poison-json"].source_topic == topic_names(settings).articles
    assert consumer_lag(settings).as_dict() == lag_before  # listing moved no offsets

    for key, value in {
        "NEWSFLOW_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "NEWSFLOW_STATE_DIR": str(settings.state_dir),
    }.items():
        monkeypatch.setenv(key, value)
    from newsflow.cli.dlq_cmd import dlq_app

    listed = CliRunner().invoke(dlq_app, ["list", "--format", "json", "--limit", "2"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert len(rows) == 2 and all({"reason", "stage", "source_offset", "payload_preview"} <= set(r) for r in rows)
    dry = CliRunner().invoke(dlq_app, ["replay", "--all", "--dry-run"])
    assert dry.exit_code == 0 and json.loads(dry.output)["replayed"] == 0
    assert CliRunner().invoke(dlq_app, ["replay"]).exit_code != 0  # neither --all nor --offset

    replay = replay_dead_letters(settings)
    assert (replay.selected, replay.replayed) == (3, 3)
    second = run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: NOW)
    assert (second.consumed, second.stored, second.dead_lettered) == (3, 1, 2)  # rescued; poison fails again
    assert _stored_ids(settings) == {"good-0", "good-1", "rescued"}

    again = list_dead_letters(settings)
    assert len(again) == 5  # the 3 old entries stay; the 2 new ones carry the new failure
    new = [d for d in again if (d.partition, d.offset) not in {(e.partition, e.offset) for e in letters}]
    assert sorted(d.record.key for d in new if d.record) == sorted(POISON)

    repeat = replay_dead_letters(settings)  # only what was not replayed before: the 2 new entries
    assert repeat.replayed == 2 and sorted(repeat.positions) == sorted(d.position for d in new)
    old = letters[0]
    chosen = replay_dead_letters(settings, [(old.partition, old.offset)])
    assert (chosen.replayed, chosen.already_replayed) == (0, 1)
    assert replay_dead_letters(settings).replayed == 0


def test_records_the_store_refuses_are_dead_lettered_and_the_worker_goes_on(
    kafka_settings: Settings, postgres_settings: Settings
) -> None:
    """Valid by the contract, refused by PostgreSQL (a NUL byte, an over-long column): poison, not a crash loop."""
    settings = postgres_settings.model_copy(update={"worker_batch_size": 8})
    nul = record("nul-title", "Flappy Bird\x00 could return, creator says")
    long_outlet = record("long-outlet", "SAC Renames Itself Point72", outlet="x" * 300 + ".com")
    good = [record(f"ok-{k}", t) for k, t in enumerate(["UniCredit posts loss", "Flappy Bird may rise again"])]
    producer = make_producer(settings)
    publish(producer, topic_names(settings).articles, [(r.id, r) for r in [good[0], nul, long_outlet, good[1]]], 30)
    producer.close()
    report = run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: NOW)
    assert (report.consumed, report.stored, report.dead_lettered) == (4, 2, 2)
    assert _stored_ids(settings) == {"ok-0", "ok-1"}
    letters = {d.record.key: d.record for d in list_dead_letters(settings) if d.record}
    assert {k: (r.stage, r.error_type) for k, r in letters.items()} == {
        "nul-title": ("store", "DataError"),
        "long-outlet": ("store", "DataError"),
    }
    assert "NUL" in letters["nul-title"].reason and "too long" in letters["long-outlet"].reason
    assert consumer_lag(settings).total == 0  # committed past the poison: a restart does not meet it again
