"""Every module the package imports at run time is declared in pyproject.toml.

A module that only the test extras bring in works in the suite and fails on a
clinic's plain ``pip install handoutgen`` (pypdf in the web pool did: 500s).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src" / "handoutgen"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalized (PEP 503)."""
    for stop in "[<>=!~;( ":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower().replace("_", "-").replace(".", "-")


def _catches_import_error(node: ast.Try) -> bool:
    names = set()
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names.update(k.id for k in kinds if isinstance(k, ast.Name))
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def third_party_imports(path: Path) -> dict[str, bool]:
    """Top-level third-party modules ``path`` imports, anywhere (lazy imports
    too), each with whether every import of it is guarded by ``except
    ImportError`` (an optional feature that says what to install)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: dict[str, bool] = {}

    def visit(node: ast.AST, guarded: bool) -> None:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "handoutgen":
                found[top] = found.get(top, True) and guarded
        for child in ast.iter_child_nodes(node):
            inner = guarded
            if isinstance(node, ast.Try) and child in node.body:
                inner = guarded or _catches_import_error(node)
            visit(child, inner)

    visit(tree, False)
    return found


def imports_by_module() -> dict[str, dict[str, bool]]:
    """Module name -> {source file: guarded}."""
    out: dict[str, dict[str, bool]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for module, guarded in third_party_imports(path).items():
            out.setdefault(module, {})[path.name] = guarded
    return out


def test_the_scan_sees_lazy_and_guarded_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nimport yaml\n"
        "def f():\n    from pypdf import PdfReader\n"
        "def g():\n    try:\n        import dask.distributed\n    except ImportError:\n"
        "        raise SystemExit('pip install handoutgen[cluster]')\n"
        "from . import cache\n"
    )
    assert third_party_imports(sample) == {"yaml": False, "pypdf": False, "dask": True}


def test_every_runtime_import_is_a_runtime_dependency():
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    extras = {
        _name(r) for reqs in PYPROJECT["project"]["optional-dependencies"].values() for r in reqs
    }
    distributions = packages_distributions()
    missing = []
    for module, files in sorted(imports_by_module().items()):
        dists = {_name(d) for d in distributions.get(module, [])}
        assert dists, f"{module} (imported by {sorted(files)}) is installed by no distribution"
        if dists & declared:
            continue
        # An optional feature: every import of it is guarded and names its extra.
        if all(files.values()) and dists & extras:
            continue
        missing.append(f"{module} ({'/'.join(sorted(dists))}) in {', '.join(sorted(files))}")
    assert not missing, "imported at run time but not in [project].dependencies: " + "; ".join(
        missing
    )
