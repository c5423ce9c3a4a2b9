"""A PostgreSQL cluster of the project's own in ``state_dir/postgres``, on 127.0.0.1 only.

Uses Debian's server binaries (``/usr/lib/postgresql/<major>/bin``), installing the ``postgresql``
package when it is missing and we are root. PostgreSQL refuses to run as root, so as root every
server command runs as the ``postgres`` system user, which then owns the cluster's folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import shlex
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from newsflow.errors import InfraError, MissingToolError, PortInUseError, ServiceNotReadyError
from newsflow.infra import processes
from newsflow.infra.processes import ServiceStatus
from newsflow.settings import Settings

log = logging.getLogger(__name__)

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
SERVICE_USER = "postgres"
_MAX_SOCKET_PATH = 107  # sun_path limit on Linux
FALLBACK_ROOT = Path("/var/lib/newsflow")


def _others_can_traverse(path: Path) -> bool:
    """Whether every existing folder from / down to ``path`` is searchable by other users."""
    existing = [folder for folder in [path, *path.parents] if folder.exists()]
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in existing)


@dataclass(frozen=True)
class PgPaths:
    root: Path

    @classmethod
    def of(cls, settings: Settings) -> PgPaths:
        inside = settings.state_dir / "postgres"
        if os.geteuid() != 0 or _others_can_traverse(settings.state_dir):
            return cls(inside)
        # As root, PostgreSQL runs as the `postgres` user, which cannot enter a checkout below a private
        # folder (mktemp -d, a 0700 home). Such a checkout keeps its cluster in a folder of its own instead.
        key = hashlib.sha256(str(settings.state_dir).encode()).hexdigest()[:12]
        return cls(FALLBACK_ROOT / f"postgres-{key}")

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"


# --- binaries -------------------------------------------------------------------------------------


def _major(bin_dir: Path) -> tuple[int, ...]:
    name = bin_dir.parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit()) or (0,)


def find_pg_bin() -> Path | None:
    """The newest Debian PostgreSQL ``bin`` folder, else one with ``initdb`` on PATH."""
    found = sorted((p.parent for p in DEBIAN_PG_ROOT.glob("*/bin/initdb")), key=_major)
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def ensure_installed(settings: Settings) -> Path:
    """PostgreSQL's ``bin`` folder; installs Debian's ``postgresql`` package first when root may."""
    bin_dir = find_pg_bin()
    if bin_dir is not None:
        return bin_dir
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise MissingToolError(
            "PostgreSQL server not found (no /usr/lib/postgresql/*/bin/initdb): "
            "install it, e.g. `sudo apt-get install postgresql`"
        )
    log.info("installing Debian's postgresql package with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=settings.infra_install_timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise InfraError(f"`{' '.join(cmd)}` did not finish in {settings.infra_install_timeout_s:.0f} s") from exc
        if out.returncode != 0:
            why = processes.error_line(out.stdout + out.stderr)
            raise MissingToolError(f"`{' '.join(cmd)}` failed (exit {out.returncode}): {why}")
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise MissingToolError("apt-get installed postgresql but no initdb appeared under /usr/lib/postgresql")
    return bin_dir


# --- running server commands as the right user ----------------------------------------------------


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], paths: PgPaths, timeout_s: float) -> subprocess.CompletedProcess[str]:
    try:
        # cwd inside the cluster folder: the postgres user may not be allowed into the caller's cwd.
        # Own session: the postmaster pg_ctl leaves behind must not share the CLI's terminal.
        return subprocess.run(
            _as_owner(argv), capture_output=True, text=True, timeout=timeout_s, cwd=paths.root, start_new_session=True
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceNotReadyError(f"`{Path(argv[0]).name}` did not finish within {timeout_s:.0f} s") from exc


def _prepare_root(paths: PgPaths) -> None:
    paths.socket_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return
    try:
        owner = pwd.getpwnam(SERVICE_USER)
    except KeyError as exc:
        raise MissingToolError("no `postgres` system user (Debian's postgresql package creates it)") from exc
    if shutil.which("runuser") is None:
        raise MissingToolError("runuser not found (util-linux): needed to run PostgreSQL as `postgres` when root")
    for path in (paths.root, paths.socket_dir, *([paths.data] if paths.data.exists() else [])):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    probe = subprocess.run(_as_owner(["test", "-w", str(paths.root)]), capture_output=True, timeout=30)
    if probe.returncode != 0:
        raise InfraError(
            f"the postgres system user cannot write {paths.root}; make its parent folders searchable (chmod o+x)"
        )


def _initdb(settings: Settings, bin_dir: Path, paths: PgPaths) -> None:
    if (paths.data / "PG_VERSION").exists():
        return
    cmd = [str(bin_dir / "initdb"), "-D", str(paths.data), "-U", settings.postgres_user, "--auth=trust", "-E", "UTF8"]
    cmd.append("--no-locale")  # C collation: independent of which locales this machine has
    out = _run(cmd, paths, settings.infra_start_timeout_s)
    if out.returncode != 0:
        raise InfraError(f"initdb failed (exit {out.returncode}): {processes.error_line(out.stdout + out.stderr)}")
    log.info("created PostgreSQL cluster in %s", paths.data)


# --- lifecycle --------------------------------------------------------------------------------------


def running_pid(paths: PgPaths) -> int | None:
    """The postmaster's pid from ``postmaster.pid`` if it runs."""
    try:
        pid = int((paths.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    # A stale file after a crash may name a recycled pid: it only counts if that is a postgres.
    alive = processes.pid_alive(pid) and any(n in processes.process_cmdline(pid) for n in ("postgres", "postmaster"))
    return pid if alive else None


def check_ports(settings: Settings) -> None:
    if running_pid(PgPaths.of(settings)) is None and not processes.port_free(settings.postgres_port):
        raise PortInUseError(f"port 127.0.0.1:{settings.postgres_port} (PostgreSQL) is taken by another process")


def _server_options(settings: Settings, paths: PgPaths) -> str:
    socket_dir = str(paths.socket_dir)
    if len(f"{socket_dir}/.s.PGSQL.{settings.postgres_port}") > _MAX_SOCKET_PATH:
        log.warning("state dir path too long for a unix socket; PostgreSQL listens on TCP only")
        socket_dir = ""
    # pg_ctl hands these options to sh: quote the path
    return f"-p {settings.postgres_port} -c listen_addresses=127.0.0.1 -k {shlex.quote(socket_dir)}"


def _ensure_database(settings: Settings) -> None:
    import psycopg
    from psycopg import sql

    dsn = f"host=127.0.0.1 port={settings.postgres_port} user={settings.postgres_user} dbname=postgres"
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.postgres_db,)).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.postgres_db)))
                log.info("created database %s", settings.postgres_db)
    except psycopg.Error as exc:
        raise ServiceNotReadyError(f"PostgreSQL on port {settings.postgres_port}: {exc}".strip()) from exc


def start_postgres(settings: Settings) -> int:
    """Create (once) and start the cluster, then the database; returns the postmaster's pid."""
    paths = PgPaths.of(settings)
    pid = running_pid(paths)
    if pid is not None:
        log.info("PostgreSQL already running (pid %s)", pid)
    else:
        check_ports(settings)
        bin_dir = ensure_installed(settings)
        _prepare_root(paths)
        _initdb(settings, bin_dir, paths)
        timeout = int(settings.infra_start_timeout_s)
        log_mark = processes.file_size(paths.log)  # explain a failure by this start's lines only
        cmd = [str(bin_dir / "pg_ctl"), "-D", str(paths.data), "-l", str(paths.log), "-w", "-t", str(timeout)]
        out = _run([*cmd, "-o", _server_options(settings, paths), "start"], paths, timeout + 15)
        pid = running_pid(paths)
        if out.returncode != 0 or pid is None:
            if pid is not None:  # pg_ctl gave up waiting: do not leave a half-started server behind
                stop_postgres(settings)
            why = processes.log_error(paths.log, log_mark)
            raise ServiceNotReadyError(f"PostgreSQL did not start: {why} (log: {paths.log})")
        log.info("started PostgreSQL (pid %s) on 127.0.0.1:%s", pid, settings.postgres_port)
    _ensure_database(settings)
    return pid


def stop_postgres(settings: Settings) -> int | None:
    """``pg_ctl stop -m fast``; SIGKILL only if the server ignores that. Returns the stopped pid."""
    paths = PgPaths.of(settings)
    pid = running_pid(paths)
    if pid is None:
        return None
    bin_dir = find_pg_bin()
    if bin_dir is not None:
        timeout = int(settings.infra_stop_timeout_s)
        _run([str(bin_dir / "pg_ctl"), "-D", str(paths.data), "-m", "fast", "-w", "-t", str(timeout), "stop"],
             paths, timeout + 15)  # fmt: skip
    if processes.pid_alive(pid):
        processes.stop_process(pid, settings.infra_stop_timeout_s)
    log.info("stopped PostgreSQL (pid %s)", pid)
    return pid


def postgres_status(settings: Settings) -> ServiceStatus:
    paths = PgPaths.of(settings)
    address = f"127.0.0.1:{settings.postgres_port}"
    pid = running_pid(paths)
    if pid is None:
        taken = not processes.port_free(settings.postgres_port)
        detail = "port in use by a process newsflow did not start" if taken else ""
        return ServiceStatus("postgres", "stopped", address=address, detail=detail)
    return ServiceStatus("postgres", "running", pid=pid, address=address, detail=_version_detail(settings, paths))


def _version_detail(settings: Settings, paths: PgPaths) -> str:
    import psycopg

    dsn = f"host=127.0.0.1 port={settings.postgres_port} user={settings.postgres_user} dbname=postgres"
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        version = f"PostgreSQL {row[0].split()[0]}" if row else "PostgreSQL"
    except psycopg.Error as exc:
        version = f"not answering ({type(exc).__name__})"
    return f"{version}; db {settings.postgres_db}; log {paths.log}"
