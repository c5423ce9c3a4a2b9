"""The feed registry in the store: add, list, pause, resume, remove, and which feeds are due."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, or_, select, update

from newsflow.errors import ConfigError, UnknownFeed
from newsflow.records.feed import FeedSpec
from newsflow.store.schema import feed_health, feeds
from newsflow.store.upsert import upsert

log = logging.getLogger(__name__)


def _row(spec: FeedSpec, now: datetime) -> dict[str, Any]:
    return {
        "name": spec.name,
        "url": spec.url,
        "outlet": spec.outlet,
        "language": spec.language,
        "poll_interval_s": spec.poll_interval_s,
        "tags": list(spec.tags),
        "enabled": spec.enabled,
        "fulltext": spec.fulltext,
        "created_at": now,
    }


def _spec(row: Any) -> FeedSpec:
    return FeedSpec(
        name=row.name,
        url=row.url,
        outlet=row.outlet,
        language=row.language,
        poll_interval_s=row.poll_interval_s,
        tags=tuple(row.tags or ()),
        enabled=bool(row.enabled),
        fulltext=bool(row.fulltext),
    )


def register_feeds(engine: Engine, specs: Iterable[FeedSpec]) -> int:
    """Insert or update feeds by name (idempotent). An existing feed keeps its paused/enabled state."""
    now = datetime.now(UTC)
    rows = [_row(s, now) for s in specs]
    with engine.begin() as conn:
        upsert(conn, feeds, rows, ["name"], ["url", "outlet", "language", "poll_interval_s", "tags", "fulltext"])
    return len(rows)


def add_feed(engine: Engine, spec: FeedSpec, *, replace: bool = False) -> None:
    """Add one feed; ``ConfigError`` if the name is taken, unless ``replace``."""
    with engine.begin() as conn:
        exists = conn.execute(select(feeds.c.name).where(feeds.c.name == spec.name)).first()
        if exists and not replace:
            raise ConfigError(f"feed {spec.name!r} already exists (use --replace to overwrite it)")
        cols = ["url", "outlet", "language", "poll_interval_s", "tags", "enabled", "fulltext"]
        upsert(conn, feeds, [_row(spec, datetime.now(UTC))], ["name"], cols)


def get_feed(engine: Engine, name: str) -> FeedSpec:
    with engine.connect() as conn:
        row = conn.execute(select(feeds).where(feeds.c.name == name)).first()
    if row is None:
        raise UnknownFeed(f"no feed named {name!r} (see `newsflow feeds list`)")
    return _spec(row)


def list_feeds(engine: Engine, *, enabled_only: bool = False) -> list[FeedSpec]:
    query = select(feeds).order_by(feeds.c.name)
    if enabled_only:
        query = query.where(feeds.c.enabled.is_(True))
    with engine.connect() as conn:
        return [_spec(r) for r in conn.execute(query)]


def set_enabled(engine: Engine, name: str, enabled: bool) -> None:
    """Pause or resume. Resuming also clears the failure streak, so the feed is due at once."""
    with engine.begin() as conn:
        found = conn.execute(update(feeds).where(feeds.c.name == name).values(enabled=enabled)).rowcount
        if not found:
            raise UnknownFeed(f"no feed named {name!r}")
        if enabled:
            conn.execute(
                update(feed_health)
                .where(feed_health.c.feed_name == name)
                .values(consecutive_failures=0, next_poll_at=None)
            )


def set_fulltext(engine: Engine, name: str, on: bool) -> None:
    with engine.begin() as conn:
        if not conn.execute(update(feeds).where(feeds.c.name == name).values(fulltext=on)).rowcount:
            raise UnknownFeed(f"no feed named {name!r}")


def pause_feed(conn: Connection, name: str) -> None:
    """Pause inside the caller's transaction (the poller's automatic pause after too many failures)."""
    conn.execute(update(feeds).where(feeds.c.name == name).values(enabled=False))


def remove_feed(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(feed_health).where(feed_health.c.feed_name == name))
        if not conn.execute(delete(feeds).where(feeds.c.name == name)).rowcount:
            raise UnknownFeed(f"no feed named {name!r}")


def due_feeds(engine: Engine, as_of: datetime) -> list[FeedSpec]:
    """Enabled feeds never polled or whose ``next_poll_at`` has come, by name."""
    query = (
        select(feeds)
        .select_from(feeds.outerjoin(feed_health, feed_health.c.feed_name == feeds.c.name))
        .where(feeds.c.enabled.is_(True))
        .where(or_(feed_health.c.next_poll_at.is_(None), feed_health.c.next_poll_at <= as_of))
        .order_by(feeds.c.name)
    )
    with engine.connect() as conn:
        return [_spec(r) for r in conn.execute(query)]
