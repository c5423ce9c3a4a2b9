from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from clustering.embedding.embed import (
    BUNDLED_MODEL_ID,
    CachedEmbedder,
    Embedder,
    EmbeddingError,
    MemoryCache,
    embedding_model_id,
    load_model,
    resolve_embedding_model,
    text_key,
)
from newsflow.errors import ModelLoadError
from newsflow.models import OPTIONAL_MODELS
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache

TEXTS = ["Flappy Bird could return, creator says", "Unicredit posts 14 bn euro loss for 2013"]


def test_bundled_model_gives_normalised_float32_rows(embedder: Embedder) -> None:
    vectors = embedder.encode(TEXTS)
    assert embedder.model_id == BUNDLED_MODEL_ID
    assert vectors.dtype == np.float32 and vectors.shape == (2, embedder.dim) == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_model_settings_apply(st_model: tuple[str, Any]) -> None:
    _, model = st_model
    assert model.max_seq_length == Settings().embedding_max_seq_length
    assert str(model.device) == "cpu"


@pytest.mark.parametrize("name", ["/nonexistent/model-dir", "newsflow-tests/no-such-model-anywhere"])
def test_model_that_cannot_load_offline_names_the_fix(name: str) -> None:
    with pytest.raises(ModelLoadError) as err:
        load_model(Settings(embedding_model=name))
    assert name in str(err.value) and "NEWSFLOW_EMBEDDING_MODEL" in str(err.value)


@pytest.mark.parametrize("name", ["", "all-MiniLM-L6-v2", "sentence-transformers/all-minilm-l6-v2", "/models/other"])
def test_the_model_id_without_the_model_is_the_resolved_one(name: str) -> None:
    assert embedding_model_id(name) == resolve_embedding_model(name)[0]


def test_an_optional_models_id_needs_no_installed_copy(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every re-clustering checks the same-story model against this id: no look on disk each time."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # (nothing installed there)
    for name, optional in OPTIONAL_MODELS.items():
        assert embedding_model_id(name) == optional.model_id != name
        with pytest.raises(ModelLoadError, match="not installed"):
            resolve_embedding_model(name)


def test_cache_in_the_store_never_embeds_a_text_twice(embedder: Embedder, settings: Settings) -> None:
    engine = open_store(settings)
    cached = CachedEmbedder(embedder, SqlVectorCache(engine))
    first = cached.embed([*TEXTS, TEXTS[0]])  # a repeat inside one call is encoded once too
    assert embedder.encoded_texts == 2
    again = cached.embed(TEXTS)
    assert embedder.encoded_texts == 2 and embedder.encode_calls == 1
    np.testing.assert_array_equal(first[:2], again)
    # A restart: new embedder, new cache object, same store — still nothing to encode.
    restarted = Embedder(settings, model=embedder.model, model_id=embedder.model_id)
    CachedEmbedder(restarted, SqlVectorCache(open_store(settings))).embed(list(reversed(TEXTS)))
    assert restarted.encoded_texts == 0


def test_cache_is_per_model(embedder: Embedder) -> None:
    cache = MemoryCache()
    cache.put_many("other-model", {text_key(TEXTS[0]): np.ones(3, dtype=np.float32)})
    vectors = CachedEmbedder(embedder, cache).embed(TEXTS[:1])
    assert embedder.encoded_texts == 1 and vectors.shape == (1, 384)


class _Broken:
    def get_embedding_dimension(self) -> int:
        return 4

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        raise RuntimeError("tokenizer exploded")


def test_model_failure_is_an_embedding_error(settings: Settings) -> None:
    with pytest.raises(EmbeddingError, match="tokenizer exploded"):
        Embedder(settings, model=_Broken(), model_id="broken").encode(["x"])
