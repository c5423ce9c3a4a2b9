"""The feed registry and health in the store (SQLite), and OPML import/export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.errors import FeedParseError
from ingest.opml import parse_opml, to_opml
from newsflow.errors import ConfigError, UnknownFeed
from newsflow.records.feed import FeedSpec
from newsflow.settings import Settings
from newsflow.store import feed_health_repo, feeds_repo
from newsflow.store.database import open_store

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
REPO_ROOT = Path(__file__).resolve().parents[2]


def spec(name: str, **kw: object) -> FeedSpec:
    return FeedSpec(name, f"https://{name}.test/rss", name.upper(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "has space", "url": "https://x.test/", "outlet": "X"},
        {"name": "ok", "url": "ftp://x.test/", "outlet": "X"},
        {"name": "ok", "url": "https://x.test/", "outlet": " "},
        {"name": "ok", "url": "https://x.test/", "outlet": "X", "poll_interval_s": -1},
    ],
)
def test_feed_spec_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        FeedSpec(**kwargs)  # type: ignore[arg-type]


def test_add_list_pause_resume_remove(settings: Settings) -> None:
    engine = open_store(settings)
    feeds_repo.add_feed(engine, spec("b", tags=("de", "politik")))
    feeds_repo.add_feed(engine, spec("a", language="de"))
    with pytest.raises(ConfigError, match="already exists"):
        feeds_repo.add_feed(engine, spec("a"))
    feeds_repo.add_feed(engine, spec("a", language="en"), replace=True)
    assert [(f.name, f.language, f.tags) for f in feeds_repo.list_feeds(engine)] == [
        ("a", "en", ()),
        ("b", None, ("de", "politik")),
    ]
    feeds_repo.set_enabled(engine, "a", False)
    assert [f.name for f in feeds_repo.list_feeds(engine, enabled_only=True)] == ["b"]
    feeds_repo.remove_feed(engine, "b")
    with pytest.raises(UnknownFeed):
        feeds_repo.get_feed(engine, "b")
    with pytest.raises(UnknownFeed):
        feeds_repo.set_enabled(engine, "nope", True)


def test_register_is_idempotent_and_keeps_pause(settings: Settings) -> None:
    engine = open_store(settings)
    assert feeds_repo.register_feeds(engine, [spec("a"), spec("b")]) == 2
    feeds_repo.set_enabled(engine, "a", False)
    feeds_repo.register_feeds(engine, [spec("a", language="de"), spec("b")])
    a = feeds_repo.get_feed(engine, "a")
    assert a.language == "de" and not a.enabled
    assert len(feeds_repo.list_feeds(engine)) == 2


def test_due_feeds(settings: Settings) -> None:
    engine = open_store(settings)
    feeds_repo.register_feeds(engine, [spec("never"), spec("later"), spec("now"), spec("paused")])
    feeds_repo.set_enabled(engine, "paused", False)
    with engine.begin() as conn:
        for name, when in (("later", NOW + timedelta(minutes=5)), ("now", NOW - timedelta(seconds=1))):
            state = feed_health_repo.get_state(conn, name)
            feed_health_repo.record_success(
                conn, name, state, at=NOW, etag=None, last_modified=None, not_modified=False, published=0,
                next_poll_at=when, outcome="no_new",
            )  # fmt: skip
    assert [f.name for f in feeds_repo.due_feeds(engine, NOW)] == ["never", "now"]
    assert [f.name for f in feeds_repo.due_feeds(engine, NOW + timedelta(hours=1))] == ["later", "never", "now"]


def test_health_report(settings: Settings) -> None:
    engine = open_store(settings)
    feeds_repo.register_feeds(engine, [spec("a"), spec("b")])
    with engine.begin() as conn:
        state = feed_health_repo.get_state(conn, "a")
        feed_health_repo.record_success(
            conn, "a", state, at=NOW, etag='"x"', last_modified=None, not_modified=True, published=0,
            next_poll_at=NOW, outcome="not_modified",
        )  # fmt: skip
        feed_health_repo.record_failure(
            conn, "b", feed_health_repo.get_state(conn, "b"), at=NOW, error="FetchTimeout: slow", next_poll_at=NOW
        )
    a, b = feed_health_repo.health_report(engine, NOW)
    assert (a.name, a.polls, a.not_modified_ratio, a.last_outcome) == ("a", 1, 1.0, "not_modified")
    assert (b.consecutive_failures, b.last_error, b.last_outcome) == (1, "FetchTimeout: slow", "failed")


def test_opml_import_nested_and_unique_names() -> None:
    specs = parse_opml((FIXTURES / "feeds.opml").read_bytes(), default_language="en")
    assert [(s.name, s.outlet, s.language, s.url) for s in specs] == [
        ("welt-politik", "WELT", "de", "https://www.welt.de/feeds/section/politik.rss"),
        ("bbc-news", "BBC News", "en", "https://feeds.bbci.co.uk/news/rss.xml"),
        ("bbc-news-2", "BBC News", "en", "https://feeds.bbci.co.uk/news/world/rss.xml"),
    ]


def test_opml_round_trip() -> None:
    specs = [spec("a", language="de"), spec("b")]
    assert [(s.name, s.url, s.outlet, s.language) for s in parse_opml(to_opml(specs))] == [
        (s.name, s.url, s.outlet, s.language) for s in specs
    ]


def test_opml_carries_tags_and_the_fulltext_switch() -> None:
    specs = [spec("a", tags=("de", "politik/inland"), fulltext=True), spec("b")]
    document = to_opml(specs)
    assert b'category="de,politik/inland"' in document and b'fulltext="true"' in document
    assert [(s.name, s.tags, s.fulltext) for s in parse_opml(document)] == [
        ("a", ("de", "politik/inland"), True),
        ("b", (), False),
    ]
    outline = b'<opml version="2.0"><body><outline text="X" xmlUrl="https://x.test/" category="/News, World,News"/>'
    [parsed] = parse_opml(outline + b"</body></opml>")
    assert parsed.tags == ("News", "World") and parsed.fulltext is False


def test_fulltext_switch_is_stored(settings: Settings) -> None:
    engine = open_store(settings)
    feeds_repo.add_feed(engine, spec("a", fulltext=True))
    feeds_repo.register_feeds(engine, [spec("b")])
    assert [(f.name, f.fulltext) for f in feeds_repo.list_feeds(engine)] == [("a", True), ("b", False)]
    feeds_repo.set_fulltext(engine, "a", False)
    feeds_repo.set_fulltext(engine, "b", True)
    assert [(f.name, f.fulltext) for f in feeds_repo.list_feeds(engine)] == [("a", False), ("b", True)]
    with pytest.raises(UnknownFeed):
        feeds_repo.set_fulltext(engine, "nope", True)


def test_the_production_feed_list() -> None:
    """config/feeds.production.opml parses (never fetched here): welt.de and other outlets, all https."""
    specs = parse_opml((REPO_ROOT / "config" / "feeds.production.opml").read_bytes())
    by_name = {s.name: s for s in specs}
    assert len(by_name) == len(specs) >= 20
    assert by_name["welt-neueste"].url == "https://www.welt.de/feeds/latest.rss"
    assert by_name["welt-politik"].url == "https://www.welt.de/feeds/section/politik.rss"
    assert all(s.url.startswith("https://") and s.enabled and not s.fulltext for s in specs)
    assert {s.language for s in specs} == {"de", "en", "fr", "es", "it", "nl"}
    assert len({s.host for s in specs}) >= 20  # many outlets, not one
    assert sum(s.language == "de" for s in specs) >= 10


def test_opml_refuses_entities_and_garbage() -> None:
    with pytest.raises(FeedParseError):
        parse_opml((FIXTURES / "billion_laughs.xml").read_bytes())
    with pytest.raises(FeedParseError):
        parse_opml(b"<opml><body><outline")
    with pytest.raises(FeedParseError, match="outline"):
        parse_opml(b'<opml version="2.0"><body><outline text="x" xmlUrl="file:///etc/passwd"/></body></opml>')
