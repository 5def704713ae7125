"""t1core is the library: it never imports the orchestration layer or the tools around it."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "t1core"
FORBIDDEN = ("flows", "prefect", "dvc")


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_t1core_never_imports_orchestration():
    bad = [
        f"{path.relative_to(PKG.parent)}:{line}: import {mod}"
        for path in PKG.rglob("*.py")
        for line, mod in _imports(path)
        if mod.split(".")[0] in FORBIDDEN
    ]
    assert not bad, "\n".join(bad)


def test_pure_layers_do_not_reach_up():
    """grading and data never import stages or the CLI (the composition root sits on top)."""
    bad = []
    for sub in ("grading", "data", "config.py"):
        for path in ([PKG / sub] if sub.endswith(".py") else (PKG / sub).rglob("*.py")):
            for line, mod in _imports(path):
                if mod.startswith(("t1core.stages", "t1core.cli")):
                    bad.append(f"{path.name}:{line}: {mod}")
    assert not bad


def test_the_checker_sees_a_violation(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("import prefect.flows\nfrom dvc.repo import Repo\nfrom . import y\n")
    assert [m for _, m in _imports(f)] == ["prefect.flows", "dvc.repo"]
