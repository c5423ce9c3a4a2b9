"""Topic names and the admin client: create the deployment's topics, and ask whether the broker answers.

Topic names come from ``newsflow.contracts.TopicNames`` (one prefix per deployment), so every stage
agrees on them without talking to the broker. The admin calls are the only ones that change the
broker's configuration; they are idempotent, so every stage may call ``ensure_topics`` on start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from newsflow.contracts import TopicNames
from newsflow.kafka.errors import unavailable
from newsflow.settings import Settings

log = logging.getLogger(__name__)
READY_PROBE_TIMEOUT_MS = 3000  # a broker that is still starting is asked many times over: keep each ask short


def topic_names(settings: Settings) -> TopicNames:
    """The deployment's topics (articles, dead letters, topic events, alerts) under its prefix."""
    return TopicNames(prefix=settings.kafka_topic_prefix)


def _admin(settings: Settings, client_id: str, request_timeout_ms: int, bootstrap_timeout_ms: int) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=request_timeout_ms,
        bootstrap_timeout_ms=bootstrap_timeout_ms,
        client_id=client_id,
    )


def ensure_topics(settings: Settings, names: Iterable[str] | None = None) -> None:
    """Create the deployment's topics (or ``names``) if missing; idempotent, safe to race with another stage."""
    wanted = list(names) if names is not None else topic_names(settings).all()
    try:
        admin = _admin(
            settings, "newsflow-admin", settings.kafka_request_timeout_ms, settings.kafka_bootstrap_timeout_ms
        )
    except (KafkaError, OSError) as exc:
        raise unavailable(settings, exc) from exc
    try:
        _create_missing(admin, settings, wanted)
    except KafkaError as exc:
        raise unavailable(settings, exc) from exc
    finally:
        admin.close()


def _create_missing(admin: KafkaAdminClient, settings: Settings, wanted: list[str]) -> None:
    existing = set(admin.list_topics())
    missing = [n for n in wanted if n not in existing]
    if not missing:
        return
    new = [NewTopic(n, num_partitions=settings.kafka_partitions, replication_factor=1) for n in missing]
    try:
        admin.create_topics(new)
        log.info("created Kafka topics %s", ", ".join(missing))
    except TopicAlreadyExistsError:
        log.debug("topics appeared concurrently: %s", missing)


def list_topics(settings: Settings, timeout_ms: int = READY_PROBE_TIMEOUT_MS) -> list[str] | None:
    """The broker's topics, or None while it does not answer (yet): the readiness probe of ``infra up``.

    Never raises for an unreachable broker, since the caller polls it until a deadline.
    """
    try:
        admin = _admin(settings, "newsflow-infra", timeout_ms, timeout_ms)
    except (KafkaError, OSError):
        return None
    try:
        return sorted(admin.list_topics())
    except (KafkaError, OSError):
        return None
    finally:
        admin.close()
