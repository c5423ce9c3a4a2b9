"""The edge's two rules, read from the source: only ``newsflow/kafka`` imports kafka-python, and the edge
itself depends on nothing of newsflow but the core (settings, errors, contracts)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PRODUCT = ("newsflow", "ingest", "clustering", "dags")
EDGE = REPO / "newsflow" / "kafka"
CORE = {"newsflow.settings", "newsflow.errors", "newsflow.contracts"}


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at any depth (late imports inside functions count too)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _sources(*roots: Path) -> Iterator[Path]:
    for root in roots:
        yield from (p for p in root.rglob("*.py") if "migrations" not in p.parts)


def test_only_the_edge_imports_kafka_python() -> None:
    offenders = sorted(
        f"{path.relative_to(REPO)}: {module}"
        for path in _sources(*(REPO / name for name in PRODUCT))
        if EDGE not in path.parents
        for module in _imports(path)
        if module == "kafka" or module.startswith("kafka.")
    )
    assert offenders == []


def test_the_edge_depends_only_on_the_core() -> None:
    outside = sorted(
        f"{path.relative_to(REPO)}: {module}"
        for path in _sources(EDGE)
        for module in _imports(path)
        if module.split(".")[0] in PRODUCT and module not in CORE and not module.startswith("newsflow.kafka")
    )
    assert outside == []
