from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select

from newsflow.store import memberships_repo, schema
from newsflow.store.database import open_store
from newsflow.store.memberships_repo import Membership

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


def test_removing_the_newest_membership_never_hands_its_write_number_out_again(postgres_settings) -> None:  # type: ignore[no-untyped-def]
    """Workers sharing partitions read memberships by write number: a removal (a revision that left its
    topic) must not let the next write reuse a number a reader has already seen."""
    from newsflow.store import articles_repo, topics_repo
    from tests.unit.clustering.stories import record

    at = datetime(2025, 2, 13, 9, 0, tzinfo=UTC)
    engine = open_store(postgres_settings)
    with engine.begin() as conn:
        articles_repo.upsert_articles(conn, [record(x, f"headline {x}") for x in "abcd"], at)
        topics_repo.create_topics(conn, [1, 2], at)
        first = memberships_repo.write_memberships(conn, [Membership("a", 1, 0.9, "online"),
                                                          Membership("b", 1, 0.8, "online")], at)  # fmt: skip
        newest = memberships_repo.write_memberships(conn, [Membership("c", 2, 0.7, "online")], at)
    assert first is not None and newest == first + 1
    with engine.begin() as conn:
        removed = memberships_repo.remove_members(conn, ["c"])
        assert removed == newest + 1
        assert memberships_repo.remove_members(conn, ["c"]) is None  # idempotent
        assert memberships_repo.memberships_of(conn, "abc") == {"a": 1, "b": 1}
        restamped = memberships_repo.memberships_since(conn, newest)
        later = memberships_repo.write_memberships(conn, [Membership("d", 1, 0.6, "online")], at)
        assert memberships_repo.memberships_since(conn, removed) == [("d", 1, later)]
    assert [(a, t) for a, t, _ in restamped] in ([("a", 1)], [("b", 1)])  # a member a reader already knows
    assert later is not None and later > removed
    engine.dispose()
