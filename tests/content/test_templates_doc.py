"""docs/templates.md is checked against the real templates and stylesheets, and
its worked example renders."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from jinja2 import nodes

from conftest import ROOT, pages_text

DOC = (ROOT / "docs" / "templates.md").read_text()
TEMPLATES = sorted((ROOT / "templates").glob("*.html"))


def section(title: str) -> str:
    """The text under a heading (up to the next heading of the same or a higher level)."""
    m = re.search(rf"^(#+) {re.escape(title)}\s*$", DOC, re.M)
    assert m, f"docs/templates.md has no heading '{title}'"
    level = len(m.group(1))
    rest = DOC[m.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def test_every_template_and_each_of_its_blocks_is_documented():
    env = jinja2.Environment()
    assert TEMPLATES
    for path in TEMPLATES:
        text = section(f"`{path.name}`")
        blocks = {b.name for b in env.parse(path.read_text()).find_all(nodes.Block)}
        missing = sorted(b for b in blocks if f"`{b}`" not in text)
        assert not missing, f"{path.name}: blocks not in docs/templates.md: {missing}"


def test_every_context_variable_is_documented(library):
    from handoutgen.render.context import context, make_request, plan

    ctx = context(library, plan(library, make_request(document="spine-brochure")))
    text = section("Context variables")
    missing = sorted(k for k in ctx if f"`{k}`" not in text)
    assert not missing, f"context variables not in docs/templates.md: {missing}"


def test_every_css_class_in_the_templates_is_documented():
    text = section("CSS classes")
    found: dict[str, str] = {}
    for path in TEMPLATES:
        for m in re.finditer(r'class="([^"]*)"', path.read_text()):
            # "cols-{{ n }}" is the class family cols-N: the part before the expression.
            value = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", m.group(1))
            for cls in value.split():
                found.setdefault(cls, path.name)
    assert len(found) > 40
    missing = sorted(c for c in found if f"`{c}" not in text)
    assert not missing, f"classes not in docs/templates.md: {missing}"


def test_every_custom_property_is_documented():
    text = section("Custom properties")
    props = set()
    for path in (ROOT / "styles").glob("*.css"):
        props |= set(re.findall(r"var\((--[a-z0-9-]+)", path.read_text()))
    base = (ROOT / "templates" / "base.html").read_text()
    props |= set(re.findall(r"^\s*(--[a-z0-9-]+):", base, re.M))
    assert {"--primary", "--tint"} <= props
    missing = sorted(p for p in props if f"`{p}`" not in text)
    assert not missing, f"custom properties not in docs/templates.md: {missing}"


def test_the_worked_example_renders(run, tmp_ws: Path):
    example = section("Worked example: a box before the comparison table")
    html = re.search(r"```html\n(.*?)```", example, re.S).group(1)
    (tmp_ws / "templates" / "clinic-handout.html").write_text(html)
    doc = tmp_ws / "handouts" / "fusion-alternatives.yaml"
    doc.write_text(
        doc.read_text().replace("template: handout.html", "template: clinic-handout.html")
    )
    assert run("validate", workspace=tmp_ws).exit_code == 0
    out = tmp_ws / "example.pdf"
    result = run("render", "fusion-alternatives", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 0, result.output
    text = " ".join(pages_text(out.read_bytes()))
    box = text.index("Before you compare")
    assert box < text.index("The options side by side")
    assert "Think of the two things that matter most to you." in text
