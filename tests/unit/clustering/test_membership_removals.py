"""Membership removals leave tombstones in the write sequence (SQLite here; the same scenario runs on
PostgreSQL in ``tests/integration/test_store_postgres.py``), the migration that adds them, and their
pruning by the re-clustering."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, select

from clustering.embedding.embed import Embedder
from clustering.jobs import recluster_now
from newsflow.records.topic import Membership
from newsflow.settings import Settings
from newsflow.store import articles_repo, memberships_repo, schema, topics_repo
from newsflow.store.database import migrate, open_store
from newsflow.store.memberships_repo import MembershipChange
from tests.unit.clustering.stories import T0, record
from tests.unit.migration_steps import migrate_to

AT = T0 + timedelta(hours=3)
HOUR = timedelta(hours=1)


def removal_scenario(engine: Engine) -> None:
    """Removals are numbered like placements, readable after a number, superseded by a later
    placement, and pruned by age except the one holding the newest number."""
    with engine.begin() as conn:
        articles_repo.upsert_articles(conn, [record(x, f"headline {x}") for x in "abcd"], AT)
        topics_repo.create_topics(conn, [1, 2], AT)
        first = memberships_repo.write_memberships(conn, [Membership("a", 1, 0.9, "online"),
                                                          Membership("b", 1, 0.8, "online")], AT)  # fmt: skip
        newest = memberships_repo.write_memberships(conn, [Membership("c", 2, 0.7, "online")], AT)
    assert first is not None and newest == first + 1
    with engine.begin() as conn:
        removed = memberships_repo.remove_members(conn, ["c"], AT)
        assert removed == newest + 1 == memberships_repo.last_write_seq(conn)
        assert memberships_repo.remove_members(conn, ["c"], AT) is None  # idempotent
        assert memberships_repo.memberships_of(conn, "abc") == {"a": 1, "b": 1}
        assert memberships_repo.changes_since(conn, newest) == [MembershipChange("c", 2, removed, removed=True)]
        emptied = memberships_repo.remove_members(conn, ["a", "b"], AT + HOUR)
        assert emptied == removed + 1 and memberships_repo.memberships_of(conn, "abcd") == {}
        # No membership left: the tombstones keep the numbers a reader has seen from coming back.
        assert memberships_repo.last_write_seq(conn) == emptied and memberships_repo.next_write_seq(conn) == emptied + 1
        back = memberships_repo.write_memberships(conn, [Membership("c", 1, 0.6, "online")], AT + HOUR)
        assert back == emptied + 1
        assert memberships_repo.changes_since(conn, newest) == [  # c's placement supersedes its removal
            MembershipChange("a", 1, emptied, removed=True),
            MembershipChange("b", 1, emptied, removed=True),
            MembershipChange("c", 1, back, removed=False),
        ]
        assert memberships_repo.changes_since(conn, back) == []
    with engine.begin() as conn:
        assert memberships_repo.prune_removals(conn, AT) == 0  # none older
        assert memberships_repo.prune_removals(conn, AT + 2 * HOUR) == 3
        assert memberships_repo.changes_since(conn, newest) == [MembershipChange("c", 1, back, removed=False)]
        last = memberships_repo.remove_members(conn, ["c"], AT + 2 * HOUR)
        assert memberships_repo.prune_removals(conn, AT + 3 * HOUR) == 0  # holds the newest number: stays
        assert last == back + 1 == memberships_repo.last_write_seq(conn)


def test_removals_leave_tombstones_in_the_write_sequence(tmp_path: Path) -> None:
    removal_scenario(open_store(Settings(state_dir=tmp_path)))


def test_migration_0005_adds_the_tombstone_table_as_the_schema_has_it(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate_to(engine, "0004")
    assert "membership_removals" not in inspect(engine).get_table_names()
    migrate(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
    assert [ix["name"] for ix in inspect(engine).get_indexes("membership_removals")] == [
        "ix_membership_removals_write_seq"
    ]
    migrate_to(engine, "0004", "downgrade")
    assert "membership_removals" not in inspect(engine).get_table_names()


def tombstones(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(schema.membership_removals.c.article_id)).scalars())


def test_the_reclustering_prunes_tombstones_older_than_its_window(settings: Settings, embedder: Embedder) -> None:
    engine = open_store(settings)
    with engine.begin() as conn:
        articles_repo.upsert_articles(conn, [record(x, f"headline {x}") for x in "ab"], AT)
        topics_repo.create_topics(conn, [1], AT)
        memberships_repo.write_memberships(conn, [Membership("a", 1, 0.9, "online")], AT)
        memberships_repo.remove_members(conn, ["a"], AT)
        memberships_repo.write_memberships(conn, [Membership("b", 1, 0.9, "online")], AT)  # the newest number
    window = timedelta(hours=settings.recluster_window_hours)
    recluster_now(settings, AT + window - HOUR, embedder=embedder, publish_events=False)
    assert tombstones(engine) == ["a"]  # still inside the window
    recluster_now(settings, AT + window + HOUR, embedder=embedder, publish_events=False)
    assert tombstones(engine) == []
