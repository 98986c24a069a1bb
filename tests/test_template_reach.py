"""Templates see content, never the workspace's private or output files (issue 25).

A template that names the private settings (whose session key signs anyone
in), a recipient list, output/ or a dotfile through asset(), <img src>, a
stylesheet's url() or a link gets a located error, in a PDF and in a
standalone HTML file alike; the shipped images still render."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from handoutgen.content.workspace import Workspace

SECRET = "SESSION-KEY-never-in-a-handout"


def _use_template(ws: Path, body: str) -> None:
    (ws / "templates" / "evil.html").write_text(
        '{% extends "handout.html" %}\n{% block before_table %}\n' + body + "\n{% endblock %}\n"
    )
    path = ws / "handouts" / "nonsurgical-options.yaml"
    path.write_text(path.read_text().replace("template: handout.html", "template: evil.html"))


def _plant(ws: Path) -> None:
    (ws / ".handoutgen").mkdir()
    (ws / ".handoutgen" / "settings.json").write_text(json.dumps({"session_key": SECRET}))
    (ws / "output").mkdir()
    (ws / "output" / "recipients.csv").write_text(f"first_name,last_name\n{SECRET},Doe\n")
    (ws / "output" / "old.svg").write_text(
        f"<svg xmlns='http://www.w3.org/2000/svg'>{SECRET}</svg>"
    )
    (ws / "assets" / "list.csv").write_text(f"name\n{SECRET}\n")
    (ws / "assets" / ".hidden.svg").write_text(
        f"<svg xmlns='http://www.w3.org/2000/svg'>{SECRET}</svg>"
    )
    (ws / "handouts" / "notes.svg").write_text(
        f"<svg xmlns='http://www.w3.org/2000/svg'>{SECRET}</svg>"
    )


def _leaked(ws: Path, result) -> bool:
    texts = [result.stdout, result.stderr]
    for path in ws.glob("out.*"):
        data = path.read_bytes()
        texts.append(data.decode("latin-1"))
    blob = "\n".join(texts)
    encoded = base64.b64encode(SECRET.encode()).decode()[:16]
    return SECRET in blob or encoded in blob


REACHES = [
    ("{{ asset('.handoutgen/settings.json') }}", "private folder"),
    ("{{ asset('output/recipients.csv') }}", "recipient list"),
    ("{{ asset('output/old.svg') }}", "output/"),
    ("{{ asset('assets/list.csv') }}", "recipient list"),
    ("{{ asset('assets/.hidden.svg') }}", "hidden file"),
    ("{{ asset('handouts/notes.svg') }}", "not in an asset folder"),
    ('<img src=".handoutgen/settings.json" alt="x">', "private folder"),
    ('<img src="output/old.svg" alt="x">', "output/"),
    ("<div style=\"background: url('.handoutgen/settings.json')\"></div>", "private folder"),
    ('<a href="output/recipients.csv">list</a>', "recipient list"),
    ('<object data="handouts/notes.svg"></object>', "not in an asset folder"),
]


@pytest.mark.parametrize("fmt", ["pdf", "html"])
@pytest.mark.parametrize("body,reason", REACHES, ids=range(len(REACHES)))
def test_a_template_cannot_reach_private_or_output_files(tmp_ws, run, body, reason, fmt):
    _plant(tmp_ws)
    _use_template(tmp_ws, body)
    result = run(
        "render", "nonsurgical-options", "--format", fmt, "-o", f"out.{fmt}", workspace=tmp_ws
    )
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith("Error: templates/evil.html:3: "), result.stderr
    assert reason in result.stderr
    assert str(tmp_ws) not in result.stderr  # no absolute server path
    assert not (tmp_ws / f"out.{fmt}").exists()
    assert not _leaked(tmp_ws, result)


def test_the_private_dir_elsewhere_is_refused_too(tmp_ws, run, monkeypatch):
    private = tmp_ws / "assets" / "private"  # even inside an asset folder
    private.mkdir()
    (private / "settings.svg").write_text(f"<svg xmlns='http://www.w3.org/2000/svg'>{SECRET}</svg>")
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(private))
    _use_template(tmp_ws, "{{ asset('assets/private/settings.svg') }}")
    result = run("render", "nonsurgical-options", "--format", "html", "-o", "out.html",
                 workspace=tmp_ws)  # fmt: skip
    assert result.exit_code == 1 and "private folder" in result.stderr, result.stderr


def test_the_fetcher_refuses_what_the_template_step_did_not_see(tmp_ws, library):
    """A URL built so that no template line spells it (entities) still stops at layout."""
    from handoutgen.core.errors import RenderError
    from handoutgen.engine.weasy import layout

    _plant(tmp_ws)
    lib = type(library)(**{**library.__dict__, "workspace": Workspace.at(tmp_ws)})
    html = '<html><body><img src="output/old.svg" alt="x"></body></html>'
    with pytest.raises(RenderError, match="refused to load 'output/old.svg'.*output/"):
        layout(lib, html)


@pytest.mark.parametrize("fmt", ["pdf", "html"])
def test_declared_images_and_asset_folders_still_render(tmp_ws, run, fmt):
    (tmp_ws / "images").mkdir()
    svg = "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><rect/></svg>"
    (tmp_ws / "images" / "dot.svg").write_text(svg)
    (tmp_ws / "handouts" / "pic.svg").write_text(svg)
    doc = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    doc.write_text(
        doc.read_text().replace("src: assets/spine-segment.svg", "src: handouts/pic.svg")
    )
    _use_template(tmp_ws, '<img src="{{ asset(\'images/dot.svg\') }}" alt="dot">')
    result = run(
        "render", "nonsurgical-options", "--format", fmt, "-o", f"out.{fmt}", workspace=tmp_ws
    )
    assert result.exit_code == 0, result.stderr
    if fmt == "html":
        text = (tmp_ws / "out.html").read_text()
        assert text.count("data:image/svg+xml;base64,") >= 2  # the dot and the declared image


def test_a_template_symlinked_to_the_private_settings_is_refused(tmp_ws, run):
    _plant(tmp_ws)
    (tmp_ws / "templates" / "settings.html").symlink_to(tmp_ws / ".handoutgen" / "settings.json")
    _use_template(tmp_ws, '{% include "settings.html" %}')
    result = run("render", "nonsurgical-options", "--format", "html", "-o", "out.html",
                 workspace=tmp_ws)  # fmt: skip
    assert result.exit_code == 1
    assert "template 'settings.html' refused: it is in a private folder" in result.stderr
    assert not _leaked(tmp_ws, result)


LIMITS = [
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "the template ran too long at templates/evil.html:3",
    ),
    (
        "{% set s = range(100000)|join %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        "the template ran too long at templates/evil.html:3",
    ),
    ("{% set s = range(100000)|join %}{{ s|replace('1', s) }}", "used too much memory at"),
    ("{{ 'x'.center(10**9) }}", "used too much memory at templates/evil.html:3"),
    ("{{ 'x' * 10**9 }}", "may not build a sequence this long"),
]


@pytest.mark.parametrize("body,message", LIMITS, ids=range(len(LIMITS)))
def test_a_hostile_template_stops_within_its_budget(tmp_ws, run, monkeypatch, body, message):
    import time

    monkeypatch.setenv("HANDOUTGEN_TEMPLATE_SECONDS", "2")
    _use_template(tmp_ws, body)
    start = time.monotonic()
    result = run("render", "nonsurgical-options", "-o", "out.pdf", workspace=tmp_ws)
    assert time.monotonic() - start < 30
    assert result.exit_code == 1 and message in result.stderr, result.stderr
    assert not (tmp_ws / "out.pdf").exists()
