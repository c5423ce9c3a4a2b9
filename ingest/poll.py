"""Polling one feed end to end: fetch -> parse -> normalise -> dedupe -> [full text] -> publish -> record.

The order of the last two steps is the delivery guarantee: the ledger and the feed's
conditional-GET state are written only after the broker acknowledged every article of the
poll, so a crash in between re-sends at most duplicates (absorbed downstream by the article
id) and never loses an article. A feed's own failures become a named error in its health
row with backoff; broker and store failures propagate, so the caller (Airflow) retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from ingest.dedupe import Candidate, DedupeResult, Ledger, deduplicate, fingerprint
from ingest.errors import FeedParseError, HttpStatusError
from ingest.fetch import Fetcher, FetchResult, Validators, utc_now
from ingest.fulltext import FullTextExtractor, FullTextResult
from ingest.normalise import normalise_feed
from ingest.parse import parse_feed
from ingest.schedule import failure_delay, success_interval
from newsflow.contracts import ArticleRecord
from newsflow.errors import FeedError
from newsflow.kafka import Producer, publish, topic_names
from newsflow.records.feed import FeedSpec
from newsflow.settings import Settings
from newsflow.store import feed_health_repo, feeds_repo, ingest_ledger_repo
from newsflow.store.feed_health_repo import FeedState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollOutcome:
    feed: str
    outcome: str  # published | no_new | not_modified | failed | paused | skipped | removed
    published: int = 0
    revisions: int = 0
    near_duplicates: int = 0
    duplicates: int = 0
    error: str | None = None  # "ErrorName: message"
    next_poll_at: datetime | None = None
    fulltext: int = 0  # articles whose teaser was replaced by the page's text (full-text feeds)
    fulltext_failed: int = 0  # pages that failed by name; their teasers were published

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (Airflow XCom, CLI --json)."""
        out = asdict(self)
        out["next_poll_at"] = self.next_poll_at.isoformat() if self.next_poll_at else None
        return out


@dataclass(frozen=True)
class _Prepared:
    fetched: FetchResult
    candidates: list[Candidate]
    ttl_minutes: int | None


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class FeedPoller:
    """Polls feeds one at a time with shared clients; the caller owns and closes them."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        producer: Producer,
        fetcher: Fetcher,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._producer = producer
        self._fetcher = fetcher
        self._fulltext = FullTextExtractor(fetcher)
        self._clock = clock
        self._topic = topic_names(settings).articles

    @property
    def engine(self) -> Engine:
        return self._engine

    def poll(self, feed: FeedSpec, *, skip_if_polled_since: datetime | None = None) -> PollOutcome:
        """Poll ``feed`` once. ``skip_if_polled_since`` makes a retried Airflow task a no-op."""
        now = self._clock()
        with self._engine.connect() as conn:
            state = feed_health_repo.get_state(conn, feed.name)
        if skip_if_polled_since and state.last_polled_at and state.last_polled_at >= skip_if_polled_since:
            log.info("%s: already polled at %s for this interval", feed.name, state.last_polled_at)
            return PollOutcome(feed.name, "skipped", next_poll_at=state.next_poll_at)
        try:
            prepared = self._prepare(feed, state)
        except FeedError as exc:
            return self._fail(feed, state, exc, now)
        if prepared.fetched.not_modified:
            return self._succeed(feed, state, prepared, DedupeResult(), now)
        window = timedelta(hours=self._settings.near_duplicate_window_hours)
        candidates = prepared.candidates
        with self._engine.connect() as conn:
            entries = ingest_ledger_repo.load_entries(
                conn,
                (c.article_id for c in candidates),
                (c.simhash for c in candidates if c.token_count),  # word-less texts have no useful fingerprint
                since=now - window,
            )
        result = deduplicate(candidates, Ledger(entries))
        records, fulltext = self._with_fulltext(feed, result.records)
        if records:
            # Raises BrokerUnavailableError unless every record was acknowledged: nothing is recorded then.
            publish(
                self._producer,
                self._topic,
                [(r.id, r) for r in records],
                timeout_s=self._settings.ingest_publish_timeout_s,
            )
        outcome = self._succeed(feed, state, prepared, result, now)
        return replace(outcome, fulltext=fulltext.extracted, fulltext_failed=len(fulltext.failed))

    def _with_fulltext(
        self, feed: FeedSpec, records: list[ArticleRecord]
    ) -> tuple[list[ArticleRecord], FullTextResult]:
        if not feed.fulltext or not records:
            return records, FullTextResult(records)
        fulltext = self._fulltext.enrich(records)
        log.info(
            "%s: full text for %d of %d articles (%d failed, %d over the per-poll bounds)",
            feed.name, fulltext.extracted, len(records), len(fulltext.failed), fulltext.skipped,
        )  # fmt: skip
        return fulltext.records, fulltext

    def _prepare(self, feed: FeedSpec, state: FeedState) -> _Prepared:
        fetched = self._fetcher.fetch(feed.url, Validators(state.etag, state.last_modified))
        if fetched.moved_permanently_to:
            log.info("%s: moved permanently to %s; consider updating the feed URL", feed.name, fetched.final_url)
        if fetched.not_modified:
            return _Prepared(fetched, [], None)
        try:
            parsed = parse_feed(fetched.body, content_type=fetched.content_type, base_url=fetched.final_url)
            entries = normalise_feed(parsed, feed=feed, base_url=fetched.final_url, fetched_at=fetched.fetched_at)
            return _Prepared(fetched, fingerprint(entries), parsed.ttl_minutes)
        except FeedError:
            raise
        except Exception as exc:  # a parser bug on one odd document must not stop the other feeds
            log.exception("%s: unexpected error processing the document", feed.name)
            raise FeedParseError(f"unexpected {error_text(exc)}") from exc

    def _succeed(
        self, feed: FeedSpec, state: FeedState, prepared: _Prepared, result: DedupeResult, now: datetime
    ) -> PollOutcome:
        fetched = prepared.fetched
        interval = success_interval(
            feed.poll_interval_s,
            max_s=self._settings.max_poll_interval_s,
            publish_times=[c.entry.published for c in prepared.candidates if not c.entry.published_is_fallback],
            ttl_minutes=prepared.ttl_minutes,
            max_age_s=fetched.max_age_s,
        )
        next_poll_at = now + timedelta(seconds=interval)
        outcome = "not_modified" if fetched.not_modified else ("published" if result.records else "no_new")
        with self._engine.begin() as conn:
            ingest_ledger_repo.record_entries(conn, result.ledger_updates, recorded_at=fetched.fetched_at)
            feed_health_repo.record_success(
                conn,
                feed.name,
                state,
                at=now,
                etag=fetched.validators.etag,
                last_modified=fetched.validators.last_modified,
                not_modified=fetched.not_modified,
                published=len(result.records),
                next_poll_at=next_poll_at,
                outcome=outcome,
            )
        log.info(
            "%s: %s (%d published, %d revisions, %d near-duplicates, %d duplicates)",
            feed.name,
            outcome,
            len(result.records),
            result.revisions,
            result.near_duplicates,
            result.duplicates,
        )
        return PollOutcome(
            feed=feed.name,
            outcome=outcome,
            published=len(result.records),
            revisions=result.revisions,
            near_duplicates=result.near_duplicates,
            duplicates=result.duplicates,
            next_poll_at=next_poll_at,
        )

    def _fail(self, feed: FeedSpec, state: FeedState, exc: FeedError, now: datetime) -> PollOutcome:
        retry_after = exc.retry_after_s if isinstance(exc, HttpStatusError) else None
        base = feed.poll_interval_s or self._settings.default_poll_interval_s
        delay = failure_delay(state.consecutive_failures + 1, base, self._settings.max_backoff_s, retry_after)
        next_poll_at = now + timedelta(seconds=delay)
        message = error_text(exc)
        with self._engine.begin() as conn:
            failures = feed_health_repo.record_failure(
                conn, feed.name, state, at=now, error=message, next_poll_at=next_poll_at
            )
            paused = failures >= self._settings.max_consecutive_failures
            if paused:
                feeds_repo.pause_feed(conn, feed.name)
        log.warning("%s: %s (failure %d, next poll %s)", feed.name, message, failures, next_poll_at.isoformat())
        if paused:
            log.warning(
                "%s: paused after %d consecutive failures; `newsflow feeds resume %s`", feed.name, failures, feed.name
            )
        return PollOutcome(feed.name, "failed", error=message, next_poll_at=next_poll_at)
