from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select

from newsflow.store import schema
from newsflow.store.database import open_store

pytestmark = pytest.mark.integration


def test_migrations_run_on_the_real_postgresql(postgres_settings) -> None:  # type: ignore[no-untyped-def]
    engine = open_store(postgres_settings)
    open_store(postgres_settings)
    assert engine.dialect.name == "postgresql"
    assert set(schema.metadata.tables) <= set(inspect(engine).get_table_names())
    at = datetime(2025, 2, 13, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(schema.job_runs.insert().values(job="recluster", last_run_at=at, details={"n": 1}))
        row = conn.execute(select(schema.job_runs)).one()
    assert row.last_run_at == at and row.details == {"n": 1}
    engine.dispose()
