"""Opening the store: engine creation, migrations, and the one place that names the database URL.

SQLite is the embedded default; PostgreSQL is production. Both go through the same Alembic
migrations, run by ``open_store`` so every entry point sees an up-to-date schema. Writers (worker,
ingest, demo, ``store migrate``) create a missing SQLite store; readers pass ``create=False`` and get
``StoreNotFoundError`` instead, with no file or folder made.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from newsflow.errors import StoreNotFoundError, StoreUnavailableError
from newsflow.settings import Settings

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _enable_sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # the API can read while the worker writes
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite store; None for other databases, in-memory SQLite and ``file:`` URIs."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return None if url.query.get("uri") else Path(url.database)


def safe_store_url(settings: Settings) -> str:
    return make_url(settings.database_url).render_as_string(hide_password=True)


def store_origin(settings: Settings) -> str:
    """Why this store: NEWSFLOW_DATABASE_URL, or the state directory and how it was found."""
    if settings.database_url != settings.default_database_url:
        return "set by NEWSFLOW_DATABASE_URL"
    return f"state dir: {settings.state_dir_origin}"


def require_existing_store(settings: Settings) -> None:
    """``StoreNotFoundError`` when the settings name a SQLite file that does not exist (other stores: nothing)."""
    path = sqlite_path(settings.database_url)
    if path is None or path.is_file():
        return
    raise StoreNotFoundError(
        f"{path} does not exist ({store_origin(settings)}); create it with `newsflow store migrate` "
        "(or `newsflow demo`), or set NEWSFLOW_STATE_DIR / NEWSFLOW_DATABASE_URL"
    )


def create_store_engine(database_url: str, password: str | None = None, *, create: bool = True) -> Engine:
    """An engine for the URL; with ``create`` a SQLite file's folder is made (the file on first connect)."""
    url = make_url(database_url)
    if password is not None and url.password is None:
        url = url.set(password=password)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(database_url)
        if create and path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
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


def open_store(settings: Settings, *, run_migrations: bool = True, create: bool = True) -> Engine:
    """Engine for the configured store, migrated, or ``StoreUnavailableError`` naming the database.

    ``create=False`` is for readers: a SQLite file that does not exist is ``StoreNotFoundError``
    (nothing is created, not even its folder).
    """
    if not create:
        require_existing_store(settings)
    password = settings.database_password.get_secret_value() if settings.database_password else None
    engine = create_store_engine(settings.database_url, password, create=create)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        if run_migrations:
            migrate(engine)
    except OperationalError as exc:
        safe_url = safe_store_url(settings)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise StoreUnavailableError(f"cannot reach the store at {safe_url}: {reason}") from exc
    return engine
