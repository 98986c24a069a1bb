"""Issue 26, PEMAT-P items 11 and 25: each main document ends with "In short"
(its key_points) before "What you can do next", and says under "The options
side by side" how to use the table; in English and in the Spanish draft."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import ROOT, pages_text

MAIN = ["fusion-alternatives", "nonsurgical-options", "newer-options", "neck-surgery"]
WORDS = {
    "en": (
        "The options side by side",
        "Each question is answered for every option. Find the questions that matter most "
        "to you, and compare the answers.",
        "In short",
        "What you can do next",
    ),
    "es": (
        "Las opciones lado a lado",
        "Cada pregunta tiene una respuesta para cada opción. Busque las preguntas que más "
        "le importan y compare las respuestas.",
        "En resumen",
        "Lo que puede hacer ahora",
    ),
}


def _text(pdf: Path) -> str:
    # pypdf, not pdftotext: pdftotext moves an accented first word ("Cuál") out
    # of its line, and the draft's diagonal mark cuts through lines.
    return " ".join(pages_text(pdf.read_bytes()))


def _points(document: str, lang: str) -> list[str]:
    folder = ROOT / "handouts" if lang == "en" else ROOT / "handouts" / "translations" / lang
    return yaml.safe_load((folder / f"{document}.yaml").read_text(encoding="utf-8"))["key_points"]


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("document", MAIN)
def test_each_main_document_sums_up_before_the_next_steps(run, tmp_path, document, lang):
    out = tmp_path / f"{document}-{lang}.pdf"
    args = ["render", document, "--patient", "Ana Li", "-o", str(out)]
    if lang != "en":
        args += ["--language", lang, "--allow-draft"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    text = _text(out)
    heading, how, in_short, next_steps = WORDS[lang]
    # The how-to sentence right under the table's heading.
    assert f"{heading} {how}" in text
    points = _points(document, lang)
    assert 3 <= len(points) <= 5
    start = text.index(in_short)
    end = text.index(next_steps, start)
    # In order, between the two headings (a page's running head and foot may
    # come between two points).
    at = start
    for point in points:
        at = text.index(point, at)
        assert at < end, point


def _doc(ws: Path) -> Path:
    return ws / "handouts" / "neck-surgery.yaml"


def _set_points(ws: Path, points: list[str]) -> int:
    """Replace neck-surgery's key_points; the line of the first one."""
    path = _doc(ws)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("key_points:"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("  - "))
    lines[start + 1 : end] = [f"  - {p}\n" for p in points]
    path.write_text("".join(lines), encoding="utf-8")
    return start + 2


@pytest.mark.parametrize("count", [2, 6])
def test_too_few_or_too_many_key_points_is_a_located_error(run, tmp_ws, count):
    line = _set_points(tmp_ws, [f"Ask your surgeon about point {n}." for n in range(count)])
    for command in ("validate", "check"):
        result = run(command, workspace=tmp_ws)
        assert result.exit_code == 1, command
        assert f"handouts/neck-surgery.yaml:{line}:" in result.output + result.stderr
        assert f"{count} key points: sum up in 3 to 5 short lines" in result.output + result.stderr


def test_a_long_key_point_is_a_located_error(run, tmp_ws):
    long = " ".join(["Ask your surgeon about it"] * 5) + "."
    line = _set_points(tmp_ws, ["One.", "Two.", long])
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert f"handouts/neck-surgery.yaml:{line}:" in result.stderr
    assert "key point 3 ('en') is too long (25 words" in result.stderr


def test_a_key_point_above_the_grade_limit_is_a_check_error(run, tmp_ws):
    hard = "Cervical arthroplasty preserves physiological segmental mobility comparatively."
    line = _set_points(tmp_ws, ["Surgery can help.", hard, "Ask your surgeon."])
    result = run("check", workspace=tmp_ws)
    assert result.exit_code == 1
    found = [x for x in result.output.splitlines() if "key point is grade" in x]
    assert found, result.output
    assert found[0].startswith(f"handouts/neck-surgery.yaml:{line + 1}:")
    assert "error: [reading-level]" in found[0]
