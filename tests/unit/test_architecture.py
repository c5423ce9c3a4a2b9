"""The layer contracts (pyproject's ``[tool.importlinter]``): they hold, they cover every module, and they fail
when a lower layer imports a higher one or kafka-python leaks out of the Kafka edge."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("newsflow", "ingest", "clustering")


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    run_lint = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", run_lint, "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )


def _copy_of_the_code(tmp_path: Path) -> Path:
    """The three packages' Python files and the config, where a violation can be planted."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _plant(root: Path, module: str, line: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{line}  # a deliberate violation\n")


def test_the_contracts_hold_on_the_code() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_every_top_level_module_is_in_a_layer() -> None:
    named = {
        name.strip("() ")
        for layer in _contracts()["layers"]["layers"]  # type: ignore[attr-defined]
        for name in layer.replace("|", ":").split(":")
    }
    modules = {"ingest", "clustering"} | {
        f"newsflow.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "newsflow")]) if m.name != "__main__"
    }
    assert modules - named == set(), "modules no layer names (add them to pyproject's layers contract)"
    assert named - modules == set(), "layers naming modules that do not exist"


@pytest.mark.slow
def test_a_store_module_importing_clustering_breaks_the_layers(tmp_path: Path) -> None:
    root = _copy_of_the_code(tmp_path)
    _plant(root, "newsflow.store.upsert", "import clustering.worker")
    result = _lint_imports(root)
    assert result.returncode == 1
    assert "Layers run one way" in result.stdout and "BROKEN" in result.stdout
    assert "newsflow.store.upsert -> clustering.worker" in result.stdout


@pytest.mark.slow
def test_kafka_python_outside_the_edge_breaks_its_contract(tmp_path: Path) -> None:
    root = _copy_of_the_code(tmp_path)
    _plant(root, "clustering.reclustering.plan", "import kafka")
    result = _lint_imports(root)
    assert result.returncode == 1
    assert "Contracts: 1 kept, 1 broken." in result.stdout
    assert "clustering.reclustering.plan -> kafka" in result.stdout
