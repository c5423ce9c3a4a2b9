from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
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


def test_removals_leave_tombstones_in_the_write_sequence(postgres_settings) -> None:  # type: ignore[no-untyped-def]
    """Workers sharing partitions read placements and removals by write number: a removal (a revision
    that left its topic) is numbered, read back, superseded by a later placement, pruned by age, and
    never lets a number a reader has seen be handed out again."""
    from tests.unit.clustering.test_membership_removals import removal_scenario

    engine = open_store(postgres_settings)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []  # migrations = schema.py
    removal_scenario(engine)
    engine.dispose()


def test_topic_memory_reads_the_newest_members_per_topic(postgres_settings) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.clustering.test_topic_memory import remembered_members_scenario

    engine = open_store(postgres_settings)
    remembered_members_scenario(engine)
    engine.dispose()
