"""Dead letters without a broker: positions, selecting what to replay, the listing's rows, and the round trip
of a payload from the worker's dead letter back into the worker (the wire side: tests/unit/kafka)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from clustering.processor import BatchProcessor, RawMessage
from newsflow.cli.dlq_cmd import entry_as_dict
from newsflow.contracts import DeadLetterRecord, decode
from newsflow.dlq import _select, parse_position, replay_group
from newsflow.errors import DeadLetterNotFoundError
from newsflow.kafka import DeadLetter
from newsflow.settings import Settings
from newsflow.store.database import open_store

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)


def _letter(partition: int, offset: int, payload: str = "{broken", key: str | None = "k") -> DeadLetter:
    record = DeadLetterRecord(
        source_topic="news.articles", partition=1, offset=40 + offset, key=key, payload=payload,
        error_type="RecordError", reason="not JSON: Expecting value", stage="decode", failed_at=NOW,
    )  # fmt: skip
    return DeadLetter(partition, offset, record)


@pytest.mark.parametrize(("text", "expected"), [("0:12", (0, 12)), (" 2 : 7 ", (2, 7))])
def test_positions_parse(text: str, expected: tuple[int, int]) -> None:
    assert parse_position(text) == expected


@pytest.mark.parametrize("text", ["12", "a:1", "1:", ":3", "1:-2", "1:2:3"])
def test_bad_positions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="PARTITION:OFFSET"):
        parse_position(text)


def test_replay_group_is_derived_from_the_worker_group() -> None:
    assert replay_group(Settings(kafka_consumer_group="clustering-eu")) == "clustering-eu-dlq-replay"


def test_selecting_unknown_positions_names_them() -> None:
    entries = [_letter(0, 0), _letter(0, 1), _letter(1, 0)]
    assert [d.position for d in _select(entries, {(0, 1), (1, 0)})] == ["0:1", "1:0"]
    assert _select(entries, None) == entries
    with pytest.raises(DeadLetterNotFoundError, match="no dead letter at 0:9, 3:0"):
        _select(entries, {(0, 0), (0, 9), (3, 0)})


def test_listing_rows_show_reason_source_and_a_short_payload_preview() -> None:
    row = entry_as_dict(_letter(2, 9, payload="x" * 500 + "\n tail"))
    assert row["position"] == "2:9" and row["stage"] == "decode" and row["error_type"] == "RecordError"
    assert (row["source_topic"], row["source_partition"], row["source_offset"]) == ("news.articles", 1, 49)
    preview = str(row["payload_preview"])
    assert len(preview) == 80 and preview.endswith("…") and "\n" not in preview
    assert entry_as_dict(DeadLetter(0, 1, None, unreadable="not JSON"))["unreadable"] == "not JSON"


class _NoEmbedder:
    """Decoding and validation fail before anything is embedded: an embedder call would be a bug."""

    dim = 3

    def embed(self, texts: Any) -> Any:
        raise AssertionError("nothing should be embedded")


def test_a_replayed_payload_that_fails_again_is_dead_lettered_with_its_new_reason(settings: Settings) -> None:
    """The worker's dead letter keeps the exact payload; replayed as is, it fails again the same way."""
    processor = BatchProcessor(settings, open_store(settings), _NoEmbedder(), lambda: NOW)  # type: ignore[arg-type]
    original = b'{"schema":"article","version":7,"id":"x"}'
    first = processor.process([RawMessage("news.articles", 0, 3, "x", original)])
    [letter] = first.dead_letters
    assert letter.payload.encode() == original and (letter.partition, letter.offset, letter.key) == (0, 3, "x")
    assert decode(DeadLetterRecord, letter.to_bytes()) == letter  # survives the trip over the topic

    replayed = RawMessage(letter.source_topic, 1, 80, letter.key, letter.payload.encode())  # `dlq replay`
    [again] = processor.process([replayed]).dead_letters
    assert (again.offset, again.stage, again.payload) == (80, "decode", letter.payload)
    assert "unsupported article version 7" in again.reason
