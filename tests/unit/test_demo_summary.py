"""``newsflow demo``'s closing summary read from a real (SQLite) store, and its ``--sample`` option."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import typer
from sqlalchemy import insert

from newsflow.cli.demo_cmd import _sample_option, _story_line_lines
from newsflow.samplefeeds import WELT_LINK, gold_stories
from newsflow.samplefeeds.build import german_link
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.store.schema import articles, topic_memberships, topics

T = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _placed() -> list[tuple[str, str, int | None]]:
    """(article id, URL, topic): two call items, one rare-earth item and the seed in topic 1."""
    gold = gold_stories(sample="de")
    call = [link for link, story in gold.items() if story == "trump-putin-call"][:2]
    earth = next(link for link, story in gold.items() if story == "rare-earth-deal")
    other = german_link("wnoz.de", "dep-999")  # not a sample item: ignored
    return [("a1", call[0], 1), ("a2", call[1], 1), ("a3", earth, 1), ("seed", WELT_LINK, 1), ("a4", other, None)]


def _article(aid: str, url: str) -> dict[str, Any]:
    return {
        "id": aid, "url": url, "title": aid, "summary": "", "content": "", "published_at": T,
        "fetched_at": T, "language": "de", "outlet": "x", "feed_name": "x", "guid": url,
        "content_hash": aid.ljust(64, "0"), "stored_at": T,
    }  # fmt: skip


def _topic(topic_id: int, label: str) -> dict[str, Any]:
    return {
        "id": topic_id, "label": label, "keywords": [], "representative_title": label, "representative_ids": [],
        "status": "active", "first_seen": T, "last_seen": T, "article_count": 3, "outlet_count": 1,
        "outlets": ["x"], "languages": ["de"], "hourly_counts": {}, "updated_at": T,
    }  # fmt: skip


def _fill(settings: Settings) -> None:
    placed = _placed()
    with open_store(settings).begin() as conn:
        conn.execute(insert(topics), [_topic(1, "Putin Trump Telefonat")])
        conn.execute(insert(articles), [_article(a, url) for a, url, _ in placed])
        members = [{"article_id": a, "topic_id": t, "method": "online", "assigned_at": T} for a, _, t in placed if t]
        conn.execute(insert(topic_memberships), members)


def test_summary_maps_stored_urls_back_to_the_bundled_labels(settings: Settings) -> None:
    _fill(settings)
    lines = _story_line_lines(settings)
    assert lines[0] == "the seed's story lines:"
    assert "(trump-putin-call, riyadh-talks, munich-security-conference; 35 articles)" in lines[1]
    assert "topic 1 “Putin Trump Telefonat”: 2 · not in the store: 33" in lines[1]
    assert "topic 1 “Putin Trump Telefonat”: 1 · not in the store: 13" in lines[2]
    assert lines[3].endswith("→ in no topic (not in the store: 14)")
    assert lines[4] == "  seed article → topic 1 “Putin Trump Telefonat”, a peace-talk topic"
    assert lines[5] == "  MIXED: topic 1 “Putin Trump Telefonat” holds peace talks 2 + rare-earth deal 1"


def test_sample_option_accepts_de_and_en_only() -> None:
    assert (_sample_option("de"), _sample_option(" EN ")) == ("de", "en")
    with pytest.raises(typer.BadParameter):
        _sample_option("fr")
