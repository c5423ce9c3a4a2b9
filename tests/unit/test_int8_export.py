"""The int8 copy of an ONNX export (clustering.embedding.int8): faithful to float32 on a fixed set of
texts, built once and reused, rebuilt when corrupt or built from another float32 export, refused by
name when it cannot be made faithful, and its vectors cached apart from the float32 ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clustering.embedding import int8
from clustering.embedding.embed import Embedder, cache_namespace, resolve_model
from clustering.embedding.int8 import MIN_COSINE, check_texts, ensure_int8, int8_dir, int8_problem
from clustering.embedding.onnx_export import ensure_export
from clustering.embedding.onnx_model import MANIFEST_FILE, ONNX_FILE, OnnxEncoder
from newsflow.errors import ModelExportError
from newsflow.settings import load_settings

pytestmark = pytest.mark.slow  # a quantisation search: tens of seconds


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def minilm(monkeypatch: pytest.MonkeyPatch, cache: Path) -> tuple[str, Path, Path]:
    """The bundled MiniLM's float32 export in a test cache: (model id, source directory, export)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    model_id, location = resolve_model(load_settings(embedding_model="all-MiniLM-L6-v2"))
    return model_id, Path(location), ensure_export(location, model_id)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    started: list[Path] = []
    real = int8.build_int8

    def counting(export: Path, out: Path, max_seq_length: int) -> dict[str, object]:
        started.append(out)
        return real(export, out, max_seq_length)

    monkeypatch.setattr(int8, "build_int8", counting)
    return started


def test_the_int8_copy_is_faithful_built_once_and_reused(minilm: tuple[str, Path, Path], builds: list[Path]) -> None:
    model_id, source, export = minilm
    out = ensure_int8(export, source, model_id, 128)
    assert out == int8_dir(export) and builds == [out]
    info = json.loads((out / MANIFEST_FILE).read_text())["int8"]
    assert info["mean_cosine"] >= MIN_COSINE and info["check_texts"] == len(check_texts()) >= 50
    texts = check_texts()
    expected = OnnxEncoder(export, 128).encode(texts, batch_size=16, normalize_embeddings=True)
    got = OnnxEncoder(out, 128, variant="int8").encode(texts, batch_size=16, normalize_embeddings=True)
    cosines = np.einsum("ij,ij->i", got, expected)
    assert float(cosines.mean()) == pytest.approx(info["mean_cosine"], abs=1e-4)
    assert float(cosines.min()) > 0.97  # no text far off, not only the mean
    assert (out / ONNX_FILE).stat().st_size < (export / ONNX_FILE).stat().st_size / 2  # int8 weights
    assert ensure_int8(export, source, model_id, 128) == out and builds == [out]  # reused: no second build


def test_a_corrupt_or_outdated_int8_copy_is_rebuilt(minilm: tuple[str, Path, Path], builds: list[Path]) -> None:
    model_id, source, export = minilm
    out = ensure_int8(export, source, model_id, 128)
    builds.clear()
    graph = out / ONNX_FILE
    graph.write_bytes(graph.read_bytes()[:-10])
    assert "model.onnx is missing or corrupt" in (int8_problem(out, export, source, model_id) or "")
    assert ensure_int8(export, source, model_id, 128) == out and builds == [out]
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    manifest["int8"]["float_onnx_sha256"] = "0" * 64  # as if the float32 export had been rebuilt since
    (out / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert int8_problem(out, export, source, model_id) == "built from another float32 export"


def test_an_unfaithful_int8_copy_is_refused_by_name(
    minilm: tuple[str, Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, _, export = minilm
    monkeypatch.setattr(int8, "MIN_COSINE", 1.0001)  # a bar no quantised copy clears
    monkeypatch.setattr(int8, "MAX_FLOAT_NODES", 1)
    with pytest.raises(ModelExportError, match="not faithful: mean cosine"):
        int8.build_int8(export, tmp_path / "refused", 128)
    assert not (tmp_path / "refused").exists()


def test_int8_vectors_are_cached_apart(minilm: tuple[str, Path, Path]) -> None:
    settings = load_settings(embedding_model="all-MiniLM-L6-v2", embedding_quantize="int8", embedding_backend="onnx")
    embedder = Embedder(settings)
    assert embedder.model.variant == "int8"
    assert embedder.cache_namespace == cache_namespace(embedder.model_id, 128, "int8") != embedder.model_id
    plain = Embedder(settings.model_copy(update={"embedding_quantize": "off"}))
    assert plain.cache_namespace == plain.model_id
