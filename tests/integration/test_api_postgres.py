"""The topics API over a real PostgreSQL store: the same dataset and answers as on SQLite, plus the timeout."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from newsflow.api.app import create_app
from newsflow.api.deps import read_connection
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.store.schema import topics
from tests.unit.query.dataset import Dataset, fill_store

pytestmark = pytest.mark.integration
KEY = "pg-key"


@pytest.fixture
def pg(postgres_settings: Settings) -> Settings:
    return postgres_settings.model_copy(update={"api_keys": [SecretStr(KEY)], "api_request_timeout_s": 2.5})


@pytest.fixture
def dataset(pg: Settings) -> Dataset:
    return fill_store(open_store(pg))


@pytest.fixture
def client(pg: Settings, dataset: Dataset) -> Iterator[TestClient]:
    with TestClient(create_app(pg), headers={"X-API-Key": KEY}) as test_client:
        yield test_client


def ids(body: dict) -> list[int]:  # type: ignore[type-arg]
    return [item["id"] for item in body["items"]]


def test_list_sorts_filters_and_pages_on_postgres(client: TestClient, dataset: Dataset) -> None:
    assert client.get("/api/v1/topics", headers={"X-API-Key": ""}).status_code == 401
    full = client.get("/api/v1/topics", params={"limit": 200}).json()
    assert ids(full) == dataset.expected_ids("growth")
    paged = [
        t
        for o in range(0, full["total"], 5)
        for t in ids(client.get("/api/v1/topics", params={"limit": 5, "offset": o}).json())
    ]
    assert paged == ids(full)
    assert ids(client.get("/api/v1/topics", params={"language": "de"}).json()) == [2]
    assert set(ids(client.get("/api/v1/topics", params={"outlet": "Beta Times"}).json())) == {1, 5}
    assert ids(client.get("/api/v1/topics", params={"growing": True}).json()) == [1]
    assert client.get("/api/v1/topics", params={"since": "notadate"}).status_code == 422


def test_detail_search_and_404_on_postgres(client: TestClient, pg: Settings) -> None:
    detail = client.get("/api/v1/topics/1").json()
    assert [p["count"] for p in detail["growth_series"]] == [1, 2, 0, 1, 0, 2]
    assert [g["outlet"] for g in detail["articles_by_outlet"]] == ["Alpha News", "Beta Times"]
    assert detail["merged_from"] == [4] and detail["split_into"] == [5]
    assert client.get("/api/v1/topics/5/lineage").json()["split_from"] == [1]
    assert client.get("/api/v1/topics/424242").status_code == 404
    assert ids(client.get("/api/v1/topics/search", params={"q": "100%"}).json()) == [6]
    assert ids(client.get("/api/v1/topics/search", params={"q": "Tempête"}).json()) == [3]
    injected = client.get("/api/v1/topics/search", params={"q": "x'; DROP TABLE topics; --"})
    assert injected.status_code == 200 and injected.json()["total"] == 0
    with open_store(pg).connect() as conn:
        assert conn.execute(select(func.count()).select_from(topics)).scalar_one() == 26


def test_api_reads_run_under_the_statement_timeout(pg: Settings, dataset: Dataset) -> None:
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(engine=open_store(pg), settings=pg)))
    connections = read_connection(request)  # type: ignore[arg-type]
    conn = next(connections)
    assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "2500ms"
    with pytest.raises(OperationalError, match="statement timeout"):
        conn.execute(text("SELECT pg_sleep(5)"))
    connections.close()
