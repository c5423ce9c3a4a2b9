"""The worker's idle clock (``--until-idle``): waiting to join the group is not idleness."""

from __future__ import annotations

import pytest

import clustering.worker as worker_module
from clustering.worker import _IdleClock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(worker_module.time, "monotonic", lambda: now[0])
    return now


def test_idle_counts_from_the_assignment_not_from_the_start(clock: list[float]) -> None:
    idle = _IdleClock()
    clock[0] += 8.0  # joining the group on a busy broker took 8 s
    idle.tick(assigned=True, got_messages=False)
    assert idle.seconds() == 0.0
    clock[0] += 3.0
    idle.tick(assigned=True, got_messages=False)
    assert idle.seconds() == 3.0


def test_messages_restart_the_clock_and_a_rebalance_restarts_it_on_the_new_assignment(clock: list[float]) -> None:
    idle = _IdleClock()
    idle.tick(assigned=True, got_messages=False)
    clock[0] += 2.0
    idle.tick(assigned=True, got_messages=True)
    clock[0] += 1.0
    assert idle.seconds() == 1.0
    idle.tick(assigned=False, got_messages=False)  # revoked while the group rebalances
    clock[0] += 5.0
    assert not idle.assigned and idle.seconds() == 6.0  # the caller waits longer while unassigned
    idle.tick(assigned=True, got_messages=False)
    assert idle.seconds() == 0.0
