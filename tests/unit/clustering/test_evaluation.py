"""``newsflow eval``: metrics agree with the reference scorer; inputs are re-timed; the replay is the real pipeline."""

from __future__ import annotations

import importlib.util
import itertools
import json
import random
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import clustering.evaluation.evaluate as evaluate
import clustering.reclustering.plan as plan
from clustering.embedding.embed import CachedEmbedder, Embedder, MemoryCache, text_key
from clustering.evaluation.eval_data import url_date, write_eval_inputs
from clustering.evaluation.evaluate import Simulation, _ModelOnDemand, run_evaluation, simulate
from clustering.evaluation.metrics import bcubed_by_article, bcubed_mean, load_gold, load_pred, per_story, score
from newsflow.records.doc import Doc
from newsflow.records.topic import TopicMeta, TopicStatus
from newsflow.settings import Settings
from tests.conftest import REPO_ROOT
from tests.unit.clustering.stories import STORIES, T0

SHARED = REPO_ROOT.parent / "shared"


def reference_scorer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_score", SHARED / "eval" / "score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", range(5))
def test_metrics_agree_with_the_reference_scorer(seed: int) -> None:
    rng = random.Random(seed)
    gold = {f"a{i}": f"s{rng.randrange(12)}" for i in range(300)}
    pred = {a: f"c{rng.randrange(20)}" for a in gold if rng.random() < 0.9}  # some missing: singletons
    pred["not-in-gold"] = "c1"
    ours, ref = score(gold, pred), reference_scorer().score(gold, pred)
    assert ours.keys() == ref.keys()
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_perfect_and_trivial_clusterings() -> None:
    gold = {"a": "x", "b": "x", "c": "y"}
    assert score(gold, gold)["bcubed_f1"] == 1.0 and score(gold, gold)["pairwise_f1"] == 1.0
    singletons = score(gold, {})
    assert singletons["bcubed_p"] == 1.0 and singletons["pairwise_r"] == 0.0



def test_per_article_b_cubed_averages_to_the_overall_scores_and_counts_whole_clusters() -> None:
    gold = {"a": "x", "b": "x", "c": "x", "d": "y", "e": "y"}
    pred = {"a": "1", "b": "1", "c": "2", "d": "2", "e": "3"}
    values = bcubed_by_article(gold, pred)
    assert values["c"] == (0.5, pytest.approx(1 / 3)) and values["e"] == (1.0, 0.5)
    overall = score(gold, pred)
    mean = bcubed_mean(values)
    assert mean["bcubed_p"] == pytest.approx(overall["bcubed_p"])
    assert mean["bcubed_r"] == pytest.approx(overall["bcubed_r"])
    # a fold's mean still sees the other fold's articles in its clusters: "d" shares cluster 2 with "c"
    assert bcubed_mean(values, ["d"])["bcubed_p"] == 0.5
    stories = per_story(gold, values)
    assert stories["x"] == (3, pytest.approx((1 + 1 + 0.5) / 3), pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3))
    assert stories["y"] == (2, pytest.approx(0.75), pytest.approx(0.5))


def test_make_input_retimes_so_stories_interleave(tmp_path: Path) -> None:
    written = write_eval_inputs(SHARED / "data" / "stories", tmp_path, seed=42)
    assert {p.name: n for p, n in written.items()} == {
        "uci.jsonl": 6366, "wikinews_big.jsonl": 335, "wikinews_medium.jsonl": 206,
        "wikinews_big_dated.jsonl": 136, "wikinews_medium_dated.jsonl": 73,
        "uci_spread.jsonl": 6366, "wikinews_big_spread.jsonl": 335, "wikinews_medium_spread.jsonl": 206,
        "sparse_mix.jsonl": 608, "sparse_mix2.jsonl": 630, "de_feb2025.jsonl": 143,
    }  # fmt: skip
    sparse = [json.loads(x) for x in (tmp_path / "sparse_mix.jsonl").read_text().splitlines()]
    sizes = Counter(Counter(item["story"] for item in sparse).values())
    assert sum(n for k, n in sizes.items() if k <= 3) > 0.6 * sum(sizes.values())  # most stories 1-3 articles
    days = (datetime.fromisoformat(sparse[-1]["published"]) - datetime.fromisoformat(sparse[0]["published"])).days
    assert 10 <= days <= 21
    assert {item["story"].split(":")[0] for item in sparse} == {"uci", "wikinews_big", "wikinews_medium"}
    lines = [json.loads(x) for x in (tmp_path / "uci.jsonl").read_text().splitlines()]
    assert set(lines[0]) == {"id", "title", "text", "published", "story", "source", "language"}
    times = [datetime.fromisoformat(x["published"]) for x in lines]
    assert max(times) - min(times) <= timedelta(hours=36) and times == sorted(times)
    runs = sum(1 for a, b in itertools.pairwise(lines) if a["story"] != b["story"])
    assert runs > 0.9 * len(lines)  # neighbours in time almost never share a story
    gold = load_gold(tmp_path / "uci.gold.tsv")
    assert len(gold) == 6366 and gold[lines[0]["id"]] == lines[0]["story"]
    again = tmp_path / "again"
    write_eval_inputs(SHARED / "data" / "stories", again, seed=42)
    assert (again / "wikinews_big.jsonl").read_bytes() == (tmp_path / "wikinews_big.jsonl").read_bytes()


def test_eval_replays_a_labelled_stream(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    items = [
        {"id": f"{story}-{k}", "title": title, "text": "", "story": story, "language": "en",
         "published": (T0 + timedelta(minutes=11 * (k * 3 + j))).isoformat()}
        for j, (story, titles) in enumerate(STORIES.items())
        for k, title in enumerate(titles)
    ]  # fmt: skip
    random.Random(1).shuffle(items)  # the file's order does not matter, publication time does
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(i) + "\n" for i in items))
    out = tmp_path / "pred.tsv"
    result = run_evaluation(settings, src, out, embedder=CachedEmbedder(embedder, MemoryCache()))
    assert result.articles == 15 and result.reclusterings >= 2
    pred = load_pred(out)
    assert set(pred) == {i["id"] for i in items}
    assert result.scores["bcubed_f1"] == pytest.approx(1.0)
    reference = reference_scorer().score({i["id"]: i["story"] for i in items}, pred)
    assert reference["bcubed_f1"] == pytest.approx(result.scores["bcubed_f1"])


def test_a_stream_with_quiet_days_skips_only_runs_that_would_see_the_same_window(
    tmp_path: Path, settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stories a week apart: the window empties between them (it used to crash the replay), and the
    replay skips the scheduled runs that would see an unchanged window — with the same outcome as
    running every one of them."""
    items = [
        {"id": f"{story}-{k}", "title": title, "text": "", "story": story, "language": "en",
         "published": (T0 + timedelta(days=7 * j, hours=5 * k)).isoformat()}
        for j, (story, titles) in enumerate(STORIES.items())
        for k, title in enumerate(titles)
    ]  # fmt: skip
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(i) + "\n" for i in items))
    cached = CachedEmbedder(embedder, MemoryCache())
    skipping = run_evaluation(settings, src, tmp_path / "skipping.tsv", embedder=cached)
    monkeypatch.setattr(Simulation, "next_change", lambda self, now, next_article: now)  # every tick runs
    every = run_evaluation(settings, src, tmp_path / "every.tsv", embedder=cached)
    assert load_pred(tmp_path / "skipping.tsv") == load_pred(tmp_path / "every.tsv")
    # (the same-story model leaves one of the 15 headlines alone: five-word headlines hours apart)
    assert skipping.scores == every.scores and every.scores["bcubed_f1"] >= 0.9
    span_ticks = (2 * 7 * 24 + 5 * 4) * 60 // settings.recluster_every_minutes
    assert every.reclusterings >= span_ticks and skipping.reclusterings < every.reclusterings / 20


def topic_state(topics: dict[int, TopicMeta]) -> dict[int, tuple[Any, ...]]:
    return {
        t: (m.status, m.first_seen, m.last_seen, m.article_count, m.last_event_count,
            None if m.centroid is None else m.centroid.tobytes())
        for t, m in topics.items()
    }  # fmt: skip


def test_the_replay_skips_only_work_whose_result_it_already_has(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs that see the window of the run before take its clustering, the online state is built only
    for a batch, topics get centroids without summaries, the window's frequencies slide along: the
    state at the end is bit for bit that of doing all of it at every run, as the worker and the job do."""
    rng = random.Random(7)
    docs = [
        Doc(f"{story}-{k}", title, "", T0 + timedelta(hours=30 * j + 14 * k + rng.uniform(0, 6)), language="en")
        for j, (story, titles) in enumerate(STORIES.items())
        for k, title in enumerate(titles)
    ]  # fmt: skip
    docs.append(Doc("late", STORIES["unicredit"][0], "", T0 + timedelta(days=12)))  # from topic memory
    calls: Counter[str] = Counter()
    for module, name in ((plan, "cluster_window"), (evaluate, "build_clusterer"), (evaluate, "represent_window")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=real, _n=name, **k: (calls.update([_n]), _f(*a, **k))[1])
    cached = CachedEmbedder(embedder, MemoryCache())
    fast = simulate(settings, docs, cached)
    shortcuts, calls = calls, Counter()
    monkeypatch.setattr(Simulation, "reuse", False)
    full = simulate(settings, docs, cached)
    assert fast.reclusterings == full.reclusterings > 50
    assert fast.final_topics() == full.final_topics() and fast.state.memberships == full.state.memberships
    assert topic_state(fast.state.topics) == topic_state(full.state.topics)
    assert np.array_equal(fast.vectoriser.df, full.vectoriser.df) and fast.vectoriser.n_docs == full.vectoriser.n_docs
    statuses = Counter(m.status for m in full.state.topics.values())
    assert len(set(full.final_topics().values())) >= 3 and statuses[TopicStatus.FADED] >= 1
    assert calls["cluster_window"] == calls["build_clusterer"] == full.reclusterings
    assert shortcuts["cluster_window"] == shortcuts["represent_window"] < full.reclusterings / 2
    assert shortcuts["build_clusterer"] < full.reclusterings / 4


def test_a_replay_of_embedded_texts_never_loads_the_model(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["Flappy Bird could return", "SAC Capital renames itself"]
    lazy = _ModelOnDemand(settings)
    cache = MemoryCache()
    vectors = np.eye(2, 4, dtype=np.float32)
    cache.put_many(lazy.cache_namespace, {text_key(t): v for t, v in zip(texts, vectors, strict=True)})
    monkeypatch.setattr(evaluate, "Embedder", lambda *_: pytest.fail("the model was loaded"))
    assert np.array_equal(CachedEmbedder(lazy, cache).embed(texts), vectors) and lazy.loaded is None
    with pytest.raises(pytest.fail.Exception):
        CachedEmbedder(lazy, cache).embed(["A text the cache does not hold"])


def test_dated_wikinews_sets_keep_the_publication_day_their_urls_carry(tmp_path: Path) -> None:
    write_eval_inputs(SHARED / "data" / "stories", tmp_path, seed=42)
    retimed = {x["id"]: x for x in map(json.loads, (tmp_path / "wikinews_big.jsonl").read_text().splitlines())}
    dated = [json.loads(x) for x in (tmp_path / "wikinews_big_dated.jsonl").read_text().splitlines()]
    times = [datetime.fromisoformat(x["published"]) for x in dated]
    assert times == sorted(times) and max(times) - min(times) > timedelta(days=300)  # real time, not re-timed
    assert all(t.hour == 12 and t.minute == 0 for t in times)
    for item in dated:  # the same articles and stories as the re-timed set, only the time differs
        assert {**item, "published": None} == {**retimed[item["id"]], "published": None}
    assert len({x["story"] for x in dated}) > 50


def test_spread_sets_give_each_story_its_own_run_of_days(tmp_path: Path) -> None:
    write_eval_inputs(SHARED / "data" / "stories", tmp_path, seed=42)
    lines = [json.loads(x) for x in (tmp_path / "uci_spread.jsonl").read_text().splitlines()]
    times = [datetime.fromisoformat(x["published"]) for x in lines]
    assert times == sorted(times) and timedelta(days=50) < max(times) - min(times) <= timedelta(days=81)
    spans: dict[str, list[datetime]] = {}
    for item, when in zip(lines, times, strict=True):
        spans.setdefault(item["story"], []).append(when)
    lengths = sorted(max(ts) - min(ts) for ts in spans.values())
    assert lengths[-1] <= timedelta(days=21) and lengths[len(lengths) // 2] > timedelta(days=3)  # outlive the window
    retimed = {x["id"]: x for x in map(json.loads, (tmp_path / "uci.jsonl").read_text().splitlines())}
    assert all({**x, "published": None} == {**retimed[x["id"]], "published": None} for x in lines)


@pytest.mark.parametrize(("url", "day"), [
    ("http://www.hrw.org/news/2012/09/05/us-torture-and-rendition", "2012-09-05"),
    ("http://www.guardian.co.uk/uk/2012/oct/16/attorney-general-blocks", "2012-10-16"),
    ("http://www.huffingtonpost.com/huff-wires/20121004/us-debate-big-bird/", "2012-10-04"),
    ("http://www.csmonitor.com/USA/DC-Decoder/2012/0927/Is-47-percent", "2012-09-27"),
    ("http://news.xinhuanet.com/english/world/2012-10/26/c_131931858.htm", "2012-10-26"),
    ("http://www.nytimes.com/2012/11/politics/a-month-only.html", None),
    ("http://www.bbc.co.uk/news/uk-20174081", None),  # an id, not a date
    ("http://example.com/2012/02/30/no-such-day", None),
])  # fmt: skip
def test_url_dates(url: str, day: str | None) -> None:
    found = url_date(url)
    assert (found.date().isoformat() if found else None) == day
