"""One topic state, two homes: the store (``sql_state``) and memory (``evaluation/memory_state``) answer the
same reads alike and end in the same state after the same writes (``apply_plan``, a batch's online writes)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import scipy.sparse as sp

from clustering.evaluation.memory_state import MemoryTopicState
from clustering.reclustering.plan import ReclusterPlan
from clustering.reclustering.reconcile import Reconciliation
from clustering.sql_state import SqlTopicState, SqlTopicWrites
from clustering.topic_state import OnlineWrites, apply_plan
from newsflow.contracts import TopicEventKind
from newsflow.records.topic import LineageEvent, Membership, TopicStatus
from newsflow.settings import Settings
from newsflow.store import articles_repo, memberships_repo, topics_repo
from newsflow.store.articles_repo import doc_from_record
from newsflow.store.database import open_store
from tests.unit.clustering.stories import T0, record

IDS = [f"a{k}" for k in range(9)]


def _online(topic: int, opener: str, partner: str, *joiners: str) -> OnlineWrites:
    members = [Membership(a, topic, 0.9, "online") for a in (opener, partner, *joiners)]
    return OnlineWrites([topic], members, {partner})


def test_store_and_memory_read_and_write_alike(settings: Settings) -> None:
    records = [record(a, f"headline {a}", T0 + timedelta(hours=k)) for k, a in enumerate(IDS)]
    now = T0 + timedelta(hours=len(IDS))
    engine = open_store(settings)
    memory = MemoryTopicState(settings, dim=4)
    docs = [doc_from_record(r) for r in records]
    memory.add_articles(docs, np.zeros((len(docs), 4), np.float32), sp.csr_matrix((len(docs), 8), dtype=np.float32))
    batches = [_online(1, "a1", "a0", "a2"), _online(2, "a4", "a3", "a5")]
    with engine.begin() as conn:
        articles_repo.upsert_articles(conn, records, now)
        for online in batches:  # what the worker's batch transaction writes for them
            writes = SqlTopicWrites(conn)
            writes.create_topics(online.created, now)
            writes.write_memberships(online.members, now)
            writes.refresh_stats(online.created, now)
    for online in batches:
        memory.record_online(online)

    # A re-clustering: topic 2 merges into 1, a2 loses its topic, a6 and a7 open topic 3.
    born = LineageEvent(3, TopicEventKind.BORN, now, 2)
    rec = Reconciliation({0: 3}, [born], {2: TopicStatus.MERGED}, {2: 1}, [3], 4)
    plan = ReclusterPlan(now, {}, {"a6": 3, "a7": 3}, ["a2"], rec, {}, [born], {1, 2, 3}, 1)
    with engine.begin() as conn:
        apply_plan(SqlTopicWrites(conn), plan)
    apply_plan(memory, plan)

    with engine.connect() as conn:
        stored = memberships_repo.memberships_of(conn, IDS)
        topics = topics_repo.load_topics(conn, list(TopicStatus))
    assert stored == memory.memberships == {"a0": 1, "a1": 1, "a3": 1, "a4": 1, "a5": 1, "a6": 3, "a7": 3}
    for t, meta in memory.topics.items():
        assert (topics[t].status, topics[t].article_count, topics[t].last_seen) == (
            meta.status, meta.article_count, meta.last_seen,
        )  # fmt: skip
    assert topics[3].last_event_count == memory.topics[3].last_event_count == 2

    sql = SqlTopicState(engine, None, settings)  # type: ignore[arg-type]  # (reads without vectors)
    for start, until, per_topic, total in [(T0, now, 2, 10), (T0, now, 9, 3), (T0 + timedelta(hours=4), now, 1, 9)]:
        assert sql.remembered_members(start, until, per_topic, total) == memory.remembered_members(
            start, until, per_topic, total
        )
        assert sql.unassigned_ids(start, until, 5) == memory.unassigned_ids(start, until, 5)
    assert memory.unassigned_ids(T0, now, 5) == ["a8", "a2"]  # newest first
