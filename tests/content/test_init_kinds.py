"""`handoutgen init --kind`: a workspace of each kind carries the repository's own
reviewed sample content (one copy: the packaged starter links to handouts/),
passes `check`, renders a PDF that passes `preflight` at once, and points its
designers at a template reference that is there."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
import yaml

import conftest
from conftest import ROOT, pages_text
from handoutgen.cli import cli
from handoutgen.content.scaffold import KINDS, MAILED, RECIPIENTS, STARTER

TEMPLATES = {
    "handout": "handout.html",
    "brochure": "trifold.html",
    "booklet": "booklet.html",
    "letter": "letter.html",
    "grid": "grid.html",
}


def _init(run, tmp_path: Path, kind: str) -> Path:
    ws = tmp_path / kind
    result = run("init", "--kind", kind, str(ws))
    assert result.exit_code == 0, result.output
    assert f"Created a {kind} workspace in" in result.stderr
    return ws


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_checks_renders_and_passes_preflight_at_once(run, tmp_path, kind):
    ws = _init(run, tmp_path, kind)
    document = KINDS[kind]
    doc = yaml.safe_load((ws / "handouts" / f"{document}.yaml").read_text())
    assert (
        doc["kind"] == yaml.safe_load((ROOT / "handouts" / f"{document}.yaml").read_text())["kind"]
    )
    # Its own template (extending the packaged one of the kind), style and brand.
    assert (doc["template"], doc["styles"], doc["brand"]) == (
        f"my-{kind}.html",
        ["clinic.css"],
        "example-clinic",
    )
    mine = (ws / "templates" / f"my-{kind}.html").read_text()
    assert f'{{% extends "default/{TEMPLATES[kind]}" %}}' in mine
    # The document, every option it shows or offers, the brand, the warning
    # signs: nothing of another kind.
    wanted = {*doc["options"], *doc.get("offers", [])}
    assert {p.stem for p in (ws / "handouts" / "options").glob("*.yaml")} == wanted
    assert sorted(p.name for p in (ws / "handouts").glob("*.yaml")) == sorted(
        [f"{document}.yaml", "warning-signs.yaml"]
    )
    if kind == "grid":
        assert 2 <= len(doc["options"]) <= 4
    assert (ws / RECIPIENTS).is_file() == (kind in MAILED)
    readme = (ws / "README.md").read_text()
    assert f"handoutgen render {document}" in readme and "@" not in readme

    check = run("check", workspace=ws)
    assert check.exit_code == 0, check.output
    assert "0 errors" in check.output
    rendered = run("render", document, workspace=ws)
    assert rendered.exit_code == 0, rendered.output
    pdf = ws / "output" / f"{document}.pdf"
    assert doc["title"] in " ".join(pages_text(pdf.read_bytes()))
    preflight = run("preflight", str(pdf), workspace=ws)
    assert preflight.exit_code == 0, preflight.output
    assert "0 errors" in preflight.output


@pytest.mark.parametrize("kind", list(MAILED))
def test_the_mailed_kinds_batch_their_sample_recipients(run, tmp_path, kind):
    ws = _init(run, tmp_path, kind)
    out = ws / "output" / "mailing"
    result = run(
        "batch",
        KINDS[kind],
        str(ws / RECIPIENTS),
        "-o",
        str(out),
        "--workers",
        "1",
        "--letter-date",
        "2026-11-22",
        workspace=ws,
    )
    assert result.exit_code == 0, result.output
    manifest = conftest.read_manifest(out)
    assert len(manifest) >= 3 and {row["status"] for row in manifest} == {"ok"}
    # The all-caps row of the sample export prints in proper case.
    first = pages_text((out / "S-2.pdf").read_bytes())[0]
    assert "Omar Haddad" in first and "OMAR" not in first


def test_the_pointer_to_the_template_reference_resolves_in_a_new_workspace(run, tmp_path):
    for kind in KINDS:
        ws = _init(run, tmp_path, kind)
        texts = {
            p.relative_to(ws).as_posix(): p.read_text()
            for p in [ws / "README.md", *ws.glob("templates/*"), *ws.glob("styles/*")]
        }
        pointers = {
            (rel, m) for rel, text in texts.items() for m in re.findall(r"docs/[\w.-]+", text)
        }
        assert ("templates/my-" + kind + ".html", "docs/templates.md") in pointers
        for rel, pointer in pointers:
            assert (ws / pointer).is_file(), f"{rel} points at {pointer}, not in the workspace"
        reference = (ws / "docs" / "templates.md").read_text()
        assert reference == (ROOT / "docs" / "templates.md").read_text()
        # The reference names every block the starting template says it can fill.
        listed = re.search(
            r"Blocks you can fill.*?\n(.*?)\n    A block", texts[f"templates/my-{kind}.html"], re.S
        )
        blocks = re.findall(r"[a-z_]+", re.sub(r"from [\w.-]+:", "", listed.group(1)))
        assert "layout_kind" in blocks
        for block in blocks:
            assert f"`{block}`" in reference, block


def test_the_packaged_starter_is_the_repositorys_content(tmp_path):
    """One copy: the starter's content files are the repository's own, so the
    reviewed content and the starter cannot drift apart (in a wheel they are
    copies of these files)."""
    shared = [
        p
        for p in STARTER.rglob("*")
        if p.is_file() and p.relative_to(STARTER).parts[0] in ("handouts", "assets", "docs")
    ]
    assert len(shared) >= 20
    for path in shared:
        rel = path.relative_to(STARTER)
        assert path.read_bytes() == (ROOT / rel).read_bytes(), rel
    # Every kind's document is in the starter, and the CLI offers exactly these kinds.
    for document in KINDS.values():
        assert (STARTER / "handouts" / f"{document}.yaml").is_file()
    kind = next(p for p in cli.commands["init"].params if p.name == "kind")
    assert list(kind.type.choices) == list(KINDS)


def test_a_wheel_carries_every_starter_file():
    """setuptools' package-data patterns match each file of the starter (a
    '*' never crosses a '/'), so a built wheel carries them all."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["handoutgen"]
    package = ROOT / "src" / "handoutgen"
    for path in STARTER.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(package).as_posix()
        assert any(
            rel.count("/") == p.count("/") and fnmatch.fnmatchcase(rel, p) for p in patterns
        ), rel


def test_a_bad_kind_is_a_usage_error_listing_the_kinds(run, tmp_path):
    result = run("init", "--kind", "poster", str(tmp_path / "w"))
    assert result.exit_code == 2
    assert "'poster' is not one of 'handout', 'brochure', 'booklet', 'letter', 'grid'" in (
        result.stderr
    )
    assert not (tmp_path / "w").exists()


def test_init_of_any_kind_never_overwrites(run, tmp_path):
    ws = _init(run, tmp_path, "brochure")
    result = run("init", "--kind", "letter", str(ws))
    assert result.exit_code == 1
    assert "is already a workspace (it has handouts/); nothing was written" in result.stderr
    assert not (ws / RECIPIENTS).exists()
    # A folder with a file the letter kind would write: refused, nothing written.
    other = tmp_path / "o"
    (other / "mailing").mkdir(parents=True)
    (other / RECIPIENTS).write_text("ours\n")
    result = run("init", "--kind", "letter", str(other))
    assert result.exit_code == 1
    assert f"already has {RECIPIENTS}" in result.stderr and "nothing was written" in result.stderr
    assert (other / RECIPIENTS).read_text() == "ours\n"
    assert not (other / "handouts").exists()
