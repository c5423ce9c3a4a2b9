"""Stand-ins for kafka-python's producer and consumer: just the methods the edge calls."""

from __future__ import annotations

from typing import Any

from kafka.errors import KafkaError


class FakeFuture:
    def __init__(self, error: KafkaError | None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error is not None:
            raise self.error


class FakeProducer:
    """Records what was sent; ``refuse`` makes every acknowledgement fail with that error."""

    def __init__(self, refuse: KafkaError | None = None) -> None:
        self.refuse = refuse
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.flushed = 0
        self.closed = False

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> FakeFuture:
        self.sent.append((topic, key, value))
        return FakeFuture(self.refuse)

    def flush(self, timeout: float | None = None) -> None:
        self.flushed += 1

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


class FakeConsumer:
    """A consumer whose calls fail with ``error`` (when set), else answer from the given fields."""

    def __init__(
        self,
        error: Exception | None = None,
        polled: dict[Any, list[Any]] | None = None,
        assigned: dict[str, tuple[int, int]] | None = None,  # partition -> (position, end offset)
    ) -> None:
        self.error = error
        self.polled = polled or {}
        self.assigned = assigned or {}
        self.commits = 0

    def _maybe_fail(self) -> None:
        if self.error is not None:
            raise self.error

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Any]]:
        self._maybe_fail()
        return self.polled

    def commit(self) -> None:
        self._maybe_fail()
        self.commits += 1

    def assignment(self) -> set[str]:
        return set(self.assigned)

    def end_offsets(self, partitions: list[str]) -> dict[str, int]:
        self._maybe_fail()
        return {p: self.assigned[p][1] for p in partitions}

    def position(self, partition: str) -> int:
        return self.assigned[partition][0]
