"""The demo's closing summary: where the seed's three story lines went, reported as the clustering made it."""

from __future__ import annotations

from collections import Counter

from newsflow.samplefeeds import WELT_LINK, gold_stories
from newsflow.samplefeeds.storylines import (
    PEACE_TALKS,
    STORY_LINES,
    line_of,
    render_story_lines,
    summarise_story_lines,
)

SEED = "seed"
STORIES = {
    "call-1": "trump-putin-call",
    "call-2": "trump-putin-call",
    "riyadh-1": "riyadh-talks",
    "msc-1": "munich-security-conference",
    "earth-1": "rare-earth-deal",
    "earth-2": "rare-earth-deal",
    "fogel-1": "fogel-release",
    "fogel-2": "fogel-release",
    "pope-1": "pope-francis-hospitalised",
}


def test_lines_cover_the_users_example_and_every_label_exists_in_the_bundled_data() -> None:
    assert STORY_LINES[PEACE_TALKS] == ("trump-putin-call", "riyadh-talks", "munich-security-conference")
    assert STORY_LINES["rare-earth deal"] == ("rare-earth-deal",)
    assert STORY_LINES["prisoner releases"] == ("fogel-release",)
    counts = Counter(gold_stories(sample="de").values())
    assert all(counts[s] > 0 for stories in STORY_LINES.values() for s in stories)
    assert (line_of("riyadh-talks"), line_of("gaza-hostage-releases")) == (PEACE_TALKS, None)


def test_separate_lines_and_seed_in_a_peace_topic() -> None:
    topics = {"call-1": 1, "call-2": 1, "riyadh-1": 2, "msc-1": None, "earth-1": 3, "earth-2": 3}
    topics |= {"fogel-1": 4, "fogel-2": 4, "pope-1": 9, SEED: 1}
    summary = summarise_story_lines(topics, STORIES, SEED)
    peace, earth, fogel = summary.lines
    assert (peace.line, peace.articles, peace.topics, peace.unassigned, peace.missing) == (
        PEACE_TALKS,
        4,
        ((1, 2), (2, 1)),
        1,
        0,
    )
    assert (earth.topics, fogel.topics) == (((3, 2),), ((4, 2),))
    assert summary.separate and summary.mixed == ()
    assert (summary.seed_topic, summary.seed_stored, summary.seed_in_peace_topic) == (1, True, True)
    text = render_story_lines(summary, {1: "Trump Putin Telefonat"})
    assert text[0] == "the seed's story lines:"
    assert "topic 1 “Trump Putin Telefonat”: 2 · topic 2: 1 · unassigned: 1" in text[1]
    assert text[-2] == "  seed article → topic 1 “Trump Putin Telefonat”, a peace-talk topic"
    assert text[-1] == "  no topic mixes two of these story lines"


def test_a_topic_mixing_two_lines_is_reported_plainly() -> None:
    topics: dict[str, int | None] = {a: 5 for a in [*STORIES, SEED]}
    topics["fogel-2"] = 6
    summary = summarise_story_lines(topics, STORIES, SEED)
    assert not summary.separate
    assert summary.mixed == ((5, ((PEACE_TALKS, 4), ("rare-earth deal", 2), ("prisoner releases", 1))),)
    assert summary.others == {5: 1}  # the Pope item sits there too
    assert summary.seed_in_peace_topic  # it is, and the topic is mixed: both are said
    text = "\n".join(render_story_lines(summary))
    assert "MIXED: topic 5 holds peace talks 4 + rare-earth deal 2 + prisoner releases 1" in text
    assert "topic 5: 4 (+1 of other stories)" in text


def test_seed_outside_any_peace_topic_unassigned_or_missing() -> None:
    base: dict[str, int | None] = {"call-1": 1, "earth-1": 3}
    elsewhere = summarise_story_lines(base | {SEED: 3}, STORIES, SEED)
    assert not elsewhere.seed_in_peace_topic
    assert "topic 3, NOT a peace-talk topic" in render_story_lines(elsewhere)[-2]
    unassigned = summarise_story_lines(base | {SEED: None}, STORIES, SEED)
    assert (unassigned.seed_topic, unassigned.seed_stored, unassigned.seed_in_peace_topic) == (None, True, False)
    assert render_story_lines(unassigned)[-2].endswith("unassigned: not in a peace-talk topic")
    missing = summarise_story_lines(base, STORIES, SEED)
    assert render_story_lines(missing)[-2].endswith("not in the store")


def test_articles_that_never_reached_the_store_are_counted_not_hidden() -> None:
    summary = summarise_story_lines({"call-1": 1, SEED: 1}, STORIES, SEED)
    peace, earth, _ = summary.lines
    assert (peace.articles, peace.missing, earth.topics, earth.missing) == (4, 3, (), 2)
    line = render_story_lines(summary)[2]
    assert line == "  rare-earth deal (rare-earth-deal; 2 articles) → in no topic (not in the store: 2)"


def test_on_the_bundled_labels_with_nothing_clustered() -> None:
    gold = gold_stories(sample="de")
    summary = summarise_story_lines(dict.fromkeys([*gold, WELT_LINK]), gold, WELT_LINK)
    assert [(p.articles, p.unassigned) for p in summary.lines] == [(35, 35), (14, 14), (14, 14)]
    assert summary.separate and not summary.seed_in_peace_topic
