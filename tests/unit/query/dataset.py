"""A small, fully known store for the read-layer, API and CLI tests (SQLite or PostgreSQL).

Topics (ids fixed):
1  "election vote"      active, 6 articles (Alpha News 4, Beta Times 2, en), growing (z 4.0), absorbed 4, split off 5
2  "football final"     active, 3 articles (Gamma Sport, de), z 1.0, the most recent
3  "storm weather"      faded, 2 articles (Alpha News, fr), never evaluated for growth
4  "election polls"     merged into 1, no members left
5  "election recount"   active, 2 articles (Beta Times, en), split from 1
6  "100% solar"         active, 1 article (Gamma Sport, en): a literal % for the LIKE-escaping tests
101..120 fillers        active, 1 article counted each, no growth row, all with the same last_seen (ties)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine

from newsflow.store.schema import articles, lineage_events, topic_growth, topic_memberships, topics

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
DIM = 8
FILLER_IDS = list(range(101, 121))


@dataclass
class Dataset:
    as_of: datetime
    topics: dict[int, dict[str, Any]]  # the inserted rows, by id
    articles_of: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def growth_score(self, topic_id: int) -> float:
        return GROWTH[topic_id][2] if topic_id in GROWTH else 0.0

    def expected_ids(self, sort: str = "growth", status: str | None = "active") -> list[int]:
        """The order the contract defines, computed here in Python as the oracle."""
        rows = [t for t in self.topics.values() if status is None or t["status"] == status]
        if sort == "growth":
            rows.sort(key=lambda t: (-self.growth_score(t["id"]), -t["last_seen"].timestamp(), t["id"]))
        elif sort == "size":
            rows.sort(key=lambda t: (-t["article_count"], t["id"]))
        else:
            rows.sort(key=lambda t: (-t["last_seen"].timestamp(), t["id"]))
        return [t["id"] for t in rows]


def _article(aid: str, title: str, outlet: str, lang: str, hours: float) -> dict[str, Any]:
    published = T0 + timedelta(hours=hours)
    return {
        "id": aid, "url": f"https://example.test/{aid}", "title": title, "summary": f"{title}. " + "x" * 400,
        "content": "", "published_at": published, "published_is_fallback": False, "fetched_at": published,
        "language": lang, "outlet": outlet, "feed_name": outlet.lower().replace(" ", "-"), "guid": aid,
        "revision": 1, "content_hash": aid.ljust(64, "0"), "near_duplicate_of": None, "stored_at": published,
    }  # fmt: skip


ARTICLES: dict[int, list[dict[str, Any]]] = {
    1: [
        _article("a1", "Parliament election results announced", "Alpha News", "en", 0.5),
        _article("a2", "Vote count continues in the election", "Alpha News", "en", 1.2),
        _article("a3", "Election turnout hits record", "Beta Times", "en", 1.7),
        _article("a4", "Parties react to election vote", "Alpha News", "en", 3.1),
        _article("a5", "New parliament meets after the vote", "Alpha News", "en", 5.0),
        _article("a6", "Election observers publish report", "Beta Times", "en", 5.4),
    ],
    2: [
        _article("b1", "Pokalfinale: Tor in der letzten Minute", "Gamma Sport", "de", 8.0),
        _article("b2", "Football final decided late", "Gamma Sport", "de", 9.5),
        _article("b3", "Finale: Fans feiern den Sieg", "Gamma Sport", "de", 10.0),
    ],
    3: [
        _article("c1", "Tempête sur la côte atlantique", "Alpha News", "fr", 2.0),
        _article("c2", "Alerte météo: vents violents", "Alpha News", "fr", 2.5),
    ],
    5: [
        _article("e1", "Election recount ordered in two districts", "Beta Times", "en", 6.0),
        _article("e2", "Recount confirms the election result", "Beta Times", "en", 7.0),
    ],
    6: [_article("f1", "Town reaches 100% solar power", "Gamma Sport", "en", 4.0)],
}

META: dict[int, dict[str, Any]] = {
    1: {"label": "election vote", "keywords": ["election", "vote", "parliament"], "status": "active"},
    2: {"label": "football final", "keywords": ["football", "final", "tor"], "status": "active"},
    3: {"label": "storm weather", "keywords": ["tempête", "météo", "storm"], "status": "faded"},
    4: {"label": "election polls", "keywords": ["polls", "election"], "status": "merged", "merged_into": 1},
    5: {"label": "election recount", "keywords": ["recount", "election", "districts"], "status": "active"},
    6: {"label": "100% solar", "keywords": ["solar", "energy"], "status": "active"},
}

GROWTH = {1: (6, 4.0, 5.0), 2: (3, 1.0, 1.0), 5: (2, 0.5, 2.0), 6: (1, 0.0, 0.0)}  # recent, z, score


def unit_vector(seed: int, dim: int = DIM) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _topic_row(topic_id: int, members: list[dict[str, Any]]) -> dict[str, Any]:
    meta = META.get(topic_id, {"label": f"filler story {topic_id}", "keywords": ["filler"], "status": "active"})
    times = [a["published_at"] for a in members] or [T0 + timedelta(hours=2)]
    outlets = sorted({a["outlet"] for a in members}, key=lambda o: -sum(a["outlet"] == o for a in members))
    hourly = Counter(a["published_at"].strftime("%Y-%m-%dT%H") for a in members)
    return {
        "id": topic_id, "label": meta["label"], "keywords": meta["keywords"],
        "representative_title": members[0]["title"] if members else f"Filler headline {topic_id}",
        "representative_ids": [a["id"] for a in members[:2]], "status": meta["status"],
        "merged_into": meta.get("merged_into"), "first_seen": min(times), "last_seen": max(times),
        "article_count": len(members) if members or topic_id < 100 else 1,
        "outlet_count": len(outlets), "outlets": outlets, "languages": sorted({a["language"] for a in members}),
        "hourly_counts": dict(sorted(hourly.items())), "centroid": unit_vector(topic_id).tobytes(),
        "updated_at": T0 + timedelta(hours=11),
    }  # fmt: skip


def _lineage_rows() -> list[dict[str, Any]]:
    def event(topic_id: int, kind: str, hours: float, count: int, related: list[int]) -> dict[str, Any]:
        return {"topic_id": topic_id, "kind": kind, "related": related, "article_count": count,
                "label": META[topic_id]["label"], "at": T0 + timedelta(hours=hours), "published_at": None}  # fmt: skip

    return [
        event(1, "born", 1.0, 2, []),
        event(4, "born", 1.5, 2, []),
        event(1, "merged", 3.5, 5, [4]),
        event(1, "split", 6.5, 6, [5]),
        event(5, "born", 6.5, 2, []),  # reconcile records "split" on the parent only; children get nothing else
        event(3, "faded", 9.0, 2, []),
    ]


def fill_store(engine: Engine) -> Dataset:
    """Write the dataset above through direct inserts; return what the tests compare against."""
    topic_rows = [_topic_row(t, ARTICLES.get(t, [])) for t in [1, 2, 3, 4, 5, 6, *FILLER_IDS]]
    article_rows = [a for members in ARTICLES.values() for a in members]
    memberships = [
        {"article_id": a["id"], "topic_id": t, "similarity": 0.9, "method": "online", "assigned_at": a["published_at"]}
        for t, members in ARTICLES.items()
        for a in members
    ]
    growth = [
        {"topic_id": t, "recent_count": r, "recent_outlets": 1, "baseline_rate": 0.5, "z_score": z,
         "growth_score": g, "evaluated_at": T0 + timedelta(hours=10)}
        for t, (r, z, g) in GROWTH.items()
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(topics.insert(), topic_rows)
        conn.execute(articles.insert(), article_rows)
        conn.execute(topic_memberships.insert(), memberships)
        conn.execute(topic_growth.insert(), growth)
        conn.execute(lineage_events.insert(), _lineage_rows())
    as_of = max(a["published_at"] for a in article_rows)
    return Dataset(
        as_of=as_of, topics={t["id"]: t for t in topic_rows}, articles_of={t: list(m) for t, m in ARTICLES.items()}
    )
