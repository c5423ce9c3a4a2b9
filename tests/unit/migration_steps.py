"""Move a test database to one Alembic revision, up or down (migration tests start from old schemas)."""

from __future__ import annotations

from typing import Literal

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from newsflow.store.database import MIGRATIONS_DIR


def migrate_to(engine: Engine, revision: str, direction: Literal["upgrade", "downgrade"] = "upgrade") -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        getattr(command, direction)(cfg, revision)
