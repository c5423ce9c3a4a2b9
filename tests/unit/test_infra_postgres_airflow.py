"""Pure parts of the local PostgreSQL and Airflow setup."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.errors import MissingToolError
from newsflow.infra import airflow_local, postgres_local
from newsflow.infra.postgres_local import PgPaths
from newsflow.settings import Settings


def test_newest_debian_postgresql_is_chosen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for major in ("9.6", "13", "15"):
        (tmp_path / major / "bin").mkdir(parents=True)
        (tmp_path / major / "bin" / "initdb").touch()
    monkeypatch.setattr(postgres_local, "DEBIAN_PG_ROOT", tmp_path)
    assert postgres_local.find_pg_bin() == tmp_path / "15" / "bin"


def test_missing_postgresql_without_root_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_local, "DEBIAN_PG_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(postgres_local.os, "geteuid", lambda: 1000)
    with pytest.raises(MissingToolError, match="apt-get install postgresql"):
        postgres_local.ensure_installed(Settings(state_dir=tmp_path))


def test_server_listens_on_loopback_with_socket_in_state_dir(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, postgres_port=55499)
    options = postgres_local._server_options(settings, PgPaths(tmp_path / "postgres"))
    assert options == f"-p 55499 -c listen_addresses=127.0.0.1 -k {tmp_path / 'postgres' / 'run'}"


def test_too_long_socket_path_falls_back_to_tcp_only(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / ("x" * 120))
    assert postgres_local._server_options(settings, PgPaths(settings.state_dir / "postgres")).endswith("-k ''")


def test_cluster_leaves_a_private_checkout_when_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres_local.os, "geteuid", lambda: 0)
    private = tmp_path / "private"
    open_ = tmp_path / "open"
    private.mkdir(mode=0o700)
    open_.mkdir(mode=0o755)
    monkeypatch.setattr(postgres_local, "_others_can_traverse", lambda p: open_ in [p, *p.parents])
    inside = PgPaths.of(Settings(state_dir=open_ / "state"))
    outside = PgPaths.of(Settings(state_dir=private / "state"))
    assert inside.root == open_ / "state" / "postgres"
    assert outside.root.parent == postgres_local.FALLBACK_ROOT
    assert outside == PgPaths.of(Settings(state_dir=private / "state"))  # stable: `down` finds what `up` made
    assert outside != PgPaths.of(Settings(state_dir=private / "other"))


def test_traversal_check_reads_the_permission_bits(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir(mode=0o755)
    (tmp_path / "a").chmod(0o755)
    (tmp_path / "b").mkdir()
    (tmp_path / "b").chmod(0o700)
    tmp_path.chmod(0o755)
    assert postgres_local._others_can_traverse(tmp_path / "b" / "state") is False
    reachable = all(p.stat().st_mode & 0o001 for p in [tmp_path, *tmp_path.parents])
    assert postgres_local._others_can_traverse(tmp_path / "a" / "state") is reachable


def test_airflow_environment_points_at_state_dir_and_loopback_api(tmp_path: Path) -> None:
    env = airflow_local.airflow_environment(Settings(state_dir=tmp_path, airflow_api_port=28080))
    assert env["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:28080/execution/"
