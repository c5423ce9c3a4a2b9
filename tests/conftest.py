"""Shared fixtures.

Unit tests need nothing running. Integration tests (``@pytest.mark.integration``) use the real
Kafka broker, PostgreSQL cluster and Airflow home that ``newsflow infra up --postgres`` starts
(``scripts/test.sh`` does that first). If a service is missing they *fail* with the command to run;
they are never skipped, so CI cannot pass without the real engines.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# Infra state (broker, PostgreSQL cluster, Airflow home) lives in the checkout's .newsflow unless overridden.
INFRA_STATE_DIR = Path(os.environ.get("NEWSFLOW_STATE_DIR", REPO_ROOT / ".newsflow"))


def pytest_configure(config: pytest.Config) -> None:
    # Airflow reads AIRFLOW_HOME when first imported, so it must be set before any test imports it.
    from newsflow.infra.airflow_local import airflow_environment
    from newsflow.settings import Settings

    os.environ.update(airflow_environment(Settings(state_dir=INFRA_STATE_DIR)))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings isolated per test: own SQLite file, own Kafka topic prefix, shared broker."""
    from newsflow.settings import Settings

    return Settings(
        # The unit tests' scripted stories and expectations were written for the bundled English model,
        # which is always installed; the default multilingual model has tests of its own.
        embedding_model="all-MiniLM-L6-v2",
        state_dir=tmp_path / "state",
        kafka_topic_prefix=f"test-{uuid.uuid4().hex[:10]}.",
        kafka_partitions=1,
        allow_private_feed_addresses=True,
        airflow_home=INFRA_STATE_DIR / "airflow",
    )


@pytest.fixture
def kafka_settings(settings):  # type: ignore[no-untyped-def]
    """``settings`` plus a check that the real broker is up (fails, never skips)."""
    host, _, port = settings.kafka_bootstrap_servers.partition(":")
    if not _port_open(host, int(port)):
        pytest.fail(f"no Kafka broker at {settings.kafka_bootstrap_servers}: run `newsflow infra up` first")
    from newsflow.kafka import ensure_topics

    ensure_topics(settings)
    return settings


@pytest.fixture
def postgres_settings(settings) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """``settings`` pointed at a fresh database in the project's real PostgreSQL cluster."""
    import psycopg

    if not _port_open("127.0.0.1", settings.postgres_port):
        pytest.fail(f"no PostgreSQL on port {settings.postgres_port}: run `newsflow infra up --postgres` first")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin_dsn = f"host=127.0.0.1 port={settings.postgres_port} user={settings.postgres_user} dbname=postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{settings.postgres_user}@127.0.0.1:{settings.postgres_port}/{name}"
    yield settings.model_copy(update={"database_url": url})
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
