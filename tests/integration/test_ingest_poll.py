"""Ingestion acceptance cases against a local HTTP server and the real Kafka broker.

Each case polls the feed under test together with a healthy control feed in one run and
checks the named outcome, the feed's health row, and exactly what reached the topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ingest.poll import PollOutcome
from ingest.runner import run_polls
from newsflow.contracts import ArticleRecord
from newsflow.errors import UnknownFeed
from newsflow.records.feed import FeedSpec
from newsflow.settings import Settings
from newsflow.store import feed_health_repo, feeds_repo
from newsflow.store.database import open_store
from tests.fixtures.feeds.builders import Item, rss
from tests.fixtures.feeds.kafka_read import read_articles
from tests.fixtures.feeds.server import Reply, Route, ScriptedServer, conditional

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
ARTICLE = (FIXTURES / "article.html").read_bytes()
T0 = datetime(2025, 2, 13, 6, 0, tzinfo=UTC)
CONTROL = rss(
    [
        Item("Control one", "http://control.test/1", published=T0),
        Item("Control two", "http://control.test/2", published=T0),
    ]
)
WIRE = (
    "Kyiv and Washington are close to an agreement that would give the United States a share of Ukraine's "
    "rare earth minerals in return for continued support, officials in both capitals said on Thursday. The "
    "draft, seen by reporters, sets up a joint investment fund into which Ukraine would pay half of its future "
    "revenue from state-owned mineral resources, oil and gas. President Volodymyr Zelensky had rejected an "
    "earlier version that asked for 500 billion dollars without security guarantees, and his aides said the "
    "new text still left the question of guarantees open. Treasury Secretary Scott Bessent is expected to "
    "discuss the deal with European partners at the Munich Security Conference on Friday."
)


@dataclass
class World:
    settings: Settings
    engine: Engine
    server: ScriptedServer

    def feed(self, name: str, route: Route, *, path: str | None = None, **kw: object) -> FeedSpec:
        spec = FeedSpec(name, self.server.route(path or f"/{name}.xml", route), name.title(), poll_interval_s=0, **kw)  # type: ignore[arg-type]
        feeds_repo.register_feeds(self.engine, [spec])
        return spec

    def poll(self, *names: str, settings: Settings | None = None) -> dict[str, PollOutcome]:
        return {o.feed: o for o in run_polls(settings or self.settings, list(names))}

    def health(self, name: str) -> feed_health_repo.FeedState:
        with self.engine.connect() as conn:
            return feed_health_repo.get_state(conn, name)

    def published(self) -> list[ArticleRecord]:
        pairs = read_articles(self.settings)
        assert all(key == record.id for key, record in pairs)  # keyed by article id
        return [record for _, record in pairs]


@pytest.fixture
def world(kafka_settings: Settings) -> Iterator[World]:
    settings = kafka_settings.model_copy(
        update={
            "http_connect_timeout_s": 0.5,
            "http_read_timeout_s": 0.5,
            "http_total_timeout_s": 5.0,
            "http_max_body_bytes": 1_000_000,
            "max_poll_interval_s": 0,
        }
    )
    engine = open_store(settings)
    with ScriptedServer() as server:
        w = World(settings, engine, server)
        w.feed("control", Reply(200, CONTROL.encode(), {"Content-Type": "application/rss+xml"}))
        yield w
    engine.dispose()


def assert_failed_alone(world: World, outcomes: dict[str, PollOutcome], name: str, error_prefix: str) -> None:
    """The feed failed with the named error, recorded in health; the control feed published as usual."""
    outcome = outcomes[name]
    assert outcome.outcome == "failed", outcome
    assert outcome.error is not None and outcome.error.startswith(error_prefix), outcome.error
    health = world.health(name)
    assert health.consecutive_failures == 1 and health.last_error == outcome.error
    assert outcomes["control"].outcome == "published" and outcomes["control"].published == 2
    assert sorted(r.title for r in world.published()) == ["Control one", "Control two"]


def test_etag_round_trip(world: World) -> None:
    doc = rss([Item("Etag story", "http://news.test/etag", published=T0)]).encode()
    world.feed("etag", conditional(doc, etag='"v1"'))
    first = world.poll("etag", "control")
    assert first["etag"].outcome == "published" and world.health("etag").etag == '"v1"'
    second = world.poll("etag", "control")
    assert second["etag"].outcome == "not_modified"
    assert world.server.requests_to("/etag.xml")[1].headers["if-none-match"] == '"v1"'
    assert "newsflow" in world.server.requests_to("/etag.xml")[0].headers["user-agent"]
    assert second["control"].outcome == "no_new"  # no validators: fetched again, deduplicated
    assert sorted(r.title for r in world.published()) == ["Control one", "Control two", "Etag story"]
    health = world.health("etag")
    assert (health.polls, health.not_modified, health.articles_published) == (2, 1, 1)


def test_last_modified_round_trip(world: World) -> None:
    stamp = "Thu, 13 Feb 2025 06:00:00 GMT"
    doc = rss([Item("Dated story", "http://news.test/lm", published=T0)]).encode()
    world.feed("lm", conditional(doc, last_modified=stamp))
    assert world.poll("lm")["lm"].outcome == "published"
    assert world.health("lm").last_modified == stamp
    assert world.poll("lm")["lm"].outcome == "not_modified"
    assert world.server.requests_to("/lm.xml")[1].headers["if-modified-since"] == stamp
    assert [r.title for r in world.published()] == ["Dated story"]


def test_429_with_retry_after(world: World) -> None:
    world.feed("limited", Reply(429, headers={"Retry-After": "3600"}))
    before = datetime.now(UTC)
    outcomes = world.poll("limited", "control")
    assert_failed_alone(world, outcomes, "limited", "RateLimited: HTTP 429")
    next_poll = world.health("limited").next_poll_at
    assert next_poll is not None and next_poll >= before + timedelta(seconds=3600)
    assert "limited" not in [f.name for f in feeds_repo.due_feeds(world.engine, datetime.now(UTC))]


def test_server_that_never_answers(world: World) -> None:
    world.feed("silent", Reply(200, rss([]).encode(), delay_s=10))
    outcomes = world.poll("silent", "control")
    assert_failed_alone(world, outcomes, "silent", "FetchTimeout")


def test_oversized_body_refused(world: World) -> None:
    head = rss([Item("Huge", "http://news.test/huge")]).encode().replace(b"</channel></rss>", b"")
    # 50 MB streamed without a Content-Length, as in the acceptance case; the limit here is 1 MB.
    world.feed("huge", Reply(200, head, {"Content-Type": "application/rss+xml"}, filler_bytes=50_000_000))
    outcomes = world.poll("huge", "control")
    assert_failed_alone(world, outcomes, "huge", "BodyTooLarge")


def test_malformed_xml(world: World) -> None:
    world.feed("malformed", Reply(200, (FIXTURES / "malformed.xml").read_bytes()))
    outcomes = world.poll("malformed", "control")
    assert_failed_alone(world, outcomes, "malformed", "FeedParseError: malformed feed")


def test_wrong_charset_declaration(world: World) -> None:
    world.feed("cp1252", Reply(200, (FIXTURES / "cp1252_declared_utf8.xml").read_bytes()))
    utf8 = (FIXTURES / "utf8_declared_latin1.xml").read_bytes().replace(b"/mueller", b"/mueller-2")
    world.feed("utf8", Reply(200, utf8, {"Content-Type": "text/xml; charset=iso-8859-1"}))
    outcomes = world.poll("cp1252", "utf8", "control")
    assert outcomes["cp1252"].outcome == "published" and outcomes["utf8"].outcome == "published"
    records = [r for r in world.published() if r.feed != "control"]
    assert [(r.url, r.title, r.summary) for r in records] == [
        ("http://example.test/mueller", "„Müller“ gewinnt", "Straße – café"),
        ("http://example.test/mueller-2", "„Müller“ gewinnt", "Straße – café"),
    ]


def test_redirect_loop(world: World) -> None:
    world.feed("loop", Reply(302, headers={"Location": "/loop-b.xml"}))
    world.server.route("/loop-b.xml", Reply(302, headers={"Location": "/loop.xml"}))
    outcomes = world.poll("loop", "control")
    assert_failed_alone(world, outcomes, "loop", "TooManyRedirects: redirect loop")


def test_same_item_in_two_feeds_is_published_once(world: World) -> None:
    shared = Item("Shared story", "http://news.test/shared?utm_source=a", published=T0, description="From A")
    world.feed("feed-a", Reply(200, rss([shared]).encode()))
    other = Item("Shared story", "http://news.test/shared?utm_source=b", published=T0, description="From B")
    world.feed("feed-b", Reply(200, rss([other, Item("Only in B", "http://news.test/b-only", published=T0)]).encode()))
    outcomes = world.poll("feed-a", "feed-b")
    assert (outcomes["feed-a"].published, outcomes["feed-b"].published, outcomes["feed-b"].duplicates) == (1, 1, 1)
    records = world.published()
    assert [(r.url, r.feed, r.summary) for r in records] == [
        ("http://news.test/shared", "feed-a", "From A"),
        ("http://news.test/b-only", "feed-b", ""),
    ]


def test_same_guid_with_changed_text_is_one_revision(world: World) -> None:
    def doc(text: str) -> bytes:
        return rss([Item("Developing story", guid="story-42", description=text, published=T0)]).encode()

    replies = {"body": doc("First version.")}
    world.feed("live", lambda request: Reply(200, replies["body"]))
    assert world.poll("live")["live"].published == 1
    replies["body"] = doc("First version. Update: more details.")
    second = world.poll("live")["live"]
    assert (second.published, second.revisions) == (1, 1)
    assert world.poll("live")["live"].outcome == "no_new"
    first, revision = world.published()
    assert first.id == revision.id and first.url == "story-42"
    assert (first.revision, revision.revision) == (1, 2)
    assert revision.summary == "First version. Update: more details."


def test_syndicated_near_copy_is_linked(world: World) -> None:
    world.feed(
        "wire",
        Reply(
            200,
            rss(
                [Item("Ukraine close to minerals deal", "http://wire.test/minerals", description=WIRE, published=T0)]
            ).encode(),
        ),
    )
    copy = WIRE.replace("said on Thursday", "said Thursday") + " (Reuters)"
    world.feed(
        "paper",
        Reply(
            200,
            rss(
                [
                    Item(
                        "Ukraine close to minerals deal",
                        "http://paper.test/world/minerals",
                        description=copy,
                        published=T0 + timedelta(minutes=20),
                    )
                ]
            ).encode(),
        ),
    )
    outcomes = world.poll("wire", "paper")
    assert outcomes["paper"].near_duplicates == 1
    original, linked = world.published()
    assert (original.url, original.near_duplicate_of) == ("http://wire.test/minerals", None)
    assert (linked.url, linked.near_duplicate_of) == ("http://paper.test/world/minerals", original.id)


def test_billion_laughs_refused(world: World) -> None:
    world.feed("lolz", Reply(200, (FIXTURES / "billion_laughs.xml").read_bytes()))
    outcomes = world.poll("lolz", "control")
    assert_failed_alone(world, outcomes, "lolz", "EntityExpansionRefused")


def test_private_address_refused_under_production_config(world: World) -> None:
    production = world.settings.model_copy(update={"allow_private_feed_addresses": False})
    world.feed("private", Reply(200, CONTROL.encode()))
    for name, url in (
        ("metadata", "http://169.254.169.254/latest/meta-data"),
        ("localhost", "http://localhost:9/x.xml"),
    ):
        feeds_repo.register_feeds(world.engine, [FeedSpec(name, url, name)])
    outcomes = world.poll("private", "metadata", "localhost", settings=production)
    for name in ("private", "metadata", "localhost"):
        assert outcomes[name].outcome == "failed" and (outcomes[name].error or "").startswith("UnsafeFeedUrl"), (
            outcomes[name]
        )
    assert world.server.requests_to("/private.xml") == []  # refused before any request
    assert world.published() == []


def test_fulltext_feed_publishes_the_page_text_and_keeps_teasers_on_failure(world: World) -> None:
    page = world.server.route("/pages/minerals", Reply(200, ARTICLE, {"Content-Type": "text/html; charset=utf-8"}))
    missing = world.server.url("/pages/missing")  # 404
    doc = rss(
        [
            Item("Ukraine close to minerals deal", page, description="Kyiv nears a deal.", published=T0),
            Item("Missing page", missing, description="Only a teaser.", published=T0),
        ]
    ).encode()
    world.feed("teasers", Reply(200, doc), fulltext=True)
    outcome = world.poll("teasers", "control")["teasers"]
    assert (outcome.outcome, outcome.published, outcome.fulltext, outcome.fulltext_failed) == ("published", 2, 1, 1)
    records = {r.title: r for r in world.published()}
    full = records["Ukraine close to minerals deal"]
    assert "half of its future revenue" in full.content and full.summary == "Kyiv nears a deal."
    assert (records["Missing page"].summary, records["Missing page"].content) == ("Only a teaser.", "")
    assert records["Control one"].content == ""  # full text is per feed: the control feed's links are not fetched
    assert world.poll("teasers")["teasers"].outcome == "no_new"
    assert len(world.server.requests_to("/pages/minerals")) == 1  # pages are fetched for new articles only


def test_a_feed_removed_after_listing_is_reported_not_fatal(world: World) -> None:
    with pytest.raises(UnknownFeed):
        world.poll("control", "gone")
    outcomes = run_polls(world.settings, ["gone", "control"], missing_ok=True)
    assert [(o.feed, o.outcome) for o in outcomes] == [("gone", "removed"), ("control", "published")]


def test_the_same_polls_on_postgresql(postgres_settings: Settings) -> None:
    """The repositories' upserts and band lookups on PostgreSQL: publish, dedupe, revise, link, record health."""
    settings = postgres_settings.model_copy(update={"max_poll_interval_s": 0})
    engine = open_store(settings)
    with ScriptedServer() as server:
        wire = Item("Ukraine close to minerals deal", "http://wire.test/minerals", description=WIRE, published=T0)
        copy = Item("Minerals deal near", "http://paper.test/m", description=WIRE + " (Reuters)", published=T0)
        bodies = {"a": rss([wire]).encode(), "b": rss([copy, wire]).encode()}
        specs = [
            FeedSpec(n, server.route(f"/{n}.xml", lambda r, n=n: Reply(200, bodies[n])), n, poll_interval_s=0)  # type: ignore[misc]
            for n in ("a", "b")
        ]
        feeds_repo.register_feeds(engine, specs)
        first = {o.feed: o for o in run_polls(settings, ["a", "b"])}
        bodies["a"] = rss([Item(wire.title, wire.link, description=WIRE + " Updated.", published=T0)]).encode()
        second = {o.feed: o for o in run_polls(settings)}
    assert (first["a"].published, first["b"].published, first["b"].near_duplicates, first["b"].duplicates) == (
        1,
        1,
        1,
        1,
    )
    assert (second["a"].revisions, second["b"].outcome) == (1, "no_new")
    original, linked, revision = (r for _, r in read_articles(settings))
    assert linked.near_duplicate_of == original.id and (revision.id, revision.revision) == (original.id, 2)
    with engine.connect() as conn:
        assert feed_health_repo.get_state(conn, "a").polls == 2
    engine.dispose()
