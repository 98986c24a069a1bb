"""The code's shape: one-way layers, no import cycles, WeasyPrint behind one adapter."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src" / "handoutgen"


def imports_of(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports, at the top or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:  # from . import x, y
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("handoutgen."):
            found.add(node.module.split(".")[1])
    modules = {p.stem for p in SRC.glob("*.py")}
    return {m for m in found if m in modules and m != path.stem}


def graph() -> dict[str, set[str]]:
    return {p.stem: imports_of(p) for p in SRC.glob("*.py") if p.stem != "__init__"}


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


def test_no_module_imports_one_that_imports_it_back():
    """Lazy imports inside functions count too: they are still a dependency."""
    assert find_cycle(graph()) is None


def test_the_layers_point_one_way():
    g = graph()
    below = {
        "weasy": {"render", "vdp", "fullrender", "compose", "checks", "batch", "web"},
        "compose": {"render", "vdp", "fullrender", "checks", "weasy"},
        "context": {"render", "vdp", "compose", "checks", "weasy"},
        "vdp": {"render", "checks", "batch", "web"},
        "assemble": {"render", "vdp", "weasy", "compose", "checks", "batch", "web"},
        "fullrender": {"render", "vdp", "checks"},
        "checks": {"render", "vdp", "fullrender", "batch", "web"},
    }
    for module, forbidden in below.items():
        assert not (g[module] & forbidden), f"{module} imports {sorted(g[module] & forbidden)}"


def test_only_the_adapter_touches_weasyprint():
    for path in SRC.glob("*.py"):
        # fetcher implements WeasyPrint's url_fetcher contract for the adapter;
        # doctor reports WeasyPrint's version and Pango's; langtags extends
        # the adapter's tag builder with each element's language.
        if path.stem in ("weasy", "fetcher", "doctor", "langtags"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "weasyprint" for n in names), path.name
        assert "._page_box" not in path.read_text(encoding="utf-8"), path.name


def test_edition_conventions_match_the_shipped_stylesheet():
    """marks.py says which margin boxes carry per-recipient text and which slots
    feed the running header; the stylesheet editions are built from must agree,
    or an edition would print one recipient's name on everyone's pages."""
    import re

    from handoutgen.marks import EDITION_CSS, HEAD_SLOTS, PERSONAL_CSS, PERSONAL_MARGIN_BOXES

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
