"""Text normalisation for the sparse representation and the labels: tokens, stop words, language.

Tokens are lower-cased words with possessives and plain plurals folded ("Carney's" → "carney",
"talks" → "talk"), so headlines that name the same people and things share terms. Stop words
are language-aware (English and German built in); an article without a language tag gets the
language whose stop words it uses most, which is cheap and good enough to pick a stop list.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any, cast

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Words that carry no story identity in news text, beyond the generic English list.
_NEWS_EN = frozenset(
    """
    said says say new news update updated video photos watch live report reports year years day days
    week weeks today yesterday tomorrow time just like make makes way could would should may might will
    mr mrs ms according also one two three first last
    """.split()  # noqa: SIM905 - a word list reads better as text
)

GERMAN_STOP_WORDS = frozenset(
    """
    aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes auch
    auf aus bei beim bin bis bist da dabei damit dann das dass dasselbe dazu dein deine dem den denn der
    derer des dessen dich die dies diese dieselbe diesem diesen dieser dieses dir doch dort du durch ein
    eine einem einen einer eines einig einige einigem einigen einiger einiges einmal er es etwas euch
    euer eure für gegen gewesen hab habe haben hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr
    ihre ihrem ihren ihrer ihres im in indem ins ist jede jedem jeden jeder jedes jene jenem jenen jener
    jenes jetzt kann kein keine keinem keinen keiner keines können könnte machen man manche manchem
    manchen mancher manches mein meine mich mir mit muss musste nach nicht nichts noch nun nur ob oder
    ohne sehr sein seine seinem seinen seiner seines selbst sich sie sind so solche soll sollte sondern
    sonst über um und uns unser unsere unter viel vom von vor war waren warst was weg weil weiter welche
    welchem welchen welcher welches wenn werde werden wie wieder will wir wird wirst wo wollen wollte
    würde würden zu zum zur zwar zwischen sagte sagt neue neuen heute gestern mehr schon seit beim wurde
    wurden worden bereits sowie laut jahr jahren prozent
    """.split()  # noqa: SIM905 - a word list reads better as text
)

STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(ENGLISH_STOP_WORDS) | _NEWS_EN,
    "de": GERMAN_STOP_WORDS,
}
_ALL_STOP_WORDS = frozenset().union(*STOP_WORDS.values())

# A word: letters/digits, allowing inner apostrophes, hyphens and dots ("U.S.", "Jos.").
_WORD = re.compile(r"\w+(?:['.\-]\w+)*", re.UNICODE)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})


def normalise(text: str) -> str:
    """NFKC, unified apostrophes, lower case: the form every token is taken from."""
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()


def detect_language(text: str, default: str | None = None) -> str | None:
    """The built-in language whose stop words the text uses most, or ``default`` if none stands out."""
    words = _WORD.findall(normalise(text))
    if not words:
        return default
    hits = {lang: sum(1 for w in words if w in stops) for lang, stops in STOP_WORDS.items()}
    lang, best = max(hits.items(), key=lambda item: item[1])
    runner_up = max((v for k, v in hits.items() if k != lang), default=0)
    return lang if best >= 2 and best > runner_up else default


def _fold(word: str) -> str:
    word = word.replace(".", "") if len(word) <= 6 else word  # "u.s." → "us", keeps "2.5" readable-ish
    if word.endswith("'s"):
        word = word[:-2]
    word = word.strip("'-")
    # Plain English plurals only; the rest stays as written so names are not mangled.
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word


def tokens(text: str, language: str | None = None) -> list[str]:
    """Content words of ``text``: normalised, folded, stop words of its language (or all known) removed;
    German words are reduced to their Snowball stems (German inflects and compounds more than English:
    "Gespräche", "Gesprächen" and "Gesprächs" are one term)."""
    return [term for term, _, _ in _terms(text, language)]


def surface_words(text: str, language: str | None = None) -> list[tuple[str, str, bool]]:
    """``(term, word as written (lower case), whole)`` for each content word and German compound part
    (``whole`` False: "zöll" of "Metallzölle"): keywords are shown as words, never stems."""
    return list(_terms(text, language))


@functools.lru_cache(maxsize=4)
def _stemmer(language: str) -> Callable[[str], str] | None:
    if language != "de":  # English stemming measured worse on the WikiNews sets (stop 13); names suffer
        return None
    import snowballstemmer

    return cast(Callable[[str], str], snowballstemmer.stemmer("german").stemWord)


@functools.lru_cache(maxsize=50_000)  # the window is re-tokenised by every re-clustering and label
def _terms(text: str, language: str | None) -> tuple[tuple[str, str, bool], ...]:
    lang = (language or "")[:2].lower()
    stops = STOP_WORDS.get(lang, _ALL_STOP_WORDS)
    stem = _stemmer(lang)
    out: list[tuple[str, str, bool]] = []
    for written in _WORD.findall(unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)):
        raw = written.lower()  # the case as written tells the morphology a noun from a verb
        if raw in stops:
            continue
        word = _fold(raw) if stem is None else raw.strip("'-")
        # "U.S." folds to "us" and stays: only an undotted "us" is the pronoun.
        if len(word) < 2 or (word in stops and "." not in raw) or (word.isdigit() and len(word) < 4):
            continue
        if stem is None or word.isdigit():
            out.append((word, word, True))
            continue
        out.append((stem(word), word, True))
        out.extend((stem(part), part, False) for part in compound_parts(written.strip("'-")))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def _german_morphology() -> Any:
    from HanTa import HanoverTagger  # HanTa's German model ships inside the wheel (15 MB, loads in 0.1 s)

    return HanoverTagger.HanoverTagger("morphmodel_ger.pgz")


@functools.lru_cache(maxsize=100_000)
def compound_parts(word: str) -> tuple[str, ...]:
    """The noun parts (lower case) of a German compound ("rohstoffabkommen" → "rohstoff", "abkommen"), none for a simple
    word: outlets name one thing by several compounds ("Rohstoffdeal", "Rohstoffabkommen", "Rohstoff-Deal"),
    which share no stem but share parts. HanTa's morphological analysis finds the parts."""
    if "-" in word:  # "Rohstoff-Deal": the parts are written out
        return tuple(p.lower() for p in word.split("-") if len(p) >= 3)
    if len(word) < 8:  # too short to hold two nouns of three letters or more and a joint
        return ()
    lemma, morphemes, _ = _german_morphology().analyze(word, taglevel=3)
    nouns = tuple(m for m, tag in morphemes if tag in _NOUN_PARTS and len(m) >= 3 and m != lemma)
    return nouns if len(morphemes) >= 2 else ()


_NOUN_PARTS = frozenset({"NN", "NE", "NN_VAR"})


def uncached_tokens(text: str, language: str | None) -> tuple[str, ...]:
    """``tokens`` without the cache (texts that would only push the window's out of it)."""
    return tuple(term for term, _, _ in _terms.__wrapped__(text, language))

