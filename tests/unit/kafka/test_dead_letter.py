"""The dead-letter topic's wire side without a broker: decoding entries, publishing keyed, replay bookkeeping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from newsflow.contracts import DeadLetterRecord, decode
from newsflow.errors import DeadLetterNotFoundError
from newsflow.kafka.dead_letter import ReplayProgress, entry, publish_dead_letters
from tests.unit.kafka.fakes import FakeProducer

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)


def _record(key: str | None = "k", offset: int = 40) -> DeadLetterRecord:
    return DeadLetterRecord(
        source_topic="news.articles", partition=1, offset=offset, key=key, payload="{broken",
        error_type="RecordError", reason="not JSON: Expecting value", stage="decode", failed_at=NOW,
    )  # fmt: skip


def test_progress_commits_the_contiguous_prefix_and_remembers_single_offsets_above_it() -> None:
    progress = ReplayProgress(committed=3, done_above=set())
    progress.add([5, 7])  # single entries chosen with --offset: a gap at 3 and 4
    assert (progress.committed, progress.done_above) == (3, {5, 7})
    assert [o for o in range(9) if progress.replayed(o)] == [0, 1, 2, 5, 7]
    commit = progress.as_commit()
    assert commit.offset == 3 and json.loads(commit.metadata) == [5, 7]
    progress.add([3, 4])  # the gap is filled: the committed offset moves past everything contiguous
    assert (progress.committed, progress.done_above) == (6, {7})
    progress.add([6])
    assert (progress.committed, progress.done_above) == (8, set())


def test_too_many_scattered_replays_fail_by_name_instead_of_losing_the_record() -> None:
    progress = ReplayProgress(committed=0, done_above=set(range(2, 4000, 2)))
    with pytest.raises(DeadLetterNotFoundError, match="too many single replayed entries"):
        progress.as_commit()


def test_a_message_on_the_topic_that_is_no_dead_letter_is_kept_as_unreadable() -> None:
    good = entry(0, 4, _record().to_bytes())
    bad = entry(0, 5, b"garbage")
    assert good.record is not None and good.record.reason.startswith("not JSON") and good.position == "0:4"
    assert bad.record is None and bad.unreadable and "not JSON" in bad.unreadable


def test_dead_letters_are_published_acknowledged_and_keyed_like_their_original() -> None:
    producer = FakeProducer()
    letters = [_record("a1", 7), _record(None, 8)]
    assert publish_dead_letters(producer, "news.deadletter", letters, timeout_s=1) == 2
    assert [(topic, key) for topic, key, _ in producer.sent] == [("news.deadletter", b"a1"), ("news.deadletter", b"")]
    assert [decode(DeadLetterRecord, value).offset for _, _, value in producer.sent] == [7, 8]
    assert producer.flushed == 1
