"""Compiled templates kept between processes (store/templatecode.py): a new
process reuses them, an edited template is compiled again, and a forged entry
is refused and rebuilt, never run."""

from __future__ import annotations

import logging

import jinja2
import pytest

from conftest import ROOT
from handoutgen.content import templating
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.pipeline import make_request, render_html

REQUEST = dict(document="neck-surgery", patient="Ana Li")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(folder))
    templating.environment.cache_clear()
    yield folder
    templating.environment.cache_clear()


@pytest.fixture
def compiles(monkeypatch) -> list[str]:
    """The templates Jinja parses and compiles (what the cache saves)."""
    seen: list[str] = []
    real = jinja2.Environment._parse

    def spy(self, source, name, filename):  # noqa: ANN001, ANN202
        seen.append(name)
        return real(self, source, name, filename)

    monkeypatch.setattr(jinja2.Environment, "_parse", spy)
    return seen


def new_process() -> None:
    """What a new process starts with: no environment, no compiled template in memory."""
    templating.environment.cache_clear()


def html(workspace) -> str:
    return render_html(load_library(workspace), make_request(**REQUEST))


def test_a_new_process_reuses_the_compiled_templates(cache, compiles):
    workspace = Workspace.at(ROOT)
    first = html(workspace)
    assert "handout.html" in compiles and list((cache / "templates").rglob("*.entry"))
    compiles.clear()
    new_process()
    assert html(workspace) == first
    assert compiles == []  # nothing parsed: every template came from the cache


def test_an_edited_template_is_compiled_again(cache, compiles, tmp_ws):
    override = tmp_ws / "templates" / "handout.html"
    override.write_text((ROOT / "src/handoutgen/templates/handout.html").read_text())
    workspace = Workspace.at(tmp_ws)
    assert "Edited since it was cached" not in html(workspace)
    override.write_text(
        override.read_text().replace("{% block content %}", "{% block content %}<p>Edited since it was cached</p>", 1)
    )  # fmt: skip
    compiles.clear()
    new_process()
    assert "Edited since it was cached" in html(workspace)
    assert "handout.html" in compiles


@pytest.mark.logs_expected
def test_a_forged_entry_is_refused_and_rebuilt(cache, compiles, caplog):
    workspace = Workspace.at(ROOT)
    first = html(workspace)
    for entry in (cache / "templates").rglob("*.entry"):
        data = bytearray(entry.read_bytes())
        data[-40] ^= 0xFF  # the code changed, its MAC not
        entry.write_bytes(bytes(data))
    compiles.clear()
    new_process()
    with caplog.at_level(logging.WARNING, logger="handoutgen"):
        assert html(workspace) == first
    assert "failed its integrity check" in caplog.text
    assert "handout.html" in compiles  # compiled from source, not loaded
