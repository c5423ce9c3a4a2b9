"""Named entities of topics: the heuristic extractor on real English and German news, ranking, store, CLI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from clustering.labelling.entities import mentions
from clustering.labelling.entity_rank import EntityParams, _window_idf, rank_entities, topic_entities
from clustering.labelling.labels import LabelParams, summarise
from clustering.representation.represent import RepresentParams, SparseVectoriser, represent
from newsflow.cli import main as cli_main
from newsflow.cli import topics_cmd
from newsflow.query.detail import topic_detail
from newsflow.records.doc import Doc
from newsflow.records.topic import TopicSummary
from newsflow.settings import Settings
from newsflow.store import topics_repo
from newsflow.store.database import migrate, open_store
from newsflow.store.schema import topics
from tests.unit.clustering.stories import STORIES, T0
from tests.unit.migration_steps import migrate_to
from tests.unit.query.dataset import fill_store

WELT = Path(__file__).parents[3] / "newsflow" / "samplefeeds" / "data" / "welt-2025-02-13-trump-putin-call.txt"

GERMAN_HEADLINES = [
    "Trump telefoniert mit Putin und Selenskyj – Verhandlungen über die Ukraine sollen beginnen",
    "Nach dem Telefonat mit Trump: Kreml lädt den US-Präsidenten nach Moskau ein",
    "Selenskyj will vor Gesprächen mit Moskau Sicherheitsgarantien der EU",
    "Hegseth schließt Nato-Mitgliedschaft der Ukraine aus – Kritik aus Brüssel",
    "Ursula von der Leyen: Europa muss bei den Verhandlungen mit am Tisch sitzen",
]
ENGLISH_HEADLINES = [
    "Trump and Putin agree to start Ukraine talks, Kremlin says",
    "U.S. President Donald Trump says he spoke with Putin for 90 minutes",
    "EU and NATO allies fear being sidelined after Trump-Putin call",
    "Stocks rise as investors bet on Ukraine ceasefire after Trump call on Wednesday",
    "Zelensky says Ukraine must be part of any talks, EU backs Kyiv",
]


def flat(names: Sequence[str]) -> list[float]:
    """The same IDF for every name: ranks by member share alone."""
    return [1.0] * len(names)


def folded(names: list[str]) -> set[str]:
    return {n.casefold() for n in names}


def test_the_welt_article_names_its_people_places_and_alliances_but_no_common_nouns() -> None:
    found = rank_entities([mentions(WELT.read_text(encoding="utf-8"), "de")], flat, top=60)
    expected = {"Donald Trump", "Wladimir Putin", "Wolodymyr Selenskyj", "Ukraine", "Nato", "US", "Marco Rubio",
                "Pete Hegseth", "Dmitri Peskow", "Truth Social", "Münchener Sicherheitskonferenz"}  # fmt: skip
    assert expected <= set(found)
    # German nouns, sentence openers and the titles in front of names are no entities.
    nouns = {"telefonat", "gespräch", "präsident", "präsidenten", "krieg", "lösung", "druck", "zeitpunkt",
             "verhandlungen", "lesen", "erst", "frieden", "blockade"}  # fmt: skip
    assert not nouns & folded(found)
    assert not [n for n in found if n.split()[0] in {"US-Präsident", "Kremlsprecher", "Präsident", "Außenminister"}]
    # "Trump", "Trumps" and "Präsident Putin" are the same people as the full names, not extra entities.
    assert not {"trump", "trumps", "putin", "donald trumps"} & folded(found)


def test_german_single_words_need_a_second_article() -> None:
    found = rank_entities([mentions(t, "de") for t in GERMAN_HEADLINES], flat, top=20)
    assert {"Moskau", "Selenskyj", "Trump", "Ukraine", "EU", "Nato", "Ursula von der Leyen"} <= set(found)
    # One article each: "Brüssel" (a name, but said once), "Kritik", nouns, and sentence openers.
    assert not {"brüssel", "kritik", "telefonat", "verhandlungen", "gesprächen", "nach", "europa"} & folded(found)


def test_english_headlines_count_names_once_confirmed_and_skip_positional_capitals() -> None:
    found = rank_entities([mentions(t, "en") for t in ENGLISH_HEADLINES], flat, top=20)
    assert {"Donald Trump", "Putin", "Ukraine", "EU", "NATO", "US", "Kyiv"} <= set(found)
    # "Donald Trump" is named by 4 of 5 members once "Trump" folds into the full name; then 3 of 5 each.
    assert found[:3] == ["Donald Trump", "Putin", "Ukraine"]
    # Sentence openers, days and titles are no names; "Zelensky" only ever opens a headline here.
    assert not {"stocks", "wednesday", "president", "zelensky", "trump"} & folded(found)


@pytest.mark.parametrize(
    ("story", "expected"),
    [("unicredit", ["UniCredit"]), ("flappy", ["Flappy Bird"]), ("sac", ["Point72 Asset Management", "SAC Capital"])],
)
def test_uci_stories_including_title_case_headlines(story: str, expected: list[str]) -> None:
    found = rank_entities([mentions(t, "en") for t in STORIES[story]], flat, top=8)
    assert found[: len(expected)] == expected
    # Title Case headlines ("UniCredit Posts Record Loss, Plans 8500 Job Cuts") add no capitalised verbs.
    assert not {"posts", "record loss", "plans", "renames", "stores", "developer", "come", "job cuts"} & folded(found)


def test_output_does_not_depend_on_member_order() -> None:
    found = [mentions(t, "de") for t in GERMAN_HEADLINES] + [mentions(WELT.read_text(encoding="utf-8"), "de")]
    forward = rank_entities(found, flat, top=12)
    assert forward and rank_entities(found[::-1], flat, top=12) == forward


def docs_of(titles: list[str], prefix: str) -> list[Doc]:
    return [Doc(f"{prefix}{i}", t, "", T0 + timedelta(minutes=i), language="en") for i, t in enumerate(titles)]


def test_entities_rank_by_distinctiveness_against_the_window(settings: Settings) -> None:
    topic = docs_of([f"Donald Trump and Volodymyr Zelensky meet in Kyiv, round {i}" for i in range(4)], "t")
    elsewhere = docs_of([f"Donald Trump signs tariff order number {i}" for i in range(30)], "w")
    quiet, busy = SparseVectoriser(settings.sparse_features), SparseVectoriser(settings.sparse_features)
    params = RepresentParams.from_settings(settings)
    represent(topic, np.zeros((len(topic), 4)), quiet, params)
    represent(topic + elsewhere, np.zeros((len(topic) + len(elsewhere), 4)), busy, params)
    # Equally frequent in the topic: alone, ties go by name; in a Trump-heavy window Zelensky sets the story apart.
    top3 = EntityParams.from_settings(settings.model_copy(update={"topic_entities": 3}))
    assert topic_entities(topic, quiet, top3) == ["Donald Trump", "Kyiv", "Volodymyr Zelensky"]
    ranked = topic_entities(topic, busy, top3)
    assert ranked[-1] == "Donald Trump" and set(ranked) == {"Donald Trump", "Kyiv", "Volodymyr Zelensky"}


def test_name_idf_is_the_window_idf_of_the_rarest_word(settings: Settings) -> None:
    vec = SparseVectoriser(settings.sparse_features)
    window = docs_of(["Donald Trump in Kyiv", "Donald Trump at home", "Trump again", "U.S. markets"], "w")
    represent(window, np.zeros((len(window), 4)), vec, RepresentParams.from_settings(settings))
    idf = {t: float(vec.idf(np.array([vec.term_index(t)]))[0]) for t in ("donald", "trump", "kyiv", "us")}
    assert idf["trump"] < idf["donald"] < idf["kyiv"]  # the window is not flat: the check below can fail
    got = _window_idf(["Donald Trump", "Kyiv", "US"], vec)
    assert got == pytest.approx([idf["donald"], idf["kyiv"], idf["us"]])


def test_summarise_keeps_the_configured_number_of_entities(settings: Settings) -> None:
    docs = docs_of(ENGLISH_HEADLINES, "e")
    vec = SparseVectoriser(settings.sparse_features)
    batch = represent(docs, np.eye(len(docs), 8, dtype=np.float32), vec, RepresentParams.from_settings(settings))
    top3 = LabelParams.from_settings(settings.model_copy(update={"topic_entities": 3}))
    three = summarise(docs, batch.dense, vec, top3)
    assert len(three.entities) == 3 and "Donald Trump" in three.entities
    none = LabelParams.from_settings(settings.model_copy(update={"topic_entities": 0}))
    assert summarise(docs, batch.dense, vec, none).entities == []


def test_entities_are_stored_and_read_back_by_the_api_layer_and_the_cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = open_store(settings)
    fill_store(engine)
    names = ["Donald Trump", "Wolodymyr Selenskyj", "EU"]
    with engine.begin() as conn:
        summary = TopicSummary("election vote", ["election"], "A headline", entities=names)
        topics_repo.save_summaries(conn, {1: summary}, T0)
    with engine.connect() as conn:
        detail = topic_detail(conn, 1, max_articles=10, max_hours=48)
        listed = {row["id"]: row for row in topics_repo.list_topics(conn, limit=100, min_size=1)}
    assert detail["entities"] == names and listed[1]["entities"] == names and listed[2]["entities"] == []

    if not any(group.name == "topics" for group in cli_main.app.registered_groups):
        cli_main._register_commands()
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(settings.state_dir))
    monkeypatch.setattr(topics_cmd, "console", Console(width=220))
    shown = CliRunner().invoke(cli_main.app, ["topics", "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "entities: Donald Trump, Wolodymyr Selenskyj, EU" in shown.output
    as_json = CliRunner().invoke(cli_main.app, ["topics", "show", "1", "--format", "json"])
    assert json.loads(as_json.output)["entities"] == names


def test_migration_0003_gives_existing_topics_an_empty_entity_list(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate_to(engine, "0002")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO topics (id, label, keywords, representative_title, representative_ids, status, first_seen,"
            " last_seen, article_count, outlet_count, outlets, languages, hourly_counts, updated_at) VALUES"
            " (7, 'old', '[]', 'old topic', '[]', 'active', '2025-02-13 08:00:00', '2025-02-13 09:00:00', 2, 1,"
            " '[]', '[]', '{}', '2025-02-13 09:00:00')"
        ))  # fmt: skip
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(select(topics.c.entities).where(topics.c.id == 7)).scalar_one() == []
