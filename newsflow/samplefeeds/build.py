"""Sample RSS feeds built from the bundled data: one feed per outlet host, plus welt.de.

Two samples: ``de`` (the default) is the labelled German stream of January–April 2025, one feed per
``source`` host, with the items' own publication times; ``en`` is the UCI News Aggregator prefix.
Its rows come in story blocks with crawl timestamps, so replaying them as they are would give the
story labels away. Rows are therefore shuffled with a fixed seed and
re-timed evenly over 36 hours ending at a fixed anchor: stories interleave, and every build is
identical. The gold story id travels only in a namespaced element (``newsflow:story``), which
ingestion ignores; evaluation reads it from ``gold_stories()``.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args
from xml.sax.saxutils import escape, quoteattr

DATA_DIR = Path(__file__).parent / "data"
UCI_CSV = DATA_DIR / "uci_news_prefix.csv"
WELT_TXT = DATA_DIR / "welt-2025-02-13-trump-putin-call.txt"
GERMAN_JSONL = DATA_DIR / "de_feb2025_paraphrased.jsonl"

Sample = Literal["de", "en"]
SAMPLES: tuple[Sample, ...] = get_args(Sample)
DEFAULT_SAMPLE: Sample = "de"

# The UCI rows were crawled 10-12 March 2014; they are re-timed into the 36 hours ending the day of the
# welt.de seed article, so the sample is one stream that a 72-hour re-clustering window covers whole.
DEFAULT_ANCHOR = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
SPAN = timedelta(hours=36)
SEED = 20140312
NAMESPACE = "https://newsflow.invalid/ns/samplefeeds"
WELT_FEED = "welt.de"
# The seed file has no URL or time; the article ran the morning after the call of 12 February 2025.
WELT_LINK = "https://www.welt.de/sample/welt-2025-02-13-trump-putin-call"
WELT_PUBLISHED = datetime(2025, 2, 13, 6, 0, tzinfo=UTC)
_BACKSLASH = re.compile(r"\\(.)")


@dataclass(frozen=True)
class SampleItem:
    title: str
    link: str
    published: datetime
    description: str
    content: str = ""  # full text, as <content:encoded>
    story: str | None = None  # gold label; never part of the text

    @property
    def guid(self) -> str:
        return self.link


@dataclass(frozen=True)
class SampleFeed:
    name: str
    outlet: str
    language: str
    home: str
    items: tuple[SampleItem, ...]  # newest first, as feeds list them

    def visible(self, until: datetime | None) -> tuple[SampleItem, ...]:
        return self.items if until is None else tuple(i for i in self.items if i.published <= until)


def _clean_url(url: str) -> str:
    # CSV artefacts of the original dataset: escaped '?' and HTML-escaped '&'.
    return url.replace("\\?", "?").replace("&amp;", "&")


def _unescape(text: str) -> str:
    # The dataset backslash-escapes punctuation in publisher names: "Reuters UK \(blog\)".
    return _BACKSLASH.sub(r"\1", text)


def _uci_rows() -> list[dict[str, str]]:
    with UCI_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def retime(count: int, anchor: datetime, seed: int) -> list[tuple[int, datetime]]:
    """(row index, new time) pairs: rows in a seeded shuffle, times evenly spaced, the last at ``anchor``."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    step = SPAN / max(count - 1, 1)
    start = anchor - SPAN
    return [(row, (start + step * i).replace(microsecond=0)) for i, row in enumerate(order)]


def _uci_feeds(anchor: datetime, seed: int) -> list[SampleFeed]:
    rows = _uci_rows()
    by_host: dict[str, list[SampleItem]] = defaultdict(list)
    publishers: dict[str, Counter[str]] = defaultdict(Counter)
    for index, published in retime(len(rows), anchor, seed):
        row = rows[index]
        host = row["HOSTNAME"].strip().lower()
        publishers[host][_unescape(row["PUBLISHER"].strip()) or host] += 1
        title = row["TITLE"].strip()
        item = SampleItem(title, _clean_url(row["URL"].strip()), published, title, story=row["STORY"])
        by_host[host].append(item)
    return [
        SampleFeed(
            name=host,
            outlet=publishers[host].most_common(1)[0][0],
            language="en",
            home=f"http://{host}/",
            items=_newest_first(items),
        )
        for host, items in by_host.items()
    ]


def _welt_feed() -> SampleFeed:
    lines = WELT_TXT.read_text(encoding="utf-8").strip().splitlines()
    if lines and lines[-1].strip().lower().startswith("source:"):
        lines = lines[:-1]
    title, body = lines[0].strip(), "\n".join(lines[1:]).strip()
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    item = SampleItem(
        title=title,
        link=WELT_LINK,
        published=WELT_PUBLISHED,
        description=paragraphs[0] if paragraphs else "",
        content="".join(f"<p>{escape(p)}</p>" for p in paragraphs),
    )
    return SampleFeed(WELT_FEED, "WELT", "de", "https://www.welt.de/", (item,))


def parse_sample(value: str) -> Sample:
    """A sample's name as a user typed it ("DE ", "en"); ValueError for any other."""
    for sample in SAMPLES:
        if value.strip().lower() == sample:
            return sample
    raise ValueError(f"{value!r} is not one of {', '.join(SAMPLES)}")


def german_link(host: str, item_id: str) -> str:
    """The made-up link of a German sample item (the data set has no URLs): host and id, nothing else."""
    return f"https://{host}/newsflow-sample/{item_id}"


def _german_rows() -> list[dict[str, str]]:
    with GERMAN_JSONL.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _german_item(row: dict[str, str]) -> SampleItem:
    host = row["source"].strip().lower()
    text = row["text"].strip()
    published = datetime.fromisoformat(row["published"]).astimezone(UTC)
    return SampleItem(row["title"].strip(), german_link(host, row["id"]), published, text, story=row["story"])


def _german_feeds() -> list[SampleFeed]:
    by_host: dict[str, list[SampleItem]] = defaultdict(list)
    for row in _german_rows():
        by_host[row["source"].strip().lower()].append(_german_item(row))
    return [
        SampleFeed(host, host.removeprefix("www."), "de", f"https://{host}/", _newest_first(items))
        for host, items in by_host.items()
    ]


def _newest_first(items: Iterable[SampleItem]) -> tuple[SampleItem, ...]:
    return tuple(sorted(items, key=lambda i: (i.published, i.link), reverse=True))


def _add_feed(feeds: dict[str, SampleFeed], feed: SampleFeed) -> None:
    """Add ``feed``; a feed of the same name (a sample outlet that is welt.de) gets its items instead."""
    known = feeds.get(feed.name)
    if known is not None:
        feed = replace(known, items=_newest_first((*known.items, *feed.items)))
    feeds[feed.name] = feed


@lru_cache(maxsize=4)
def build_sample_feeds(
    anchor: datetime = DEFAULT_ANCHOR, seed: int = SEED, sample: Sample = DEFAULT_SAMPLE
) -> dict[str, SampleFeed]:
    """Every feed of ``sample`` by name, welt.de included (deterministic; ``anchor``/``seed`` re-time ``en`` only)."""
    if sample not in SAMPLES:
        raise ValueError(f"unknown sample {sample!r} (one of {', '.join(SAMPLES)})")
    built = _german_feeds() if sample == "de" else _uci_feeds(anchor, seed)
    feeds: dict[str, SampleFeed] = {}
    for feed in (*built, _welt_feed()):
        _add_feed(feeds, feed)
    return feeds


def live_offset(published: Iterable[datetime], now: datetime) -> timedelta:
    """The one shift that moves the newest of ``published`` to ``now`` (ValueError when there is none)."""
    newest = max(published, default=None)
    if newest is None:
        raise ValueError("no publication times to shift")
    return now - newest


def shift_feeds(feeds: Mapping[str, SampleFeed], offset: timedelta) -> dict[str, SampleFeed]:
    """The same feeds with every item's publication time moved by ``offset`` (spacing and order kept)."""
    return {
        name: replace(feed, items=tuple(replace(i, published=i.published + offset) for i in feed.items))
        for name, feed in feeds.items()
    }


def live_sample_feeds(now: datetime, sample: Sample = DEFAULT_SAMPLE) -> dict[str, SampleFeed]:
    """The feeds of ``sample`` shifted so that the newest item is published at ``now``, as on a live stream."""
    feeds = build_sample_feeds(sample=sample)
    return shift_feeds(feeds, live_offset((i.published for f in feeds.values() for i in f.items), now))


def top_feed_names(feeds: Mapping[str, SampleFeed], top_n: int | None) -> list[str]:
    """The ``top_n`` outlet feeds by article count (ties by name; None: all), welt.de excluded."""
    ranked = sorted((f for f in feeds.values() if f.name != WELT_FEED), key=lambda f: (-len(f.items), f.name))
    return [f.name for f in ranked[: None if top_n is None else max(top_n, 0)]]


def gold_stories(
    anchor: datetime = DEFAULT_ANCHOR, seed: int = SEED, sample: Sample = DEFAULT_SAMPLE
) -> dict[str, str]:
    """Item link -> gold story label, for evaluating clustering of the sample stream."""
    feeds = build_sample_feeds(anchor, seed, sample)
    return {i.link: i.story for f in feeds.values() for i in f.items if i.story}


def render_rss(feed: SampleFeed, self_url: str, until: datetime | None = None) -> bytes:
    """RSS 2.0 for the items visible at ``until`` (all when None)."""
    items = feed.visible(until)
    built = items[0].published if items else datetime(1970, 1, 1, tzinfo=UTC)
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"',
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"',
        f" xmlns:newsflow={quoteattr(NAMESPACE)}>\n<channel>\n",
        f"<title>{escape(feed.outlet)}</title>\n<link>{escape(feed.home)}</link>\n",
        f"<description>Sample feed: {escape(feed.outlet)}</description>\n",
        f"<language>{feed.language}</language>\n",
        f"<lastBuildDate>{format_datetime(built, usegmt=True)}</lastBuildDate>\n",
        f'<atom:link href={quoteattr(self_url)} rel="self" type="application/rss+xml"/>\n',
    ]
    parts.extend(_render_item(item) for item in items)
    parts.append("</channel>\n</rss>\n")
    return "".join(parts).encode("utf-8")


def _render_item(item: SampleItem) -> str:
    out = [
        "<item>",
        f"<title>{escape(item.title)}</title>",
        f"<link>{escape(item.link)}</link>",
        f'<guid isPermaLink="true">{escape(item.guid)}</guid>',
        f"<pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>",
        f"<description>{escape(item.description)}</description>",
    ]
    if item.content:
        out.append(f"<content:encoded>{escape(item.content)}</content:encoded>")
    if item.story:
        out.append(f"<newsflow:story>{escape(item.story)}</newsflow:story>")
    out.append("</item>\n")
    return "".join(out)
