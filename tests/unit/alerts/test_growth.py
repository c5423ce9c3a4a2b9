"""The growth detector: steady vs accelerating topics, outlet and near-copy rules, new topics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.alerts.growth import GrowthParams, count_once, ewma, measure, window_counts
from newsflow.records.alert import Arrival
from newsflow.settings import Settings

NOW = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
OUTLETS = ["reuters.com", "bbc.co.uk", "welt.de", "cnn.com"]


@pytest.fixture
def params(settings: Settings) -> GrowthParams:
    return GrowthParams.from_settings(settings)


def hourly(per_hour: list[int], end: datetime = NOW, prefix: str = "a") -> list[Arrival]:
    """Arrivals with ``per_hour[i]`` articles in hour i (the last entry is the hour ending at ``end``)."""
    out = []
    for i, n in enumerate(per_hour):
        hour_end = end - timedelta(hours=len(per_hour) - 1 - i)
        for k in range(n):
            when = hour_end - timedelta(minutes=50) + timedelta(minutes=k * 40 / max(n, 1))
            out.append(Arrival(f"{prefix}{i}-{k}", when, OUTLETS[k % len(OUTLETS)]))
    return out


def test_window_counts_bins_are_half_open_at_the_old_end() -> None:
    w = timedelta(hours=1)
    times = [NOW, NOW - timedelta(minutes=59), NOW - w, NOW - 2 * w - timedelta(minutes=1), NOW + timedelta(seconds=1)]
    assert window_counts(times, NOW, w, windows=3) == [0, 1, 1, 2]


def test_ewma_of_a_constant_has_that_mean_and_no_variance() -> None:
    assert ewma([4, 4, 4, 4], alpha=0.3) == (4.0, 0.0)
    mean, var = ewma([1, 5, 1, 5, 1, 5], alpha=0.3)
    assert 2 < mean < 4 and var > 1


def test_steady_topic_does_not_fire(params: GrowthParams) -> None:
    arrivals = hourly([6] * 24)
    g = measure(1, arrivals[0].published_at, arrivals, NOW, params)
    assert g.recent_count == 6 and g.recent_outlets == 4 and not g.is_new
    assert abs(g.baseline_rate - 6) < 1e-9 and abs(g.z_score) < 1e-9
    assert not g.breaching and g.growth_score == 0


def test_accelerating_topic_fires(params: GrowthParams) -> None:
    arrivals = hourly([1] * 20 + [9])
    g = measure(1, arrivals[0].published_at, arrivals, NOW, params)
    assert g.recent_count == 9 and abs(g.baseline_rate - 1) < 1e-9
    assert g.z_score >= params.z_threshold and g.breaching
    assert g.growth_score > 0


def test_single_outlet_burst_does_not_fire(params: GrowthParams) -> None:
    arrivals = [Arrival(a.article_id, a.published_at, "one-feed.example") for a in hourly([1] * 20 + [12])]
    g = measure(1, arrivals[0].published_at, arrivals, NOW, params)
    assert g.z_score >= params.z_threshold and g.recent_outlets == 1
    assert not g.breaching


def test_too_few_articles_do_not_fire(params: GrowthParams) -> None:
    arrivals = hourly([0] * 20 + [params.min_articles - 1])
    g = measure(1, NOW - timedelta(hours=20), arrivals, NOW, params)
    assert g.z_score >= params.z_threshold and not g.breaching


def test_near_copies_are_counted_once(params: GrowthParams) -> None:
    base = hourly([1] * 20, end=NOW - timedelta(hours=1))
    originals = [Arrival(f"orig-{k}", NOW - timedelta(minutes=30 - k), OUTLETS[k % 2]) for k in range(3)]
    copies = [Arrival(f"copy-{k}-{j}", NOW - timedelta(minutes=20 - k), OUTLETS[2 + j % 2], f"orig-{k}")
              for k in range(3) for j in range(3)]  # fmt: skip
    assert len(count_once(originals + copies)) == 3
    g = measure(1, base[0].published_at, base + originals + copies, NOW, params)
    assert g.recent_count == 3 and g.recent_outlets == 2
    assert not g.breaching  # 12 raw articles, but only 3 stories' worth of arrivals


def test_copies_without_their_original_in_the_topic_are_one_arrival() -> None:
    copies = [Arrival(f"c{k}", NOW - timedelta(minutes=k), OUTLETS[k], "elsewhere") for k in range(3)]
    once = count_once(copies)
    assert [a.article_id for a in once] == ["c2"]  # the earliest copy stands for the group


def test_new_topic_that_grows_fast_fires(params: GrowthParams) -> None:
    arrivals = [Arrival(f"n{k}", NOW - timedelta(minutes=50 - 8 * k), OUTLETS[k % 3]) for k in range(6)]
    g = measure(1, arrivals[0].published_at, arrivals, NOW, params)
    assert g.is_new and g.baseline_rate == 0
    assert g.recent_count == 6 and g.breaching


def test_old_topic_with_the_same_burst_but_a_high_baseline_does_not_fire(params: GrowthParams) -> None:
    arrivals = hourly([6] * 20 + [6])
    g = measure(1, arrivals[0].published_at, arrivals, NOW, params)
    assert not g.is_new and not g.breaching


def test_future_arrivals_are_ignored_on_a_simulated_clock(params: GrowthParams) -> None:
    arrivals = hourly([1] * 20 + [9])
    earlier = NOW - timedelta(hours=1)
    g = measure(1, arrivals[0].published_at, arrivals, earlier, params)
    assert g.recent_count == 1 and not g.breaching
