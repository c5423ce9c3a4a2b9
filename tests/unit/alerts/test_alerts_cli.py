"""``newsflow alerts evaluate|list`` (``newsflow.cli.alerts_cmd``)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from newsflow.errors import InvalidTimeError
from newsflow.settings import Settings
from newsflow.store.database import open_store
from tests.unit.alerts.cli_invoke import invoke
from tests.unit.alerts.seed import add_topic, every

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)


def test_evaluate_refuses_a_time_without_timezone(cli_settings: Settings) -> None:
    code, _, exc = invoke("alerts", "evaluate", "--now", "2025-02-13T12:00:00")
    assert code == 1 and isinstance(exc, InvalidTimeError) and "--now: give a timezone" in str(exc)


def test_evaluate_then_list_as_csv(cli_settings: Settings) -> None:
    engine = open_store(cli_settings)
    add_topic(engine, 3, "Quiet story", every(NOW - timedelta(hours=10), NOW, timedelta(hours=2)))
    code, out, _ = invoke("alerts", "evaluate", "--now", NOW.isoformat())
    assert code == 0, out
    assert json.loads(out)["topics_evaluated"] == 1 and json.loads(out)["fired"] == 0
    code, out, _ = invoke("alerts", "list", "--status", "all", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows == [] and out.startswith("id,status,topic_id")
