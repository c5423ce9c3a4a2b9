"""Word lists and word classes the entity heuristics lean on (``entities.py``): titles, common nouns, particles.

German capitalises every noun, so capitalisation alone cannot tell a name there; these lists name
the frequent news nouns, the endings that mark a noun, and the few proper names that take an
article ("in der Ukraine"). English needs only the titles that precede a name and the capitalised
words that are not names (days, months). All entries are lower case.

Beyond the lists, HanTa's lexicons (the package ``clustering.representation.text`` already uses for German
compounds; its German and English models ship inside the wheel) give a word's most likely part
of speech out of context: a German word is a name where HanTa's best tag is ``NE`` (measured on
``benchmarks/entity_tags.py``'s gold set, German precision 0.57 → 0.9), and a shouted English word
("STUDY") or a capitalised adjective of origin or plural ("Russian", "Republicans") is a common word.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from clustering.representation.text import _german_morphology

ACRONYM = re.compile(r"^[A-ZÄÖÜ](?:[A-ZÄÖÜ0-9&]|[a-zäöü](?=[A-ZÄÖÜ])){1,5}$")  # "EU", "NATO", "AfD"
ADJECTIVE_ENDINGS_DE = ("e", "en", "er", "es", "em")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words in front of a name that are not part of it ("President Donald Trump", "Kremlsprecher Peskow").
TITLES_EN = _words(
    """
    president vice prime minister secretary chancellor senator sen rep representative governor gov mayor
    mr mrs ms dr prof pope king queen prince princess sheikh general gen admiral judge justice ceo chairman
    chairwoman chief spokesman spokeswoman spokesperson leader premier ambassador envoy commissioner director
    coach captain lord lady sir dame officer candidate founder cardinal archbishop bishop rev saint st
    """
)

# Capitalised English words that are no names where they stand mid-sentence.
COMMON_EN = _words(
    """
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december i i'm i've i'd i'll tv am pm ok hd faq update breaking
    exclusive live watch video photos opinion analysis editorial read more million billion trillion poll
    former two three four five six seven eight nine ten
    """
)

# English words sentence case never capitalises inside a sentence; Title Case does ("Goes To").
FUNCTION_WORDS_EN = _words(
    """
    the an and or but of to in on at for with from by as is are was were be been has have had its it this
    that these those into over after before about than then his her their our your my not can could would
    should does did do what why how when where up out off just
    """
)

# Capitalised, these English words still are no part of a name (the tokeniser's stop list is too
# broad here: it holds "may", "will", "bill", "new", which names use).
NON_NAME_WORDS_EN = FUNCTION_WORDS_EN | _words(
    """
    a i you he she we they me him us them here there now also so yet still even only more most some any
    each every other such no yes if while though although because since until unless whether which who
    whom whose against between through during without within under above below via per among around
    amid despite toward towards upon onto again ever never very too much many few less least own same
    both either neither nor once hers ours theirs yours myself itself himself herself themselves
    ourselves yourself being am
    """
)

# Words that open an English question before a name ("Will America heed ...", "Can Apple ...").
QUESTION_OPENERS_EN = _words(
    """
    will would can could should shall must did does do is are was were has have had why how what when where who
    which whose whom
    """
)

# Days end a name in any language ("Gaza Strip Wednesday"); months do not (Theresa May).
DAYS = _words(
    """
    monday tuesday wednesday thursday friday saturday sunday montag dienstag mittwoch donnerstag freitag
    samstag sonntag
    """
)

# Frequent German news nouns (also some verbs and adverbs that open sentences), lower case, as written.
COMMON_NOUNS_DE = _words(
    """
    präsident präsidenten präsidentin regierung regierungen krieg kriege kriegs frieden friedens gespräch
    gespräche gesprächen gesprächs telefonat telefonate telefonats verhandlungen treffen abkommen druck
    lösung zeit zeitpunkt jahr jahre jahren jahres monat monate woche wochen tag tage tagen stunde stunden
    minute minuten land länder ländern landes staat staaten stadt städte welt leute menschen mensch
    millionen milliarden prozent euro dollar polizei partei parteien wahl wahlen wahlkampf politik
    politiker politikerin minister ministerin kanzler kanzlerin sprecher sprecherin chef chefin bericht
    berichten angaben sicht ansicht frage fragen antwort grund gründe ende anfang mitte teil seite seiten
    mitglied mitglieder mitgliedschaft bündnis grenze grenzen gebiet gebiete territorium konflikt konflikts
    ursachen signal blockade westen osten norden süden nachrichten nachricht meldung mitteilung
    plattform agentur nachrichtenagentur zusammenarbeit delegierte journalisten abgeordnete vorsitzende
    ausschuss ausschusses angelegenheiten sterben schlagzeilen schlagzeile sicherheit wirtschaft
    unternehmen firma firmen markt märkte preis preise kosten geld steuer steuern gesetz gesetze gericht
    urteil klage armee soldaten truppen waffen angriff angriffe opfer tote verletzte bürger bürgerinnen
    frau frauen mann männer kinder kind familie familien schule schulen haus häuser straße straßen
    januar februar märz april mai juni juli august september oktober november dezember montag dienstag
    mittwoch donnerstag freitag samstag sonntag haft hilfe punkt anteil kontakt abwehr beginn zugang
    lesen sehen hören erst auch und aber doch noch nur dann danach zudem zuvor bislang inzwischen immer
    nie mehr weniger viele wenige neue alte große kleine erste zweite dritte letzte nächste weitere
    video live liveticker ticker update eilmeldung kommentar analyse interview bild bilder foto fotos
    """
)

# Endings that make a capitalised German word a common noun (compound heads included).
NOUN_ENDINGS_DE = tuple(
    sorted(
        _words(
            """
            ung ungen heit heiten keit keiten schaft schaften tion tionen ismus tät täten nisse ment mente
            tum lein minister ministerin präsident präsidenten präsidentin sprecher sprecherin kanzler
            kanzlerin chef chefin gespräch gespräche telefonat treffen abkommen konferenz agentur plattform
            krieg kriegs mitglied mitglieder motto politiker politikerin partei wahl wahlen gipfel vertrag
            verträge ausschuss regierung behörde behörden experte experten kommission gericht markt preis preise
            zeit jahr stunde stunden verstand verstands vertreter beamte beamten leiter leiterin offizier soldat
            soldaten führer vorsitzende vorsitzender lehrer lehrerin berater beraterin stratege verhandler
            kritiker kritikers gegner anhänger nachfolger vorgänger gründer trainer spieler spielerin sänger
            sängerin autor autorin reporter korrespondent gouverneur meister senator kandidat kandidatin kollege
            kollegen kollegin partner partnerin verbündete verbündeten garantien amerikaner amerikanerin
            europäer
            """
        )
    )
)

# Proper names German writes with an article ("in der Ukraine", "im Kreml", "der Nato").
ARTICLE_NAMES_DE = _words(
    """
    ukraine schweiz türkei slowakei mongolei krim kreml usa niederlande vatikan arktis antarktis karibik
    sahara nato uno duma knesset bundestag bundesrat bundeswehr bundesregierung bundesliga
    """
)

# Words that put the capitalised German word after them in a noun phrase ("das Telefonat").
DETERMINERS_DE = _words(
    """
    der die das dem den des ein eine einem einen einer eines kein keine keinem keinen keiner keines im am
    zum zur vom beim ins ans aufs dieser diese diesem diesen dieses jeder jede jedem jeden jedes mein meine
    meinem meinen meiner sein seine seinem seinen seiner seines ihr ihre ihrem ihren ihrer unser unsere
    unserem unseren welche welcher welchem welchen alle allen aller beide beiden viele vielen mehrere
    mehreren einige einigen wenige wenigen
    """
)

# Lower-case words inside a name ("Ursula von der Leyen", "Osama bin Laden"), by language: German
# "von", "zu", "der" alone are far more often prepositions and articles than parts of a name.
_PARTICLES_ANY = ("von der", "van der", "van den", "van", "de", "de la", "da", "di", "del", "della", "bin", "al", "el")
PARTICLES: dict[str, frozenset[tuple[str, ...]]] = {
    "de": frozenset(tuple(p.split()) for p in _PARTICLES_ANY),
    "en": frozenset(tuple(p.split()) for p in (*_PARTICLES_ANY, "von", "du", "le", "la", "ter", "ten")),
}

# Acronyms that are no entity of a story (agencies credited on every article, units, formats).
NON_ENTITY_ACRONYMS = _words(
    """
    ceo cfo cto tv am pm ok hd pdf faq afp ap dpa afx kna epd sid apa ddp usd eur ard zdf uhr km kg mio mrd ki ai
    et gmt utc est edt pst pdt cet mez mp mep
    """
)

# Abbreviations whose dot does not end a sentence.
ABBREVIATIONS = _words("mr mrs ms dr prof st mt jr sr gen sen rep gov lt col sgt vs no nr ca bzw vgl dt inc corp ltd")

# Endings of English adjectives of origin ("Russian", "Chinese", "British", "Israeli", "French").
_ORIGIN_ENDINGS_EN = ("an", "ese", "ish", "i", "ch")
_KNOWN = -20.0  # HanTa log-probabilities above this are lexicon words; below, guesses from the word's shape
_CLOSE = 1.0  # a second tag this close to the best one is as likely
_PLACE = 1.5  # "Münchner" is a noun to HanTa first, an adjective (of a place) a close second


@functools.lru_cache(maxsize=1)
def _english_morphology() -> Any:
    from HanTa import HanoverTagger  # the English model ships in the same wheel as the German one

    return HanoverTagger.HanoverTagger("morphmodel_en.pgz")


@functools.lru_cache(maxsize=100_000)
def _german_tags(word: str) -> tuple[tuple[str, float], ...]:
    return tuple((str(t), float(p)) for t, p in _german_morphology().tag_word(word))


@functools.lru_cache(maxsize=100_000)
def german_word_class(word: str) -> str:
    """HanTa's most likely tag of a capitalised German word out of context: "NE" (name), "NN" (noun), "FM", ...

    A word its lexicon lacks gets a guess from its shape; there "NE" wins when about as likely as
    the best guess ("Bessent", "Söder"), since a name is what a lexicon most often lacks.
    """
    tags = _german_tags(word)
    if not tags:
        return ""
    best, score = tags[0]
    if score <= _KNOWN and any(t == "NE" and p >= score - _CLOSE for t, p in tags):
        return "NE"
    return best


@functools.lru_cache(maxsize=100_000)
def _english_tags(word: str) -> tuple[str, ...]:
    """HanTa's likeliest tags of an English word as written, if its lexicon knows the word (else none)."""
    tags = [(str(t), float(p)) for t, p in _english_morphology().tag_word(word)]
    if not tags or tags[0][1] <= _KNOWN:
        return ()
    return tuple(t for t, p in tags if p >= tags[0][1] - _CLOSE)


def shouted_common_en(word: str) -> bool:
    """An all-caps English word that is a common word shouted ("STUDY:", "VIDEO"), no acronym of a name ("USSR")."""
    tags = _english_tags(word)
    return len(word) >= 4 and bool(tags) and tags[0] != "NP0"


def group_word_en(word: str) -> bool:
    """A capitalised English word for a kind of people or things, no name: "Russian", "Israelis", "MPs", "Reasons"."""
    tags = _english_tags(word)
    return bool(tags) and (tags[0] == "NN2" or ("AJ0" in tags and word.lower().endswith(_ORIGIN_ENDINGS_EN)))


@functools.lru_cache(maxsize=100_000)
def noun_like_de(word: str) -> bool:
    lower = word.lower()
    if ACRONYM.match(word) or lower in ARTICLE_NAMES_DE:
        return False
    head = lower.rsplit("-", 1)[-1]
    if "-" in lower:
        first = word.split("-", 1)[0]
        if not head or not word.rsplit("-", 1)[-1][:1].isupper():
            return True  # "Trump-freundlich": an adjective, no name
        if name_word_de(first) and not name_word_de(word.rsplit("-", 1)[-1]):
            return True  # "US-Präsident", "Kreml-Kritiker", "Nvidia-Aktie": a compound noun
    return head in COMMON_NOUNS_DE or (len(head) > 4 and head.endswith(NOUN_ENDINGS_DE))


def after_determiner_de(preceding: list[str]) -> bool:
    """ "das Telefonat", "einem guten Zeitpunkt": a noun phrase, not a name."""
    if preceding and preceding[-1] in DETERMINERS_DE:
        return True
    return len(preceding) == 2 and preceding[0] in DETERMINERS_DE and preceding[1].endswith(ADJECTIVE_ENDINGS_DE)


def name_word_de(word: str) -> bool:
    """ "Selenskyj", "AfD", "Ukraine", "Frank-Walter": a proper name to HanTa ("NE", or a foreign word), not "Stahl"."""
    if ACRONYM.match(word) or word.lower() in ARTICLE_NAMES_DE:
        return True
    if "-" in word:  # "Frank-Walter", "Saudi-Arabien": every part a name
        return all(name_word_de(p) for p in word.split("-") if p)
    return german_word_class(word) in ("NE", "FM")


def function_word_de(word: str, lang: str) -> bool:
    """ "Warum", "Während", "Nach": a German word that opens a sentence and is neither name, noun nor adjective."""
    return lang == "de" and german_word_class(word) not in ("NE", "FM", "NN", "NNA", "ADJ(A)", "ADJ(D)", "")


def adjective_de(word: str, lang: str) -> bool:
    """ "Weißen", "Rote", "Bayerischer", "Münchner": an adjective to HanTa (a place's "-er" about as likely)."""
    if lang != "de":
        return False
    if german_word_class(word) in ("ADJ(A)", "ADJ(D)", "NNA"):
        return True
    tags = _german_tags(word)
    return word.endswith("er") and bool(tags) and any(t == "ADJ(A)" and p >= tags[0][1] - _PLACE for t, p in tags)
