"""Hostile input and secrets, through the public entry points, under the production configuration.

Feeds go through ``ingest.runner.run_polls`` (what the DAG task and ``newsflow ingest once`` run) with
``allow_private_feed_addresses=False``; each hostile case must end as a named error in the feed's
outcome and health row, with nothing published. Host names resolve through an injected resolver,
and where a "public" server is needed an ``httpx.MockTransport`` stands in for it (the fetcher then
checks every hop's address itself before handing it over). Secrets must not reach log records or
error messages. The REST API's key check and its search with SQL-looking input close the file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from ingest.runner import run_polls
from newsflow.errors import BrokerUnavailableError, StoreUnavailableError
from newsflow.records.feed import FeedSpec
from newsflow.settings import Settings
from newsflow.store import feed_health_repo, feeds_repo
from newsflow.store.database import open_store
from tests.fixtures.feeds.builders import Item, rss
from tests.fixtures.feeds.kafka_read import read_articles
from tests.fixtures.feeds.server import Reply, ScriptedServer

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
PUBLIC_IP = "93.184.216.34"  # only ever "resolved" to; MockTransport answers, no packet leaves the machine
FEED = rss([Item("A perfectly normal story", "http://news.example/1", published=datetime(2025, 2, 13, tzinfo=UTC))])
SECRETS = ("pg-Pa55word-zz9", "api-key-7d1f0c", "webhook-secret-41aa")


def resolver(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, _port: int) -> list[str]:
        return table.get(host, [PUBLIC_IP])

    return resolve


def production(settings: Settings, **extra: object) -> Settings:
    return settings.model_copy(update={"allow_private_feed_addresses": False, **extra})


def poll_one(settings: Settings, url: str, **kw: object) -> tuple[str, str]:
    """Register one feed, poll it through the public entry point; (outcome, error) plus the stored health."""
    engine = open_store(settings)
    feeds_repo.register_feeds(engine, [FeedSpec("hostile", url, "Hostile", poll_interval_s=0)])
    [outcome] = run_polls(settings, ["hostile"], **kw)  # type: ignore[arg-type]
    with engine.connect() as conn:
        health = feed_health_repo.get_state(conn, "hostile")
    engine.dispose()
    assert health.last_error == outcome.error  # the named error is also what operators see
    return outcome.outcome, outcome.error or ""


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/feed.xml",
        "http://[::1]:{port}/feed.xml",
        "http://0.0.0.0:{port}/feed.xml",
        "http://10.1.2.3/feed.xml",
        "http://192.168.0.10/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{port}/feed.xml",
    ],
)
def test_private_and_loopback_feed_urls_are_refused(kafka_settings: Settings, url: str) -> None:
    with ScriptedServer() as server:
        server.route("/feed.xml", Reply(200, FEED.encode()))
        port = server.base_url.rsplit(":", 1)[1]
        outcome, error = poll_one(production(kafka_settings), url.format(port=port))
        assert outcome == "failed" and error.startswith("UnsafeFeedUrl: ")
        assert server.requests_to("/feed.xml") == []  # refused before any connection
    assert read_articles(kafka_settings) == []


def test_a_dns_name_resolving_to_loopback_is_refused(kafka_settings: Settings) -> None:
    with ScriptedServer() as server:
        server.route("/feed.xml", Reply(200, FEED.encode()))
        port = server.base_url.rsplit(":", 1)[1]
        url = f"http://innocent.example:{port}/feed.xml"
        outcome, error = poll_one(
            production(kafka_settings), url, resolver=resolver({"innocent.example": [PUBLIC_IP, "127.0.0.1"]})
        )
        assert outcome == "failed" and error.startswith("UnsafeFeedUrl: ") and "127.0.0.1" in error
        assert server.requests_to("/feed.xml") == []


def test_a_redirect_to_loopback_is_refused(kafka_settings: Settings) -> None:
    asked: list[str] = []

    def public_site(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.host == "feeds.example":
            return httpx.Response(302, headers={"Location": "http://127.0.0.1:8080/admin/feed.xml"})
        return httpx.Response(200, content=FEED.encode())  # what the internal service would answer

    outcome, error = poll_one(
        production(kafka_settings), "http://feeds.example/rss", transport=httpx.MockTransport(public_site),
        resolver=resolver({}),
    )  # fmt: skip
    assert outcome == "failed" and error.startswith("UnsafeFeedUrl: ")
    assert asked == ["http://feeds.example/rss"]  # the redirect target was never requested
    assert read_articles(kafka_settings) == []


def test_entity_expansion_is_refused_by_name(kafka_settings: Settings) -> None:
    body = (FIXTURES / "billion_laughs.xml").read_bytes()
    transport = httpx.MockTransport(lambda _r: httpx.Response(200, content=body, headers={"Content-Type": "text/xml"}))
    outcome, error = poll_one(
        production(kafka_settings), "http://feeds.example/rss", transport=transport, resolver=resolver({})
    )
    assert outcome == "failed" and error.startswith("EntityExpansionRefused: ")
    assert read_articles(kafka_settings) == []


def test_an_oversized_body_is_refused_by_name(kafka_settings: Settings) -> None:
    padding = "<!-- " + "x" * 50_000 + " -->"
    body = FEED.replace("<channel>", f"<channel>{padding}").encode()
    transport = httpx.MockTransport(lambda _r: httpx.Response(200, content=body))
    outcome, error = poll_one(
        production(kafka_settings, http_max_body_bytes=20_000), "http://feeds.example/rss",
        transport=transport, resolver=resolver({}),
    )  # fmt: skip
    assert outcome == "failed" and error.startswith("BodyTooLarge: ")
    assert read_articles(kafka_settings) == []


# --- secrets ---------------------------------------------------------------------------------------------


def with_secrets(settings: Settings, **extra: object) -> Settings:
    return settings.model_copy(
        update={
            "database_password": SecretStr(SECRETS[0]),
            "api_keys": [SecretStr(SECRETS[1])],
            "alert_webhook_secret": SecretStr(SECRETS[2]),
            **extra,
        }
    )


def assert_no_secret(texts: list[str]) -> None:
    leaked = [(s, t[:200]) for t in texts for s in SECRETS if s in t]
    assert not leaked, f"secret in output: {leaked}"


def test_secrets_stay_out_of_store_errors_and_logs(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    unreachable = with_secrets(settings, database_url="postgresql+psycopg://newsflow@127.0.0.1:1/newsflow")
    with pytest.raises(StoreUnavailableError) as failed:
        open_store(unreachable)
    in_url = settings.model_copy(
        update={"database_url": f"postgresql+psycopg://newsflow:{SECRETS[0]}@127.0.0.1:1/newsflow"}
    )
    with pytest.raises(StoreUnavailableError) as failed_in_url:
        open_store(in_url)
    assert "***" in str(failed_in_url.value)  # the URL is shown, with its password masked
    texts = [str(failed.value), str(failed_in_url.value), repr(unreachable), str(unreachable.model_dump())]
    assert_no_secret(texts + [r.getMessage() for r in caplog.records])


def test_secrets_stay_out_of_broker_errors_and_logs(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    from newsflow.kafka import make_producer
    from newsflow.pipeline_status import collect_status

    caplog.set_level(logging.DEBUG)
    broken = with_secrets(
        settings, kafka_bootstrap_servers="127.0.0.1:1", kafka_bootstrap_timeout_ms=300, kafka_request_timeout_ms=300
    )
    with pytest.raises(BrokerUnavailableError) as failed:
        make_producer(broken)
    status = collect_status(broken)
    assert (status.section("consumer_lag").error or "").startswith("BrokerUnavailableError")
    assert_no_secret([str(failed.value), str(status.as_dict())] + [r.getMessage() for r in caplog.records])


# --- the REST API ----------------------------------------------------------------------------------------


@pytest.fixture
def api(settings: Settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from newsflow.api.app import create_app

    keyed = settings.model_copy(update={"api_keys": [SecretStr(SECRETS[1])]})
    open_store(keyed).dispose()  # the API never creates a store
    app = create_app(keyed)
    with TestClient(app) as client:
        yield app, client


def _concrete(path: str) -> str:
    return path.replace("{topic_id}", "1").replace("{silence_id}", "s1")


def test_every_api_route_but_health_needs_a_key(api, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    from fastapi.routing import APIRoute

    app, client = api
    caplog.set_level(logging.DEBUG)
    routes = [(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods if m != "HEAD"]
    guarded = [(m, p) for m, p in routes if p.startswith("/api/v1") and p != "/api/v1/health"]
    assert len(guarded) >= 8  # topics, search, detail, articles, timeline, lineage, alerts, silences
    for method, path in guarded:
        missing = client.request(method, _concrete(path))
        assert (missing.status_code, missing.json()) == (401, {"detail": "missing API key"}), (method, path)
        wrong = client.request(method, _concrete(path), headers={"X-API-Key": "not-the-key"})
        assert (wrong.status_code, wrong.json()) == (403, {"detail": "invalid API key"}), (method, path)
    assert client.get("/api/v1/health").status_code == 200
    ok = client.get("/api/v1/topics", headers={"Authorization": f"Bearer {SECRETS[1]}"})
    assert ok.status_code == 200
    assert_no_secret([r.getMessage() for r in caplog.records])


def test_search_with_sql_injection_returns_a_normal_result_and_changes_nothing(settings: Settings, api) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from newsflow.store import schema

    _app, client = api
    now = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
    engine = open_store(settings)
    with engine.begin() as conn:
        for k, label in enumerate(["flappy bird return", "unicredit loss"], start=1):
            conn.execute(
                schema.topics.insert().values(
                    id=k,
                    label=label,
                    keywords=label.split(),
                    representative_title=label.title(),
                    status="active",
                    first_seen=now,
                    last_seen=now,
                    article_count=3,
                    outlet_count=2,
                    outlets=["a", "b"],
                    languages=["en"],
                    hourly_counts={},
                    updated_at=now,
                )
            )
    headers = {"X-API-Key": SECRETS[1]}
    for q in ["' OR '1'='1", "flappy'; DROP TABLE topics; --", '" OR 1=1 --', "%' UNION SELECT id FROM alerts --"]:
        for path in ("/api/v1/topics/search", "/api/v1/topics"):
            reply = client.get(path, params={"q": q}, headers=headers)
            assert reply.status_code == 200, (path, q, reply.text)
            assert reply.json()["items"] == [], (path, q)  # matched literally: nothing has such a label
    assert [
        t["id"] for t in client.get("/api/v1/topics/search", params={"q": "flappy"}, headers=headers).json()["items"]
    ] == [1]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.topics)).scalar_one() == 2
    engine.dispose()
