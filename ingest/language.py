"""A light language check for articles: stop-word profiles for en, de, fr, es, it and nl.

Feeds declare a language (or the operator does), and the declaration is right for most items,
but not all: German outlets run English wire copy, international feeds mix editions. Function
words give away the language of a paragraph reliably and cheaply (no model, no data files):
every word of the text that is in a profile scores for that language, a word found in several
profiles ("in", "de", "la") scoring 1/n for each. The result counts only when it is clear:
enough evidence (``MIN_SCORE``) and well ahead of the runner-up (``MARGIN``). A headline alone
rarely has that much evidence; then the declaration stands.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words only: frequent in any text of the language, rare as content words elsewhere.
PROFILES: dict[str, frozenset[str]] = {
    "en": _words(
        "the and of to is that for it was on with as are be at by this have from or had not but what were "
        "they which their been has would will there who said its after about than into could over also we "
        "he she his her you when an more can says up out one all no so if our how them do does these those "
        "being because while against between during"
    ),
    "de": _words(
        "der die das und ist nicht ein eine einen einem einer des dem den mit von auf für sich auch es im zu "
        "zum zur bei nach aus wie wird werden wurde sind war hat haben noch nur über oder aber als dass er sie "
        "wir ich vor um am bis kann soll mehr beim gegen seit durch ihre sein seine schon jetzt hier unter "
        "wenn man nun sagte"
    ),
    "fr": _words(
        "le la les des du de et est un une en dans que qui pour pas sur au aux par plus ne se ce cette ces il "
        "elle ils sont été avec mais ou son sa ses leur nous vous ont être fait comme aussi tout après entre "
        "selon depuis contre sans lors était avait y dont où même très"
    ),
    "es": _words(
        "el la los las de del y en que es un una por con para se no su sus al lo como más pero fue ha han "
        "son está están este esta estos también entre sobre desde hasta cuando muy sin ya porque según tras "
        "hay ser era le o"
    ),
    "it": _words(
        "il lo la le gli i di da del della dei delle degli nel nella al alla e è che non per con un una uno "
        "si sono ha hanno come più anche ma ci questo questa essere stato stata dopo tra fra su sul sulla "
        "ancora loro suo sua ai dal dalla perché quando se molto già"
    ),
    "nl": _words(
        "de het een en van in is dat op te met voor niet zijn er aan ook als maar om bij door naar dan nog "
        "wordt worden werd was hij zij ze we wij die deze dit heeft hebben uit over tot kan moet meer geen al "
        "of wel na tegen onder zou haar"
    ),
}
LANGUAGES = tuple(sorted(PROFILES))
MIN_SCORE = 4.0  # about four unambiguous function words
MARGIN = 2.0  # the winner needs twice the runner-up's score
MAX_CHARS = 3_000  # the opening of a text says as much as all of it
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _weights() -> dict[str, dict[str, float]]:
    """word -> {language: 1/n} over the n profiles that contain it."""
    owners: dict[str, list[str]] = {}
    for language, words in PROFILES.items():
        for word in words:
            owners.setdefault(word, []).append(language)
    return {word: {lang: 1 / len(langs) for lang in langs} for word, langs in owners.items()}


_WEIGHTS = _weights()


@dataclass(frozen=True)
class Detection:
    language: str | None  # the clear winner, or None when the evidence is thin or split
    scores: dict[str, float]

    @property
    def confident(self) -> bool:
        return self.language is not None


def detect(text: str) -> Detection:
    """The language of ``text`` among ``LANGUAGES``, or ``Detection(None, ...)`` when unsure."""
    scores: dict[str, float] = {}
    for word, count in Counter(_WORD.findall(text[:MAX_CHARS].lower())).items():
        for language, weight in _WEIGHTS.get(word, {}).items():
            scores[language] = scores.get(language, 0.0) + weight * count
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:2]
    if not ranked:
        return Detection(None, {})
    (best, top), runner_up = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0.0)
    clear = top >= MIN_SCORE and top >= MARGIN * runner_up
    return Detection(best if clear else None, {lang: round(s, 2) for lang, s in scores.items()})


def checked_language(declared: str | None, text: str) -> str | None:
    """The declared language, unless detection clearly says otherwise (or fills in a missing one).

    A declaration outside ``LANGUAGES`` (say "pt" or "pl") is kept: the detector cannot tell those
    apart from their neighbours, so it has no grounds to contradict them.
    """
    if declared is not None and declared not in PROFILES:
        return declared
    detected = detect(text).language
    return detected or declared
