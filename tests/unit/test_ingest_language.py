"""The stop-word language check and how normalisation uses it (feed default, overridden when clearly wrong)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from importlib import resources

import pytest

from ingest.language import checked_language, detect
from ingest.normalise import normalise_feed
from ingest.parse import ParsedFeed, RawEntry
from newsflow.records.feed import FeedSpec

FETCHED = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)
WELT_TEXT = (resources.files("newsflow.samplefeeds") / "data" / "welt-2025-02-13-trump-putin-call.txt").read_text(
    encoding="utf-8"
)
GERMAN = (
    "Bundeskanzler Olaf Scholz hat sich gegen einen Diktatfrieden in der Ukraine ausgesprochen. Es dürfe keine "
    "Lösung über die Köpfe der Ukrainer hinweg geben, sagte er am Freitag auf der Sicherheitskonferenz in München. "
    "Auch die Europäer müssten bei den Verhandlungen mit am Tisch sitzen."
)
ENGLISH = (
    "Chancellor Olaf Scholz has rejected a dictated peace in Ukraine. There must be no solution over the heads of "
    "the Ukrainians, he said on Friday at the security conference in Munich. The Europeans would also have to be "
    "at the table when the talks begin."
)
OTHERS = {
    "fr": "Le président de la République a annoncé mardi que les élections auront lieu en juin. Selon le "
    "communiqué, la date a été fixée après des consultations avec les partis, qui sont pour la plupart d'accord.",
    "es": "El gobierno de España ha anunciado que las elecciones se celebrarán en junio, según un comunicado "
    "oficial. La fecha fue fijada tras consultas con los partidos, que están de acuerdo.",
    "it": "Il governo italiano ha annunciato che le elezioni si terranno a giugno, secondo un comunicato della "
    "presidenza. La data è stata fissata dopo le consultazioni con i partiti, che sono d'accordo.",
    "nl": "De regering heeft dinsdag bekendgemaakt dat de verkiezingen in juni worden gehouden, volgens een "
    "verklaring van het kabinet. De datum werd na overleg met de partijen vastgesteld.",
}


@pytest.mark.parametrize(("text", "language"), [(GERMAN, "de"), (WELT_TEXT, "de"), (ENGLISH, "en")])
def test_german_and_english_news_text(text: str, language: str) -> None:
    assert detect(text).language == language


@pytest.mark.parametrize("language", sorted(OTHERS))
def test_the_other_profiles(language: str) -> None:
    assert detect(OTHERS[language]).language == language


@pytest.mark.parametrize(
    "text", ["Trump und Putin telefonieren", "Trump and Putin agree to talks", "", "12:30 – 3:1 (2:0)", "Müller"]
)
def test_headlines_and_scraps_are_not_enough_evidence(text: str) -> None:
    assert detect(text).language is None


def test_a_mixed_text_is_not_called_either_way() -> None:
    assert detect(GERMAN + " " + ENGLISH).language is None


@pytest.mark.parametrize(
    ("declared", "text", "expected"),
    [
        ("de", ENGLISH, "en"),  # English wire copy in a German feed
        ("en", GERMAN, "de"),
        ("de", GERMAN, "de"),
        ("de", "Trump und Putin telefonieren", "de"),  # unsure: the declaration stands
        ("en", "Trump und Putin telefonieren", "en"),
        (None, GERMAN, "de"),  # nothing declared: detection fills in
        (None, "Putin", None),
        ("pt", OTHERS["es"], "pt"),  # not a profiled language: no grounds to contradict it
    ],
)
def test_checked_language(declared: str | None, text: str, expected: str | None) -> None:
    assert checked_language(declared, text) == expected


def test_normalisation_uses_the_detected_language_and_logs_it_once(caplog: pytest.LogCaptureFixture) -> None:
    feed = FeedSpec("welt", "https://www.welt.de/feeds/latest.rss", "WELT", language="de")
    entries = (
        RawEntry("g1", "https://www.welt.de/a1", "Scholz gegen Diktatfrieden", GERMAN, "", FETCHED),
        RawEntry("g2", "https://www.welt.de/a2", "Scholz rejects dictated peace", ENGLISH, "", FETCHED),
        RawEntry("g3", "https://www.welt.de/a3", "Scholz warns Putin", f"<p>{ENGLISH}</p>", "", FETCHED),
        RawEntry("g4", "https://www.welt.de/a4", "Live-Ticker", "", "", FETCHED),
    )
    parsed = ParsedFeed("WELT", None, "de-DE", None, entries, "rss20")
    with caplog.at_level(logging.INFO, logger="ingest.normalise"):
        out = normalise_feed(parsed, feed=feed, base_url=feed.url, fetched_at=FETCHED)
    assert [e.language for e in out] == ["de", "en", "en", "de"]
    [line] = [r.getMessage() for r in caplog.records if "language" in r.getMessage()]
    assert "declared language de" in line and "en x2" in line and "2 of 4" in line
