"""Named entities in one article without an NER model: capitalised names and acronyms (ranked in ``entity_rank``).

Names are read off the text the way a reader of English or German news would: runs of
capitalised words ("Donald Trump", "Truth Social"), acronyms ("EU", "NATO", "AfD", "U.S." → "US"),
names with particles ("Ursula von der Leyen"). What a capital letter does not prove is checked
before it counts:

* the first word of a sentence or of a title-cased headline is capitalised by position, so such a
  run only counts where another article of the topic names it plainly (``maybe``); a number or a
  question word in front changes nothing ("5 Reasons", "Will America" → "America");
* a shouted common word ("STUDY:"), a word for a kind of people ("Russian", "Republicans") or a
  plural acronym ("SUVs") is no name: HanTa's English lexicon knows these words (``entity_words``);
* German capitalises every noun, so a German name needs HanTa's German lexicon (POS tag ``NE``) or
  a capitalised adjective in front of a noun ("Weißen Haus"); a noun list, noun endings and a
  preceding article ("das Telefonat") rule out common nouns first, and a single German word
  counts once a second member names it too (``weak``);
* "Präsident Putin", "Papst Franziskus", "U.S. President Donald Trump": the title is cut off, an acronym kept.

Measured by ``benchmarks/entity_tags.py`` on a hand-annotated gold set of 290 texts from the shared
sets (``benchmarks/data/entities_gold.jsonl``): precision of an article's tags 0.84 (UCI
headlines), 0.88 (WikiNews), 0.94 (German; 0.57 before HanTa), recall 0.34 / 0.75 / 0.80 (Title
Case headlines hide their names until another member confirms them). Cost per article, cached
per text: ~0.1 ms for words seen before, up to ~4 ms (German) when every word is new to HanTa.

``entity_rank`` counts the names over a topic's members, folds "Trump" into "Donald Trump" and
ranks them like the keywords: share of members × the window's IDF of the name's rarest word.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from clustering.labelling.entity_words import (
    ABBREVIATIONS,
    ACRONYM,
    ARTICLE_NAMES_DE,
    COMMON_EN,
    COMMON_NOUNS_DE,
    DAYS,
    FUNCTION_WORDS_EN,
    NON_ENTITY_ACRONYMS,
    NON_NAME_WORDS_EN,
    PARTICLES,
    QUESTION_OPENERS_EN,
    TITLES_EN,
    adjective_de,
    after_determiner_de,
    function_word_de,
    german_word_class,
    group_word_en,
    name_word_de,
    noun_like_de,
    shouted_common_en,
)
from clustering.representation.text import STOP_WORDS, detect_language

_TOKEN = re.compile(r"\w+(?:['\-.]\w+)*|\n|[^\w\s]")
_INITIALS = re.compile(r"^(?:[A-Z]\.)+[A-Z]$")  # "U.S", "J.D" (the final dot is a separate token)
_PLURAL_ACRONYM = re.compile(r"^[A-Z]{2,5}s$")  # "SUVs", "MPs", "CEOs": common nouns
_NUMBER = re.compile(r"^\d[\d.,]*$")
_SENTENCE_END = frozenset(".!?…:;")
_QUOTES = frozenset("\"„“”«»‚‘'()[]–—|•")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_COUNTRY_ACRONYMS = frozenset({"us", "uk", "eu", "un"})  # acronyms that read as English stop words
_OPENERS = COMMON_EN | COMMON_NOUNS_DE | QUESTION_OPENERS_EN  # open a sentence before a name ("Will America")
_HEADLINE_CHARS = 200  # longer lines are body text, never Title Case headlines
_PARTICLES_LONGEST_FIRST = {lang: sorted(seqs, key=lambda p: (-len(p), p)) for lang, seqs in PARTICLES.items()}
_PARTICLE_STARTS = frozenset(seq[0] for seqs in PARTICLES.values() for seq in seqs)


@dataclass(frozen=True)
class Mentions:
    """What one article names: plainly (``sure``), German single words (``weak``), positional runs (``maybe``)."""

    sure: frozenset[str] = frozenset()
    weak: frozenset[str] = frozenset()
    maybe: tuple[tuple[str, ...], ...] = ()


@dataclass
class _Word:
    text: str  # as written, possessive and initials' dots removed
    initial: bool  # first word of a sentence (or after a quote), capitalised by position
    possessive: bool = False
    initials: bool = False  # "J.D": a following dot ends no sentence


@dataclass
class _Found:
    sure: set[str] = field(default_factory=set)
    weak: set[str] = field(default_factory=set)
    maybe: list[tuple[str, ...]] = field(default_factory=list)


@functools.lru_cache(maxsize=60_000)  # each re-clustering summarises the window again: keep it cached
def mentions(text: str, language: str | None = None) -> Mentions:
    """The names one article's text mentions (``language``: "en", "de"; guessed when not given)."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).replace("\u00ad", "")  # soft hyphens
    lang = ((language or detect_language(text) or "en")[:2]).lower()
    return _mentions(text, lang)


def _mentions(text: str, lang: str) -> Mentions:
    found = _Found()
    for line in text.split("\n"):
        title_case = lang != "de" and len(line) <= _HEADLINE_CHARS and _is_title_case(line, lang)
        for segment in _segments(line, lang):
            for run, preceding in _runs(segment, lang):
                _classify(run, preceding, lang, title_case, found)
    if lang == "de":
        return Mentions(_german_names(found.sure), _german_names(found.weak), tuple(found.maybe))
    return Mentions(frozenset(found.sure), frozenset(found.weak), tuple(found.maybe))


def _is_title_case(line: str, lang: str) -> bool:
    """A headline in Title Case ("SAC Renames Itself Point72"), where capitals say nothing about names.

    Sentence case never capitalises a function word inside a sentence ("Goes To", "Rally These");
    a line without one is title case when every longer content word is capitalised.
    """
    stops = STOP_WORDS.get(lang, STOP_WORDS["en"])
    tokens = _TOKEN.findall(line)
    inner = [w for prev, w in itertools.pairwise(tokens) if w[0].isalpha() and prev[0].isalnum()]
    if any(w[0].isupper() and w.lower() in FUNCTION_WORDS_EN and not ACRONYM.match(w) for w in inner):
        return True
    content = [w for w in tokens[1:] if w[0].isalpha() and len(w) > 3 and w.lower() not in stops]
    return len(content) >= 3 and all(w[0].isupper() for w in content)


def _is_capitalised(word: str) -> bool:
    return word[0].isupper() or (word[0].islower() and len(word) > 2 and not word.islower())  # "iPhone"


def _segments(line: str, lang: str) -> Iterator[list[_Word]]:
    """Runs of words with no punctuation between them; the first may open a sentence (also after "5": "5 Reasons")."""
    segment: list[_Word] = []
    initial = True
    for token in _TOKEN.findall(line):
        if token[0].isalnum() or token[0] == "_":
            word, possessive = _strip_possessive(token)
            dotted = "." in word and bool(_INITIALS.match(word))
            segment.append(_Word(word.replace(".", "") if dotted else word, initial, possessive, dotted))
            initial = initial and bool(_NUMBER.match(token))
            continue
        if token == "." and segment and (segment[-1].initials or _keeps_dot(segment[-1].text, lang)):
            continue  # "J.D. Vance", "Mr. Smith", "am 12. März": the dot ends no sentence
        if segment:
            yield segment
            segment = []
        initial = initial or token in _SENTENCE_END or token in _QUOTES
    if segment:
        yield segment


def _strip_possessive(token: str) -> tuple[str, bool]:
    if "'" not in token:
        return token, False
    if token.endswith(("'s", "'S")):
        return token[:-2], True
    return token.rstrip("'"), token.endswith("'")


def _keeps_dot(word: str, lang: str) -> bool:
    ordinal = lang == "de" and word.isdigit()  # German ordinals; an English "... aged 17. Complaints" ends there
    return (len(word) == 1 and word.isupper()) or ordinal or word.lower() in ABBREVIATIONS


@functools.lru_cache(maxsize=100_000)  # a window repeats its words; this is the hot path
def _is_name_word(word: str, lang: str) -> bool:
    lower = word.lower()
    stops = STOP_WORDS["de"] if lang == "de" else NON_NAME_WORDS_EN
    if ACRONYM.match(word):
        shouted = lower in COMMON_EN or lower in COMMON_NOUNS_DE  # "VIDEO:", "KRIEG"
        return lower not in NON_ENTITY_ACRONYMS and not shouted and (lower in _COUNTRY_ACRONYMS or lower not in stops)
    if (word.isupper() and len(word) > 1) or lower in DAYS or _PLURAL_ACRONYM.match(word):
        return False  # shouting ("DEFENDS"), weekdays and plural acronyms ("SUVs") are no names
    return _is_capitalised(word) and not word.isdigit() and lower not in stops


def _runs(segment: list[_Word], lang: str) -> Iterator[tuple[list[_Word], list[str]]]:
    """Maximal runs of name words (particles inside them), with up to two words before each run."""
    i = 0
    while i < len(segment):
        if not _is_name_word(segment[i].text, lang):
            i += 1
            continue
        start, j = i, i + 1
        while j < len(segment) and not _ends_run(segment[j - 1], segment[j].text, lang):
            if _is_name_word(segment[j].text, lang):
                j += 1
                continue
            skip = _particles_at(segment, j, lang)
            if not skip:
                break
            j += skip  # "von der" between two name words stays in the name
        preceding = [w.text.lower() for w in segment[max(0, start - 2) : start]]
        yield segment[start:j], preceding
        i = j


def _ends_run(word: _Word, following: str, lang: str) -> bool:
    """A possessive ends a name; so does a German genitive ("Trumps Chefverhandler"), not "Markus Söder"."""
    text = word.text
    genitive = lang == "de" and len(text) > 3 and text.endswith("s") and not text.endswith("ss")
    if genitive and german_word_class(following) == "NE" and not noun_like_de(following):
        genitive = False  # a first name in "s" before a surname
    return word.possessive or (genitive and not ACRONYM.match(text))


def _particles_at(segment: list[_Word], j: int, lang: str) -> int:
    """How many particle words start at ``j`` and lead to a further name word (0: none)."""
    if segment[j].text not in _PARTICLE_STARTS:
        return 0
    for sequence in _PARTICLES_LONGEST_FIRST.get(lang, _PARTICLES_LONGEST_FIRST["en"]):
        end = j + len(sequence)
        if end < len(segment) and tuple(w.text for w in segment[j:end]) == sequence:
            after = segment[end].text
            if _is_name_word(after, lang) and not (lang == "de" and noun_like_de(after)):
                return len(sequence)
    return 0


def _classify(run: list[_Word], preceding: list[str], lang: str, title_case: bool, found: _Found) -> None:
    """Sort one capitalised run into sure, weak and maybe names."""
    words, parts = _split_hyphenated([w.text for w in run], lang)
    positional = title_case or run[0].initial
    for part in parts:  # "Trump-Putin", "US-Präsident"
        if (ACRONYM.match(part) and _is_name_word(part, lang)) or (lang == "de" and part.lower() in ARTICLE_NAMES_DE):
            found.sure.add(part)  # not "KI-Anbieter"
        elif positional:
            found.maybe.append((part,))
        elif lang == "de":
            found.weak.add(part)  # a name in a compound ("Nvidia-Aktie"), as sure as a single German word
        elif part.lower() not in COMMON_EN and not group_word_en(part):
            found.sure.add(part)  # "Trump-Putin", but not "Pro-Russian"
    for name, after_title, first in _names(words, lang):
        at_start = run[0].initial and first
        if at_start and len(name) > 1 and (name[0].lower() in _OPENERS or function_word_de(name[0], lang)):
            name, at_start = name[1:], False  # "Breaking News", "Erst Wladimir Putin"
        if len(name) == 1 and ACRONYM.match(name[0]):
            if lang == "de" or not shouted_common_en(name[0]):  # "STUDY:" is no acronym
                found.sure.add(name[0])
        elif title_case or (at_start and (len(name) != 2 or adjective_de(name[0], lang)) and not _has_particle(name)):
            found.maybe.append(tuple(name))  # "New York Times reports": no telling what the capital of "New" means
        else:
            _single_or_sure(name, preceding if first else [], lang, after_title, found)


def _has_particle(name: Sequence[str]) -> bool:
    """ "Ursula von der Leyen": a name's shape, also where it opens a sentence."""
    return any(w[0].islower() and w in _PARTICLE_STARTS for w in name[1:])


def _single_or_sure(name: Sequence[str], preceding: list[str], lang: str, after_title: bool, found: _Found) -> None:
    text = " ".join(name)
    if len(name) > 1 or ACRONYM.match(name[0]):
        found.sure.add(text)
    elif lang == "de":
        if after_title or name[0].lower() in ARTICLE_NAMES_DE:
            found.sure.add(text)
        elif not noun_like_de(name[0]) and (not after_determiner_de(preceding) or name_word_de(name[0])):
            found.weak.add(text)  # "die Hamas", but not "das Telefonat"
    elif name[0].lower() not in COMMON_EN and name[0].lower() not in TITLES_EN and not group_word_en(name[0]):
        found.sure.add(text)  # not "Russian", "Republicans", "Reasons"


def _split_hyphenated(words: list[str], lang: str) -> tuple[list[str], list[str]]:
    """Hyphenated words: ``(the run's words, parts that are names on their own)``.

    German compounds stay one word ("US-Präsident" is a title), with their acronym or well-known
    name part as a name of its own ("US", "Nato"); English pairs ("Trump-Putin") split into names.
    """
    out: list[str] = []
    parts: list[str] = []
    broken = False
    for word in words:
        pieces = [p for p in word.split("-") if p]
        if len(pieces) < 2:
            out.append(word)
        elif lang == "de":
            out.append(word)
            if len(pieces) == 2 and noun_like_de(word) and _is_name_word(pieces[0], lang) and name_word_de(pieces[0]):
                parts.append(pieces[0])  # "US-Präsident", "Nvidia-Aktie"; not "Frank-Walter", "Willy-Brandt-Haus"
        elif len(words) > 1 and all(_is_capitalised(p) for p in pieces):
            out.append(word)  # "Jean-Claude Juncker"
        else:
            parts += [p for p in pieces if _is_name_word(p, lang)]
            broken = True  # the pair breaks the run: its names stand alone
    return ([] if broken else out), parts


def _names(words: list[str], lang: str) -> Iterator[tuple[list[str], bool, bool]]:
    """The names in a run with titles cut off: ``(words, after a title, starts the run)``."""
    if lang == "de":
        yield from _names_de(words)
        return
    title_at = [i for i, w in enumerate(words) if w.lower().rstrip(".") in TITLES_EN]
    cut = max((i for i in title_at if i < len(words) - 1), default=-1)
    for i in range(cut):
        if ACRONYM.match(words[i]):
            yield [words[i]], False, i == 0  # "U.S. President Donald Trump": the "US" stays a name
    name = words[cut + 1 :]
    while name and name[-1].lower() in TITLES_EN:
        name = name[:-1]
    if name:
        yield name, cut >= 0, cut < 0


def _names_de(words: list[str]) -> Iterator[tuple[list[str], bool, bool]]:
    """Split at common nouns: one before a name is a title, one after an adjective ends the name."""
    group: list[str] = []
    after_title, first = False, True
    for i, word in enumerate(words):
        # A long first word before a two-word name is a compound title ("Militärstratege Philips O'Brien").
        title = i == 0 and len(words) >= 3 and len(word) >= 11
        if not (title or noun_like_de(word)):
            group.append(word)
            continue
        follows_name = i + 1 < len(words) and not noun_like_de(words[i + 1])
        if group and not follows_name and adjective_de(group[-1], "de"):
            group.append(word)  # "Münchener Sicherheitskonferenz", "Seltene Erden"
        if group:
            yield group, after_title, first
        group, after_title, first = [], follows_name, False
    if group:
        yield group, after_title, first


def _kept_in_front(word: str) -> bool:
    """ "FC Bayern", "Münchner Sicherheitskonferenz": no title in front of a name."""
    return name_word_de(word) or adjective_de(word, "de")


def _german_names(names: set[str]) -> frozenset[str]:
    """German names HanTa's lexicon backs: a title in front cut off ("Papst Franziskus"), a common noun dropped.

    A name needs a word HanTa calls a name ("Selenskyj", "Riad"), or a capitalised adjective in front
    of a noun ("Weißen Haus", "Rote Kreuz": inside a sentence only a name capitalises an adjective).
    """
    out = set()
    for name in names:
        words = name.split()
        while len(words) > 1 and german_word_class(words[0]) == "NN" and not _kept_in_front(words[0]):
            words = words[1:]
        if any(name_word_de(w) for w in words) or (len(words) > 1 and adjective_de(words[0], "de")):
            out.add(" ".join(words))
    return frozenset(out)
