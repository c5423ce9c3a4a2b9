from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from newsflow.errors import StoreUnavailableError
from newsflow.settings import Settings
from newsflow.store import schema
from newsflow.store.database import open_store


def test_settings_read_environment_and_derive_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSFLOW_ASSIGN_THRESHOLD", "0.42")
    monkeypatch.setenv("NEWSFLOW_API_KEYS", '["k1", "k2"]')
    settings = Settings()
    assert settings.assign_threshold == 0.42
    assert [key.get_secret_value() for key in settings.api_keys] == ["k1", "k2"]
    assert "k1" not in repr(settings)  # secrets stay out of logs and error messages
    assert settings.database_url == f"sqlite:///{tmp_path / 'newsflow.db'}"
    assert settings.resolved_airflow_home == tmp_path / "airflow"


def test_migrations_create_every_table_and_are_idempotent(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    engine = open_store(settings)
    open_store(settings)  # second run: nothing to do, no error
    tables = set(inspect(engine).get_table_names())
    assert set(schema.metadata.tables) <= tables


def test_datetimes_come_back_aware_in_utc_on_sqlite(tmp_path: Path) -> None:
    engine = open_store(Settings(state_dir=tmp_path))
    cet = timezone(timedelta(hours=1))
    with engine.begin() as conn:
        conn.execute(
            schema.job_runs.insert().values(job="x", last_run_at=datetime(2025, 2, 13, 10, 0, tzinfo=cet), details={})
        )
        value = conn.execute(select(schema.job_runs.c.last_run_at)).scalar_one()
    assert value == datetime(2025, 2, 13, 9, 0, tzinfo=UTC)
    assert value.tzinfo is not None


def test_naive_datetimes_are_refused(tmp_path: Path) -> None:
    engine = open_store(Settings(state_dir=tmp_path))
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as conn:
        conn.execute(schema.job_runs.insert().values(job="x", last_run_at=datetime(2025, 2, 13), details={}))


def test_unreachable_database_is_a_named_error_without_the_password(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        database_url="postgresql+psycopg://newsflow:hunter2@127.0.0.1:1/newsflow",
    )
    with pytest.raises(StoreUnavailableError) as info:
        open_store(settings)
    assert "127.0.0.1:1" in str(info.value)
    assert "hunter2" not in str(info.value)
