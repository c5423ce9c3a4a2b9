"""``/api/v1/alerts`` and ``/api/v1/silences`` through ``create_app`` over a SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from newsflow.alerts.lifecycle import alert_id
from newsflow.api.app import create_app
from newsflow.records.alert import Alert
from newsflow.settings import Settings
from newsflow.store import alerts_repo
from newsflow.store.database import open_store

T0 = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)


def seed_alerts(settings: Settings) -> list[Alert]:
    episodes = []
    for k in range(7):
        fired = T0 + timedelta(hours=k // 2)  # pairs share a firing time: ties are broken by id
        status: Literal["firing", "resolved"] = "resolved" if k < 3 else "firing"
        fingerprint = f"topic_growth:{10 + k}"
        episodes.append(Alert(alert_id(fingerprint, fired), fingerprint, "topic_growth", 10 + k, "topic_growth",
                              status, f"topic {10 + k}", fired, resolved_at=fired if status == "resolved" else None,
                              notify_count=1, details={"z_score": 4.0}))  # fmt: skip
    with open_store(settings).begin() as conn:
        alerts_repo.save_alerts(conn, episodes)
    return episodes


@pytest.fixture
def client(settings: Settings) -> TestClient:
    seed_alerts(settings)
    return TestClient(create_app(settings))


def test_alerts_pages_are_stable_and_complete(client: TestClient) -> None:
    full = client.get("/api/v1/alerts", params={"limit": 200}).json()
    assert full["total"] == 7 and len(full["items"]) == 7
    keys = [(i["fired_at"], i["id"]) for i in full["items"]]
    assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)
    paged = []
    for offset in range(0, 7, 3):
        body = client.get("/api/v1/alerts", params={"limit": 3, "offset": offset}).json()
        assert body["limit"] == 3 and body["offset"] == offset and body["total"] == 7
        paged += [i["id"] for i in body["items"]]
    assert paged == [i["id"] for i in full["items"]]
    item = full["items"][0]
    assert set(item) == {"id", "fingerprint", "topic_id", "rule", "status", "summary", "fired_at", "resolved_at",
                         "notify_count", "silenced_by", "details"}  # fmt: skip


def test_alerts_filters(client: TestClient) -> None:
    firing = client.get("/api/v1/alerts", params={"status": "firing"}).json()
    assert firing["total"] == 4 and {i["status"] for i in firing["items"]} == {"firing"}
    one = client.get("/api/v1/alerts", params={"topic_id": 11, "status": "all"}).json()
    assert [i["topic_id"] for i in one["items"]] == [11] and one["items"][0]["status"] == "resolved"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "burning"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_000}, "limit"),
        ({"topic_id": "x"}, "topic_id"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(client: TestClient, params: dict[str, Any], field: str) -> None:
    response = client.get("/api/v1/alerts", params=params)
    assert response.status_code == 422
    assert any(field in e["loc"] for e in response.json()["detail"])


def test_api_key_is_required_when_configured(settings: Settings) -> None:
    open_store(settings).dispose()  # the API opens an existing store, it never creates one
    keyed = TestClient(create_app(settings.model_copy(update={"api_keys": [SecretStr("k1")]})))
    assert keyed.get("/api/v1/alerts").status_code == 401
    assert keyed.get("/api/v1/silences", headers={"X-API-Key": "nope"}).status_code == 403
    assert keyed.post("/api/v1/silences", json={}).status_code == 401
    assert keyed.get("/api/v1/alerts", headers={"Authorization": "Bearer k1"}).status_code == 200


def test_silence_create_list_expire(client: TestClient) -> None:
    body = {"matchers": {"topic_id": 12}, "duration_minutes": 90, "comment": "known story", "created_by": "ops"}
    created = client.post("/api/v1/silences", json=body)
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["matchers"] == {"topic_id": 12} and silence["expired_at"] is None
    span = datetime.fromisoformat(silence["ends_at"]) - datetime.fromisoformat(silence["starts_at"])
    assert span == timedelta(minutes=90)
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    second = client.post("/api/v1/silences", json={"matchers": {"label_contains": "flood"}, "ends_at": until,
                                                   "comment": "c", "created_by": "ops"}).json()  # fmt: skip
    active = client.get("/api/v1/silences").json()
    assert active["total"] == 2 and [i["id"] for i in active["items"]] == [second["id"], silence["id"]]
    assert client.delete(f"/api/v1/silences/{silence['id']}").status_code == 204
    assert [i["id"] for i in client.get("/api/v1/silences").json()["items"]] == [second["id"]]
    everything = client.get("/api/v1/silences", params={"active": "false"}).json()["items"]
    assert next(i for i in everything if i["id"] == silence["id"])["expired_at"] is not None
    assert client.delete("/api/v1/silences/no-such-id").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"matchers": {}, "duration_minutes": 5, "comment": "c", "created_by": "o"}, "matchers"),
        ({"matchers": {"colour": "red"}, "duration_minutes": 5, "comment": "c", "created_by": "o"}, "colour"),
        ({"matchers": {"rule": "r"}, "comment": "c", "created_by": "o"}, "body"),
        ({"matchers": {"rule": "r"}, "duration_minutes": 0, "comment": "c", "created_by": "o"}, "duration_minutes"),
        ({"matchers": {"rule": "r"}, "ends_at": "2020-01-01T00:00:00Z", "comment": "c", "created_by": "o"}, "ends_at"),
        ({"matchers": {"rule": "r"}, "duration_minutes": 5, "comment": "", "created_by": "o"}, "comment"),
    ],
)
def test_bad_silences_are_422(client: TestClient, body: dict[str, object], field: str) -> None:
    response = client.post("/api/v1/silences", json=body)
    assert response.status_code == 422, response.text
    assert any(field in e["loc"] for e in response.json()["detail"]), response.json()
