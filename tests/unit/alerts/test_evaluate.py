"""The evaluation job over a real (SQLite) store: growth rows, one alert, dedup, resolve, failed sinks recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from newsflow.alerts.evaluate import EVALUATE_JOB, evaluate_alerts
from newsflow.alerts.lifecycle import TopicInfo
from newsflow.alerts.silences import SilenceRequest, new_silence
from newsflow.alerts.sinks import LogSink, Sink, WebhookSink
from newsflow.settings import Settings
from newsflow.store import alerts_repo, topics_repo
from newsflow.store.database import open_store
from newsflow.store.schema import topic_growth
from tests.unit.alerts.seed import add_topic, every

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
STEADY, BURST = 1, 2


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"alert_webhook_url": "http://hooks.example/a", "alert_webhook_retries": 1,
                                       "alert_webhook_backoff_s": 0.01})  # fmt: skip


@pytest.fixture
def store(hook_settings: Settings) -> Engine:
    engine = open_store(hook_settings)
    add_topic(engine, STEADY, "Steady budget talks", every(NOW - timedelta(hours=24), NOW, timedelta(minutes=30)))
    slow = every(NOW - timedelta(hours=20), NOW - timedelta(hours=1), timedelta(hours=1))
    burst = every(NOW - timedelta(minutes=56), NOW, timedelta(minutes=7))
    add_topic(engine, BURST, "Flood in the valley", slow + burst)
    return engine


class Hook:
    """A webhook receiver as an httpx transport: records bodies, answers with ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status, self.bodies = status, []  # type: int, list[dict[str, object]]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(self.status)

    def sinks(self, settings: Settings) -> Callable[[dict[int, TopicInfo]], list[Sink]]:
        return lambda infos: [LogSink(), WebhookSink(settings, infos, transport=httpx.MockTransport(self),
                                                     sleep=lambda _s: None)]  # fmt: skip


def growth_rows(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        return {r.topic_id: dict(r._mapping) for r in conn.execute(select(topic_growth))}


def test_burst_fires_one_alert_deduplicates_and_resolves(hook_settings: Settings, store: Engine) -> None:
    hook = Hook()
    report = evaluate_alerts(hook_settings, NOW, engine=store, sinks=hook.sinks(hook_settings))
    assert report.topics_evaluated == 2 and report.fired == 1 and report.deliveries_failed == 0
    growth = growth_rows(store)
    assert growth[BURST]["z_score"] >= hook_settings.alert_z_threshold > growth[STEADY]["z_score"]
    assert growth[BURST]["growth_score"] > growth[STEADY]["growth_score"] and growth[BURST]["recent_count"] == 9
    with store.connect() as conn:
        (alert,) = alerts_repo.firing_alerts(conn)
        assert alert.topic_id == BURST and "Flood in the valley" in alert.summary
        sent = {(n["sink"], n["event"], n["status"]) for n in alerts_repo.notifications_of(conn, alert.id)}
        assert topics_repo.last_job_run(conn, EVALUATE_JOB) is not None
    assert sent == {("log", "firing", "sent"), ("webhook", "firing", "sent")}
    assert [b["status"] for b in hook.bodies] == ["firing"]

    again = evaluate_alerts(hook_settings, NOW + timedelta(minutes=5), engine=store, sinks=hook.sinks(hook_settings))
    assert again.fired == 0 and again.firing == 1 and len(hook.bodies) == 1  # deduplicated

    later = NOW + timedelta(minutes=5) + timedelta(minutes=hook_settings.alert_resolve_after_minutes)
    done = evaluate_alerts(hook_settings, later, engine=store, sinks=hook.sinks(hook_settings))
    assert done.resolved == 1 and done.firing == 0
    assert [b["status"] for b in hook.bodies] == ["firing", "resolved"]
    with store.connect() as conn:
        (resolved,), total = alerts_repo.list_alerts(conn, "resolved")
    assert total == 1 and resolved.id == alert.id and resolved.resolved_at == later


def test_re_evaluating_the_same_time_opens_nothing_new(hook_settings: Settings, store: Engine) -> None:
    hook = Hook()
    evaluate_alerts(hook_settings, NOW, engine=store, sinks=hook.sinks(hook_settings))
    evaluate_alerts(hook_settings, NOW, engine=store, sinks=hook.sinks(hook_settings))
    with store.connect() as conn:
        _, total = alerts_repo.list_alerts(conn)
    assert total == 1 and len(hook.bodies) == 1


def test_failing_webhook_is_recorded_and_the_alert_still_stored(hook_settings: Settings, store: Engine) -> None:
    hook = Hook(status=500)
    report = evaluate_alerts(hook_settings, NOW, engine=store, sinks=hook.sinks(hook_settings))
    assert report.deliveries_failed == 1 and report.deliveries_sent == 1
    assert len(hook.bodies) == 1 + hook_settings.alert_webhook_retries
    with store.connect() as conn:
        (alert,) = alerts_repo.firing_alerts(conn)
        outcomes = {n["sink"]: n for n in alerts_repo.notifications_of(conn, alert.id)}
    assert outcomes["webhook"]["status"] == "failed" and outcomes["webhook"]["attempts"] == 2
    assert outcomes["webhook"]["last_error"].startswith("HTTPStatusError")
    assert outcomes["log"]["status"] == "sent"


def test_silenced_alert_is_stored_with_its_silence(hook_settings: Settings, store: Engine) -> None:
    silence = new_silence(SilenceRequest({"label_contains": "flood"}, "known", "ops", timedelta(hours=4)),
                          NOW - timedelta(hours=1))  # fmt: skip
    with store.begin() as conn:
        alerts_repo.insert_silence(conn, silence)
    hook = Hook()
    report = evaluate_alerts(hook_settings, NOW, engine=store, sinks=hook.sinks(hook_settings))
    assert report.silenced == 1 and report.fired == 0 and hook.bodies == []
    with store.connect() as conn:
        (alert,) = alerts_repo.firing_alerts(conn)
        assert alert.silenced_by == silence.id and alerts_repo.notifications_of(conn, alert.id) == []


def test_growth_of_topics_without_recent_arrivals_is_cleared(hook_settings: Settings, store: Engine) -> None:
    evaluate_alerts(hook_settings, NOW, engine=store, sinks=Hook().sinks(hook_settings))
    much_later = NOW + timedelta(days=5)
    report = evaluate_alerts(hook_settings, much_later, engine=store, sinks=Hook().sinks(hook_settings))
    assert report.resolved == 1
    growth = growth_rows(store)
    assert {g["z_score"] for g in growth.values()} == {0.0} and all(
        g["evaluated_at"] == much_later for g in growth.values()
    )
