"""A topic's named entities from its members' mentions (``entities.mentions``), ranked like keywords.

Names are counted by document frequency over the members. A positional run ("Trump says ...")
counts where another member names it plainly; a weak (German single-word) name needs a second
member; short names fold into the most named longer name they begin or end ("Trump" → "Donald
Trump"). The rank is member share × the window's IDF (given by the caller), most distinctive first.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from clustering.labelling.entities import Mentions, mentions
from clustering.labelling.entity_words import COMMON_EN, COMMON_NOUNS_DE, TITLES_EN
from clustering.representation.represent import SparseVectoriser
from clustering.representation.text import uncached_tokens
from newsflow.records.doc import Doc, dense_text
from newsflow.settings import Settings


def _key(name: str) -> str:
    return name.casefold()


@dataclass
class _Tally:
    docs: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    surfaces: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    sure: set[str] = field(default_factory=set)

    def add(self, doc: int, name: str, sure: bool) -> None:
        key = _key(name)
        self.docs[key].add(doc)
        self.surfaces[key][name] += 1
        if sure:
            self.sure.add(key)


def rank_entities(
    members: Sequence[Mentions], idf_of: Callable[[Sequence[str]], Sequence[float]], top: int
) -> list[str]:
    """Top ``top`` entities of a topic's members, by member share × ``idf_of(names)`` (one IDF per name)."""
    tally = _Tally()
    for i, m in enumerate(members):
        for name in m.sure:
            tally.add(i, name, sure=True)
        for name in m.weak:
            tally.add(i, name, sure=False)
    _confirm_maybe(members, tally)
    parent = _merge_parents(tally)
    docs: dict[str, set[int]] = defaultdict(set)
    sure: set[str] = set()
    for key in tally.docs:
        root = _root(key, parent)
        docs[root] |= tally.docs[key]
        if key in tally.sure:
            sure.add(root)
    need_spread = 2 if len(members) >= 3 else 1
    kept = sorted(key for key, found_in in docs.items() if key in sure or len(found_in) >= 2)  # weak: 2 articles
    names = [min(tally.surfaces[key].items(), key=lambda kv: (-kv[1], kv[0]))[0] for key in kept]
    idf = idf_of(names) if names else []
    scored = []
    for key, name, weight in zip(kept, names, idf, strict=True):
        share = len(docs[key]) / len(members)
        scored.append((len(docs[key]) < need_spread, -share * weight, key, name))
    scored.sort()
    return [name for *_, name in scored[:top]]


def _confirm_maybe(members: Sequence[Mentions], tally: _Tally) -> None:
    """Positional runs count where their words (or a name's first or last words) are a name found elsewhere."""
    known: set[str] = set()
    for key in tally.docs:
        tokens = key.split()
        known |= {" ".join(tokens[:n]) for n in range(1, len(tokens) + 1)}
        known |= {" ".join(tokens[-n:]) for n in range(1, len(tokens))}
    known -= COMMON_EN | COMMON_NOUNS_DE | TITLES_EN
    words = {w for name in known for w in name.split()}
    for i, m in enumerate(members):
        for run in m.maybe:
            if not any(_key(w) in words or _key(w[:-1]) in words for w in run):
                continue  # the usual case: no word of the run is in any name
            for name in _known_spans(run, known):
                tally.add(i, name, sure=False)


def _known_spans(run: Sequence[str], known: set[str]) -> Iterator[str]:
    """Non-overlapping spans of ``run`` that are known names (genitive "Russlands" → "Russland"), longest first."""
    start = 0
    while start < len(run):
        for end in range(len(run), start, -1):
            span = " ".join(run[start:end])
            genitive = span[:-1] if span.endswith("s") else ""
            name = span if _key(span) in known else genitive if genitive and _key(genitive) in known else ""
            if name:
                yield name
                start = end
                break
        else:
            start += 1


def _merge_parents(tally: _Tally) -> dict[str, str]:
    """Short names into the most named longer name they begin or end ("Trump" → "Donald Trump").

    A surname joins its full name whatever their counts; a longer part ("Mitt Romney") or a first
    word ("Apple") only joins a longer name named at least as often ("SAC" → "SAC Capital", but not
    "Apple" → "Apple CarPlay"). Genitives fold first ("Russlands" → "Russland").
    """
    by_first: dict[str, list[str]] = defaultdict(list)
    by_last: dict[str, list[str]] = defaultdict(list)
    for key in sorted(tally.docs):
        by_first[key.split()[0]].append(key)
        by_last[key.split()[-1]].append(key)
    parent: dict[str, str] = {}
    for key in sorted(tally.docs):
        if key.endswith("s") and key[:-1] in tally.docs:
            parent[key] = key[:-1]
            continue
        tokens, df = key.split(), len(tally.docs[key])
        n = len(tokens)
        ends = [o for o in by_last[tokens[-1]] if len(o.split()) > n and o.split()[-n:] == tokens]
        begins = [o for o in by_first[tokens[0]] if len(o.split()) > n and o.split()[:n] == tokens]
        longer = [o for o in ends if n == 1 or len(tally.docs[o]) >= df]
        longer += [o for o in begins if len(tally.docs[o]) >= df]
        if longer:
            parent[key] = max(longer, key=lambda o: (len(tally.docs[o]), len(o), o))
    return parent


def _root(key: str, parent: dict[str, str]) -> str:
    seen = {key}
    while key in parent and parent[key] not in seen:
        key = parent[key]
        seen.add(key)
    return key


@dataclass(frozen=True)
class EntityParams:
    """How many names a topic keeps, and how much of each member they are read from (its title and lead)."""

    embedding_lead_chars: int
    topic_entities: int

    @classmethod
    def from_settings(cls, settings: Settings) -> EntityParams:
        return cls(embedding_lead_chars=settings.embedding_lead_chars, topic_entities=settings.topic_entities)


def topic_entities(docs: Sequence[Doc], vectoriser: SparseVectoriser, params: EntityParams) -> list[str]:
    """The top ``params.topic_entities`` named entities of the members, by share of members naming them ×
    the window's IDF."""
    top = params.topic_entities
    if top <= 0:
        return []
    # Title + lead (the dense text): where news names names.
    found = [mentions(dense_text(d.title, d.body, params.embedding_lead_chars), d.language) for d in docs]
    return rank_entities(found, lambda names: _window_idf(names, vectoriser), top)


def _window_idf(names: Sequence[str], vectoriser: SparseVectoriser) -> list[float]:
    """IDF of each name's rarest word in the window (a phrase is at least as rare as its rarest word)."""
    index = [np.array([_term_index(t, vectoriser.n_features) for t in _name_terms(name)]) for name in names]
    return [float(vectoriser.idf(rows).max()) for rows in index]


@functools.lru_cache(maxsize=50_000)
def _name_terms(name: str) -> tuple[str, ...]:
    # "US" is a stop word to the tokeniser, but the term "U.S." texts leave in the window.
    # Not through ``tokens``: its cache holds the window's texts, which the names would push out.
    return uncached_tokens(name, None) or (name.casefold(),)


@functools.lru_cache(maxsize=50_000)  # names recur in every re-clustering; hashing one by one is the slow part
def _term_index(term: str, n_features: int) -> int:
    return _hasher(n_features).term_index(term)


@functools.lru_cache(maxsize=4)
def _hasher(n_features: int) -> SparseVectoriser:
    """A vectoriser only for its hashing: the index of a term depends on ``n_features`` alone."""
    return SparseVectoriser(n_features)
