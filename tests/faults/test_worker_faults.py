"""The clustering worker under faults: SIGKILL mid-batch, the store down for 30 s, messages delivered twice,
two workers of one group sharing the partitions."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, MemberToRemove, OffsetSpec

from newsflow.kafka import topic_names
from newsflow.settings import Settings
from tests.faults.support import (
    Expected,
    Services,
    assert_recovered,
    known_records,
    produce,
    run_worker_process,
    start_newsflow,
    stored_count,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.faults]
N = 80


def test_worker_killed_mid_batch_then_restarted_loses_and_duplicates_nothing(
    fault_settings: Settings, tmp_path: Path
) -> None:
    records = known_records(N)
    produce(fault_settings, records)
    log = tmp_path / "worker.log"
    worker = start_newsflow(fault_settings, ["worker"], log)
    try:
        # Some batches are in the store, most are not: the worker is busy with one right now.
        wait_for(lambda: stored_count(fault_settings) >= 16, 90, "the first batches to be stored")
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
    assert stored_count(fault_settings) < N, "the worker finished before it was killed: nothing was tested"
    _evict_dead_members(fault_settings)  # what the broker does after session.timeout.ms (45 s): saves the wait
    assert run_worker_process(fault_settings, log) == 0, log.read_text()[-2000:]
    assert_recovered(fault_settings, Expected({r.id for r in records}))


def test_store_down_for_30_seconds_while_the_worker_consumes(
    fault_settings: Settings, services: Services, tmp_path: Path
) -> None:
    records = known_records(N)
    produce(fault_settings, records[: N // 2])
    log = tmp_path / "worker.log"
    worker = start_newsflow(fault_settings, ["worker"], log, NEWSFLOW_WORKER_STORE_RETRY_S="90")
    try:
        wait_for(lambda: stored_count(fault_settings) == N // 2, 90, "the first half to be stored")
        services.stop_postgres()
        produce(fault_settings, records[N // 2 :])  # arrives while the store is down
        time.sleep(30)
        assert worker.poll() is None, "the worker died during the outage:\n" + log.read_text()[-2000:]
        services.start_postgres()
        wait_for(lambda: stored_count(fault_settings) == N, 60, "the second half after the store came back")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()[-2000:]
    finally:
        if worker.poll() is None:
            worker.kill()
    assert "retrying the batch" in log.read_text()  # the outage was really met, and ridden out
    assert_recovered(fault_settings, Expected({r.id for r in records}))


def test_messages_delivered_twice_change_nothing(fault_settings: Settings, tmp_path: Path) -> None:
    """Two consumer groups write the same stream into one store at once; then one group re-reads from offset 0."""
    records = known_records(N)
    produce(fault_settings, records)
    other = fault_settings.model_copy(update={"kafka_consumer_group": f"{fault_settings.kafka_consumer_group}-second"})
    first = start_newsflow(fault_settings, ["worker", "--until-idle", "--idle-timeout", "4"], tmp_path / "a.log")
    second = start_newsflow(other, ["worker", "--until-idle", "--idle-timeout", "4"], tmp_path / "b.log")
    assert first.wait(timeout=120) == 0, (tmp_path / "a.log").read_text()[-2000:]
    assert second.wait(timeout=120) == 0, (tmp_path / "b.log").read_text()[-2000:]
    expected = Expected({r.id for r in records})
    assert_recovered(fault_settings, expected)
    assert_recovered(other, expected)

    _reset_to_beginning(fault_settings)
    assert run_worker_process(fault_settings, tmp_path / "c.log") == 0
    text = (tmp_path / "c.log").read_text()
    assert f'"consumed": {N}' in text and '"stored": 0' in text, text[-2000:]  # all re-read, none re-written
    assert_recovered(fault_settings, expected)


def test_two_workers_of_one_group_share_the_partitions(fault_settings: Settings, tmp_path: Path) -> None:
    """A second worker joins the group mid-stream: both consume, each takes in what the other stored."""
    # Published within the last hours: inside the window the workers keep in memory (the real clock).
    records = known_records(N, start=datetime.now(UTC) - timedelta(hours=5))
    produce(fault_settings, records[: N // 2])
    logs = (tmp_path / "a.log", tmp_path / "b.log")
    idle = ["worker", "--until-idle", "--idle-timeout", "20"]
    first = start_newsflow(fault_settings, idle, logs[0])
    second = None
    try:
        wait_for(lambda: stored_count(fault_settings) >= 8, 90, "the first worker's first batch")
        second = start_newsflow(fault_settings, idle, logs[1])
        wait_for(lambda: _members_assigned(fault_settings) == 2, 90, "a partition for each worker", 0.5)
        # The rest in rounds, each stored before the next is sent: keys spread over both partitions, so
        # in each round both workers get some, after the other stored its share of the round before.
        for start in range(N // 2, N, 8):
            produce(fault_settings, records[start : start + 8])
            wait_for(_stored_at_least(fault_settings, start + 8), 60, f"round {start} to be stored", 0.2)
        assert first.wait(timeout=150) == 0, logs[0].read_text()[-2000:]
        assert second.wait(timeout=150) == 0, logs[1].read_text()[-2000:]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    consumed = [int(re.findall(r'"consumed": (\d+)', log.read_text())[-1]) for log in logs]
    assert all(consumed), f"a worker consumed nothing: {consumed}"
    # (log lines may be wrapped by the console handler: compare with whitespace collapsed)
    assert any("members stored by other writers" in " ".join(log.read_text().split()) for log in logs)
    assert_recovered(fault_settings, Expected({r.id for r in records}))


def _stored_at_least(settings: Settings, n: int) -> Callable[[], bool]:
    return lambda: stored_count(settings) >= n


def _members_assigned(settings: Settings) -> int:
    """Members holding partitions once the group is stable (0 while it rebalances)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        group = admin.describe_groups([settings.kafka_consumer_group])[settings.kafka_consumer_group]
    finally:
        admin.close()
    if group.get("group_state") != "Stable":
        return 0
    assigned = [m for m in group.get("members", []) if m["member_assignment"]["assigned_partitions"]]
    return len(assigned)


def _evict_dead_members(settings: Settings) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        group = admin.describe_groups([settings.kafka_consumer_group])[settings.kafka_consumer_group]
        members = [MemberToRemove(member_id=m["member_id"]) for m in group.get("members", [])]
        if members:
            admin.remove_group_members(settings.kafka_consumer_group, members)
    finally:
        admin.close()


def _reset_to_beginning(settings: Settings) -> None:
    topic = topic_names(settings).articles
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    try:
        specs = {TopicPartition(topic, p): OffsetSpec.EARLIEST for p in range(settings.kafka_partitions)}
        errors = admin.reset_group_offsets(settings.kafka_consumer_group, specs)
        assert all(getattr(e, "errno", 0) == 0 for e in errors.values()), errors
    finally:
        admin.close()
