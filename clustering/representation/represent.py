"""The representation every clustering stage shares: dense embedding + sparse TF-IDF + time.

* dense: the title + lead embedded by the sentence-transformers model (``embed.py``);
* sparse: TF-IDF over normalised, language-aware tokens (``text.py``), hashed into a fixed space so
  a stream needs no growing vocabulary, with document frequencies counted as articles arrive;
* time: the publication time, in hours since the epoch.

Similarity is ``(dense_weight·cos_dense + sparse_weight·cos_sparse) · ½^(Δt / time_decay_hours)``:
news about the same story shares both meaning and names, and close in time. All weights come
from settings; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from clustering.representation.csr import csr_from_arrays
from clustering.representation.text import detect_language, tokens
from newsflow.records.doc import Doc, sparse_text
from newsflow.settings import Settings


def doc_tokens(doc: Doc, sparse_text_chars: int) -> list[str]:
    """The sparse representation's terms of ``doc``: its sparse text (``sparse_text_chars`` of title and
    body) in its (detected) language."""
    text = sparse_text(doc.title, doc.body, sparse_text_chars)
    return tokens(text, doc.language or detect_language(text))


def to_hours(when: datetime) -> float:
    return when.timestamp() / 3600.0


def _identity(doc: list[str]) -> list[str]:
    return doc


class SparseVectoriser:
    """Hashed TF-IDF with running document frequencies (a streaming ``TfidfVectorizer``).

    ``observe`` counts documents into the frequencies; ``weigh`` turns raw counts into
    sublinear-TF × smoothed-IDF rows of unit length, with the frequencies as they are now.
    """

    def __init__(self, n_features: int) -> None:
        self.n_features = n_features
        self.df = np.zeros(n_features, dtype=np.int64)
        self.n_docs = 0
        self._hasher = HashingVectorizer(
            analyzer=_identity, n_features=n_features, alternate_sign=False, norm=None, dtype=np.float32
        )

    def counts(self, token_lists: Sequence[list[str]]) -> sp.csr_matrix:
        if not token_lists:
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)
        return sp.csr_matrix(self._hasher.transform(token_lists))

    def term_index(self, term: str) -> int:
        return int(self.counts([[term]]).indices[0])

    def observe(self, counts: sp.csr_matrix, sign: int = 1) -> None:
        """Add (or with ``sign=-1`` remove) documents to the document frequencies."""
        present = counts.copy()
        present.data[:] = 1
        self.df += sign * np.asarray(present.sum(axis=0), dtype=np.int64).ravel()
        self.n_docs += sign * counts.shape[0]

    def idf(self, indices: np.ndarray | None = None) -> np.ndarray:
        df = self.df if indices is None else self.df[indices]
        return np.log((1.0 + self.n_docs) / (1.0 + df)) + 1.0

    def weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        weighted = counts.astype(np.float32, copy=True)
        weighted.data = (1.0 + np.log(weighted.data)) * self.idf(weighted.indices).astype(np.float32)
        return _l2_rows(weighted)


def _l2_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    if matrix.shape[0] == 0:
        return sp.csr_matrix(matrix)
    if not _plain_rows(matrix):
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms).astype(np.float32) @ matrix)
    # What the lines above compute, from the arrays: scipy's kernels there allocate work space for all
    # 2^18 hashed columns per call. Their sum is numpy's reduceat over each row's squares (as
    # ``.sum(axis=1)`` reduces), and the diagonal product scales each row and lists its entries in
    # reverse (the kernel's linked list), bit for bit.
    lengths = np.diff(matrix.indptr)
    norms = np.zeros(matrix.shape[0], dtype=matrix.dtype)
    rows = np.flatnonzero(lengths)
    if len(rows):
        norms[rows] = np.add.reduceat(matrix.data * matrix.data, matrix.indptr[rows])
    norms = np.sqrt(norms)
    norms[norms == 0] = 1.0
    scale = (1.0 / norms).astype(np.float32)
    reverse = np.repeat(matrix.indptr[:-1] + matrix.indptr[1:] - 1, lengths) - np.arange(matrix.nnz)
    data = np.repeat(scale, lengths) * matrix.data
    return csr_from_arrays(data[reverse], matrix.indices[reverse], matrix.indptr.copy(), matrix.shape)


def _plain_rows(matrix: sp.csr_matrix) -> bool:
    """Sorted rows without duplicates or values whose squares (or scaled values) would round to 0 or
    overflow: where ``_l2_rows``' arithmetic on the arrays is the kernels' (term weights always are)."""
    magnitude = np.abs(matrix.data)
    return bool(
        matrix.dtype == np.float32
        and matrix.has_canonical_format
        and (matrix.nnz == 0 or (magnitude.min() >= 1e-15 and magnitude.max() <= 1e15))
    )


@dataclass
class Batch:
    """Representations of a list of docs, row-aligned."""

    docs: list[Doc]
    dense: np.ndarray  # (n, d) float32, unit rows
    sparse: sp.csr_matrix  # (n, F) float32, unit rows (or empty rows for docs without content words)
    hours: np.ndarray  # (n,) float64
    counts: sp.csr_matrix  # raw term counts, kept so frequencies can be recomputed
    roots: np.ndarray  # (n, 2) float64: square roots of each row's dense and sparse weight
    long: np.ndarray  # (n,) float64: how far each row is from headline-only (0) to full text (1)
    # (n,) float64: 1 for an article not in English. The bundled embedding model reads English; its
    # cosines run on another scale for other languages, which the same-story model learns to weigh.
    foreign: np.ndarray

    def __len__(self) -> int:
        return len(self.docs)

    def row(self, i: int) -> Batch:
        return self.select([i])

    @staticmethod
    def concat(first: Batch, second: Batch) -> Batch:
        """The rows of ``first`` then those of ``second``."""
        return Batch(
            docs=first.docs + second.docs,
            dense=np.vstack([first.dense, second.dense]),
            sparse=sp.vstack([first.sparse, second.sparse]).tocsr(),
            hours=np.concatenate([first.hours, second.hours]),
            counts=sp.vstack([first.counts, second.counts]).tocsr(),
            roots=np.vstack([first.roots, second.roots]),
            long=np.concatenate([first.long, second.long]),
            foreign=np.concatenate([first.foreign, second.foreign]),
        )

    def select(self, rows: Sequence[int]) -> Batch:
        idx = list(rows)
        return Batch(
            docs=[self.docs[i] for i in idx],
            dense=self.dense[idx],
            sparse=take_rows(self.sparse, idx),
            hours=self.hours[idx],
            counts=take_rows(self.counts, idx),
            roots=self.roots[idx],
            long=self.long[idx],
            foreign=self.foreign[idx],
        )


def take_rows(matrix: sp.csr_matrix, rows: Sequence[int]) -> sp.csr_matrix:
    """``matrix[rows]`` (each row's entries in their stored order, as scipy copies them), from the CSR
    arrays: scipy's general indexing costs more than the copy in a replay's thousands of small windows."""
    indptr = matrix.indptr.astype(np.int64)
    at = np.asarray(rows, dtype=np.int64)
    if len(at) and (at.min() < -matrix.shape[0] or at.max() >= matrix.shape[0]):
        raise IndexError(f"row index out of range for {matrix.shape[0]} rows")
    at = at % max(matrix.shape[0], 1)  # (negative rows count from the end, as in numpy)
    starts, lengths = indptr[at], indptr[at + 1] - indptr[at]
    out = np.zeros(len(at) + 1, dtype=matrix.indptr.dtype)
    np.cumsum(lengths, out=out[1:])
    entries = np.repeat(starts - out[:-1], lengths) + np.arange(out[-1], dtype=np.int64)
    return csr_from_arrays(matrix.data[entries], matrix.indices[entries], out, (len(at), matrix.shape[1]))


@dataclass(frozen=True)
class RepresentParams:
    """What ``represent`` reads: the sparse text's length and the similarity weights of each article."""

    sparse_text_chars: int
    weights: SimilarityWeights

    @classmethod
    def from_settings(cls, settings: Settings) -> RepresentParams:
        return cls(sparse_text_chars=settings.sparse_text_chars, weights=SimilarityWeights.from_settings(settings))


def represent(
    docs: Sequence[Doc], dense: np.ndarray, vectoriser: SparseVectoriser, params: RepresentParams, *,
    observe: bool = True, counts: sp.csr_matrix | None = None,
) -> Batch:  # fmt: skip
    """Build a ``Batch`` from docs and their embeddings; ``observe`` counts them into the frequencies.

    ``counts``: the docs' raw term counts (``vectoriser.counts`` of their tokens), when the caller
    keeps them (the evaluation: tokenising a window again at every re-clustering was most of its cost).
    """
    if counts is None:
        counts = vectoriser.counts([doc_tokens(d, params.sparse_text_chars) for d in docs])
    if observe:
        vectoriser.observe(counts)
    weights = params.weights
    long = weights.long_share([len(d.body) for d in docs])
    return Batch(
        docs=list(docs),
        dense=np.atleast_2d(np.asarray(dense, dtype=np.float32)),
        sparse=vectoriser.weigh(counts),
        hours=np.array([to_hours(d.published) for d in docs], dtype=np.float64),
        counts=counts,
        roots=weights.roots(long),
        long=long,
        foreign=np.array([_foreign(d, params.sparse_text_chars) for d in docs], dtype=np.float64),
    )


def _foreign(doc: Doc, sparse_text_chars: int) -> float:
    language = doc.language or detect_language(sparse_text(doc.title, doc.body, sparse_text_chars))
    return 0.0 if language is None or language[:2].lower() == "en" else 1.0


@dataclass(frozen=True)
class SimilarityWeights:
    """How dense and sparse similarity combine, per article and per pair.

    An article's weights move from (``dense``, ``sparse``) for a headline alone to (``dense_long``,
    ``sparse_long``) for ``long_chars`` or more of body: TF-IDF over a whole story is reliable where
    over eight words it is not, and the embedding only ever sees the title and lead. A pair is
    weighted by the geometric mean of its articles' weights, i.e. by the product of their square
    roots (``roots``), so the combined similarity stays a dot product of per-article vectors scaled by
    those roots: average linkage over sums and the neighbour graph's features keep working unchanged.
    """

    dense: float
    sparse: float
    decay_hours: float
    dense_long: float | None = None  # None: the same as for headlines
    sparse_long: float | None = None
    long_chars: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> SimilarityWeights:
        return cls(
            settings.dense_weight, settings.sparse_weight, settings.time_decay_hours,
            settings.dense_weight_long, settings.sparse_weight_long, settings.long_text_chars,
        )  # fmt: skip

    def long_share(self, body_chars: Sequence[int]) -> np.ndarray:
        """0 for a headline alone, 1 from ``long_chars`` of body on, linear between."""
        return np.minimum(np.asarray(body_chars, dtype=np.float64), self.long_chars) / max(self.long_chars, 1)

    def roots(self, share: np.ndarray) -> np.ndarray:
        """(n, 2): square roots of the dense and sparse weight of articles with these ``long_share``s."""
        long = (self.dense if self.dense_long is None else self.dense_long,
                self.sparse if self.sparse_long is None else self.sparse_long)  # fmt: skip
        dense = self.dense + (long[0] - self.dense) * share
        sparse = self.sparse + (long[1] - self.sparse) * share
        return np.sqrt(np.maximum(np.column_stack([dense, sparse]), 0.0)).reshape(-1, 2)

    def of_article(self, roots: np.ndarray) -> SimilarityWeights:
        """The weights of one article (its row of ``roots``): online assignment compares an arriving
        article with topics and pooled articles on the arriving article's terms."""
        return SimilarityWeights(float(roots[0] ** 2), float(roots[1] ** 2), self.decay_hours)

    def combine(
        self, dense_sim: np.ndarray, sparse_sim: np.ndarray, gap_hours: np.ndarray,
        dense_coef: np.ndarray | float | None = None, sparse_coef: np.ndarray | float | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Weighted dense + sparse similarity, halved every ``decay_hours`` of time gap. The weights
        are ``dense``/``sparse`` unless the pair's own (``dense_coef``/``sparse_coef``) are given."""
        dense_w = self.dense if dense_coef is None else dense_coef
        sparse_w = self.sparse if sparse_coef is None else sparse_coef
        base = dense_w * dense_sim + sparse_w * sparse_sim
        if self.decay_hours <= 0:
            return np.asarray(base)
        return np.asarray(base * np.power(0.5, np.maximum(gap_hours, 0.0) / self.decay_hours))


def gap_to_span(hours: float | np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Hours from a time to the span [first, last] of each topic (0 inside it)."""
    return np.maximum(np.maximum(first - hours, hours - last), 0.0)
