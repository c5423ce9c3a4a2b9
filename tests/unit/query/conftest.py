"""A store holding ``dataset``'s topics, for the read layer's tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from newsflow.settings import Settings
from newsflow.store.database import open_store
from tests.unit.query.dataset import Dataset, fill_store


@pytest.fixture
def engine(settings: Settings) -> Engine:
    return open_store(settings)


@pytest.fixture
def dataset(engine: Engine) -> Dataset:
    return fill_store(engine)
