"""``newsflow eval``: replay labelled articles through the real clustering on a simulated clock.

The articles stream in ``published`` order in micro-batches (``worker_batch_size``), through the
same online assignment as the worker; every ``recluster_every_minutes`` of simulated time the same
re-clustering plan as ``recluster_now`` runs over the window and is applied — to memory instead of
the store, which is the only difference. After the last article one more scheduled re-clustering
runs (the system would run it within that interval). Between articles, scheduled runs that would
see the same window as the run before (no article arrived or left it, no topic reached its fading
time) are skipped: a stream spread over months then costs its changes, not every 15 minutes of it,
and the outcome is that of running them all. Each article's topic at the end is written as
``id<TAB>topic_id``; an article without a topic gets its own singleton id. Embeddings come through
the configured store's cache, so a second evaluation of the same texts does not run the model.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from clustering.embedding.embed import CachedEmbedder, Embedder, cache_namespace, resolve_model
from clustering.evaluation.eval_data import read_jsonl
from clustering.evaluation.memory_state import MemoryTopicState
from clustering.evaluation.metrics import score
from clustering.online.assign import AssignParams, OnlineClusterer
from clustering.online.online_state import build_clusterer
from clustering.reclustering.plan import ReclusterPlan, plan_recluster
from clustering.representation.represent import Batch, SparseVectoriser, doc_tokens, represent
from clustering.threads import blas_threads
from clustering.topic_state import apply_plan, forgotten_at, online_writes, remember
from clustering.window import Window, memory_start, represent_window, window_start
from newsflow.errors import ConfigError, ModelExportError
from newsflow.records.doc import Doc
from newsflow.records.topic import TopicMeta, TopicStatus
from newsflow.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    articles: int
    clusters: int
    seconds: float
    reclusterings: int
    scores: dict[str, float | int] = field(default_factory=dict)


def parse_article(line: dict[str, object], n: int) -> tuple[Doc, str | None]:
    try:
        published = datetime.fromisoformat(str(line["published"]))
        doc = Doc(
            id=str(line["id"]),
            title=str(line.get("title") or ""),
            body=str(line.get("text") or ""),
            published=published if published.tzinfo else published.replace(tzinfo=UTC),
            outlet=str(line.get("source") or ""),
            language=str(line["language"]) if line.get("language") else None,
        )
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"evaluation input line {n}: {type(exc).__name__}: {exc}") from exc
    story = line.get("story")
    return doc, (str(story) if story is not None else None)


class Simulation:
    """The worker's and the re-clustering job's state, kept in memory (``MemoryTopicState``).

    The clustering runs through the same code as in the worker and the job: online assignment and
    ``online_writes`` per batch, ``plan_recluster`` then ``apply_plan`` per re-clustering, ``remember``
    and ``build_clusterer`` for the online state a run leaves. Work whose result nobody reads is not
    done, and nothing is done twice; the state is exactly that of doing it all (a unit test compares
    the two on a stream). A run that sees the same window as the run before (the runs just before a
    change, and those a remembered article or a topic's fading time asked for) takes that run's
    representation and clustering, which are functions of the window's articles alone
    (``plan_recluster``'s ``labels``). The online state a run leaves is built when the next batch needs
    it: a run followed by another run never has it built. Summaries are only centroids: the evaluation
    keeps memberships, and reconciliation reads the centroids. ``reuse = False`` does everything at
    every run, as the worker and the job do (for tests).
    """

    reuse = True

    def __init__(self, settings: Settings, dim: int) -> None:
        self.settings = settings
        self.dim = dim
        self.state = MemoryTopicState(settings, dim)
        self.vectoriser = SparseVectoriser(settings.sparse_features)
        self._window_df = _SlidingFrequencies(settings.sparse_features)
        self._corpus_df = np.zeros(settings.sparse_features, dtype=np.int64)  # what the store's table counts
        self._corpus_n = 0
        self._clusterer: OnlineClusterer | None = OnlineClusterer(AssignParams.from_settings(settings), dim)
        self._pending: tuple[Window, datetime, int] | None = None  # the online state the last run left, unbuilt
        self._last: _Clustered | None = None  # the last run's window, representation and clustering
        self.reclusterings = 0

    @property
    def clusterer(self) -> OnlineClusterer:
        """The online state, built from the last re-clustering's window the first time it is needed."""
        if self._pending is not None:
            window, now, next_id = self._pending
            self._pending = None
            remember(self.state, window, now, self.settings)
            with blas_threads(self.settings.worker_blas_threads):  # as in the worker, which reloads this state
                self._clusterer = build_clusterer(window, self.settings, next_id, self.dim)
            # Every topic id is below the next one, so the state's next id is the one it was built with.
            assert self._clusterer.next_topic_id == next_id, (self._clusterer.next_topic_id, next_id)
        assert self._clusterer is not None
        return self._clusterer

    @property
    def next_topic_id(self) -> int:
        return self._pending[2] if self._pending is not None else self.clusterer.next_topic_id

    def feed(self, docs: list[Doc], dense: np.ndarray) -> None:
        """One worker batch: online assignment, then what the batch writes."""
        clusterer = self.clusterer  # (built before the batch moves the document frequencies on)
        self._last = None  # the window changes
        if self.reuse:  # the frequencies counted as ``observe`` counts them, and kept for the windows
            counts = self.vectoriser.counts([doc_tokens(d, self.settings.sparse_text_chars) for d in docs])
            np.add.at(self.vectoriser.df, counts.indices, 1)
            self.vectoriser.n_docs += len(docs)
            batch = represent(docs, dense, self.vectoriser, self.state.representing, observe=False, counts=counts)
        else:
            batch = represent(docs, dense, self.vectoriser, self.state.representing, observe=True)
            counts = batch.counts
        np.add.at(self._corpus_df, counts.indices, 1)  # (each article is fed once: its first store)
        self._corpus_n += len(docs)
        self.state.add_articles(docs, dense, counts)
        self.state.record_online(online_writes(clusterer.learn_many(batch), {}))  # (each article is new)

    def recluster(self, now: datetime) -> ReclusterPlan:
        state, settings = self.state, self.settings
        rows = state.rows(window_start(now, settings), now)
        last = self._last if self.reuse else None
        if last is not None and last.rows == rows:  # the same articles: the same representation and clusters
            batch, vectoriser, labels = last.batch, last.vectoriser, last.labels
        else:
            corpus = (self._corpus_df, self._corpus_n) if settings.document_frequencies == "corpus" else None
            df = self._window_df.slide(rows, state.terms) if self.reuse and corpus is None else None
            counts = state.counts(rows) if self.reuse else None
            batch, vectoriser = represent_window(
                [state.docs[i] for i in rows], state.dense_rows(rows), settings, df, counts, corpus=corpus
            )
            labels = None
        window = Window(batch, vectoriser, self._window_memberships(batch), self._live_topics())
        plan = plan_recluster(window, now, settings, self.next_topic_id, labels=labels, summarise=not self.reuse)
        apply_plan(state, plan)
        window.memberships, window.topics = self._window_memberships(batch), self._live_topics()
        self.vectoriser = vectoriser
        self._last = _Clustered(rows, batch, vectoriser, plan.labels)
        self._pending, self._clusterer = (window, now, plan.reconciliation.next_topic_id), None
        if not self.reuse:
            _ = self.clusterer  # built right away, as the worker reloads its state after every run
        self.reclusterings += 1
        return plan

    def _window_memberships(self, batch: Batch) -> dict[str, int]:
        memberships = self.state.memberships
        return {d.id: memberships[d.id] for d in batch.docs if d.id in memberships}

    def _live_topics(self) -> dict[int, TopicMeta]:
        return {t: m for t, m in self.state.topics.items() if m.status is not TopicStatus.MERGED}

    def next_change(self, now: datetime, next_article: datetime) -> datetime:
        """The earliest time after a re-clustering at ``now`` when the next one could see something
        else: the next article arrives, an article leaves the window, or a topic's fading time passes."""
        state = self.state
        window = timedelta(hours=self.settings.recluster_window_hours)
        fade = timedelta(hours=self.settings.topic_fade_hours)
        since = window_start(now, self.settings)
        leaving: Iterable[datetime] = (state.docs[i].published + window for i in state.rows(since, now))
        if (memory := memory_start(now, self.settings)) is not None:  # (what the online state remembers changes)
            span = timedelta(hours=self.settings.topic_memory_hours)
            remembered = state.rows(memory, since, upper_inclusive=False)
            leaving = itertools.chain(leaving, (state.docs[i].published + span for i in remembered))
            if (factor := self.settings.topic_memory_span_factor) > 0:  # (a burst's topic is forgotten sooner)
                # Only a topic seen since the memory began has members it remembers: forgetting one
                # seen before changes nothing (and most of a long stream's topics are such).
                least = self.settings.topic_memory_min_hours
                recent = (m for m in state.topics.values() if m.last_seen >= memory)
                leaving = itertools.chain(leaving, (forgotten_at(m, factor, least) for m in recent))
        fading = (m.last_seen + fade for m in state.topics.values() if m.status is TopicStatus.ACTIVE)
        return min([next_article, *(t for t in (*leaving, *fading) if t > now)])

    def final_topics(self) -> dict[str, int]:
        """Every article's topic; unassigned ones get singleton ids above every topic id."""
        return self.state.topic_of_every_article(max([*self.state.topics, self.next_topic_id - 1, 0]) + 1)


class _SlidingFrequencies:
    """Document frequencies over a range of ``Simulation.docs`` that slides forward: the articles
    that enter are counted in, those that leave counted out (the counts ``represent_window`` makes)."""

    def __init__(self, n_features: int) -> None:
        self.df = np.zeros(n_features, dtype=np.int64)
        self.rows = range(0)

    def slide(self, rows: range, terms: list[np.ndarray]) -> np.ndarray:
        old = self.rows
        leaving = [*range(old.start, min(old.stop, rows.start)), *range(max(rows.stop, old.start), old.stop)]
        entering = [*range(rows.start, min(rows.stop, old.start)), *range(max(old.stop, rows.start), rows.stop)]
        for sign, changed in ((-1, leaving), (1, entering)):
            if changed:
                np.add.at(self.df, np.concatenate([terms[i] for i in changed]), sign)
        self.rows = rows
        return self.df


@dataclass(frozen=True)
class _Clustered:
    rows: range  # the window's rows of ``Simulation.docs``
    batch: Batch
    vectoriser: SparseVectoriser
    labels: np.ndarray


def _ticks(first: datetime, every: timedelta) -> datetime:
    """The first scheduled re-clustering after ``first`` (on the wall-clock grid, like a cron)."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + ((first - epoch) // every + 1) * every


def simulate(settings: Settings, docs: list[Doc], embedder: CachedEmbedder) -> Simulation:
    """Stream ``docs`` (any order; sorted here by publication time) through the clustering."""
    docs = sorted(docs, key=lambda d: (d.published, d.id))
    dense = embedder.embed([d.dense_text(settings) for d in docs])
    sim = Simulation(settings, dense.shape[1])
    if not docs:
        return sim
    every = timedelta(minutes=settings.recluster_every_minutes)
    tick = _ticks(docs[0].published, every)
    start = 0
    progress = _Progress(len(docs))
    while start < len(docs):
        if docs[start].published >= tick:
            sim.recluster(tick)
            progress.report(start, sim)
            # Skip the runs that would see the same window; the last grid tick before the change runs.
            change = sim.next_change(tick, docs[start].published)
            tick = max(tick + every, _ticks(change - every, every))
            continue
        end = start
        while end < len(docs) and end - start < settings.worker_batch_size and docs[end].published < tick:
            end += 1
        with blas_threads(settings.worker_blas_threads):  # as in the worker
            sim.feed(docs[start:end], dense[start:end])
        start = end
    sim.recluster(tick)  # the next scheduled run after the last article
    return sim


class _ModelOnDemand(Embedder):
    """The configured model, loaded only for a text the cache does not hold: a replay of texts
    embedded before needs the model's id (the cache's key), not the model (seconds to load)."""

    def __init__(self, settings: Settings) -> None:  # (no model yet: ``Embedder.__init__`` loads it)
        self.settings = settings
        self.model_id = resolve_model(settings)[0]
        variant = "int8" if settings.embedding_quantize == "int8" else ""
        self.cache_namespace = cache_namespace(self.model_id, settings.embedding_max_seq_length, variant)
        self.loaded: Embedder | None = None

    def _embedder(self) -> Embedder:
        if self.loaded is None:
            loaded = Embedder(self.settings)  # (its model id is the one resolved above)
            if loaded.cache_namespace != self.cache_namespace:  # int8 asked for, float32 loaded (a fallback)
                raise ModelExportError(
                    f"the model loaded as {loaded.cache_namespace!r}, not {self.cache_namespace!r}: its int8 copy "
                    "could not be built (see the warning above); set NEWSFLOW_EMBEDDING_QUANTIZE=off"
                )
            self.loaded = loaded
        return self.loaded

    @property
    def dim(self) -> int:
        return self._embedder().dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self._embedder().encode(texts)


class _Progress:
    """One INFO line per tenth of the stream (a long replay shows how far it got)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.next_at = 0

    def report(self, done: int, sim: Simulation) -> None:
        if done < self.next_at:
            return
        self.next_at = done + max(self.total // 10, 1)
        topics = sum(1 for m in sim.state.topics.values() if m.status is TopicStatus.ACTIVE)
        log.info("eval: %d of %d articles streamed, %d re-clusterings, %d active topics",
                 done, self.total, sim.reclusterings, topics)  # fmt: skip


def run_evaluation(
    settings: Settings, input_path: Path, out: Path, embedder: CachedEmbedder | None = None
) -> EvalResult:
    """Evaluate on ``input_path`` and write predictions to ``out``; scores when stories are given."""
    started = time.monotonic()
    parsed = [parse_article(line, n) for n, line in enumerate(read_jsonl(input_path), 1)]
    ids = Counter(d.id for d, _ in parsed)
    if dupes := [i for i, c in ids.items() if c > 1]:
        raise ConfigError(f"evaluation input repeats article ids, e.g. {dupes[:3]}")
    if embedder is None:
        from newsflow.store.database import open_store
        from newsflow.store.embeddings_repo import SqlVectorCache

        embedder = CachedEmbedder(_ModelOnDemand(settings), SqlVectorCache(open_store(settings)))
    sim = simulate(settings, [d for d, _ in parsed], embedder)
    topics = sim.final_topics()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for doc, _ in parsed:
            f.write(f"{doc.id}\t{topics[doc.id]}\n")
    gold = {d.id: s for d, s in parsed if s is not None}
    scores = score(gold, {k: str(v) for k, v in topics.items()}) if gold else {}
    return EvalResult(len(parsed), len(set(topics.values())), time.monotonic() - started, sim.reclusterings, scores)
