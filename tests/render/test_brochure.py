"""Brochures: brands, tri-fold panel order, booklet padding, print-shop boxes,
QR codes that scan, DRAFT marks, live preview."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest

from conftest import ROOT, pages_text
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.core.errors import ValidationFailed
from handoutgen.pipeline import make_request, render


@pytest.fixture(scope="module")
def trifold(library) -> bytes:
    return render(library, make_request(document="spine-brochure"))


def _where(pdf: bytes, page_no: int, needle: str) -> float:
    """Horizontal center of ``needle`` on a page, as a fraction of the page width."""
    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[page_no]
        text = page.get_textpage()
        found = text.search(needle, match_case=True).get_next()
        assert found is not None, f"{needle!r} not on page {page_no + 1}"
        left, _, right, _ = text.get_charbox(found[0])
        return (left + right) / 2 / page.get_width()
    finally:
        doc.close()


def test_trifold_panels_land_in_folding_order(trifold):
    assert len(pages_text(trifold)) == 2
    # Side 1 (outside): inside flap (help first) | back | cover.
    assert _where(trifold, 0, "Call 911 or go to the emergency") < 1 / 3
    assert _where(trifold, 0, "Questions to ask") < 1 / 3
    assert 1 / 3 < _where(trifold, 0, "Contact us") < 2 / 3
    assert 1 / 3 < _where(trifold, 0, "Sources") < 2 / 3
    assert _where(trifold, 0, "Back pain: your") > 2 / 3
    # Side 2 (inside): panels 2, 3, 4, one option each.
    assert _where(trifold, 1, "Is this for you?") < 1 / 3
    assert _where(trifold, 1, "Managing pain without a procedure") < 1 / 3
    assert 1 / 3 < _where(trifold, 1, "Decompression surgery") < 2 / 3
    assert _where(trifold, 1, "What you can do next") > 2 / 3


def test_trifold_is_letter_landscape_with_a_disclaimer_on_each_side(trifold):
    with pikepdf.open(io.BytesIO(trifold)) as pdf:
        assert [round(float(x)) for x in pdf.pages[0].mediabox] == [0, 0, 792, 612]
    for text in pages_text(trifold):
        assert "This brochure is general information, not medical advice." in text


def test_booklet_is_padded_to_a_multiple_of_four(library):
    from handoutgen.engine.weasy import layout
    from handoutgen.pipeline import render_html

    padded = 0
    for options in (None, ("conservative-care", "decompression"), ("fusion",)):
        request = make_request(document="spine-booklet", options=options)
        natural = len(layout(library, render_html(library, request)).pages)
        pdf = render(library, request)
        pages = pages_text(pdf)
        assert len(pages) % 4 == 0
        if natural % 4:
            padded += 1
            # Notes pages go before the back cover, which is always last.
            assert "Notes" in pages[-2] and "Contact us" in pages[-1]
        # Every page but the cover prints the disclaimer (the back cover in its body).
        assert "This brochure is general information" not in pages[0]
        for text in pages[1:]:
            assert "This brochure is general information" in text
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            assert [round(float(x)) for x in doc.pages[0].mediabox] == [0, 0, 396, 612]
    assert padded, "no option set needed padding: the test proves nothing"


def test_print_ready_adds_bleed_and_trim_boxes(library, trifold):
    pdf = render(library, make_request(document="spine-brochure", print_ready=True))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        page = doc.pages[0]
        trim = [round(float(x)) for x in page.TrimBox]
        bleed = [round(float(x)) for x in page.BleedBox]
    assert trim[2] - trim[0] == 792 and trim[3] - trim[1] == 612
    # WeasyPrint's BleedBox: 10 pt (over the 0.125 in a print shop asks for);
    # crop marks go in the band past it (test_print_shop.py).
    assert bleed == [trim[0] - 10, trim[1] - 10, trim[2] + 10, trim[3] + 10]
    with pikepdf.open(io.BytesIO(trifold)) as doc:
        page = doc.pages[0]
        assert "/BleedBox" not in page or [float(x) for x in page.BleedBox] == [
            float(x) for x in page.mediabox
        ]


def test_qr_code_scans_to_the_url(trifold, tmp_path):
    # zbarimg comes from zbar-tools, which scripts/setup.sh installs.
    path = tmp_path / "b.pdf"
    path.write_bytes(trifold)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "200", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")],
        check=True,
    )
    out = subprocess.run(
        ["zbarimg", "-q", "--raw", str(tmp_path / "p-1.png")], capture_output=True, text=True
    )
    assert out.stdout.strip() == "https://example.org/spine/options"


def test_qr_and_pictures_are_vector(trifold):
    # The QR code, the logo and the drawing are all SVG: no raster image at all.
    with pikepdf.open(io.BytesIO(trifold)) as pdf:
        for page in pdf.pages:
            xobjects = page.Resources.get("/XObject", {})
            assert not [k for k, x in xobjects.items() if x.get("/Subtype") == "/Image"]


def test_draft_brochure_is_watermarked(tmp_ws, library, trifold):
    assert not any("DRAFT" in p for p in pages_text(trifold))
    path = tmp_ws / "handouts" / "spine-brochure.yaml"
    path.write_text(path.read_text().replace("kind: brochure\n", "kind: brochure\nstatus: draft\n"))
    lib = load_library(Workspace.at(tmp_ws))
    assert all(
        "DRAFT" in p for p in pages_text(render(lib, make_request(document="spine-brochure")))
    )


def _problems(ws: Path) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        load_library(Workspace.at(ws))
    return [str(p) for p in info.value.problems]


def test_brand_with_poor_contrast_is_refused_with_the_ratio(tmp_ws):
    path = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    path.write_text(path.read_text().replace('text: "#1b1b1b"', 'text: "#8a8a8a"'))
    problems = _problems(tmp_ws)
    line = next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if "text:" in ln)
    assert (
        f"handouts/brands/example-clinic.yaml:{line}:9: colors.text #8a8a8a on colors.background "
        "#ffffff (body text) has contrast 3.45:1, below WCAG AA 4.5:1; darken or lighten one of them"
    ) in problems


def test_broken_brand_file_is_reported_with_path_and_line(tmp_ws):
    path = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    path.write_text("id: example-clinic\nname: [Example\ncolors: {}\n")
    problems = _problems(tmp_ws)
    assert any(
        re.match(r"handouts/brands/example-clinic.yaml:\d+:\d+: YAML syntax error", p)
        for p in problems
    )
    path.write_text("id: example-clinic\nname: X\ncolours:\n  primary: '#000000'\n")
    problems = _problems(tmp_ws)
    assert (
        "handouts/brands/example-clinic.yaml:3:1: unknown key 'colours'; did you mean 'colors'?"
        in problems
    )


def test_document_references_are_checked(tmp_ws):
    path = tmp_ws / "handouts" / "spine-brochure.yaml"
    text = path.read_text()
    text = text.replace("brand: example-clinic", "brand: example-clinik")
    text = text.replace("src: assets/spine-segment.svg", "src: assets/missing.svg")
    path.write_text(text)
    problems = " | ".join(_problems(tmp_ws))
    assert "unknown brand 'example-clinik'; did you mean 'example-clinic'?" in problems
    assert "image 'assets/missing.svg' not found" in problems
    path.write_text(text.replace("kind: brochure\n", "kind: brochure\nqr: javascript:alert(1)\n"))
    problems = " | ".join(_problems(tmp_ws))
    assert "qr: must be a web address starting with http:// or https://" in problems


def test_images_need_alt_text_in_the_schema(tmp_ws):
    path = tmp_ws / "handouts" / "spine-brochure.yaml"
    text = path.read_text()
    text = re.sub(r"    alt: [^\n]*\n", "", text)
    path.write_text(text)
    assert any("missing required key 'alt'" in p for p in _problems(tmp_ws))


def test_brand_override_on_a_handout(library):
    text = " ".join(
        pages_text(
            render(library, make_request(document="nonsurgical-options", brand="example-clinic"))
        )
    )
    assert "Example Spine Clinic" in text
    assert "(555) 010-0100" in text


def test_readme_template_example_works(tmp_ws, library):
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"```html\n(\{# templates/clinic-handout.html #\}\n.*?)```", readme, re.S
    ).group(1)
    (tmp_ws / "templates").mkdir(exist_ok=True)
    (tmp_ws / "templates" / "clinic-handout.html").write_text(block)
    path = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    path.write_text(
        path.read_text().replace("template: handout.html", "template: clinic-handout.html")
    )
    lib = load_library(Workspace.at(tmp_ws))
    text = " ".join(pages_text(render(lib, make_request(document="nonsurgical-options"))))
    assert "Riverside Spine Clinic · Open Monday to Friday" in text
    assert "Treating back pain without major surgery" in text


def test_preview_writes_png_pages(run, tmp_path):
    result = run("preview", "spine-brochure", "-o", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "spine-brochure-1.png",
        "spine-brochure-2.png",
    ]
    assert (tmp_path / "spine-brochure-1.png").read_bytes()[:4] == b"\x89PNG"


def test_preview_watch_follows_edits_and_survives_broken_ones(tmp_ws, tmp_path):
    out = tmp_path / "pv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "handoutgen.cli",
            "--workspace",
            str(tmp_ws),
            "preview",
            "spine-brochure",
            "-o",
            str(out),
            "--watch",
            "--dpi",
            "30",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []

    def wait_for(prefix: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if line:
                lines.append(line)
                if line.startswith(prefix):
                    return line
            elif proc.poll() is not None:
                break
        raise AssertionError(f"no {prefix!r} line; got {lines}")

    try:
        wait_for("Updated")
        page = out / "spine-brochure-1.png"
        first = page.read_bytes()
        doc = tmp_ws / "handouts" / "spine-brochure.yaml"
        good = doc.read_text()
        time.sleep(0.3)
        doc.write_text(
            good.replace("Back pain: your treatment options", "Back pain: what you can do")
        )
        wait_for("Updated")
        assert page.read_bytes() != first
        doc.write_text(good.replace("kind: brochure", "kind: brochur"))
        error = wait_for("Error:")
        assert "handouts/spine-brochure.yaml" in error
        assert proc.poll() is None, "the watch must keep running after a broken edit"
        doc.write_text(good)
        wait_for("Updated")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_print_ready_cover_color_runs_into_the_bleed(library):
    pdf = render(library, make_request(document="spine-brochure", print_ready=True))
    doc = pdfium.PdfDocument(pdf)
    try:
        image = doc[0].render(scale=30 / 72).to_pil().convert("RGB")  # the whole MediaBox
    finally:
        doc.close()
    # The right edge of side 1 is the cover: dark brand color past the trim,
    # through the bleed (0.5 in of sheet holds the bleed, then the marks).
    scale = 30 / 72
    r, g, b = image.getpixel((image.width - 1 - int(28 * scale), image.height // 2))
    assert (r, g, b) != (255, 255, 255) and r + g + b < 300


def test_trifold_glance_holds_every_answer(trifold, library):
    inside = pages_text(trifold)[1]
    doc = library.documents["spine-brochure"]
    for oid in doc.options:
        for factor in doc.factors:
            assert library.options[oid].facts[factor.id]["en"] in inside, (oid, factor.id)
