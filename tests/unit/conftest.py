"""Unit tests run on the bundled English model unless a test says otherwise.

Their scripted stories and expectations were written for all-MiniLM-L6-v2, which is always
installed; the default multilingual model has tests of its own (``clustering/test_default_model.py``).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _bundled_english_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_EMBEDDING_MODEL", "all-MiniLM-L6-v2")
