"""Consumer lag arithmetic, and the lag of a consumer's own assignment, without a broker."""

from __future__ import annotations

from kafka.errors import KafkaConnectionError

from newsflow.kafka import ConsumerLag, PartitionLag, assigned_lag
from tests.unit.kafka.fakes import FakeConsumer


def test_lag_counts_from_the_first_offset_still_in_the_log() -> None:
    assert PartitionLag(0, committed=None, end=9, start=4).lag == 5
    assert PartitionLag(0, committed=2, end=9, start=4).lag == 5  # committed offset already deleted
    assert PartitionLag(0, committed=9, end=9, start=0).lag == 0


def test_a_groups_lag_is_the_sum_over_its_partitions() -> None:
    lag = ConsumerLag("clustering", "news.articles", [PartitionLag(0, 10, 25, 0), PartitionLag(1, None, 7, 2)])
    assert lag.total == 15 + 5
    assert lag.as_dict()["partitions"] == [
        {"partition": 0, "committed": 10, "end": 25, "lag": 15},
        {"partition": 1, "committed": None, "end": 7, "lag": 5},
    ]


def test_assigned_lag_sums_end_minus_position_and_is_minus_one_when_the_broker_does_not_answer() -> None:
    assert assigned_lag(FakeConsumer(assigned={"p0": (3, 10), "p1": (7, 7)})) == 7
    assert assigned_lag(FakeConsumer()) == 0  # nothing assigned yet
    assert assigned_lag(FakeConsumer(error=KafkaConnectionError("gone"), assigned={"p0": (0, 1)})) == -1
