"""The process toolkit: port checks, pid files that survive pid reuse, bounded waits and stops."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsflow.infra import processes


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_listening_port_is_not_free_and_accepts_connections(listener: int) -> None:
    assert not processes.port_free(listener)
    assert processes.port_open(listener)


def test_released_port_is_free_and_closed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    assert processes.port_free(port)
    assert not processes.port_open(port, timeout_s=0.5)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:19092", ("127.0.0.1", 19092)),
        ("localhost:1,other:2", ("localhost", 1)),
        ("[::1]:9092", ("::1", 9092)),
    ],
)
def test_host_and_port_are_split(address: str, expected: tuple[str, int]) -> None:
    assert processes.split_host_port(address) == expected


@pytest.mark.parametrize("address", ["19092", "host:", "host:port"])
def test_malformed_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValueError):
        processes.split_host_port(address)


def test_wait_until_respects_its_deadline_and_give_up() -> None:
    started = time.monotonic()
    assert not processes.wait_until(lambda: False, 0.3, interval_s=0.05)
    assert 0.25 < time.monotonic() - started < 2
    started = time.monotonic()
    assert not processes.wait_until(lambda: False, 30, interval_s=0.05, give_up=lambda: True)
    assert time.monotonic() - started < 1
    calls = iter([False, False, True])
    assert processes.wait_until(lambda: next(calls), 5, interval_s=0.01)


def test_detached_process_group_is_tracked_and_stopped(tmp_path: Path) -> None:
    pid_file, log_file = tmp_path / "svc.pid", tmp_path / "svc.log"
    # a parent that ignores SIGTERM with a child: stop() must escalate and leave neither behind
    script = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); print('up', flush=True); "
        "time.sleep(60)"
    )
    pid = processes.start_detached([sys.executable, "-c", script], pid_file=pid_file, log_file=log_file)
    assert processes.wait_until(lambda: len(processes.group_members(pid)) == 2, 10, interval_s=0.05)
    assert processes.running_pid(pid_file) == pid
    started = time.monotonic()
    assert processes.stop_from_pid_file(pid_file, timeout_s=1.0) == pid
    assert time.monotonic() - started < 8
    assert not processes.pid_alive(pid) and processes.group_members(pid) == []
    assert not pid_file.exists() and processes.running_pid(pid_file) is None
    assert "up" in log_file.read_text()


def test_pid_file_naming_a_recycled_pid_is_ignored(tmp_path: Path) -> None:
    pid_file = tmp_path / "svc.pid"
    pid_file.write_text(f"{1} 12345\n")  # pid 1 runs, but it did not start at that time
    assert processes.running_pid(pid_file) is None
    pid_file.write_text("garbage")
    assert processes.running_pid(pid_file) is None
    assert processes.running_pid(tmp_path / "missing.pid") is None


def test_log_tail_is_one_line(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("first\n\nsecond\nthird\n")
    assert processes.log_tail(log, lines=2) == "second | third"
    assert "no log" in processes.log_tail(tmp_path / "missing.log")


def test_error_line_finds_the_message_in_a_java_stack_trace() -> None:
    output = (
        "[2025-02-13 09:30:00,000] INFO starting (kafka.Kafka$)\n"
        "[2025-02-13 09:30:01,000] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)\n"
        "java.lang.RuntimeException: Stored node id 2 doesn't match previous node id 1\n"
        "\tat kafka.Kafka$.main(Kafka.scala:99)\n"
        "\tat kafka.Kafka.main(Kafka.scala)\n"
    )
    expected = "java.lang.RuntimeException: Stored node id 2 doesn't match previous node id 1"
    assert processes.error_line(output) == expected
    assert processes.error_line("initdb: error: directory exists\nhint: remove it") == "initdb: error: directory exists"
    assert processes.error_line("just\nthe last line") == "the last line"
    assert processes.error_line("") == "(no output)"
