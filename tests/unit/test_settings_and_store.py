from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from newsflow.errors import StoreNotFoundError, StoreUnavailableError
from newsflow.settings import Settings, find_state_dir
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


# --- where the state directory is, and reads that never create a store (issue 18 item 1) ---------------


@pytest.fixture
def no_state_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No NEWSFLOW_STATE_DIR / DATABASE_URL; $XDG_DATA_HOME in tmp_path; returns an empty folder to work in."""
    for name in ("NEWSFLOW_STATE_DIR", "NEWSFLOW_DATABASE_URL", "NEWSFLOW_AIRFLOW_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    return work


def test_state_dir_is_the_nearest_newsflow_folder_upwards(
    no_state_setting: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (no_state_setting / ".newsflow").mkdir()
    deep = no_state_setting / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    settings = Settings()
    assert settings.state_dir == (no_state_setting / ".newsflow").resolve()
    assert settings.state_dir_origin == "the nearest .newsflow folder in or above the current folder"
    assert settings.database_url == f"sqlite:///{settings.state_dir / 'newsflow.db'}"
    assert not (deep / ".newsflow").exists()


def test_state_dir_without_a_newsflow_folder_is_the_per_user_data_folder(
    no_state_setting: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(no_state_setting)
    settings = Settings()
    assert settings.state_dir == tmp_path / "xdg" / "newsflow" and settings.state_dir_origin.startswith("the per-user")
    assert not (tmp_path / "xdg").exists()  # found, not created
    assert not (no_state_setting / ".newsflow").exists()  # the old default: a store in whatever folder one was in
    home = tmp_path / "home"
    assert find_state_dir(no_state_setting, environ={}) == Path.home() / ".local" / "share" / "newsflow"
    monkeypatch.setenv("HOME", str(home))
    assert find_state_dir(no_state_setting, environ={"XDG_DATA_HOME": "relative"}) == home / ".local/share/newsflow"


def test_an_explicit_state_dir_wins(no_state_setting: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (no_state_setting / ".newsflow").mkdir()
    monkeypatch.chdir(no_state_setting)
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(tmp_path / "mine"))
    settings = Settings()
    assert settings.state_dir == tmp_path / "mine" and settings.state_dir_origin.startswith("set by NEWSFLOW_STATE_DIR")


def test_a_reader_never_creates_a_store(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    with pytest.raises(StoreNotFoundError) as info:
        open_store(settings, create=False)
    assert str(info.value).startswith(f"{tmp_path / 'state' / 'newsflow.db'} does not exist (state dir: set by")
    assert isinstance(info.value, StoreUnavailableError)  # handled wherever an unreachable store is
    assert not (tmp_path / "state").exists()
    typo = Settings(state_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/nonexistent/dir/x.db")
    with pytest.raises(StoreNotFoundError, match=r"x\.db does not exist \(set by NEWSFLOW_DATABASE_URL\)"):
        open_store(typo, create=False)
    assert not (tmp_path / "nonexistent").exists()
    open_store(settings).dispose()  # a writer creates it; then the reader opens it
    open_store(settings, create=False).dispose()
    memory = Settings(state_dir=tmp_path, database_url="sqlite://")
    open_store(memory, create=False).dispose()  # nothing to look for
