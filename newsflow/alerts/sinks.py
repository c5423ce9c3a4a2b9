"""Where alert notifications go: the alerts Kafka topic, a webhook, the log.

Each sink takes one group's batch of notifications and returns one ``Delivery`` per alert: the
outcome the evaluation stores in ``alert_notifications``. A sink never raises for a failed
delivery (it is recorded as ``failed`` with the error's name), so a dead webhook blocks neither
the other sinks nor the other groups.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

import httpx

from newsflow.alerts.lifecycle import Notification, TopicInfo
from newsflow.contracts import AlertRecord
from newsflow.errors import AlertDeliveryError, BrokerUnavailableError
from newsflow.kafka import Producer, make_producer, publish, topic_names
from newsflow.records.alert import Delivery
from newsflow.settings import Settings

log = logging.getLogger(__name__)
WEBHOOK_VERSION = "4"  # the Alertmanager webhook payload version this body imitates
_MAX_ERROR_CHARS = 300


class Sink(Protocol):
    name: str

    def deliver(self, group_key: str, batch: Sequence[Notification], now: datetime) -> list[Delivery]: ...

    def close(self) -> None: ...


def outcomes(
    sink: str, batch: Sequence[Notification], now: datetime, attempts: int = 1, error: str | None = None
) -> list[Delivery]:
    status: Literal["sent", "failed"] = "failed" if error else "sent"
    return [Delivery(n.alert.id, sink, n.event, status, attempts, error, now) for n in batch]


def error_name(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]


def alert_record(n: Notification, info: TopicInfo, now: datetime) -> AlertRecord:
    a = n.alert
    return AlertRecord(
        alert_id=a.id, topic_id=a.topic_id, rule=a.rule, status=a.status, label=info.label,
        article_count=info.article_count, at=now, details=dict(a.details), fingerprint=a.fingerprint,
        group_key=a.group_key, event=n.event, summary=a.summary, fired_at=a.fired_at, resolved_at=a.resolved_at,
    )  # fmt: skip


def webhook_body(group_key: str, batch: Sequence[Notification], topics: Mapping[int, TopicInfo]) -> dict[str, Any]:
    """An Alertmanager-like webhook payload: the group is firing while any of its alerts is."""
    status = "firing" if any(n.alert.status == "firing" for n in batch) else "resolved"
    alerts = []
    for n in batch:
        a, info = n.alert, topics.get(n.alert.topic_id, TopicInfo())
        alerts.append({
            "id": a.id, "fingerprint": a.fingerprint, "status": a.status, "event": n.event,
            "labels": {"alertname": a.rule, "topic_id": str(a.topic_id), "topic_label": info.label},
            "annotations": {"summary": a.summary},
            "startsAt": a.fired_at.isoformat(), "endsAt": a.resolved_at.isoformat() if a.resolved_at else None,
            "topic_id": a.topic_id, "details": dict(a.details),
        })  # fmt: skip
    return {"version": WEBHOOK_VERSION, "receiver": "newsflow", "group_key": group_key, "status": status,
            "alerts": alerts}  # fmt: skip


class LogSink:
    name = "log"

    def deliver(self, group_key: str, batch: Sequence[Notification], now: datetime) -> list[Delivery]:
        for n in batch:
            log.warning("alert %s %s [%s]: %s", n.event, n.alert.id, group_key, n.alert.summary)
        return outcomes(self.name, batch, now)

    def close(self) -> None:
        return None


class KafkaSink:
    """One ``AlertRecord`` per alert on the alerts topic, keyed by fingerprint, acknowledged (acks=all)."""

    name = "kafka"

    def __init__(
        self,
        settings: Settings,
        topics: Mapping[int, TopicInfo],
        producer_factory: Callable[[Settings], Producer] | None = None,
    ) -> None:
        self.settings, self.topics = settings, topics
        self._factory = producer_factory or make_producer
        self._producer: Producer | None = None
        self._no_broker: str | None = None  # set when the producer could not even be created

    def deliver(self, group_key: str, batch: Sequence[Notification], now: datetime) -> list[Delivery]:
        if self._no_broker is not None:  # fail fast: each further group would wait the bootstrap timeout again
            return outcomes(self.name, batch, now, error=self._no_broker)
        records = [(n.alert.fingerprint, alert_record(n, self.topics.get(n.alert.topic_id, TopicInfo()), now))
                   for n in batch]  # fmt: skip
        try:
            if self._producer is None:
                try:
                    self._producer = self._factory(self.settings)
                except BrokerUnavailableError as exc:
                    self._no_broker = error_name(exc)
                    raise
            publish(self._producer, topic_names(self.settings).alerts, records,
                    self.settings.kafka_request_timeout_ms / 1000)  # fmt: skip
        except BrokerUnavailableError as exc:
            log.warning("alerts of group %s not published to Kafka: %s", group_key, exc)
            return outcomes(self.name, batch, now, error=error_name(exc))
        return outcomes(self.name, batch, now)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self.settings.kafka_request_timeout_ms / 1000)
            self._producer = None


class WebhookSink:
    """JSON POST per group with a timeout; 5xx, 429 and transport errors retried with exponential backoff."""

    name = "webhook"

    def __init__(
        self,
        settings: Settings,
        topics: Mapping[int, TopicInfo],
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url, self.topics, self.sleep = settings.alert_webhook_url, topics, sleep
        self.tries = 1 + max(settings.alert_webhook_retries, 0)
        self.backoff_s = settings.alert_webhook_backoff_s
        headers = {"Content-Type": "application/json"}
        if settings.alert_webhook_secret is not None and settings.alert_webhook_secret.get_secret_value():
            headers["Authorization"] = f"Bearer {settings.alert_webhook_secret.get_secret_value()}"
        # Plain httpx on purpose: the webhook is configured by the operator (loopback is fine), unlike feeds.
        self.client = httpx.Client(timeout=settings.alert_webhook_timeout_s, headers=headers, transport=transport)

    def deliver(self, group_key: str, batch: Sequence[Notification], now: datetime) -> list[Delivery]:
        body = webhook_body(group_key, batch, self.topics)
        for attempt in range(1, self.tries + 1):
            try:
                self._post(body)
                return outcomes(self.name, batch, now, attempts=attempt)
            except AlertDeliveryError as exc:  # not worth retrying (4xx)
                return self._failed(group_key, batch, now, attempt, exc)
            except httpx.HTTPError as exc:
                if attempt == self.tries:
                    return self._failed(group_key, batch, now, attempt, exc)
                delay = self.backoff_s * 2 ** (attempt - 1)
                log.info("webhook try %d for group %s failed (%s); again in %.1fs", attempt, group_key,
                         type(exc).__name__, delay)  # fmt: skip
                self.sleep(delay)
        raise AssertionError("unreachable: the loop returns on the last try")

    def _post(self, body: dict[str, Any]) -> None:
        response = self.client.post(self.url, json=body)
        if response.status_code >= 500 or response.status_code == 429:
            response.raise_for_status()  # HTTPStatusError: retried
        if response.status_code >= 400:
            raise AlertDeliveryError(f"webhook answered HTTP {response.status_code}")

    def _failed(
        self, group_key: str, batch: Sequence[Notification], now: datetime, attempts: int, exc: Exception
    ) -> list[Delivery]:
        log.warning("webhook delivery of group %s failed after %d tries: %s", group_key, attempts, error_name(exc))
        return outcomes(self.name, batch, now, attempts=attempts, error=error_name(exc))

    def close(self) -> None:
        self.client.close()


def sinks_from_settings(
    settings: Settings,
    topics: Mapping[int, TopicInfo],
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Sink]:
    """The configured sinks: the log and Kafka always, the webhook when a URL is set."""
    sinks: list[Sink] = [LogSink(), KafkaSink(settings, topics)]
    if settings.alert_webhook_url:
        sinks.append(WebhookSink(settings, topics, transport=transport, sleep=sleep))
    return sinks


def deliver_groups(
    sinks: Sequence[Sink], groups: Mapping[str, Sequence[Notification]], now: datetime
) -> list[Delivery]:
    """Every group to every sink; one sink's unexpected error is recorded and the rest goes on."""
    done: list[Delivery] = []
    for group_key, batch in groups.items():
        for sink in sinks:
            try:
                done.extend(sink.deliver(group_key, batch, now))
            except Exception as exc:  # isolation: logged with its traceback, recorded as failed
                log.exception("sink %s failed on group %s", sink.name, group_key)
                done.extend(outcomes(sink.name, batch, now, error=error_name(exc)))
    return done
