"""The consumer side of the edge without a broker: kafka-python's errors leave it as newsflow errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kafka.errors import CommitFailedError, KafkaConnectionError

from newsflow.errors import BrokerUnavailableError, NewsflowError
from newsflow.kafka import RebalancedError, commit, poll
from newsflow.kafka.errors import error_detail, unavailable
from newsflow.settings import Settings
from tests.unit.kafka.fakes import FakeConsumer


def test_a_commit_refused_after_a_rebalance_is_a_rebalanced_error_with_kafkas_own_message() -> None:
    refused = CommitFailedError()
    with pytest.raises(RebalancedError) as caught:
        commit(FakeConsumer(error=refused))
    assert str(caught.value) == str(refused) and caught.value.__cause__ is refused
    assert not isinstance(caught.value, BrokerUnavailableError)  # the worker carries on after this one
    assert isinstance(caught.value, NewsflowError)


def test_any_other_commit_failure_is_the_broker_being_unavailable() -> None:
    with pytest.raises(BrokerUnavailableError) as caught:
        commit(FakeConsumer(error=KafkaConnectionError("socket closed")))
    assert str(caught.value) == "committing offsets failed: KafkaConnectionError: KafkaConnectionError: socket closed"


def test_a_successful_commit_commits_once() -> None:
    consumer = FakeConsumer()
    commit(consumer)
    assert consumer.commits == 1


def test_poll_flattens_partition_by_partition_and_names_the_topic_when_it_fails() -> None:
    a, b, c = (SimpleNamespace(offset=n) for n in range(3))
    assert poll(FakeConsumer(polled={"p0": [a, b], "p1": [c]}), 10, 5, what="news.articles") == [a, b, c]
    with pytest.raises(BrokerUnavailableError, match=r"^polling news\.articles failed: KafkaConnectionError: "):
        poll(FakeConsumer(error=KafkaConnectionError("gone")), 10, 5, what="news.articles")


def test_unavailable_names_the_address_and_the_error_once() -> None:
    settings = Settings(kafka_bootstrap_servers="127.0.0.1:1")
    expected = "Kafka broker at 127.0.0.1:1 unreachable: KafkaConnectionError"
    assert str(unavailable(settings, KafkaConnectionError())) == expected
    assert error_detail(OSError("refused")) == "OSError: refused"
