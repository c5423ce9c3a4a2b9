"""A small known store for the browser tests: a few topics over three outlets, with lineage and growth.

Times are relative to the moment the store is filled (the API's sparkline is the 24 hours before
the newest article), and topic statistics (counts, outlets, hourly counts, first/last seen) are
computed from the memberships by the store's own ``refresh_stats``, as the clusterer does.
Article URLs point at a local HTTP server so following a link works offline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, update

from newsflow.store.schema import articles, lineage_events, topic_growth, topic_memberships, topics
from newsflow.store.topics_repo import refresh_stats

XSS_LABEL = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">Flood warning'
XSS_KEYWORD = "<b>river</b>"
UNSAFE_URL = "javascript:window.__xss = 3"


@dataclass(frozen=True)
class SeedArticle:
    slug: str
    title: str
    outlet: str
    hours_ago: float
    language: str = "en"
    url: str | None = None  # None: the local article server's page for ``slug``


@dataclass(frozen=True)
class SeedTopic:
    id: int
    label: str
    keywords: Sequence[str]
    growth_score: float
    z_score: float
    articles: Sequence[SeedArticle]
    status: str = "active"
    merged_into: int | None = None
    lineage: Sequence[tuple[str, Sequence[int]]] = field(default_factory=tuple)  # (kind, related)

    @property
    def representative_title(self) -> str:
        return self.articles[0].title


def _a(slug: str, title: str, outlet: str, hours_ago: float, **kw: str) -> SeedArticle:
    return SeedArticle(slug, title, outlet, hours_ago, **kw)


STRIKE = SeedTopic(
    id=11,
    label="Harbour strike spreads to northern ports",
    keywords=["strike", "harbour", "dockworkers", "union"],
    growth_score=8.0,
    z_score=5.1,
    articles=[
        _a("strike-1", "Dockworkers walk out at the northern harbour", "Daily Courier", 0.5),
        _a("strike-2", "Strike halts container traffic for a second day", "Daily Courier", 2.2),
        _a("strike-3", "Union vows to widen harbour strike", "Daily Courier", 5.1),
        _a("strike-4", "Ports brace as strike spreads north", "Morning Post", 1.3),
        _a("strike-5", "Shipping lines reroute around striking ports", "Morning Post", 3.4),
        _a("strike-6", "Hafenstreik weitet sich aus", "Radio Nord", 4.2, language="de"),
    ],
    lineage=[("born", []), ("split", [15])],
)
ELECTION = SeedTopic(
    id=12,
    label="Election debate draws record audience",
    keywords=["election", "debate", "television"],
    growth_score=3.0,
    z_score=1.2,
    articles=[
        _a("debate-1", "Record audience tunes in to election debate", "Morning Post", 1.8),
        _a("debate-2", "Five takeaways from the election debate", "Morning Post", 6.5),
        _a("debate-3", "Candidates clash over taxes in TV debate", "Daily Courier", 9.0),
        _a("debate-4", "Fact-checking the debate claims", "Daily Courier", 12.0),
    ],
    lineage=[("born", []), ("merged", [14])],
)
FLOOD = SeedTopic(
    id=13,
    label=XSS_LABEL,
    keywords=["flood", XSS_KEYWORD],
    growth_score=2.0,
    z_score=0.4,
    articles=[
        _a("flood-1", 'River levels rise <img src=x onerror="window.__xss = 4">', "Radio Nord", 2.5),
        _a("flood-2", "Flood warning for the river valley", "Daily Courier", 7.0),
        _a("flood-3", "A link that must not be followed", "Radio Nord", 8.0, url=UNSAFE_URL),
    ],
    lineage=[("born", [])],
)
DEBATE_PREVIEW = SeedTopic(
    id=14,
    label="Debate preview",
    keywords=["debate", "preview"],
    growth_score=0.0,
    z_score=0.0,
    articles=[_a("preview-1", "What to watch in tonight's debate", "Morning Post", 20.0)],
    status="merged",
    merged_into=12,
    lineage=[("born", [])],
)
STRIKE_TALKS = SeedTopic(
    id=15,
    label="Strike talks resume",
    keywords=["talks", "mediator"],
    growth_score=0.5,
    z_score=0.1,
    articles=[
        _a("talks-1", "Mediator calls both sides back to the table", "Radio Nord", 3.0),
        _a("talks-2", "Strike talks to resume on Monday", "Morning Post", 3.6),
    ],
    lineage=[("born", [])],
)
TOPICS = [STRIKE, ELECTION, FLOOD, DEBATE_PREVIEW, STRIKE_TALKS]
# A topic written after the page loaded: the auto-refresh test waits for it (highest growth score).
LATE_TOPIC = SeedTopic(
    id=16,
    label="Late breaking: bridge closed after ship collision",
    keywords=["bridge", "ship", "collision"],
    growth_score=50.0,
    z_score=9.5,
    articles=[
        _a("bridge-1", "Bridge closed after ship collision", "Daily Courier", 0.2),
        _a("bridge-2", "Ship hits bridge pillar, traffic halted", "Radio Nord", 0.3),
    ],
    lineage=[("born", [])],
)


def active_by_growth(seeded: Sequence[SeedTopic]) -> list[SeedTopic]:
    """The overview's expected order: active topics by growth score, highest first."""
    return sorted((t for t in seeded if t.status == "active"), key=lambda t: (-t.growth_score, t.id))


@dataclass(frozen=True)
class Seeder:
    engine: Engine
    article_base_url: str  # e.g. http://127.0.0.1:PORT/articles/
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def url_of(self, article: SeedArticle) -> str:
        return article.url if article.url is not None else f"{self.article_base_url}{article.slug}"

    def published_at(self, article: SeedArticle) -> datetime:
        return self.now - timedelta(hours=article.hours_ago)

    def add(self, seeded: Sequence[SeedTopic]) -> None:
        with self.engine.begin() as conn:
            for topic in seeded:
                conn.execute(insert(topics).values(**self._topic_row(topic)))
                conn.execute(insert(articles), [self._article_row(a) for a in topic.articles])
                conn.execute(
                    insert(topic_memberships),
                    [{"article_id": a.slug, "topic_id": topic.id, "similarity": 0.8, "method": "online",
                      "assigned_at": self.now} for a in topic.articles],
                )  # fmt: skip
                for step, (kind, related) in enumerate(topic.lineage):
                    conn.execute(insert(lineage_events).values(
                        topic_id=topic.id, kind=kind, related=list(related), article_count=len(topic.articles),
                        label=topic.label, at=self.now - timedelta(hours=24 - step),
                    ))  # fmt: skip
                conn.execute(insert(topic_growth).values(
                    topic_id=topic.id, recent_count=len(topic.articles), recent_outlets=2, baseline_rate=1.0,
                    z_score=topic.z_score, growth_score=topic.growth_score, evaluated_at=self.now,
                ))  # fmt: skip
            refresh_stats(conn, [t.id for t in seeded], self.now)
            for topic in seeded:  # refresh_stats leaves status alone; merged topics keep theirs
                conn.execute(update(topics).where(topics.c.id == topic.id).values(status=topic.status))

    def _topic_row(self, topic: SeedTopic) -> dict[str, object]:
        return {
            "id": topic.id, "label": topic.label, "keywords": list(topic.keywords),
            "representative_title": topic.representative_title,
            "representative_ids": [topic.articles[0].slug], "status": topic.status, "merged_into": topic.merged_into,
            "first_seen": self.now, "last_seen": self.now, "article_count": 0, "outlet_count": 0,
            "outlets": [], "languages": [], "hourly_counts": {}, "centroid": None, "updated_at": self.now,
        }  # fmt: skip

    def _article_row(self, article: SeedArticle) -> dict[str, object]:
        published = self.published_at(article)
        return {
            "id": article.slug, "url": self.url_of(article), "title": article.title,
            "summary": f"Summary of {article.title}.", "content": "", "published_at": published,
            "published_is_fallback": False, "fetched_at": published, "language": article.language,
            "outlet": article.outlet, "feed_name": article.outlet.lower().replace(" ", "-"), "guid": article.slug,
            "revision": 1, "content_hash": hashlib.sha256(article.slug.encode()).hexdigest(),
            "near_duplicate_of": None, "stored_at": published,
        }  # fmt: skip
