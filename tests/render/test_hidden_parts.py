"""A stylesheet cannot hide what every copy must show: the "When to get help"
block, the DRAFT mark and the "Translation not yet reviewed" mark. The content
checks prove the template prints them; the layout proves a reader can see them."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import pages_text


def _use_stylesheet(ws: Path, doc: str, css: str) -> None:
    (ws / "styles" / "designer.css").write_text(css, encoding="utf-8")
    path = ws / "handouts" / f"{doc}.yaml"
    text = path.read_text(encoding="utf-8")
    assert "\ntemplate:" in text
    path.write_text(text.replace("\ntemplate:", "\nstyles: [designer.css]\ntemplate:", 1))


HIDE_GET_HELP = [
    ".get-help { display: none; }",
    ".get-help li { display: none; }",  # the heading stays, the warning signs go
    ".get-help * { color: transparent; }",
    ".get-help { opacity: 0.01; }",
    ".get-help { height: 0; overflow: hidden; padding: 0; border: 0; }",
    ".get-help { position: absolute; left: -9999px; }",
]


@pytest.mark.parametrize("css", HIDE_GET_HELP)
def test_a_stylesheet_that_hides_the_emergency_block_is_refused(run, tmp_ws, css):
    _use_stylesheet(tmp_ws, "nonsurgical-options", css)
    out = tmp_ws / "out.pdf"
    result = run("render", "nonsurgical-options", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: nonsurgical-options: the 'When to get help' block is hidden, in whole or in part."
    )
    assert "remove that rule" in result.stderr
    assert not out.exists()


def test_a_stylesheet_that_restyles_the_emergency_block_is_fine(run, tmp_ws):
    _use_stylesheet(tmp_ws, "nonsurgical-options", ".get-help h2 { color: #7a0f12; }")
    out = tmp_ws / "out.pdf"
    result = run("render", "nonsurgical-options", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 0, result.stderr
    assert "Call 911" in " ".join(pages_text(out.read_bytes()))


def test_a_stylesheet_that_hides_the_draft_mark_is_refused(run, tmp_ws):
    option = tmp_ws / "handouts" / "options" / "fibrin-injection.yaml"
    text = option.read_text(encoding="utf-8")
    option.write_text(
        text.replace("  - No hardware stays", "  - Guaranteed relief. No hardware stays", 1)
    )
    _use_stylesheet(tmp_ws, "newer-options", ".watermark { visibility: hidden; }")
    result = run("render", "newer-options", "--allow-draft", "-o", "d.pdf", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "the DRAFT mark is hidden on page 1, 2," in result.stderr
    assert not (tmp_ws / "d.pdf").exists()


def test_a_stylesheet_that_hides_the_translation_mark_is_refused(run, tmp_ws_translated):
    ws = tmp_ws_translated
    _use_stylesheet(ws, "nonsurgical-options", ".translation-mark span { font-size: 1px; }")
    result = run(
        "render",
        "nonsurgical-options",
        "--language",
        "es",
        "--allow-draft",
        "-o",
        "es.pdf",
        workspace=ws,
    )
    assert result.exit_code == 1
    assert "the 'Machine translation, not reviewed' mark is hidden on page 1, 2," in result.stderr
    assert not (ws / "es.pdf").exists()
