"""Autogenerate the next Alembic revision from the difference between newsflow/store/schema.py and
the current migrations (run against a scratch SQLite database upgraded to head).

Run: python scripts/dev/new_migration.py 0002 "alert lifecycle and topic growth"
Review the generated file: autogenerate does not see renames or data migrations.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from newsflow.store.database import MIGRATIONS_DIR

rev_id, message = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:
    engine = create_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
        command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
print(f"wrote revision {rev_id} under {MIGRATIONS_DIR / 'versions'}")
