"""``newsflow infra up|status|down`` through the real CLI, with real Kafka, PostgreSQL and Airflow.

Each test gets its own state dir and free ports, so it never touches the shared services of the
other tests (or a developer's own ``.newsflow``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaAdminClient

from newsflow.infra import processes
from newsflow.infra.airflow_dags import dag_states
from newsflow.infra.airflow_local import check_dags, dag_import_errors
from newsflow.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = ("scheduler", "dag-processor", "api-server")


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:  # all bound at once, so the ports differ
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class Infra:
    """The CLI pointed at a private state dir and private ports."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.kafka_port, self.controller_port, self.pg_port, self.api_port = _free_ports(4)
        self.env = {
            **os.environ,
            "NEWSFLOW_STATE_DIR": str(state_dir),
            "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.kafka_port}",
            "NEWSFLOW_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "NEWSFLOW_POSTGRES_PORT": str(self.pg_port),
            "NEWSFLOW_AIRFLOW_API_PORT": str(self.api_port),
            "COLUMNS": "250",  # one status row per line
        }
        self.env.pop("NEWSFLOW_AIRFLOW_HOME", None)

    @property
    def ports(self) -> list[int]:
        return [self.kafka_port, self.controller_port, self.pg_port, self.api_port]

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "newsflow.cli", "infra", *args]
        return subprocess.run(cmd, env=self.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)

    def pids(self) -> dict[str, int]:
        """Pids of every service that runs now, read from the pid files newsflow keeps."""
        files = {"kafka": self.state_dir / "kafka" / "kafka.pid"}
        files.update({n: self.state_dir / "airflow" / "services" / f"{n}.pid" for n in AIRFLOW_SERVICES})
        found = {name: pid for name, path in files.items() if (pid := processes.running_pid(path)) is not None}
        postmaster = self.state_dir / "postgres" / "data" / "postmaster.pid"
        if postmaster.exists():
            found["postgres"] = int(postmaster.read_text().split()[0])
        return found


@pytest.fixture
def infra() -> Iterator[Infra]:
    # Not pytest's tmp_path: its parents are private (0700), and as root the cluster runs as `postgres`.
    state_dir = Path(tempfile.mkdtemp(prefix="newsflow-infra-test-"))
    state_dir.chmod(0o755)
    env = Infra(state_dir)
    try:
        yield env
    finally:
        env.cli("down", timeout=120)  # whatever the test did, leave nothing running
        shutil.rmtree(state_dir, ignore_errors=True)


def _assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr


def _status_rows(output: str) -> dict[str, str]:
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) >= 2 and cells[1] in ("running", "stopped", "ready", "missing"):
            rows[cells[0]] = cells[1]
    return rows


def test_up_twice_status_and_down_leave_no_process(infra: Infra) -> None:
    _assert_ok(infra.cli("up", "--postgres"))
    first = infra.pids()
    assert set(first) == {"kafka", "postgres"}

    _assert_ok(infra.cli("up", "--postgres"))  # harmless: the same processes keep running
    assert infra.pids() == first

    # the services answer: topics were created, the database exists
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{infra.kafka_port}")
    try:
        assert {"news.articles", "news.deadletter"} <= set(admin.list_topics())
    finally:
        admin.close()
    dsn = f"host=127.0.0.1 port={infra.pg_port} user=newsflow dbname=newsflow"
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("newsflow",)
    assert (infra.state_dir / "airflow" / "airflow.db").exists()

    up = infra.cli("up", "--airflow-services")
    _assert_ok(up)
    running = infra.pids()
    assert running["kafka"] == first["kafka"] and running["postgres"] == first["postgres"]
    assert set(AIRFLOW_SERVICES) <= set(running)
    # issue 18 item 3: the UI's address and login are printed, and newsflow's DAGs are created unpaused
    assert "Airflow UI: http://127.0.0.1:" in up.stdout and ", user admin, password " in up.stdout, up.stdout
    db = infra.state_dir / "airflow" / "airflow.db"

    def parsed_and_unpaused() -> bool:
        states = dag_states(db)
        return all(d.paused is not None for d in states) and not any(d.paused for d in states)

    assert processes.wait_until(parsed_and_unpaused, 180.0, interval_s=2.0), dag_states(db)

    status = infra.cli("status")
    _assert_ok(status)
    rows = _status_rows(status.stdout)
    assert rows["kafka"] == rows["postgres"] == rows["airflow api-server"] == "running", status.stdout
    assert rows["airflow db"] == "ready"

    _assert_ok(infra.cli("down"))
    for name, pid in running.items():
        assert not processes.pid_alive(pid), f"{name} (pid {pid}) still runs"
        assert processes.group_members(pid) == [], f"children of {name} still run"
    assert all(processes.port_free(port) for port in infra.ports)
    assert infra.pids() == {}
    _assert_ok(infra.cli("down"))  # nothing left to stop: still fine


def test_port_taken_by_another_process_is_one_named_error(infra: Infra) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", infra.kafka_port))
        squatter.listen()
        infra.env.pop("COLUMNS")  # the message must fit an ordinary 80-column line as well
        result = infra.cli("up", "--postgres", timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("PortInUseError: "), result.stderr
    assert str(infra.kafka_port) in lines[0]
    assert infra.pids() == {}


def test_dag_import_errors_are_reported_per_file(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "good.py").write_text(
        "import datetime\nfrom airflow.sdk import dag, task\n\n"
        "@dag(schedule=None, start_date=datetime.datetime(2025, 1, 1))\n"
        "def good_dag():\n    @task\n    def hello():\n        return 1\n    hello()\n\ngood_dag()\n"
    )
    (dags / "broken.py").write_text("from airflow.sdk import dag\nimport no_such_module_anywhere\n")
    settings = Settings(state_dir=tmp_path / "state")
    dag_ids, errors = check_dags(settings, dags)
    assert dag_ids == ["good_dag"]
    assert list(errors) == [str(dags / "broken.py")]
    assert "no_such_module_anywhere" in errors[str(dags / "broken.py")]


def test_the_repository_dags_import_without_errors(tmp_path: Path) -> None:
    assert dag_import_errors(Settings(state_dir=tmp_path / "state")) == {}
