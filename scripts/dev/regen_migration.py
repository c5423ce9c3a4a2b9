"""Regenerate the initial Alembic migration from newsflow/store/schema.py (pre-release only).

Until newsflow has a release, schema changes fold into revision 0001 instead of stacking revisions.
Run: python scripts/dev/regen_migration.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine

from newsflow.store.database import MIGRATIONS_DIR

target = MIGRATIONS_DIR / "versions" / "0001_initial_schema.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    engine = create_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
print(f"wrote {target}")
