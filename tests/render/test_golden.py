"""Golden HTML: the template step for every shipped document, for a fixed
person and date, compared with tests/render/golden/DOCUMENT.html.

A change to a template, a stylesheet or the content shows here as a diff to
review. After an intended change, regenerate the files with:

    HANDOUTGEN_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/render/test_golden.py

and read the diff (`git diff tests/render/golden`) before committing it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
from pathlib import Path

import pytest

from conftest import ROOT
from handoutgen.content.fonts import font_dir
from handoutgen.content.signs import SIGNS_FILE
from handoutgen.content.workspace import PACKAGE_DIR
from handoutgen.render.compose import render_html
from handoutgen.render.context import make_request

GOLDEN = Path(__file__).resolve().parent / "golden"
PERSON = {
    "patient": "Alex Example",
    "visit_date": dt.date(2026, 11, 20),
    "clinician": "Dr. Sam Rivera",
    "clinic": "Example Spine Clinic",
    "note": "Try the exercise plan first.\nCall us if the leg weakness gets worse.",
}
ADDRESS = {
    "first_name": "Alex",
    "last_name": "Example",
    "address1": "12 Oak St",
    "city": "Springfield",
    "state": "IL",
    "zip": "62704",
    "letter_date": dt.date(2026, 11, 22),
}
SHIPPED = sorted(p.stem for p in (ROOT / "handouts").glob("*.yaml") if p.name != SIGNS_FILE)


def normalized(html: str) -> str:
    """Machine paths (the venv's font folder, the checkout) replaced by names."""
    for path, name in (
        (font_dir().as_uri(), "FONTS"),
        (PACKAGE_DIR.as_uri(), "PACKAGE"),
        (ROOT.as_uri(), "WORKSPACE"),
    ):
        html = html.replace(path, name)
    return html


@pytest.mark.parametrize("document", SHIPPED)
def test_template_output_matches_the_golden_file(library, document):
    fields = dict(PERSON)
    if library.documents[document].kind == "letter":
        fields |= ADDRESS
    html = normalized(render_html(library, make_request(document=document, **fields)))
    golden = GOLDEN / f"{document}.html"
    if os.environ.get("HANDOUTGEN_REGEN_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(html, encoding="utf-8")
    assert golden.is_file(), f"no golden file; regenerate: see {__file__}"
    want = golden.read_text(encoding="utf-8")
    if html != want:
        diff = "".join(
            difflib.unified_diff(
                want.splitlines(keepends=True),
                html.splitlines(keepends=True),
                "golden",
                "now",
                n=2,
            )
        )
        pytest.fail(
            f"{document}: HTML differs from tests/render/golden (see the module docstring):\n{diff[:4000]}"
        )


def test_every_shipped_document_has_a_golden_file_and_no_stale_ones():
    assert sorted(p.stem for p in GOLDEN.glob("*.html")) == SHIPPED
