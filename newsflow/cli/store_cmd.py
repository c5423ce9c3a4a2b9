"""``newsflow store migrate|info``: schema migrations for deployments that manage the store separately."""

from __future__ import annotations

import typer
from rich.console import Console

store_app = typer.Typer(help="The article/topic store (SQLite or PostgreSQL).", no_args_is_help=True)
console = Console()


@store_app.command("migrate")
def migrate_command() -> None:
    """Create or upgrade the store's schema to the newest migration (idempotent)."""
    from sqlalchemy.engine import make_url

    from newsflow.settings import load_settings
    from newsflow.store.database import open_store

    settings = load_settings()
    open_store(settings)
    safe = make_url(settings.database_url).render_as_string(hide_password=True)
    console.print(f"store schema is up to date at {safe}")


@store_app.command("info")
def info_command() -> None:
    """Row counts of the store's main tables."""
    from rich.table import Table
    from sqlalchemy import func, select

    from newsflow.settings import load_settings
    from newsflow.store import schema
    from newsflow.store.database import open_store

    engine = open_store(load_settings(), create=False)
    table = Table("table", "rows")
    with engine.connect() as conn:
        for tbl in (schema.feeds, schema.articles, schema.topics, schema.topic_memberships, schema.lineage_events):
            table.add_row(tbl.name, str(conn.execute(select(func.count()).select_from(tbl)).scalar_one()))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
