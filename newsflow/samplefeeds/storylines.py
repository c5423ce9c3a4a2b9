"""Where the seed article's story lines ended up: the demo's closing summary, computed from plain mappings.

The user's example (the welt.de article on the Trump–Putin call of 12 February 2025) asks for three
story lines that share their actors to become separate topics: the peace talks (the call, the Riyadh
talks, the Munich Security Conference), the US–Ukraine rare-earth deal and the US–Russia prisoner
releases (Fogel, Vinnik, Karelina). The German sample labels each item with one story; this module
maps those labels to the three lines and reports, without judging the clustering kindly, which topics
hold each line, where the seed article is, and which topics mix two lines.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

PEACE_TALKS = "peace talks"
# Line -> the sample's story labels. gaza-hostage-releases is a different story (Israel/Hamas, no shared actors).
STORY_LINES: dict[str, tuple[str, ...]] = {
    PEACE_TALKS: ("trump-putin-call", "riyadh-talks", "munich-security-conference"),
    "rare-earth deal": ("rare-earth-deal",),
    "prisoner releases": ("fogel-release",),
}


@dataclass(frozen=True)
class LinePlacement:
    """One story line: its labelled articles and the topics that hold them."""

    line: str
    stories: tuple[str, ...]
    articles: int  # labelled articles of the line in the sample
    topics: tuple[tuple[int, int], ...]  # (topic id, articles of the line), most first
    unassigned: int  # in the store, in no topic
    missing: int  # never reached the store


@dataclass(frozen=True)
class StoryLineSummary:
    lines: tuple[LinePlacement, ...]
    seed_topic: int | None
    seed_stored: bool
    seed_in_peace_topic: bool  # the seed's topic holds peace-talk articles
    mixed: tuple[tuple[int, tuple[tuple[str, int], ...]], ...]  # topics holding two or more lines: (line, articles)
    others: Mapping[int, int]  # topic -> articles of other stories, for the topics listed above

    @property
    def separate(self) -> bool:
        return not self.mixed


def line_of(story: str, lines: Mapping[str, tuple[str, ...]] = STORY_LINES) -> str | None:
    return next((line for line, stories in lines.items() if story in stories), None)


def summarise_story_lines(
    article_topic: Mapping[str, int | None],
    article_story: Mapping[str, str],
    seed: str,
    lines: Mapping[str, tuple[str, ...]] = STORY_LINES,
) -> StoryLineSummary:
    """Summarise the story lines' placement.

    ``article_topic``: every stored article -> its topic (None: unassigned); absent: not stored.
    ``article_story``: labelled article -> story label. ``seed``: the seed article's key.
    """
    per_line: dict[str, Counter[int | None]] = {line: Counter() for line in lines}
    missing: Counter[str] = Counter()
    others: Counter[int] = Counter()
    for article, story in article_story.items():
        line = line_of(story, lines)
        stored, topic = article in article_topic, article_topic.get(article)
        if line is None:
            others.update([topic] if topic is not None else [])
        elif stored:
            per_line[line][topic] += 1
        else:
            missing[line] += 1
    placements = tuple(_placement(line, lines[line], per_line[line], missing[line]) for line in lines)
    return _summary(placements, article_topic, seed, others)


def _placement(line: str, stories: tuple[str, ...], counts: Counter[int | None], missing: int) -> LinePlacement:
    topics = sorted(((t, n) for t, n in counts.items() if t is not None), key=lambda tn: (-tn[1], tn[0]))
    return LinePlacement(line, stories, sum(counts.values()) + missing, tuple(topics), counts[None], missing)


def _summary(
    placements: tuple[LinePlacement, ...], article_topic: Mapping[str, int | None], seed: str, others: Counter[int]
) -> StoryLineSummary:
    by_topic: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for p in placements:
        for topic, count in p.topics:
            by_topic[topic].append((p.line, count))
    seed_topic = article_topic.get(seed)
    peace_topics = {t for p in placements if p.line == PEACE_TALKS for t, _ in p.topics}
    mixed = tuple((t, tuple(ls)) for t, ls in sorted(by_topic.items()) if len(ls) > 1)
    return StoryLineSummary(
        lines=placements,
        seed_topic=seed_topic,
        seed_stored=seed in article_topic,
        seed_in_peace_topic=seed_topic is not None and seed_topic in peace_topics,
        mixed=mixed,
        others={t: others[t] for t in sorted(by_topic) if others[t]},
    )


def render_story_lines(summary: StoryLineSummary, labels: Mapping[int, str] | None = None) -> list[str]:
    """The closing summary as lines of plain text ("the seed's story lines: …" first)."""
    labels = labels or {}
    out = ["the seed's story lines:"]
    out.extend(f"  {_line_text(p, summary.others, labels)}" for p in summary.lines)
    out.append(f"  seed article → {_seed_text(summary, labels)}")
    out.extend(_mixing_text(summary, labels))
    return out


def _topic(topic: int, labels: Mapping[int, str]) -> str:
    label = labels.get(topic, "").strip()
    return f"topic {topic} “{label}”" if label else f"topic {topic}"


def _line_text(p: LinePlacement, others: Mapping[int, int], labels: Mapping[int, str]) -> str:
    parts = [f"{_topic(t, labels)}: {n}{_others_text(others.get(t, 0))}" for t, n in p.topics]
    parts += [f"unassigned: {p.unassigned}"] if p.unassigned else []
    parts += [f"not in the store: {p.missing}"] if p.missing else []
    where = " · ".join(parts) if p.topics else "in no topic" + (f" ({' · '.join(parts)})" if parts else "")
    return f"{p.line} ({', '.join(p.stories)}; {p.articles} articles) → {where}"


def _others_text(count: int) -> str:
    return f" (+{count} of other stories)" if count else ""


def _seed_text(summary: StoryLineSummary, labels: Mapping[int, str]) -> str:
    if not summary.seed_stored:
        return "not in the store"
    if summary.seed_topic is None:
        return "unassigned: not in a peace-talk topic"
    verdict = "a peace-talk topic" if summary.seed_in_peace_topic else "NOT a peace-talk topic"
    return f"{_topic(summary.seed_topic, labels)}, {verdict}"


def _mixing_text(summary: StoryLineSummary, labels: Mapping[int, str]) -> list[str]:
    if summary.separate:
        return ["  no topic mixes two of these story lines"]
    return [
        f"  MIXED: {_topic(t, labels)} holds " + " + ".join(f"{line} {n}" for line, n in lines)
        for t, lines in summary.mixed
    ]
