"""The tuning script's "many small stories" proxy window (benchmarks/clustering_tune.py)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from benchmarks.clustering_tune import Labelled, thinned_mix
from newsflow.records.doc import Doc
from tests.unit.clustering.stories import T0


def labelled(prefix: str, sizes: list[int], start_minute: int) -> Labelled:
    docs, gold = [], {}
    for story, size in enumerate(sizes):
        for n in range(size):
            when = T0 + timedelta(minutes=start_minute + 7 * n + story)
            doc = Doc(f"{prefix}{story}-{n}", f"title {story} {n}", "", when)
            docs.append(doc)
            gold[doc.id] = str(story)
    return docs, gold


MEDIUM = labelled("m", [2, 3, 1], start_minute=0)
UCI = labelled("u", [40, 60, 1, 25], start_minute=3)


def test_thinned_mix_keeps_medium_and_samples_every_uci_story() -> None:
    docs, gold = thinned_mix(MEDIUM, UCI, seed=0)
    assert {d.id for d in MEDIUM[0]} <= {d.id for d in docs}
    assert set(gold) == {d.id for d in docs}
    uci_sizes = Counter(story for doc_id, story in gold.items() if story.startswith("u"))
    assert set(uci_sizes) == {"u0", "u1", "u2", "u3"}  # every story is kept, with one article at least
    assert all(1 <= uci_sizes[f"u{s}"] <= size for s, size in enumerate([40, 60, 1, 25]))
    assert sum(uci_sizes.values()) < 40  # thinned: geometric sizes, mean 3.3, not the stories' 126
    assert {gold[d.id] for d in MEDIUM[0]} == {"w0", "w1", "w2"}  # the two sets' story ids cannot clash
    assert [d.published for d in docs] == sorted(d.published for d in docs)  # one window in time order


def test_thinned_mix_is_seeded() -> None:
    first, again, other = (thinned_mix(MEDIUM, UCI, seed=s)[1] for s in (1, 1, 2))
    assert first == again
    assert first != other
