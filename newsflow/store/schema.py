"""The store's tables (SQLAlchemy 2 Core), the same on SQLite and PostgreSQL.

Alembic migrations under ``migrations/`` create these; ``schema.py`` is their source of truth.
Every write path is an upsert keyed on a natural key (article id, feed name, topic id +
article id), which is what makes at-least-once delivery from Kafka safe.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, also on SQLite (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


feeds = Table(
    "feeds",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("url", Text, nullable=False),
    Column("outlet", String(200), nullable=False),
    Column("language", String(16)),
    Column("poll_interval_s", Integer, nullable=False, default=900),
    Column("tags", JSON, nullable=False, default=list),
    Column("enabled", Boolean, nullable=False, default=True),
    # Fetch each new article's page and extract its text (trafilatura): for feeds that carry only teasers.
    Column("fulltext", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Conditional-GET state and health, one row per feed; written only after the broker acked a poll.
feed_health = Table(
    "feed_health",
    metadata,
    Column("feed_name", String(200), ForeignKey("feeds.name", ondelete="CASCADE"), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_polled_at", UtcDateTime()),
    Column("last_success_at", UtcDateTime()),
    Column("last_error", Text),
    Column("last_error_at", UtcDateTime()),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("next_poll_at", UtcDateTime()),
    Column("polls", Integer, nullable=False, default=0),
    Column("not_modified", Integer, nullable=False, default=0),
    Column("articles_published", Integer, nullable=False, default=0),
    Column("last_outcome", String(32)),  # published | no_new | not_modified | failed | paused
)

articles = Table(
    "articles",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("content", Text, nullable=False, default=""),
    Column("published_at", UtcDateTime(), nullable=False),
    Column("published_is_fallback", Boolean, nullable=False, default=False),
    Column("fetched_at", UtcDateTime(), nullable=False),
    Column("language", String(16)),
    Column("outlet", String(200), nullable=False),
    Column("feed_name", String(200), nullable=False),
    Column("guid", Text),
    Column("revision", Integer, nullable=False, default=1),
    Column("content_hash", String(64), nullable=False),
    Column("near_duplicate_of", String(128)),
    Column("stored_at", UtcDateTime(), nullable=False),
    Index("ix_articles_published_at", "published_at"),
    Index("ix_articles_outlet", "outlet"),
)

# What ingestion has already published (acked by the broker): the basis of cross-poll and
# cross-feed de-duplication, revisions and near-duplicate links. Owned by ingest, not the worker.
ingest_ledger = Table(
    "ingest_ledger",
    metadata,
    Column("article_id", String(128), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Column("simhash", String(16)),  # 64-bit fingerprint, hex
    # The fingerprint's four 16-bit bands: near-duplicates (<= 3 bits apart) share at least one,
    # so candidates are found with indexed equality lookups instead of a scan.
    Column("simhash_band0", Integer),
    Column("simhash_band1", Integer),
    Column("simhash_band2", Integer),
    Column("simhash_band3", Integer),
    Column("first_feed", String(200), nullable=False),
    Column("url", Text, nullable=False),
    Column("near_duplicate_of", String(128)),
    Column("published_at", UtcDateTime()),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Index("ix_ingest_ledger_simhash_band0", "simhash_band0"),
    Index("ix_ingest_ledger_simhash_band1", "simhash_band1"),
    Index("ix_ingest_ledger_simhash_band2", "simhash_band2"),
    Index("ix_ingest_ledger_simhash_band3", "simhash_band3"),
    Index("ix_ingest_ledger_first_feed_recorded_at", "first_feed", "recorded_at"),
)

# Embeddings keyed by (model, content hash): a restart or a replay never embeds the same text twice.
embeddings = Table(
    "embeddings",
    metadata,
    Column("model", String(300), primary_key=True),
    Column("content_hash", String(64), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # float32, little-endian
)

# Document frequencies of the hashed TF-IDF terms over every article stored: how many articles
# contain each term column, counted when an article is first stored. Row ``term = -1`` holds the
# number of articles counted; its absence means "never counted" (a store from before this table).
term_frequencies = Table(
    "term_frequencies",
    metadata,
    Column("term", Integer, primary_key=True, autoincrement=False),
    Column("documents", BigInteger, nullable=False),
)

topics = Table(
    "topics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # assigned by the clusterer, stable
    Column("label", Text, nullable=False, default=""),
    Column("keywords", JSON, nullable=False, default=list),
    Column("representative_title", Text, nullable=False, default=""),
    Column("representative_ids", JSON, nullable=False, default=list),  # members closest to the centroid
    Column("entities", JSON, nullable=False, default=list, server_default="[]"),  # named entities, best first
    Column("status", String(16), nullable=False, default="active"),  # active | faded | merged
    Column("merged_into", Integer),
    Column("first_seen", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("article_count", Integer, nullable=False, default=0),
    Column("outlet_count", Integer, nullable=False, default=0),
    Column("outlets", JSON, nullable=False, default=list),
    Column("languages", JSON, nullable=False, default=list),
    Column("hourly_counts", JSON, nullable=False, default=dict),  # {"2025-02-13T10": 4, ...}
    Column("centroid", LargeBinary),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_topics_status_last_seen", "status", "last_seen"),
    Index("ix_topics_last_seen", "last_seen"),
    Index("ix_topics_article_count", "article_count"),
)

# One row per article: the topic it belongs to now. Unassigned articles have no row.
topic_memberships = Table(
    "topic_memberships",
    metadata,
    Column("article_id", String(128), ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", Integer, ForeignKey("topics.id"), nullable=False),
    Column("similarity", Float),
    Column("method", String(16), nullable=False),  # online | recluster
    Column("assigned_at", UtcDateTime(), nullable=False),
    # Commit order of membership writes (writers are serialised, see topics_repo.lock_topic_writes):
    # workers sharing the partitions read what the others wrote after their last look.
    Column("write_seq", BigInteger),
    Index("ix_topic_memberships_topic_id", "topic_id"),
    Index("ix_topic_memberships_write_seq", "write_seq"),
)

# Tombstones of memberships removed online (a revision that left its topic), numbered in the same
# write sequence: workers sharing the partitions learn of removals as they learn of placements.
# No foreign keys: a tombstone records a past fact; the re-clustering prunes those older than its window.
membership_removals = Table(
    "membership_removals",
    metadata,
    Column("article_id", String(128), primary_key=True),
    Column("write_seq", BigInteger, primary_key=True),
    Column("topic_id", Integer, nullable=False),  # the topic it left
    Column("removed_at", UtcDateTime(), nullable=False),
    Index("ix_membership_removals_write_seq", "write_seq"),
)

lineage_events = Table(
    "lineage_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # born | grew | merged | split | faded | revived
    Column("related", JSON, nullable=False, default=list),
    Column("article_count", Integer, nullable=False, default=0),
    Column("label", Text, nullable=False, default=""),
    Column("at", UtcDateTime(), nullable=False),
    # Outbox: set once the event is acknowledged on the topic-events Kafka topic.
    Column("published_at", UtcDateTime()),
    UniqueConstraint("topic_id", "kind", "at", name="uq_lineage_events_topic_kind_at"),
    Index("ix_lineage_events_topic_id", "topic_id"),
    Index("ix_lineage_events_published_at", "published_at"),
)

# One row per alert episode: a rule firing for a topic until it resolves. The id is the
# fingerprint plus the firing time, so re-evaluating the same data never makes a second episode.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(64), primary_key=True),  # fingerprint + firing time: idempotent
    Column("fingerprint", String(200), nullable=False),  # rule + topic: what deduplication keys on
    Column("group_key", String(200), nullable=False, default=""),  # notifications are batched per group
    Column("topic_id", Integer, nullable=False),
    Column("rule", String(100), nullable=False),
    Column("status", String(16), nullable=False),  # firing | resolved
    Column("summary", Text, nullable=False, default=""),
    Column("fired_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime()),
    Column("last_evaluated_at", UtcDateTime()),
    Column("last_notified_at", UtcDateTime()),  # the repeat interval counts from here
    Column("notify_count", Integer, nullable=False, default=0),
    Column("silenced_by", String(64)),  # the silence that held back its last notification
    Column("details", JSON, nullable=False, default=dict),
    Index("ix_alerts_topic_id", "topic_id"),
    Index("ix_alerts_status_fired_at", "status", "fired_at"),
    Index("ix_alerts_fingerprint", "fingerprint"),
)

# Silences (after Alertmanager): matchers on rule / topic id / label text, active between
# starts_at and ends_at unless expired early.
alert_silences = Table(
    "alert_silences",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("matchers", JSON, nullable=False, default=dict),  # {"topic_id": 12, "rule": "growth", ...}
    Column("comment", Text, nullable=False, default=""),
    Column("created_by", String(200), nullable=False, default=""),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("ends_at", UtcDateTime(), nullable=False),
    Column("expired_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_alert_silences_ends_at", "ends_at"),
)

# Every delivery attempt outcome per alert, sink and event: what was sent where, and what failed.
alert_notifications = Table(
    "alert_notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(64), nullable=False),
    Column("sink", String(32), nullable=False),  # kafka | webhook | log
    Column("event", String(16), nullable=False),  # firing | repeat | resolved
    Column("status", String(16), nullable=False),  # sent | failed
    Column("attempts", Integer, nullable=False, default=1),
    Column("last_error", Text),
    Column("at", UtcDateTime(), nullable=False),
    UniqueConstraint("alert_id", "sink", "event", "at", name="uq_alert_notifications_alert_sink_event_at"),
    Index("ix_alert_notifications_alert_id", "alert_id"),
)

# The latest growth measurement per topic (written by the alert evaluation): lets analysts sort
# and filter by "growing now" with an index instead of recomputing 20k growth curves per request.
topic_growth = Table(
    "topic_growth",
    metadata,
    Column("topic_id", Integer, primary_key=True, autoincrement=False),
    Column("recent_count", Integer, nullable=False, default=0),  # near-copies counted once
    Column("recent_outlets", Integer, nullable=False, default=0),
    Column("baseline_rate", Float, nullable=False, default=0.0),  # EWMA articles per window
    Column("z_score", Float, nullable=False, default=0.0),
    Column("growth_score", Float, nullable=False, default=0.0),
    Column("evaluated_at", UtcDateTime(), nullable=False),
    Index("ix_topic_growth_growth_score", "growth_score"),
)

# Bookkeeping for scheduled jobs (last re-clustering, last ingest) shown by `newsflow status`.
job_runs = Table(
    "job_runs",
    metadata,
    Column("job", String(100), primary_key=True),
    Column("last_run_at", UtcDateTime(), nullable=False),
    Column("details", JSON, nullable=False, default=dict),
)
