"""Plain types the clustering stages exchange about topics: their state, summaries and lineage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np

from newsflow.contracts import TopicEventKind


class TopicStatus(StrEnum):
    ACTIVE = "active"
    FADED = "faded"
    MERGED = "merged"


@dataclass
class TopicMeta:
    """What reconciliation needs to know about an existing topic."""

    id: int
    status: TopicStatus
    first_seen: datetime
    last_seen: datetime
    article_count: int = 0  # all members, also those older than the window
    last_event_count: int = 0  # article count at the topic's latest lineage event ("grew" compares to it)
    merged_into: int | None = None
    centroid: np.ndarray | None = None


@dataclass(frozen=True)
class Membership:
    """An article's place in a topic, as decided online or by a re-clustering."""

    article_id: str
    topic_id: int
    similarity: float | None
    method: str  # online | recluster


@dataclass(frozen=True)
class LineageEvent:
    topic_id: int
    kind: TopicEventKind
    at: datetime
    article_count: int
    related: tuple[int, ...] = ()
    label: str = ""


@dataclass
class TopicSummary:
    """How a topic presents itself: label, keywords, the headline closest to its centroid, named entities."""

    label: str
    keywords: list[str]
    representative_title: str
    centroid: np.ndarray | None = None
    representative_ids: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)  # names as written ("Donald Trump", "EU"), best first


def distinct(values: Iterable[str | None]) -> list[str]:
    """Sorted distinct non-empty values (outlets, languages) for topic statistics."""
    return sorted({v for v in values if v})
