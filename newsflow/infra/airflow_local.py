"""Airflow 3 with its home inside the project's state directory (SQLite metadata DB, our dags/).

Airflow reads its configuration when first imported, so newsflow never imports it in-process:
``airflow db migrate``, the services and the DAG import check all run as subprocesses with
``airflow_environment(settings)`` on top of the caller's environment.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from newsflow.errors import InfraError, MissingToolError, PortInUseError, ServiceNotReadyError
from newsflow.infra import airflow_dags, processes
from newsflow.infra.processes import ServiceStatus
from newsflow.settings import Settings

log = logging.getLogger(__name__)

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
# Stopped in this order: the scheduler first, so it launches nothing while the others go away.
SERVICES = ("scheduler", "dag-processor", "api-server")


def airflow_environment(settings: Settings) -> dict[str, str]:
    """Environment variables that point Airflow at the project-owned home and the repo's dags/."""
    home = settings.resolved_airflow_home
    api = f"http://127.0.0.1:{settings.airflow_api_port}"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # The api-server stays on loopback, and task processes must find its execution API there.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        # LocalExecutor forks `parallelism` workers up front (32 by default): too many for a laptop.
        "AIRFLOW__CORE__PARALLELISM": "8",
    }


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **airflow_environment(settings)}


def _airflow_cmd(*args: str) -> list[str]:
    if importlib.util.find_spec("airflow") is None:
        raise MissingToolError("apache-airflow is not installed in this Python environment (see requirements.lock)")
    return [sys.executable, "-m", "airflow", *args]


def _run_dir(settings: Settings) -> Path:
    return settings.resolved_airflow_home / "services"


def _db_path(settings: Settings) -> Path:
    return settings.resolved_airflow_home / "airflow.db"


# --- metadata database ----------------------------------------------------------------------------


def migrate_db(settings: Settings) -> None:
    """``airflow db migrate`` (idempotent: a few seconds when already current)."""
    home = settings.resolved_airflow_home
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "db-migrate.log"
    timeout = settings.infra_start_timeout_s
    with log_path.open("w") as out:
        try:
            result = subprocess.run(
                _airflow_cmd("db", "migrate"), env=_env(settings), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, cwd=home, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise ServiceNotReadyError(f"`airflow db migrate` took over {timeout:.0f} s (log: {log_path})") from exc
    if result.returncode != 0:
        why = processes.log_error(log_path)
        raise InfraError(f"`airflow db migrate` failed (exit {result.returncode}): {why} (log: {log_path})")
    log.info("Airflow metadata DB is current: %s", _db_path(settings))


# --- DAG import check -------------------------------------------------------------------------------


def check_dags(settings: Settings, dags_folder: Path = DAGS_FOLDER) -> tuple[list[str], dict[str, str]]:
    """DAG ids and import errors (file → error) of dags/, parsed in a subprocess by Airflow's DagBag."""
    if not dags_folder.is_dir():
        return [], {}
    env = {**_env(settings), "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder)}
    timeout = settings.infra_start_timeout_s
    try:
        out = subprocess.run(
            [sys.executable, "-m", "newsflow.infra.dag_check"], env=env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, cwd=dags_folder,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise InfraError(f"parsing the DAGs in {dags_folder} took over {timeout:.0f} s") from exc
    lines = out.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        why = processes.error_line(out.stderr)
        raise InfraError(f"DAG import check failed (exit {out.returncode}): {why}") from exc
    return list(report["dags"]), dict(report["import_errors"])


def dag_import_errors(settings: Settings) -> dict[str, str]:
    """Import errors of the DAGs in dags/ (file → error); empty when every DAG imports."""
    return check_dags(settings)[1]


# --- services ---------------------------------------------------------------------------------------


def _service_cmd(name: str, settings: Settings) -> list[str]:
    if name == "api-server":
        return _airflow_cmd(name, "--host", "127.0.0.1", "--port", str(settings.airflow_api_port))
    return _airflow_cmd(name)


def _pid_file(settings: Settings, name: str) -> Path:
    return _run_dir(settings) / f"{name}.pid"


def _log_file(settings: Settings, name: str) -> Path:
    return _run_dir(settings) / f"{name}.log"


def check_ports(settings: Settings) -> None:
    running = processes.running_pid(_pid_file(settings, "api-server")) is not None
    if not running and not processes.port_free(settings.airflow_api_port):
        raise PortInUseError(f"port 127.0.0.1:{settings.airflow_api_port} (Airflow API) is taken by another process")


def _api_healthy(settings: Settings) -> bool:
    url = f"http://127.0.0.1:{settings.airflow_api_port}/api/v2/monitor/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_services(settings: Settings, *, keep_paused: bool = False) -> dict[str, int]:
    """Start scheduler, dag-processor and api-server (those not yet running); wait for the API.

    newsflow's DAGs run unless ``keep_paused``: created unpaused, and unpaused if an earlier start
    left them paused (``airflow_dags``)."""
    check_ports(settings)
    pids: dict[str, int] = {}
    started: list[str] = []
    env = {**_env(settings), **airflow_dags.paused_at_creation_env(keep_paused)}
    for name in SERVICES:
        pid = processes.running_pid(_pid_file(settings, name))
        if pid is None:
            pid = processes.start_detached(
                _service_cmd(name, settings), pid_file=_pid_file(settings, name),
                log_file=_log_file(settings, name), env=env, cwd=settings.resolved_airflow_home,
            )  # fmt: skip
            log.info("started airflow %s (pid %s)", name, pid)
            started.append(name)
        pids[name] = pid
    try:
        _wait_healthy(settings, pids)
    except ServiceNotReadyError:
        for name in started:  # what this call started and failed must not linger as orphans
            processes.stop_from_pid_file(_pid_file(settings, name), settings.infra_stop_timeout_s)
        raise
    if not keep_paused:
        timeout = settings.infra_start_timeout_s
        unpaused = airflow_dags.unpause_existing(_db_path(settings), _airflow_cmd(), env, timeout)
        if unpaused:
            log.info("unpaused %s", ", ".join(unpaused))
    return pids


def dag_states(settings: Settings) -> list[airflow_dags.DagState]:
    """newsflow's DAGs in this deployment's metadata DB: paused or not, and their newest runs."""
    return airflow_dags.dag_states(_db_path(settings))


def ui_login(settings: Settings) -> str:
    return airflow_dags.ui_login(settings.resolved_airflow_home, settings.airflow_api_port)


def _wait_healthy(settings: Settings, pids: dict[str, int]) -> None:
    def any_died() -> bool:
        return not all(processes.pid_alive(pid) for pid in pids.values())

    healthy = processes.wait_until(
        lambda: _api_healthy(settings), settings.infra_start_timeout_s, interval_s=1.0, give_up=any_died
    )
    for name, pid in pids.items():
        if not processes.pid_alive(pid):
            log_path = _log_file(settings, name)
            raise ServiceNotReadyError(f"airflow {name} exited: {processes.log_error(log_path)} (log: {log_path})")
    if not healthy:
        log_path = _log_file(settings, "api-server")
        raise ServiceNotReadyError(
            f"Airflow API not healthy after {settings.infra_start_timeout_s:.0f} s: "
            f"{processes.log_error(log_path)} (log: {log_path})"
        )


def stop_services(settings: Settings) -> dict[str, int]:
    stopped = {}
    for name in SERVICES:
        pid = processes.stop_from_pid_file(_pid_file(settings, name), settings.infra_stop_timeout_s)
        if pid is not None:
            log.info("stopped airflow %s (pid %s)", name, pid)
            stopped[name] = pid
    return stopped


# --- status -----------------------------------------------------------------------------------------


def airflow_status(settings: Settings, *, check_imports: bool = True) -> list[ServiceStatus]:
    """A row for the metadata DB and the DAG import check, then one per service."""
    db = _db_path(settings)
    detail = f"{db}; {_dags_detail(settings)}" if check_imports else str(db)
    rows = [ServiceStatus("airflow db", "ready" if db.exists() else "missing", detail=detail)]
    for name in SERVICES:
        pid = processes.running_pid(_pid_file(settings, name))
        address = f"127.0.0.1:{settings.airflow_api_port}" if name == "api-server" else ""
        detail = f"log {_log_file(settings, name)}" if pid is not None else ""
        rows.append(ServiceStatus(f"airflow {name}", "running" if pid else "stopped", pid, address, detail))
    return rows


def _dags_detail(settings: Settings) -> str:
    if not DAGS_FOLDER.is_dir():
        return f"no DAG folder at {DAGS_FOLDER}"
    try:
        dags, errors = check_dags(settings)
    except InfraError as exc:
        return str(exc)
    count = f"{len(dags)} DAG{'' if len(dags) == 1 else 's'}"
    if not errors:
        return f"{count}, no import errors"
    first_file, first_error = next(iter(errors.items()))
    summary = first_error.strip().splitlines()[-1] if first_error.strip() else "error"
    return f"{count}, {len(errors)} import error(s) (first: {Path(first_file).name}: {summary})"
