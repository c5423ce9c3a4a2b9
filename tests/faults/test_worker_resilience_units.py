"""The worker's backpressure, commit and store-outage handling as plain functions (no broker, no database)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kafka.errors import CommitFailedError, KafkaConnectionError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from clustering.processor import BatchOutcome, RawMessage
from clustering.worker import _commit, _paused_while_backlogged, _process_riding_out_store_outages
from newsflow.errors import BrokerUnavailableError, StoreUnavailableError
from newsflow.settings import Settings

MESSAGES = [RawMessage("news.articles", 0, 1, "a", b"{}")]


class FlakyProcessor:
    """Fails with the given errors first, then processes."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def process(self, messages: Any) -> BatchOutcome:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return BatchOutcome(stored=len(messages))


def _down() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_a_store_outage_is_ridden_out_and_the_same_batch_processed_after_it() -> None:
    processor = FlakyProcessor(_down(), _down())
    outcome = _process_riding_out_store_outages(processor, MESSAGES, Settings(), threading.Event())  # type: ignore[arg-type]
    assert (outcome.stored, processor.calls) == (1, 3)


def test_an_outage_longer_than_the_retry_budget_ends_in_a_named_error() -> None:
    processor = FlakyProcessor(*[_down() for _ in range(10)])
    with pytest.raises(StoreUnavailableError, match="connection refused"):
        _process_riding_out_store_outages(
            processor,  # type: ignore[arg-type]
            MESSAGES,
            Settings(worker_store_retry_s=0.0),
            threading.Event(),
        )
    assert processor.calls == 1


def test_a_stop_signal_during_an_outage_stops_retrying() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(StoreUnavailableError):
        _process_riding_out_store_outages(FlakyProcessor(_down()), MESSAGES, Settings(), stop)  # type: ignore[arg-type]


def test_errors_a_retry_cannot_fix_are_not_retried() -> None:
    processor = FlakyProcessor(IntegrityError("INSERT", {}, Exception("duplicate key")))
    with pytest.raises(IntegrityError):
        _process_riding_out_store_outages(processor, MESSAGES, Settings(), threading.Event())  # type: ignore[arg-type]
    assert processor.calls == 1


class FakeConsumer:
    def __init__(self) -> None:
        self.assigned = {"p0", "p1"}
        self.paused: set[str] = set()
        self.log: list[str] = []

    def assignment(self) -> set[str]:
        return self.assigned

    def pause(self, *partitions: str) -> None:
        self.paused |= set(partitions)
        self.log.append("pause")

    def resume(self, *partitions: str) -> None:
        self.paused -= set(partitions)
        self.log.append("resume")


def test_fetching_is_paused_while_a_full_batch_is_processed_and_resumed_after_a_failure_too() -> None:
    consumer = FakeConsumer()
    with _paused_while_backlogged(consumer, backlogged=True) as paused:
        assert paused and consumer.paused == {"p0", "p1"}
    assert consumer.paused == set()
    with pytest.raises(RuntimeError), _paused_while_backlogged(consumer, backlogged=True):
        raise RuntimeError("batch failed")
    assert consumer.paused == set() and consumer.log == ["pause", "resume", "pause", "resume"]


def test_a_partial_batch_means_no_backlog_and_no_pause() -> None:
    consumer = FakeConsumer()
    with _paused_while_backlogged(consumer, backlogged=False) as paused:
        assert not paused
    assert consumer.log == []


class RefusingConsumer:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def commit(self, offsets: Any = None) -> None:
        raise self.error


BATCH = [RawMessage("news.articles", 0, 41, "a", b"{}")]


def test_a_commit_refused_after_a_rebalance_is_logged_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="clustering.worker"):
        _commit(RefusingConsumer(CommitFailedError()), BATCH)  # no exception: another member re-reads the batch
    [line] = [r.getMessage() for r in caplog.records if r.name == "clustering.worker"]
    assert line.startswith("offset commit failed after a rebalance; the batch will be re-read: CommitFailedError: ")


def test_any_other_commit_failure_stops_the_worker_as_a_broker_outage() -> None:
    with pytest.raises(BrokerUnavailableError, match=r"^committing offsets failed: KafkaConnectionError: "):
        _commit(RefusingConsumer(KafkaConnectionError("socket closed")), BATCH)


class RefusesKey:
    """Like the store refusing one record: any batch holding ``key`` fails with ``DataError``."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.batches: list[list[str | None]] = []

    def process(self, messages: Any) -> BatchOutcome:
        self.batches.append([m.key for m in messages])
        if any(m.key == self.key for m in messages):
            raise DataError("INSERT", {}, Exception("value too long for type character varying(200)"))
        return BatchOutcome(stored=len(messages), active_topics=len(self.batches))


def test_a_record_the_store_refuses_is_isolated_and_dead_lettered() -> None:
    from datetime import UTC, datetime

    from clustering.worker import _process_isolating_poison

    messages = [RawMessage("news.articles", 0, k, key, b"{}") for k, key in enumerate("abc")]
    processor = RefusesKey("b")
    now = datetime(2025, 2, 13, tzinfo=UTC)
    outcome = _process_isolating_poison(processor, messages, Settings(), threading.Event(), lambda: now)  # type: ignore[arg-type]
    assert processor.batches == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert outcome.stored == 2 and [(d.key, d.stage, d.error_type) for d in outcome.dead_letters] == [
        ("b", "store", "DataError")
    ]
    assert outcome.dead_letters[0].reason == "the store refused it: value too long for type character varying(200)"
