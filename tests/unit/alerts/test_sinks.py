"""Sinks: webhook body, retries with backoff, timeout, failures recorded, other sinks unaffected."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from pydantic import SecretStr

from newsflow.alerts.lifecycle import Notification, TopicInfo
from newsflow.alerts.sinks import KafkaSink, LogSink, WebhookSink, deliver_groups, webhook_body
from newsflow.contracts import AlertRecord, decode
from newsflow.errors import BrokerUnavailableError
from newsflow.records.alert import Alert, Delivery
from newsflow.settings import Settings

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
TOPICS = {1: TopicInfo(label="Flappy Bird returns", article_count=9), 2: TopicInfo(label="Unicredit", article_count=4)}


def note(topic_id: int, event: str = "firing") -> Notification:
    alert = Alert(f"topic_growth:{topic_id}@x", f"topic_growth:{topic_id}", "topic_growth", topic_id, "topic_growth",
                  "firing", f"topic {topic_id} grows", NOW, details={"z_score": 4.2})  # fmt: skip
    return Notification(alert, event)  # type: ignore[arg-type]


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "alert_webhook_url": "http://hooks.example/alert", "alert_webhook_retries": 3,
        "alert_webhook_backoff_s": 0.5, "alert_webhook_timeout_s": 0.3,
    })  # fmt: skip


class Recorder:
    def __init__(self, responses: Sequence[int | Exception]) -> None:
        self.responses, self.requests = list(responses), []  # type: list[int | Exception], list[httpx.Request]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome, json={})


def webhook(settings: Settings, recorder: Recorder, sleeps: list[float]) -> WebhookSink:
    return WebhookSink(settings, TOPICS, transport=httpx.MockTransport(recorder), sleep=sleeps.append)


def test_webhook_body_is_alertmanager_like() -> None:
    body = webhook_body("topic_growth", [note(1), note(2, "repeat")], TOPICS)
    assert body["version"] == "4" and body["group_key"] == "topic_growth" and body["status"] == "firing"
    assert [a["topic_id"] for a in body["alerts"]] == [1, 2]
    first = body["alerts"][0]
    assert first["labels"] == {"alertname": "topic_growth", "topic_id": "1", "topic_label": "Flappy Bird returns"}
    assert first["event"] == "firing" and first["startsAt"] == NOW.isoformat() and first["endsAt"] is None
    assert body["alerts"][1]["event"] == "repeat"


def test_webhook_sends_one_post_per_group_with_the_bearer_secret(hook_settings: Settings) -> None:
    recorder, sleeps = Recorder([200]), []  # type: Recorder, list[float]
    sink = webhook(hook_settings.model_copy(update={"alert_webhook_secret": SecretStr("s3cret")}), recorder, sleeps)
    done = sink.deliver("topic_growth", [note(1), note(2)], NOW)
    assert [(d.alert_id, d.status, d.attempts) for d in done] == [
        ("topic_growth:1@x", "sent", 1), ("topic_growth:2@x", "sent", 1)]  # fmt: skip
    (request,) = recorder.requests
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert len(json.loads(request.content)["alerts"]) == 2 and sleeps == []


def test_webhook_retries_with_exponential_backoff_then_succeeds(hook_settings: Settings) -> None:
    recorder, sleeps = Recorder([500, 503, 200]), []  # type: Recorder, list[float]
    (done,) = webhook(hook_settings, recorder, sleeps).deliver("g", [note(1)], NOW)
    assert done.status == "sent" and done.attempts == 3 and done.last_error is None
    assert sleeps == [0.5, 1.0] and len(recorder.requests) == 3


def test_webhook_failing_every_try_is_recorded_as_failed(hook_settings: Settings) -> None:
    recorder, sleeps = Recorder([500]), []  # type: Recorder, list[float]
    (done,) = webhook(hook_settings, recorder, sleeps).deliver("g", [note(1)], NOW)
    assert done.status == "failed" and done.attempts == 4 == len(recorder.requests)
    assert done.last_error is not None and done.last_error.startswith("HTTPStatusError")
    assert sleeps == [0.5, 1.0, 2.0]


def test_webhook_client_error_is_not_retried(hook_settings: Settings) -> None:
    recorder, sleeps = Recorder([404]), []  # type: Recorder, list[float]
    (done,) = webhook(hook_settings, recorder, sleeps).deliver("g", [note(1)], NOW)
    assert done.status == "failed" and done.attempts == 1 and "HTTP 404" in (done.last_error or "")


class SlowHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        time.sleep(1.0)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_webhook_timeout_on_a_real_socket_is_retried_and_recorded(hook_settings: Settings, slow_server: str) -> None:
    settings = hook_settings.model_copy(update={"alert_webhook_url": slow_server, "alert_webhook_retries": 1})
    sleeps: list[float] = []
    started = time.monotonic()
    (done,) = WebhookSink(settings, TOPICS, sleep=sleeps.append).deliver("g", [note(1)], NOW)
    assert done.status == "failed" and done.attempts == 2 and (done.last_error or "").startswith("ReadTimeout")
    assert time.monotonic() - started < 1.5  # bounded by the timeout, not the server's 1 s per request
    assert sleeps == [0.5]


class Exploding:
    name = "exploding"

    def deliver(self, group_key: str, batch: Sequence[Notification], now: datetime) -> list[Delivery]:
        raise RuntimeError("bug in a sink")

    def close(self) -> None:
        return None


def test_a_failing_sink_blocks_neither_other_sinks_nor_other_groups(hook_settings: Settings) -> None:
    sleeps: list[float] = []
    dead_hook = webhook(hook_settings, Recorder([httpx.ConnectError("refused")]), sleeps)
    groups = {"g1": [note(1)], "g2": [note(2)]}
    done = deliver_groups([dead_hook, Exploding(), LogSink()], groups, NOW)
    by_sink = {(d.sink, d.alert_id): d for d in done}
    assert len(done) == 6
    assert all(by_sink[("log", f"topic_growth:{t}@x")].status == "sent" for t in (1, 2))
    assert all(by_sink[("webhook", f"topic_growth:{t}@x")].status == "failed" for t in (1, 2))
    assert by_sink[("exploding", "topic_growth:1@x")].last_error == "RuntimeError: bug in a sink"


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> FakeFuture:
        self.sent.append((topic, key, value))
        return FakeFuture()

    def flush(self, timeout: float) -> None:
        return None

    def close(self, timeout: float) -> None:
        return None


class FakeFuture:
    def get(self, timeout: float) -> None:
        return None


def test_kafka_sink_publishes_one_record_per_alert_keyed_by_fingerprint(settings: Settings) -> None:
    producer = FakeProducer()
    sink = KafkaSink(settings, TOPICS, producer_factory=lambda _s: producer)
    done = sink.deliver("g", [note(1), note(2, "repeat")], NOW)
    assert [d.status for d in done] == ["sent", "sent"]
    assert [k for _t, k, _v in producer.sent] == [b"topic_growth:1", b"topic_growth:2"]
    record = decode(AlertRecord, producer.sent[1][2])
    assert record.event == "repeat" and record.label == "Unicredit" and record.article_count == 4
    assert producer.sent[0][0] == f"{settings.kafka_topic_prefix}news.alerts"


def test_kafka_sink_without_a_broker_records_failures_and_tries_to_connect_once(settings: Settings) -> None:
    tries: list[Settings] = []

    def no_broker(s: Settings) -> FakeProducer:
        tries.append(s)
        raise BrokerUnavailableError("Kafka broker at x unreachable")

    sink = KafkaSink(settings, TOPICS, producer_factory=no_broker)
    done = deliver_groups([sink, LogSink()], {"g1": [note(1)], "g2": [note(2)]}, NOW)
    kafka = [d for d in done if d.sink == "kafka"]
    assert [d.status for d in kafka] == ["failed", "failed"] and len(tries) == 1
    assert all((d.last_error or "").startswith("BrokerUnavailableError") for d in kafka)
    assert [d.status for d in done if d.sink == "log"] == ["sent", "sent"]


def test_an_empty_webhook_secret_sends_no_authorization_header(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # docker/compose.yaml passes NEWSFLOW_ALERT_WEBHOOK_SECRET= when unset: that must mean "no token", not "Bearer ".
    settings = Settings(state_dir=tmp_path, alert_webhook_url="http://hooks.test/x", alert_webhook_secret=SecretStr(""))
    assert "authorization" not in WebhookSink(settings, TOPICS).client.headers
    settings = settings.model_copy(update={"alert_webhook_secret": SecretStr("s3")})
    assert WebhookSink(settings, TOPICS).client.headers["authorization"] == "Bearer s3"
