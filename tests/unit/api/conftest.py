"""An API over the small known store of ``tests/unit/query/dataset.py``, with one configured key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from newsflow.api.app import create_app
from newsflow.settings import Settings
from newsflow.store.database import open_store
from tests.unit.query.dataset import Dataset, fill_store

API_KEY = "test-key-1"


@pytest.fixture
def keyed_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_keys": [SecretStr("other-key"), SecretStr(API_KEY)]})


@pytest.fixture
def dataset(keyed_settings: Settings) -> Dataset:
    return fill_store(open_store(keyed_settings))


@pytest.fixture
def client(keyed_settings: Settings, dataset: Dataset) -> Iterator[TestClient]:
    with TestClient(create_app(keyed_settings), headers={"X-API-Key": API_KEY}) as test_client:
        yield test_client
