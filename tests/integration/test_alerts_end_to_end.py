"""Acceptance of the growth alerts on the real engines: Kafka → worker (real model) → PostgreSQL → alerts.

A replayed stream of short synthetic articles with known stories: two steady background stories
and one that trickles for ten hours, then bursts (with a syndicated near-copy). The stream is
written to the Kafka articles topic, the worker stores it in PostgreSQL, and the alert job is
evaluated every 15 minutes of a simulated clock. Exactly one alert fires, for the bursting story's
topic; a real webhook receiver on 127.0.0.1 gets the JSON; the alert is on the Kafka alerts topic;
it resolves after the burst. In a second run a silence created before the burst holds everything back.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from clustering.worker import run_worker
from newsflow.alerts.evaluate import evaluate_alerts
from newsflow.alerts.silences import SilenceRequest, new_silence
from newsflow.contracts import AlertRecord, ArticleRecord, decode
from newsflow.kafka import make_producer, publish, topic_names
from newsflow.settings import Settings
from newsflow.store import alerts_repo, memberships_repo
from newsflow.store.database import open_store
from tests.integration.test_worker import _read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T0 = datetime(2025, 3, 10, 6, 0, tzinfo=UTC)
BURST_AT = T0 + timedelta(hours=10)
STREAM_END = BURST_AT + timedelta(hours=1)
EVALUATE_UNTIL = STREAM_END + timedelta(hours=3)
OUTLETS = ["reuters.com", "bbc.co.uk", "welt.de", "cnn.com", "lemonde.fr"]

BRIDGE = [
    "Crack found in steel cable of Hamburg's Köhlbrand bridge",
    "Köhlbrand bridge in Hamburg: engineers inspect cracked cable",
    "Hamburg port traffic slowed as Köhlbrand bridge cable crack is examined",
    "Inspectors measure crack in Köhlbrand bridge cable, Hamburg says",
    "Hamburg closes a lane on Köhlbrand bridge over cable crack",
    "Köhlbrand bridge cable crack: Hamburg orders more inspections",
    "Hamburg shuts Köhlbrand bridge completely after cable crack widens",
    "Köhlbrand bridge closure strands trucks at Hamburg port",
    "Hamburg port chaos as Köhlbrand bridge stays shut over cracked cable",
    "Engineers warn Köhlbrand bridge cable crack could take months to fix",
    "Hamburg mayor visits closed Köhlbrand bridge, promises quick cable repair",
    "Köhlbrand bridge shutdown: Hamburg reroutes port trucks through city",
    "Shipping firms count cost of Hamburg Köhlbrand bridge closure",
    "Hamburg Köhlbrand bridge cable crack sparks national bridge safety debate",
]
HARVEST = [
    "Bavarian farmers report early wheat harvest after dry spring",
    "Wheat harvest in Bavaria starts two weeks early",
    "Bavaria's wheat yields hold up despite the dry spring, farmers say",
    "Grain prices steady as Bavarian wheat harvest advances",
    "Bavarian wheat harvest: farmers worry about protein content",
    "Dry spring leaves Bavarian wheat fields short but harvest on track",
    "Bavarian farmers' union publishes first wheat harvest figures",
    "Wheat harvest nearly done in southern Bavaria",
    "Bavaria expects average wheat harvest after dry spring",
]
ELECTION = [
    "Lisbon mayoral race tightens ahead of Sunday vote",
    "Lisbon mayor candidates clash in final television debate",
    "Poll shows dead heat in Lisbon mayoral election",
    "Lisbon voters weigh housing costs before mayoral election",
    "Lisbon mayoral election: turnout expected to be low",
    "Lisbon mayoral candidates make last push for undecided voters",
    "Lisbon mayoral election campaign ends with rallies",
    "Lisbon mayoral election: what the candidates promise on housing",
    "Observers expect close result in Lisbon mayoral election",
]


def article(story: str, k: int, title: str, when: datetime, outlet: str, copy_of: str | None = None) -> ArticleRecord:
    article_id = f"{story}-{k}"
    return ArticleRecord(
        id=article_id, url=f"https://{outlet}/{article_id}", title=title, summary=title, published=when,
        fetched=when + timedelta(minutes=3), language="en", outlet=outlet, feed=f"{outlet}-main",
        content_hash=hashlib.sha256(f"{article_id}\n{title}".encode()).hexdigest(), near_duplicate_of=copy_of,
    )  # fmt: skip


def stream() -> list[ArticleRecord]:
    """Background every ~75 min; the bridge story every 2 h for 10 h, then 8 articles (and a near-copy) in 40 min."""
    out = [article("harvest", k, t, T0 + timedelta(minutes=75 * k + 10), OUTLETS[k % 5]) for k, t in enumerate(HARVEST)]
    out += [article("election", k, t, T0 + timedelta(minutes=75 * k + 40), OUTLETS[(k + 2) % 5])
            for k, t in enumerate(ELECTION)]  # fmt: skip
    slow, burst = BRIDGE[:5], BRIDGE[5:13]
    out += [article("bridge", k, t, T0 + timedelta(hours=2 * k, minutes=20), OUTLETS[k % 5])
            for k, t in enumerate(slow)]  # fmt: skip
    out += [article("bridge", 5 + k, t, BURST_AT + timedelta(minutes=5 * k), OUTLETS[k % 4])
            for k, t in enumerate(burst)]  # fmt: skip
    # A syndicated copy of a burst article on another outlet: one more row, not one more arrival.
    out.append(article("bridge", 99, burst[0], BURST_AT + timedelta(minutes=1), OUTLETS[4], copy_of="bridge-5"))
    return sorted(out, key=lambda r: (r.published, r.id))


@dataclass
class Receiver:
    """A real webhook receiver on 127.0.0.1, in a thread: records every JSON body and its Authorization."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            got.bodies.append(json.loads(self.rfile.read(length)))
            got.authorizations.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    yield got
    server.shutdown()
    server.server_close()


@pytest.fixture
def alert_settings(kafka_settings: Settings, postgres_settings: Settings, receiver: Receiver) -> Settings:
    return postgres_settings.model_copy(update={
        "kafka_topic_prefix": kafka_settings.kafka_topic_prefix, "alert_webhook_url": receiver.url,
        "alert_webhook_secret": SecretStr("hook-secret"), "alert_webhook_retries": 1,
        "alert_webhook_backoff_s": 0.1, "alert_webhook_timeout_s": 5.0,
    })  # fmt: skip


def replay_into_store(settings: Settings) -> tuple[Engine, int]:
    """Write the stream to Kafka, run the worker until idle; the bridge story's topic id."""
    records = stream()
    producer = make_producer(settings)
    try:
        publish(producer, topic_names(settings).articles, [(r.id, r) for r in records], timeout_s=30)
    finally:
        producer.close()
    report = run_worker(settings, until_idle=True, idle_timeout_s=3.0, clock=lambda: STREAM_END)
    assert report.stored == len(records) and report.dead_lettered == 0
    engine = open_store(settings)
    with engine.connect() as conn:
        members = memberships_repo.memberships_of(conn, [r.id for r in records])
    by_story: dict[str, Counter[int]] = {}
    for article_id, topic_id in members.items():
        by_story.setdefault(article_id.split("-")[0], Counter())[topic_id] += 1
    ((bridge_topic, size),) = by_story["bridge"].most_common(1)
    assert size >= 12, f"the bridge story should cluster together: {by_story}"
    assert bridge_topic not in by_story["harvest"] and bridge_topic not in by_story["election"]
    return engine, bridge_topic


def evaluate_every_15_minutes(settings: Settings, engine: Engine) -> list[dict[str, Any]]:
    reports = []
    when = T0 + timedelta(hours=1)
    while when <= EVALUATE_UNTIL:
        reports.append(evaluate_alerts(settings, when, engine=engine).as_dict())
        when += timedelta(minutes=15)
    return reports


def test_accelerating_story_fires_one_alert_notifies_and_resolves(alert_settings: Settings, receiver: Receiver) -> None:
    engine, bridge_topic = replay_into_store(alert_settings)
    reports = evaluate_every_15_minutes(alert_settings, engine)

    with engine.connect() as conn:
        episodes, total = alerts_repo.list_alerts(conn, "all")
        assert total == 1, [(a.topic_id, a.fired_at, a.summary) for a in episodes]
        (alert,) = episodes
        notified = alerts_repo.notifications_of(conn, alert.id)
    assert alert.topic_id == bridge_topic and alert.status == "resolved"
    assert BURST_AT < alert.fired_at <= BURST_AT + timedelta(minutes=45)
    assert alert.resolved_at is not None and alert.resolved_at > STREAM_END
    assert sum(r["fired"] for r in reports) == 1 and sum(r["resolved"] for r in reports) == 1

    assert [b["status"] for b in receiver.bodies] == ["firing", "resolved"]
    assert set(receiver.authorizations) == {"Bearer hook-secret"}
    fired_body = receiver.bodies[0]
    assert fired_body["version"] == "4" and fired_body["group_key"] == alert_settings.alert_rule_name
    assert [a["topic_id"] for a in fired_body["alerts"]] == [bridge_topic]
    assert fired_body["alerts"][0]["id"] == alert.id
    # Fired at 16:30 with burst articles 16:00..16:30 in the window: 7, the near-copy of 16:01 not counted.
    assert alert.fired_at == BURST_AT + timedelta(minutes=30)
    assert fired_body["alerts"][0]["details"]["recent_count"] == 7

    messages = _read_all(alert_settings, topic_names(alert_settings).alerts, 2)
    records = [decode(AlertRecord, m.value) for m in messages]
    assert [(r.event, r.alert_id, r.topic_id) for r in records] == [
        ("firing", alert.id, bridge_topic), ("resolved", alert.id, bridge_topic)]  # fmt: skip
    assert {m.key for m in messages} == {alert.fingerprint.encode()}
    assert {(n["sink"], n["event"], n["status"]) for n in notified} == {
        (sink, event, "sent") for sink in ("kafka", "webhook", "log") for event in ("firing", "resolved")}  # fmt: skip
    engine.dispose()


def test_silence_created_before_the_burst_suppresses_the_notification(
    alert_settings: Settings, receiver: Receiver
) -> None:
    engine, bridge_topic = replay_into_store(alert_settings)
    silence = new_silence(
        SilenceRequest({"topic_id": bridge_topic}, "known story, handled", "ops", duration=timedelta(days=1)),
        now=BURST_AT - timedelta(hours=2),
    )
    with engine.begin() as conn:
        alerts_repo.insert_silence(conn, silence)
    reports = evaluate_every_15_minutes(alert_settings, engine)

    with engine.connect() as conn:
        (alert,), total = alerts_repo.list_alerts(conn, "all")
        notified = alerts_repo.notifications_of(conn, alert.id)
    assert total == 1 and alert.topic_id == bridge_topic
    assert alert.silenced_by == silence.id and alert.notify_count == 0
    assert sum(r["silenced"] for r in reports) >= 1 and sum(r["fired"] for r in reports) == 0
    assert receiver.bodies == [] and notified == []
    assert _read_all(alert_settings, topic_names(alert_settings).alerts, 1, timeout_s=3.0) == []
    engine.dispose()
