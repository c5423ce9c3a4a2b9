"""The command-line tests' environment: the store of the test's settings, no webhook."""

from __future__ import annotations

import pytest

from newsflow.settings import Settings


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(settings.state_dir))
    monkeypatch.delenv("NEWSFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("NEWSFLOW_ALERT_WEBHOOK_URL", raising=False)
    return settings
