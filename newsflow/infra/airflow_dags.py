"""newsflow's DAGs in the local Airflow: unpaused when the services start, their last runs, the UI's login.

Airflow creates a DAG paused by default, so a fresh local deployment ran nothing until someone
found the UI and its generated password. ``infra up --airflow-services`` starts the services with
``dags_are_paused_at_creation`` off (``--keep-paused`` keeps Airflow's default), unpauses
newsflow's DAGs that an earlier run left paused, and prints where the UI is and how to log in.

The metadata DB is read with the standard library's ``sqlite3``, read-only: newsflow never
imports Airflow in-process (it reads its configuration when first imported).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from newsflow.errors import InfraError, ServiceNotReadyError

NEWSFLOW_DAGS = ("ingest_feeds", "recluster_topics", "evaluate_alerts")
UI_USER = "admin"  # Airflow's simple auth manager default user (``[core] simple_auth_manager_users``)


@dataclass(frozen=True)
class DagState:
    dag_id: str
    paused: bool | None  # None: not parsed into the metadata DB yet
    last_state: str | None = None  # the newest run's state (success, failed, running, queued)
    last_run_after: str | None = None  # when it was due, as Airflow stores it (UTC)
    last_run_type: str | None = None  # scheduled, manual, backfill


def paused_at_creation_env(keep_paused: bool) -> dict[str, str]:
    """The environment that decides whether Airflow creates newsflow's DAGs paused."""
    return {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True" if keep_paused else "False"}


def _read_db(db: Path) -> sqlite3.Connection:
    if not db.exists():
        raise ServiceNotReadyError(f"no Airflow metadata DB at {db} (run `newsflow infra up`)")
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)


def dag_states(db: Path) -> list[DagState]:
    """Each newsflow DAG: paused or not, and its newest run."""
    try:
        with closing(_read_db(db)) as conn:
            paused = dict(conn.execute("SELECT dag_id, is_paused FROM dag").fetchall())
            out = []
            for dag_id in NEWSFLOW_DAGS:
                run = conn.execute(
                    "SELECT state, run_after, run_type FROM dag_run WHERE dag_id = ? ORDER BY run_after DESC LIMIT 1",
                    (dag_id,),
                ).fetchone()
                flag = paused.get(dag_id)
                out.append(DagState(dag_id, None if flag is None else bool(flag), *(run or (None, None, None))))
            return out
    except sqlite3.Error as exc:
        raise ServiceNotReadyError(f"Airflow metadata DB {db} unreadable: {exc}") from exc


def unpause_existing(db: Path, airflow_cmd: list[str], env: dict[str, str], timeout_s: float) -> list[str]:
    """Unpause newsflow's DAGs that the metadata DB holds paused (``airflow dags unpause``); their ids."""
    paused = [d.dag_id for d in dag_states(db) if d.paused]
    for dag_id in paused:
        done = subprocess.run([*airflow_cmd, "dags", "unpause", dag_id], env=env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)  # fmt: skip
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise InfraError(f"airflow dags unpause {dag_id} failed: {last}")
    return paused


def ui_login(airflow_home: Path, port: int) -> str:
    """Where the Airflow UI is and how to log in (the password Airflow generated for the local user)."""
    address = f"http://127.0.0.1:{port}"
    path = airflow_home / "simple_auth_manager_passwords.json.generated"
    try:
        password = json.loads(path.read_text(encoding="utf-8")).get(UI_USER)
    except (OSError, ValueError):
        password = None
    if not password:
        return f"Airflow UI: {address} (user {UI_USER}; no generated password in {path} yet)"
    return f"Airflow UI: {address}, user {UI_USER}, password {password} (from {path})"
