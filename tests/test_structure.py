"""The code's shape: one-way layers, no import cycles, WeasyPrint behind one adapter."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src" / "handoutgen"


# Each stage may import only stages ranked lower. Same rank = siblings that
# must not know about each other.
RANKS = {
    "core": 0,
    "content": 1,
    "store": 2,
    "engine": 2,
    "render": 3,
    "editions": 4,
    "quality": 4,
    "pipeline": 5,
    "mailing": 6,
    "web": 6,
    "ehr": 6,
    "api": 7,
    "cli": 8,
}
# The folders' modules may touch these libraries; no one else may.
ENGINE_LIBRARIES = {"weasyprint", "pypdfium2", "pydyf"}
MAX_LINES = 700


def modules() -> dict[str, Path]:
    """Every module by dotted name below the package (``content.models``)."""
    found = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        found[".".join(parts)] = path
    return found


def stage(module: str) -> str:
    return module.split(".")[0]


def imports_of(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports, at the top or inside
    functions (a lazy import is still a dependency)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (use handoutgen.stage.module)"
            mod = node.module or ""
            if mod == "handoutgen":
                found.update(alias.name for alias in node.names)
            elif mod.startswith("handoutgen."):
                rest = mod[len("handoutgen.") :]
                found.add(rest)
                found.update(f"{rest}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("handoutgen."):
                    found.add(alias.name[len("handoutgen.") :])
    return {m for m in found if m in modules()}


def third_party_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add((node.module or "").split(".")[0])
    return names


def module_graph() -> dict[str, set[str]]:
    return {name: imports_of(path) - {name} for name, path in modules().items() if name}


def stage_graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, targets in module_graph().items():
        edges.setdefault(stage(name), set()).update(
            stage(t) for t in targets if stage(t) != stage(name)
        )
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_lives_in_a_ranked_stage():
    unranked = sorted(name for name in modules() if name and stage(name) not in RANKS)
    assert unranked == [], f"place these in a stage folder (or rank them): {unranked}"


def test_the_stages_point_one_way():
    """No import goes up or sideways between stages: content never reaches
    for rendering, the engine never for quality, editions never for quality."""
    wrong = sorted(
        f"{name} -> {target}"
        for name, targets in module_graph().items()
        for target in targets
        if stage(target) != stage(name) and RANKS[stage(target)] >= RANKS[stage(name)]
    )
    assert wrong == []


def test_no_stage_imports_one_that_imports_it_back():
    assert find_cycle(stage_graph()) is None


def test_no_module_imports_one_that_imports_it_back():
    """Within a folder too; lazy imports inside functions count."""
    assert find_cycle(module_graph()) is None


def test_the_checker_catches_an_import_up(tmp_path, monkeypatch):
    """The rule really reads the code: an engine module importing the
    pipeline is reported."""
    fake = tmp_path / "handoutgen"
    (fake / "engine").mkdir(parents=True)
    (fake / "pipeline.py").write_text("")
    (fake / "engine" / "bad.py").write_text("from handoutgen.pipeline import render\n")
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    graph = module_graph()
    assert graph["engine.bad"] == {"pipeline"}
    assert RANKS["pipeline"] > RANKS["engine"]


def test_no_module_is_too_long_to_read():
    long = sorted(
        f"{name} ({n} lines)"
        for name, path in modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    )
    assert long == [], f"split these by job: {long}"


def test_only_the_engine_touches_weasyprint_and_pdfium():
    for name, path in modules().items():
        if stage(name) == "engine":
            continue
        used = third_party_imports(path) & ENGINE_LIBRARIES
        assert not used, f"{name} imports {sorted(used)}: go through handoutgen.engine"
        assert "._page_box" not in path.read_text(encoding="utf-8"), name


def test_tests_mirror_the_stages():
    """A test module for a stage lives in that stage's test folder."""
    tests = ROOT / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and p.name in RANKS}
    missing = sorted(s for s in RANKS if s not in ("api", "cli", "pipeline") and s not in folders)
    assert missing == [], f"no tests/<stage>/ folder for {missing}"


def test_edition_conventions_match_the_shipped_stylesheet():
    """marks.py says which margin boxes carry per-recipient text and which slots
    feed the running header; the stylesheet editions are built from must agree,
    or an edition would print one recipient's name on everyone's pages."""
    import re

    from handoutgen.render.marks import EDITION_CSS, HEAD_SLOTS, PERSONAL_CSS, PERSONAL_MARGIN_BOXES

    css = (SRC / "styles" / "handout.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    margin = (
        r"(?:top|bottom)-(?:left|center|right)(?:-corner)?|(?:left|right)-(?:top|middle|bottom)"
    )
    boxes = re.findall(rf"@({margin})\s*\{{([^}}]*)\}}", css)
    uses: dict[str, set[str]] = {}
    for box, body in boxes:
        for content in re.findall(r"content:\s*([^;]+)", body):
            if "counter(page" in content:
                uses.setdefault(box, set()).add("page number")
            if any(f"string({s}" in content for s in HEAD_SLOTS):
                uses.setdefault(box, set()).add("running name")
            shared = re.sub(
                r"counter\(pages?\)|string\((?:" + "|".join(HEAD_SLOTS) + r")\)|\"[^\"]*\"|none",
                "",
                content,
            )
            if box in PERSONAL_MARGIN_BOXES and shared.strip():
                uses.setdefault(box, set()).add(f"shared text: {content.strip()}")
    assert uses == {box: {what} for box, what in PERSONAL_MARGIN_BOXES.items()}, uses
    for slot in HEAD_SLOTS:
        assert re.search(rf"string-set:\s*{slot}\b", css), slot
    for box in PERSONAL_MARGIN_BOXES:
        assert f"@{box} {{ content: none; }}" in EDITION_CSS
        assert f"@{box} {{ content: string(vdp-" in PERSONAL_CSS
