"""The embedding model, loaded once per test session (loading is the slow part; encoding a few headlines is not)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def st_model() -> tuple[str, Any]:
    from clustering.embedding.embed import load_model
    from newsflow.settings import Settings

    return load_model(Settings(embedding_model="all-MiniLM-L6-v2"))  # as the ``settings`` fixture


@pytest.fixture
def embedder(st_model: tuple[str, Any], settings: Any) -> Any:
    """A fresh ``Embedder`` (own call counters) around the session's model."""
    from clustering.embedding.embed import Embedder

    model_id, model = st_model
    return Embedder(settings, model=model, model_id=model_id)
