"""Evaluation inputs from the labelled sets in ``shared/data/stories`` (``newsflow eval --make-input``).

Writes one JSONL file per set in the ``newsflow eval`` format (``id``, ``title``, ``text``,
``published``, ``story``, ``source``, ``language``) plus a gold TSV (``id``, ``story``) for the
reference scorer. Both sets list each story as one contiguous block, and their timestamps are
crawl times in that same order, so replaying them as given would hand the labels to the clusterer.
Every set is therefore re-timed: shuffled with a fixed seed and spread evenly over
``RETIME_HOURS`` from the set's earliest timestamp, so stories interleave and time carries no
label information.

The WikiNews sets are also written with real time, as far as it is known: ``*_dated`` holds only
the articles whose URL carries their publication date (``/2012/09/05/``, ``2012-10-26``,
``/2012/sep/05/``, ``20121004``), published at noon UTC of that day, in time order. About 40 % of
the articles have one; the others are left out rather than given an invented time. These sets
measure what time adds (stories months apart, the window sliding) on real, labelled news.

``*_spread`` sets give every story its own run of days instead (``spread``): a seeded start within
``SPREAD_DAYS`` and a seeded length of half a day to ``SPREAD_MAX_STORY_DAYS``, its articles at
seeded times within it. The window then holds a few stories at a time, stories outlive the window
and the topics' fading time — the low-volume, long-running stream that a 36-hour replay never shows.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

RETIME_HOURS = 36.0
SPARSE_DAYS = 14.0  # ≈ 18 new stories a day, as in a random 1 % of the UCI aggregator over five months
SPARSE_STORY_SIZES = ((1, 0.45), (2, 0.25), (3, 0.15), (4, 0.10), (6, 0.05))  # articles a UCI story keeps
SPARSE_WIKINEWS_MAX = 4  # articles a WikiNews event keeps
SPARSE_GAP_HOURS = 18.0  # mean hours from a story's start to each of its articles (exponential, ≤ a week)
SPREAD_DAYS = 60.0
SPREAD_MAX_STORY_DAYS = {"uci": 21.0, "wikinews_big": 14.0, "wikinews_medium": 14.0}
UCI_FILE = "uci_news_prefix.csv"
GERMAN_FILE = "de_feb2025_paraphrased.jsonl"  # already a labelled stream in real time: written as it is
WIKINEWS_FILES = {"wikinews_big": "wikinews_events_big.json", "wikinews_medium": "wikinews_events_medium.json"}


def retime(
    items: list[dict[str, Any]], start: datetime, seed: int, hours: float = RETIME_HOURS
) -> list[dict[str, Any]]:
    """Shuffle ``items`` with ``seed`` and give them evenly spaced ``published`` times from ``start``."""
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    step = hours * 3600 / max(len(shuffled), 1)
    for k, item in enumerate(shuffled):
        item["published"] = (start + timedelta(seconds=round(k * step))).isoformat()
    return shuffled


def spread(
    items: list[dict[str, Any]], start: datetime, seed: int, max_story_days: float, days: float = SPREAD_DAYS
) -> list[dict[str, Any]]:
    """Each story at seeded times within its own seeded run of days (see the module doc), in time order."""
    rng = random.Random(seed)
    by_story: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_story.setdefault(str(item["story"]), []).append(item)
    out: list[dict[str, Any]] = []
    for story in sorted(by_story):
        first, length = rng.uniform(0, days), rng.uniform(0.5, max_story_days)
        for item in by_story[story]:
            when = start + timedelta(days=first + rng.uniform(0, length))
            out.append({**item, "published": when.replace(microsecond=0).isoformat()})
    return sorted(out, key=lambda item: (item["published"], item["id"]))


def sparse_mix(sets: dict[str, list[dict[str, Any]]], start: datetime, seed: int) -> list[dict[str, Any]]:
    """A sparse stream from every set: most stories one to three articles, spread over
    ``SPARSE_DAYS`` — the shape of a real feed stream, where a few big stories stand among many small
    ones, and one subject comes back as a new story weeks later (UCI's Mt. Gox, GM recall, Titanfall
    stories land on different days). Each story starts at a seeded time; its articles follow within
    hours (exponential, mean ``SPARSE_GAP_HOURS``, at most a week). Story ids get their set's name."""
    rng = random.Random(seed)
    sizes, chances = zip(*SPARSE_STORY_SIZES, strict=True)
    out: list[dict[str, Any]] = []
    for name in sorted(sets):
        by_story: dict[str, list[dict[str, Any]]] = {}
        for item in sets[name]:
            by_story.setdefault(str(item["story"]), []).append(item)
        for story in sorted(by_story):
            items = list(by_story[story])
            rng.shuffle(items)
            keep = int(rng.choices(sizes, chances)[0]) if name == "uci" else SPARSE_WIKINEWS_MAX
            first = start + timedelta(days=rng.uniform(0, SPARSE_DAYS))
            for item in items[:keep]:
                lag = min(rng.expovariate(1 / SPARSE_GAP_HOURS), 7 * 24.0)
                when = (first + timedelta(hours=lag)).replace(microsecond=0)
                out.append({**item, "story": f"{name}:{story}", "published": when.isoformat()})
    return sorted(out, key=lambda item: (item["published"], item["id"]))


def uci_items(path: Path) -> tuple[list[dict[str, Any]], datetime]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    start = datetime.fromtimestamp(min(int(r["TIMESTAMP"]) for r in rows) / 1000, tz=UTC)
    items = [
        {"id": f"uci-{r['ID']}", "title": r["TITLE"], "text": "", "story": r["STORY"],
         "source": r["HOSTNAME"] or r["PUBLISHER"], "language": "en"}
        for r in rows
    ]  # fmt: skip
    return items, start.replace(minute=0, second=0, microsecond=0)


_MONGO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})")


def _crawl_time(article: dict[str, Any]) -> datetime | None:
    match = _MONGO_DATE.search(str(article.get("created_at", "")))
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC) if match else None


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                        "nov", "dec"), 1)}  # fmt: skip
_URL_DATES = (
    re.compile(r"(?<!\d)(?P<y>20[012]\d)[/-](?P<m>0[1-9]|1[0-2])[/-](?P<d>0[1-9]|[12]\d|3[01])(?!\d)"),
    re.compile(r"(?<!\d)(?P<y>20[012]\d)(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"),
    re.compile(r"/(?P<y>20[012]\d)/(?P<b>[a-z]{3})/(?P<d>0[1-9]|[12]\d|3[01])/"),
    re.compile(r"/(?P<y>20[012]\d)/(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])/"),
)


def url_date(url: str) -> datetime | None:
    """The publication day a news URL carries (noon UTC), or None."""
    for pattern in _URL_DATES:
        for match in pattern.finditer(url.lower()):
            month = _MONTHS.get(match["b"]) if "b" in match.groupdict() else int(match["m"])
            if month is None:
                continue
            try:
                return datetime(int(match["y"]), month, int(match["d"]), 12, tzinfo=UTC)
            except ValueError:  # 2012-02-30
                continue
    return None


def wikinews_items(path: Path) -> tuple[list[dict[str, Any]], datetime]:
    events = json.loads(path.read_text(encoding="utf-8"))
    items: list[dict[str, Any]] = []
    times: list[datetime] = []
    for k, event in enumerate(events):
        for article in event["articles"]:
            url = article.get("ext_url", "")
            digest = hashlib.sha1(f"{k}\n{url}\n{article['title']}".encode()).hexdigest()[:16]
            items.append({
                "id": f"wn-{digest}", "title": article["title"].strip(), "text": article.get("text", "").strip(),
                "story": f"event-{k}", "source": urlparse(url).hostname or "", "language": "en", "url": url,
            })  # fmt: skip
            if (when := _crawl_time(article)) is not None:
                times.append(when)
    start = min(times) if times else datetime(2014, 1, 1, tzinfo=UTC)
    return items, start.replace(minute=0, second=0, microsecond=0)


def _write(items: list[dict[str, Any]], out_dir: Path, name: str) -> Path:
    path = out_dir / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps({k: v for k, v in item.items() if k != "url"}, ensure_ascii=False) + "\n")
    with (out_dir / f"{name}.gold.tsv").open("w", encoding="utf-8") as f:
        f.write("id\tstory\n")
        for item in items:
            f.write(f"{item['id']}\t{item['story']}\n")
    return path


def write_eval_inputs(stories_dir: Path, out_dir: Path, seed: int) -> dict[Path, int]:
    """Write ``uci``, ``wikinews_big`` and ``wikinews_medium`` (JSONL + gold TSV) into ``out_dir``, each
    also ``_spread`` over weeks, the WikiNews sets ``_dated``, two sparse streams of all of them
    (``sparse_mix``, ``sparse_mix2``: other seeds), and the German stream ``de_feb2025`` as it is."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sets: list[tuple[str, tuple[list[dict[str, Any]], datetime]]] = []
    if (stories_dir / UCI_FILE).exists():
        sets.append(("uci", uci_items(stories_dir / UCI_FILE)))
    for name, file in WIKINEWS_FILES.items():
        if (stories_dir / file).exists():
            sets.append((name, wikinews_items(stories_dir / file)))
    written: dict[Path, int] = {}
    for name, (items, start) in sets:
        if name.startswith("wikinews"):
            dated = [{**item, "published": when.isoformat()} for item in items if (when := url_date(item["url"]))]
            dated.sort(key=lambda item: (item["published"], item["id"]))
            written[_write(dated, out_dir, f"{name}_dated")] = len(dated)
        spread_items = spread(items, start, seed, SPREAD_MAX_STORY_DAYS[name])
        written[_write(spread_items, out_dir, f"{name}_spread")] = len(items)
        written[_write(retime(items, start, seed), out_dir, name)] = len(items)
    if (stories_dir / GERMAN_FILE).exists():
        german = sorted(read_jsonl(stories_dir / GERMAN_FILE), key=lambda item: (item["published"], item["id"]))
        written[_write(german, out_dir, "de_feb2025")] = len(german)
    if sets:
        by_name = {name: items for name, (items, _) in sets}
        start = min(when for _, (_, when) in sets)
        for k, suffix in enumerate(("", "2")):
            mix = sparse_mix(by_name, start, seed + k)
            written[_write(mix, out_dir, f"sparse_mix{suffix}")] = len(mix)
    return written


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from exc
