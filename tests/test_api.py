"""The Python API at the package root, as the README shows it."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pytest

import handoutgen
from conftest import ROOT, pages_text


def readme_python_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_and_renders(tmp_ws):
    (tmp_ws / "output").mkdir()
    code = readme_python_example()
    assert len(code.strip().splitlines()) <= 6
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    pages = pages_text((tmp_ws / "output" / "alex.pdf").read_bytes())
    assert "Prepared for Alex Example" in pages[0]
    text = " ".join(pages)
    assert "Spinal fusion" in text and "Decompression" in text
    assert namespace["errors"] == []


def test_public_names_are_documented_and_exported():
    assert set(handoutgen.__all__) >= {
        "open_workspace",
        "HandoutWorkspace",
        "HandoutgenError",
        "ContentError",
        "DataError",
        "RenderError",
        "ValidationFailed",
    }
    for name in handoutgen.__all__:
        obj = getattr(handoutgen, name)
        if name != "__version__":
            assert obj.__doc__, name
    out = subprocess.run(
        [sys.executable, "-c", "import handoutgen; help(handoutgen)"],
        capture_output=True,
        text=True,
        env={"PAGER": "cat", "PATH": "/usr/bin:/bin"},
    ).stdout
    assert "open_workspace(path" in out
    assert "render(self, document: 'str', **fields: 'Unpack[RenderFields]') -> 'bytes'" in out


def test_importing_handoutgen_does_not_load_weasyprint():
    code = "import sys, handoutgen; print('weasyprint' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_bad_input_raises_the_exception_family(tmp_ws):
    ws = handoutgen.open_workspace(tmp_ws)
    with pytest.raises(
        handoutgen.DataError, match="unknown option 'fusoin'; did you mean 'fusion'"
    ):
        ws.render("fusion-alternatives", options=["fusoin"])
    with pytest.raises(handoutgen.DataError, match="visit_date"):
        ws.render("fusion-alternatives", visit_date="2026-02-30")
    # A folder inside a workspace finds it (like git); one outside any does not.
    assert handoutgen.open_workspace(tmp_ws / "templates").root == ws.root
    outside = tmp_ws.parent / f"{tmp_ws.name}-not-a-workspace"
    outside.mkdir()
    with pytest.raises(handoutgen.ContentError, match="no handouts/ folder"):
        handoutgen.open_workspace(outside)
    (tmp_ws / "handouts" / "options" / "fusion.yaml").write_text("id: fusion\nsumary: x\n")
    with pytest.raises(handoutgen.ValidationFailed) as failed:
        ws.validate()
    assert any("unknown key 'sumary'" in str(p) for p in failed.value.problems)


def test_check_takes_an_injected_today(tmp_ws):
    ws = handoutgen.open_workspace(tmp_ws)
    far = ws.check(["nonsurgical-options"], today=dt.date(2040, 1, 1))
    assert any(f.severity == "error" for f in far), "content is long overdue for review in 2040"
    assert not [f for f in ws.check(["nonsurgical-options"]) if f.severity == "error"]


def test_batch_from_python(tmp_ws):
    src = tmp_ws / "r.csv"
    src.write_text(
        "id,first_name,last_name,address1,city,state,zip\n"
        "P-1,Maria,Lopez,12 Oak St,Springfield,IL,62704\n"
    )
    ws = handoutgen.open_workspace(tmp_ws)
    report = ws.batch(
        "followup-letter", src, tmp_ws / "out", workers=1, letter_date=dt.date(2026, 11, 22)
    )
    assert [(r.id, r.status) for r in report.results] == [("P-1", "ok")]
    assert "Dear Maria Lopez," in pages_text((tmp_ws / "out" / "P-1.pdf").read_bytes())[0]
