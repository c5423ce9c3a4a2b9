"""Kafka topic names and the versioned records that travel on them.

Producers, consumers, DAGs and tests all import from here; nothing else names a topic or
shapes a message. Every record carries ``schema`` and ``version`` so consumers can refuse
(and dead-letter) what they do not understand instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from newsflow.errors import RecordError


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


@dataclass(frozen=True)
class TopicNames:
    """The Kafka topics of one deployment. ``prefix`` isolates tests or tenants on a shared broker."""

    prefix: str = ""

    @property
    def articles(self) -> str:
        return f"{self.prefix}news.articles"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}news.deadletter"

    @property
    def topic_events(self) -> str:
        return f"{self.prefix}news.topic-events"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}news.alerts"

    def all(self) -> list[str]:
        return [self.articles, self.deadletter, self.topic_events, self.alerts]


class Record(BaseModel):
    """Base of every message: frozen, strict about unknown fields, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def to_bytes(self) -> bytes:
        body = self.model_dump(mode="json")
        body = {"schema": self.SCHEMA, "version": self.VERSION, **body}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


R = TypeVar("R", bound=Record)


def decode(record_type: type[R], payload: bytes | str) -> R:
    """Parse one message; any problem becomes a ``RecordError`` naming what was wrong."""
    try:
        body: Any = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RecordError(f"expected a JSON object, got {type(body).__name__}")
    schema, version = body.pop("schema", None), body.pop("version", None)
    if schema != record_type.SCHEMA:
        raise RecordError(f"expected schema {record_type.SCHEMA!r}, got {schema!r}")
    if version != record_type.VERSION:
        raise RecordError(f"unsupported {schema} version {version!r} (this build reads {record_type.VERSION})")
    try:
        return record_type.model_validate(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors())
        raise RecordError(f"invalid {schema}: {fields}") from exc


class ArticleRecord(Record):
    """One normalised article (or a new revision of one), keyed on Kafka by ``id``."""

    SCHEMA: ClassVar[str] = "article"

    id: str = Field(min_length=1, max_length=128)
    url: str
    title: str
    summary: str = ""
    content: str = ""
    published: UtcDatetime
    published_is_fallback: bool = False  # True when the feed gave no date and fetch time stands in
    fetched: UtcDatetime
    language: str | None = None
    outlet: str
    feed: str
    guid: str | None = None
    revision: int = 1
    content_hash: str
    near_duplicate_of: str | None = None

    @property
    def text_for_embedding(self) -> str:
        lead = self.summary or self.content[:500]
        return f"{self.title}. {lead}".strip() if lead else self.title


class DeadLetterRecord(Record):
    """A message that could not be processed, with the reason and the original payload."""

    SCHEMA: ClassVar[str] = "deadletter"

    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    payload: str  # original bytes, decoded as UTF-8 with replacement
    error_type: str
    reason: str
    stage: str
    failed_at: UtcDatetime


class TopicEventKind(StrEnum):
    BORN = "born"
    GREW = "grew"
    MERGED = "merged"
    SPLIT = "split"
    FADED = "faded"
    REVIVED = "revived"


class TopicEventRecord(Record):
    """A lineage event: ``merged`` has the absorbed ids in ``related``; ``split`` the new ones."""

    SCHEMA: ClassVar[str] = "topic-event"

    topic_id: int
    kind: TopicEventKind
    related: list[int] = Field(default_factory=list)
    article_count: int
    label: str = ""
    at: UtcDatetime


class AlertRecord(Record):
    """One alert notification on the alerts topic, keyed on Kafka by ``fingerprint`` (rule + topic).

    ``event`` says why it was sent: ``firing`` (new), ``repeat`` (still firing after the repeat
    interval) or ``resolved``; ``at`` is the evaluation time that sent it.
    """

    SCHEMA: ClassVar[str] = "alert"

    alert_id: str
    topic_id: int
    rule: str
    status: Literal["firing", "resolved"]
    label: str
    article_count: int
    at: UtcDatetime
    details: dict[str, Any] = Field(default_factory=dict)
    fingerprint: str = ""
    group_key: str = ""
    event: Literal["firing", "repeat", "resolved"] = "firing"
    summary: str = ""
    fired_at: UtcDatetime | None = None
    resolved_at: UtcDatetime | None = None
