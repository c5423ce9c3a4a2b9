"""Store fixtures for alert tests: topics with member articles at chosen times, written straight to the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from newsflow.store import memberships_repo, topics_repo
from newsflow.store.schema import articles, topics

OUTLETS = ["reuters.com", "bbc.co.uk", "welt.de", "cnn.com"]


def add_topic(engine: Engine, topic_id: int, label: str, times: Sequence[datetime], *, outlets: Sequence[str] = OUTLETS,
              prefix: str | None = None) -> list[str]:  # fmt: skip
    """A topic whose members were published at ``times`` (outlets round robin); returns the article ids."""
    prefix = prefix or f"t{topic_id}"
    ids = []
    with engine.begin() as conn:
        if not conn.execute(select(topics.c.id).where(topics.c.id == topic_id)).first():
            topics_repo.create_topics(conn, [topic_id], min(times))
        rows = []
        for k, when in enumerate(times):
            article_id = f"{prefix}-{when:%Y%m%d%H%M%S}-{k}"
            ids.append(article_id)
            outlet = outlets[k % len(outlets)]
            rows.append({
                "id": article_id, "url": f"https://{outlet}/{article_id}", "title": f"{label} {k}", "summary": "",
                "content": "", "published_at": when, "published_is_fallback": False,
                "fetched_at": when + timedelta(minutes=1), "language": "en", "outlet": outlet,
                "feed_name": f"{outlet}-main", "guid": None, "revision": 1, "content_hash": article_id,
                "near_duplicate_of": None, "stored_at": when + timedelta(minutes=2),
            })  # fmt: skip
        conn.execute(articles.insert(), rows)
        members = [memberships_repo.Membership(a, topic_id, 0.9, "online") for a in ids]
        memberships_repo.write_memberships(conn, members, max(times))
        topics_repo.refresh_stats(conn, [topic_id], max(times))
        conn.execute(update(topics).where(topics.c.id == topic_id).values(label=label))
    return ids


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    out, when = [], start
    while when <= end:
        out.append(when)
        when += step
    return out
