"""Small process toolkit for the local services: detached start, pid files, bounded stop and waits.

A pid file holds ``<pid> <start time>``: the start time (from ``/proc``) guards against a recycled
pid, so ``down`` never signals a process newsflow did not start. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_PROC = Path("/proc")


@dataclass(frozen=True)
class ServiceStatus:
    """One row of ``newsflow infra status``."""

    service: str
    state: str  # "running" / "stopped" for processes; the Airflow DB row says "ready" / "missing"
    pid: int | None = None
    address: str = ""
    detail: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"


# --- process identity -------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may itself contain spaces)."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None  # field 22 of stat: start time in clock ticks


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie (nobody may reap our orphans here)."""
    fields = _stat_fields(pid)
    if fields is None:
        if _PROC.is_dir():
            return False
        try:  # no /proc: fall back to the signal-0 probe
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return fields[0] not in ("Z", "X")


def process_cmdline(pid: int) -> str:
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    members = []
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


# --- pid files ----------------------------------------------------------------------------------


def write_pid_file(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{pid} {process_start_time(pid) or 0}\n")
    tmp.replace(path)


def running_pid(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process still runs, else None."""
    try:
        parts = path.read_text().split()
        pid, started = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except (OSError, ValueError, IndexError):
        return None
    if not pid_alive(pid):
        return None
    actual = process_start_time(pid)
    if started and actual is not None and actual != started:
        log.debug("pid file %s names pid %s, now a different process", path, pid)
        return None
    return pid


# --- start and stop -------------------------------------------------------------------------------


def start_detached(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own session, output appended to ``log_file``; returns its pid."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # survives the CLI and lets stop() signal the whole group
        )
    write_pid_file(pid_file, proc.pid)
    log.debug("started %s as pid %s (log %s)", argv[0], proc.pid, log_file)
    return proc.pid


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the group ``pid`` leads (our detached starts), or just ``pid`` when it leads none."""
    try:
        leads_group = os.getpgid(pid) == pid
    except ProcessLookupError:  # the leader is gone; members of its group may still be running
        leads_group = bool(group_members(pid))
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if leads_group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def stop_process(pid: int, timeout_s: float) -> None:
    """SIGTERM the process group led by ``pid``; SIGKILL whatever is left after ``timeout_s``."""

    def gone() -> bool:
        return not pid_alive(pid) and not group_members(pid)

    if gone():
        return
    _signal_group(pid, signal.SIGTERM)
    if wait_until(gone, timeout_s, interval_s=0.2):
        return
    log.warning("pid %s did not stop within %.0f s; killing it", pid, timeout_s)
    _signal_group(pid, signal.SIGKILL)
    wait_until(gone, 5.0, interval_s=0.1)


def stop_from_pid_file(pid_file: Path, timeout_s: float) -> int | None:
    """Stop the process a pid file names (if it still runs) and remove the file; returns its pid."""
    pid = running_pid(pid_file)
    if pid is not None:
        stop_process(pid, timeout_s)
    pid_file.unlink(missing_ok=True)
    return pid


# --- ports and waiting ----------------------------------------------------------------------------


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` (a bind test, as the service itself would do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR so a socket lingering in TIME_WAIT does not count as taken; a listener still does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def port_open(port: int, host: str = "127.0.0.1", timeout_s: float = 1.0) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def split_host_port(address: str) -> tuple[str, int]:
    """``"host:port"`` (the first of a comma-separated list) → ``(host, port)``."""
    first = address.split(",")[0].strip()
    host, sep, port = first.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def wait_until(
    check: Callable[[], bool],
    timeout_s: float,
    *,
    interval_s: float = 0.5,
    give_up: Callable[[], bool] | None = None,
) -> bool:
    """Poll ``check`` until it is true (→ True), the deadline passes or ``give_up`` is true (→ False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if give_up is not None and give_up():
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(interval_s, max(0.0, deadline - time.monotonic())))


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_tail(path: Path, max_bytes: int = 64 * 1024, since: int = 0) -> str | None:
    """The end of a (possibly large) log file as text, not before offset ``since``; None if unreadable."""
    try:
        with path.open("rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, since if since <= end else 0, end - max_bytes))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def log_tail(path: Path, lines: int = 3, max_chars: int = 400) -> str:
    """The last non-empty lines of a log joined into one line, for an error message."""
    text = read_tail(path)
    if text is None:
        return f"(no log at {path})"
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    joined = " | ".join(kept) or "(empty log)"
    return joined if len(joined) <= max_chars else "…" + joined[-max_chars:]


def log_error(path: Path, since: int = 0) -> str:
    """The line at the end of a log (after offset ``since``) most likely to say what failed."""
    text = read_tail(path, since=since)
    return error_line(text) if text and text.strip() else f"(nothing logged in {path})"


_MESSAGE_LINE = re.compile(r"(exception|error|fatal)\s*:", re.IGNORECASE)
_LEVEL_LINE = re.compile(r"\b(ERROR|FATAL|PANIC)\b")


def error_line(output: str, max_chars: int = 300) -> str:
    """The line of a program's output most likely to say what failed (skipping Java stack frames)."""
    lines = [line.strip() for line in output.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("at ", "..."))]
    if not lines:
        return "(no output)"
    for pattern in (_MESSAGE_LINE, _LEVEL_LINE):
        hits = [line for line in lines if pattern.search(line)]
        if hits:
            return hits[-1].removeprefix('Exception in thread "main" ')[:max_chars]
    return lines[-1][:max_chars]
