"""newsflow's DAGs in the local Airflow's metadata DB: paused or not, last runs, the UI's login line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from newsflow.cli.status_cmd import section_lines
from newsflow.errors import ServiceNotReadyError
from newsflow.infra.airflow_dags import DagState, dag_states, paused_at_creation_env, ui_login
from newsflow.pipeline_status import Section


def _metadata_db(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE dag (dag_id TEXT PRIMARY KEY, is_paused BOOLEAN)")
        conn.execute(
            "CREATE TABLE dag_run (id INTEGER PRIMARY KEY, dag_id TEXT, state TEXT, run_after TEXT, run_type TEXT)"
        )
        conn.executemany("INSERT INTO dag VALUES (?, ?)", [("ingest_feeds", 0), ("recluster_topics", 1)])
        conn.executemany(
            "INSERT INTO dag_run (dag_id, state, run_after, run_type) VALUES (?, ?, ?, ?)",
            [("ingest_feeds", "success", "2026-12-04 20:00:00", "scheduled"),
             ("ingest_feeds", "running", "2026-12-04 20:15:00", "scheduled")],
        )  # fmt: skip
    return path


def test_each_dag_with_its_pause_flag_and_newest_run(tmp_path: Path) -> None:
    states = {d.dag_id: d for d in dag_states(_metadata_db(tmp_path / "airflow.db"))}
    assert states["ingest_feeds"] == DagState("ingest_feeds", False, "running", "2026-12-04 20:15:00", "scheduled")
    assert states["recluster_topics"] == DagState("recluster_topics", True)  # paused, never ran
    assert states["evaluate_alerts"].paused is None  # not parsed into the DB yet
    line = section_lines(Section("dag_runs", {"dags": [vars(d) for d in states.values()]}))
    assert line == ["dag runs: ingest_feeds running at 2026-12-04 20:15:00 (scheduled) · recluster_topics no runs, "
                    "paused · evaluate_alerts not parsed yet"]  # fmt: skip


def test_a_missing_metadata_db_is_a_named_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceNotReadyError, match="no Airflow metadata DB"):
        dag_states(tmp_path / "nothing.db")
    assert not (tmp_path / "nothing.db").exists()  # read-only: nothing created


def test_dags_are_created_unpaused_unless_kept_paused() -> None:
    assert paused_at_creation_env(False) == {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False"}
    assert paused_at_creation_env(True) == {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}


def test_the_ui_line_names_the_address_and_the_generated_login(tmp_path: Path) -> None:
    assert "no generated password" in ui_login(tmp_path, 18080)
    (tmp_path / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": "s3cret"}))
    line = ui_login(tmp_path, 18080)
    assert line.startswith("Airflow UI: http://127.0.0.1:18080, user admin, password s3cret")
