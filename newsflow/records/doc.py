"""One article as the clustering stages see it, and the two texts they read of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from newsflow.settings import Settings


@dataclass(frozen=True)
class Doc:
    """One article as the clustering stages see it: plain values, no Kafka or database types."""

    id: str
    title: str
    body: str  # summary or lead of the content; may be empty (headline-only feeds)
    published: datetime
    outlet: str = ""
    language: str | None = None
    near_duplicate_of: str | None = None

    def dense_text(self, settings: Settings) -> str:
        return dense_text(self.title, self.body, settings.embedding_lead_chars)

    def sparse_text(self, settings: Settings) -> str:
        return sparse_text(self.title, self.body, settings.sparse_text_chars)


def sparse_text(title: str, body: str, limit: int) -> str:
    """The text the sparse representation reads: the title, then the body up to ``limit`` characters."""
    return f"{title}\n{body}"[:limit] if body else title[:limit]


def dense_text(title: str, body: str, lead_chars: int) -> str:
    """Title plus lead, the text embedded by the dense model (same shape as ``ArticleRecord``'s)."""
    lead = body[:lead_chars].strip()
    return f"{title}. {lead}".strip() if lead else title.strip()
