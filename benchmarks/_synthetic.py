"""Synthetic news for the clustering benchmarks: stories with made-up keywords and embeddings around centres.

Each story gets a unit centre in the embedding space and a handful of made-up keywords; each of its
articles is the centre plus Gaussian noise (renormalised; cosine to the centre about ``centre_cos``)
and a headline + lead that mix the story's keywords with background words. A share of articles are
singletons (a story of one). Publication times spread over ``span_hours``, oldest first, and the
articles of one story cluster in time. Deterministic for a seed.

Used as a helper module by the scripts in this folder (they run with this folder on ``sys.path``).
"""

from __future__ import annotations

import math
import random
import resource
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from newsflow.records.doc import Doc

SYLLABLES = ("ka", "ri", "to", "men", "sa", "lo", "de", "vi", "na", "pe", "ur", "os", "tal", "gen", "mar", "dor")
FUNCTION_WORDS = ("the", "of", "and", "to", "in", "a", "is", "that", "for", "on", "said", "with", "as", "at", "by")
ANCHOR = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
DIM = 384


@dataclass
class Synthetic:
    docs: list[Doc]
    dense: np.ndarray  # (n, DIM) float32, unit rows
    story: np.ndarray  # (n,) story index of each article
    centres: np.ndarray  # (stories, DIM) float32, unit rows
    keywords: list[list[str]]  # per story


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5))) for _ in range(size * 2)}
    out = sorted(words)
    rng.shuffle(out)
    return out[:size]


def noise_sigma(dim: int, centre_cos: float) -> float:
    """Per-coordinate noise that puts a renormalised article at about ``centre_cos`` from its centre."""
    return math.sqrt((1.0 / centre_cos**2 - 1.0) / dim)


def unit_rows(x: np.ndarray) -> np.ndarray:
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def story_sizes(n: int, mean_size: float, singleton_share: float, rng: np.random.Generator) -> list[int]:
    """Sizes summing to ``n``: ``singleton_share`` of articles alone, the rest in geometric-sized stories."""
    singles = round(n * singleton_share)
    sizes = [1] * singles
    left = n - singles
    p = 1.0 / max(mean_size - 1.0, 1.0)  # 2 + geometric: mean ≈ mean_size
    while left > 0:
        size = min(left, 1 + int(rng.geometric(p)))
        sizes.append(size)
        left -= size
    return sizes


def generate(
    n: int,
    *,
    mean_story_size: float = 8.0,
    singleton_share: float = 0.1,
    centre_cos: float = 0.75,
    span_hours: float = 72.0,
    seed: int = 7,
    dim: int = DIM,
    subjects: int = 0,
    subject_cos: float = 0.6,
) -> Synthetic:
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)
    words = vocabulary(prng, 20_000)
    background, pool = words[:5000], words[5000:]
    sizes = story_sizes(n, mean_story_size, singleton_share, rng)
    order = rng.permutation(len(sizes))
    sizes = [sizes[k] for k in order]
    stories = len(sizes)
    centres = unit_rows(rng.standard_normal((stories, dim)).astype(np.float32))
    if subjects:  # stories grouped by subject (as news is): each centre about ``subject_cos`` from its subject's
        subject_centres = unit_rows(rng.standard_normal((subjects, dim)).astype(np.float32))
        subject = subject_centres[rng.integers(subjects, size=stories)]
        centres = unit_rows(subject + centres * np.float32(math.sqrt(1.0 / subject_cos**2 - 1.0)))
    keywords = [prng.sample(pool, 6) for _ in range(stories)]
    story = np.repeat(np.arange(stories), sizes)
    # A story's articles sit within a few hours of its start; the starts spread over the span.
    starts = rng.uniform(0.0, span_hours, stories)
    hours = np.clip(starts[story] + rng.exponential(3.0, n), 0.0, span_hours)
    chrono = np.argsort(hours, kind="stable")
    story, hours = story[chrono], hours[chrono]
    dense = centres[story] + rng.standard_normal((n, dim)).astype(np.float32) * noise_sigma(dim, centre_cos)
    dense = unit_rows(dense.astype(np.float32))

    def text(s: int, length: int, topical: float) -> str:
        kw = keywords[s]
        picked = [
            prng.choice(FUNCTION_WORDS)
            if i % 3 == 1
            else (prng.choice(kw) if prng.random() < topical else background[int(5000 * prng.random() ** 2.5)])
            for i in range(length)
        ]
        return " ".join(picked).capitalize()

    start = ANCHOR - timedelta(hours=span_hours)
    docs = [
        Doc(
            id=f"syn-{i:07d}",
            title=text(int(s), 9, 0.6),
            body=text(int(s), 30, 0.3) + ".",
            published=start + timedelta(hours=float(h)),
            outlet=f"outlet-{i % 50}",
            language="en",
        )
        for i, (s, h) in enumerate(zip(story.tolist(), hours.tolist(), strict=True))
    ]
    return Synthetic(docs=docs, dense=dense, story=story, centres=centres, keywords=keywords)
