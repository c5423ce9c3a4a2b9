"""Word lists the entity heuristics lean on (``entities.py``): titles, common nouns, particles.

German capitalises every noun, so capitalisation alone cannot tell a name there; these lists name
the frequent news nouns, the endings that mark a noun, and the few proper names that take an
article ("in der Ukraine"). English needs only the titles that precede a name and the capitalised
words that are not names (days, months). All entries are lower case.
"""

from __future__ import annotations


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
    "ceo cfo cto tv am pm ok hd pdf faq afp ap dpa afx kna epd sid apa ddp usd eur ard zdf uhr km kg mio mrd"
)

# Abbreviations whose dot does not end a sentence.
ABBREVIATIONS = _words("mr mrs ms dr prof st mt jr sr gen sen rep gov lt col sgt vs no nr ca bzw vgl dt inc corp ltd")
