"""Opening the store: engine creation, migrations, and the one place that names the database URL.

SQLite is the embedded default; PostgreSQL is production. Both go through the same Alembic
migrations, run by ``open_store`` so every entry point sees an up-to-date schema.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from newsflow.errors import StoreUnavailableError
from newsflow.settings import Settings

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _enable_sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # the API can read while the worker writes
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_store_engine(database_url: str, password: str | None = None) -> Engine:
    url = make_url(database_url)
    if password is not None and url.password is None:
        url = url.set(password=password)
    if url.get_backend_name() == "sqlite":
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def open_store(settings: Settings, *, run_migrations: bool = True) -> Engine:
    """Engine for the configured store, migrated, or ``StoreUnavailableError`` naming the database."""
    password = settings.database_password.get_secret_value() if settings.database_password else None
    engine = create_store_engine(settings.database_url, password)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        if run_migrations:
            migrate(engine)
    except OperationalError as exc:
        safe_url = make_url(settings.database_url).render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise StoreUnavailableError(f"cannot reach the store at {safe_url}: {reason}") from exc
    return engine
