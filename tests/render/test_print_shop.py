"""Print-shop output (issue #27 item 5): crop marks outside the bleed and clear
of the cover's colour, fold marks on the tri-fold, PDF/X-4 with a CMYK output
intent, all read back from real renders."""

from __future__ import annotations

import io

import pikepdf
import pypdfium2 as pdfium
import pytest

from handoutgen.engine.pdffacts import read
from handoutgen.engine.pdfx import CMYK_PACKAGE, CMYK_PROFILE
from handoutgen.pipeline import make_request, render
from handoutgen.quality.preflight import preflight

SCALE = 4  # pixels per pt: marks are 0.75 pt lines
MARK_OUT = 27.0  # pt past the trim: the middle of the marks' band (18 to 36 pt)


@pytest.fixture(scope="module")
def brochure(library) -> bytes:
    return render(library, make_request(document="spine-brochure", print_ready=True))


@pytest.fixture(scope="module")
def handout(library) -> bytes:
    return render(library, make_request(document="neck-surgery", print_ready=True))


def _boxes(pdf: bytes) -> list[dict[str, list[float]]]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return [
            {k: [float(x) for x in p.obj[k]] for k in ("/MediaBox", "/BleedBox", "/TrimBox")}
            for p in doc.pages
        ]


def _page_image(pdf: bytes, index: int = 0):  # noqa: ANN202
    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[index].render(scale=SCALE).to_pil().convert("L")
    finally:
        doc.close()


def _ink(image, media: list[float], x: float, y: float) -> int:  # noqa: ANN001
    """The darkest pixel within 1 pt of (x, y) (PDF points, y up)."""
    px, py = round((x - media[0]) * SCALE), round((media[3] - y) * SCALE)
    return min(
        image.getpixel((min(image.width - 1, max(0, px + dx)), min(image.height - 1, py + dy)))
        for dx in range(-SCALE, SCALE + 1)
        for dy in range(-SCALE, SCALE + 1)
    )


@pytest.mark.parametrize("which", ["brochure", "handout"])
def test_crop_marks_lie_outside_the_bleed(request, which):
    pdf = request.getfixturevalue(which)
    for boxes in _boxes(pdf):
        media, bleed, trim = boxes["/MediaBox"], boxes["/BleedBox"], boxes["/TrimBox"]
        # The sheet holds the trim, 10 pt of bleed, then the marks' band.
        assert [t - m for t, m in zip(trim[:2], media[:2], strict=True)] == [36, 36]
        assert [m - t for m, t in zip(media[2:], trim[2:], strict=True)] == [36, 36]
        assert [t - b for t, b in zip(trim[:2], bleed[:2], strict=True)] == [10, 10]
        assert [b - t for b, t in zip(bleed[2:], trim[2:], strict=True)] == [10, 10]
    media, bleed, trim = (_boxes(pdf)[0][k] for k in ("/MediaBox", "/BleedBox", "/TrimBox"))
    image = _page_image(pdf)
    left, bottom, right, top = trim
    for x, y in ((left, top), (right, top), (left, bottom), (right, bottom)):
        out_x = x - MARK_OUT if x == left else x + MARK_OUT
        out_y = y + MARK_OUT if y == top else y - MARK_OUT
        # A dark mark carries each trim edge on, past the bleed, on every corner
        # (the cover's full-bleed colour on the right of side 1 included)...
        assert _ink(image, media, out_x, y) < 110, (which, x, y)
        assert _ink(image, media, x, out_y) < 110, (which, x, y)
        # ...thin, on white paper, and nothing of it inside the bleed.
        assert _ink(image, media, out_x, y + 4) > 240
        between = (x + (bleed[0] - left) / 2) if x == left else (x + (bleed[2] - right) / 2)
        if which == "handout":
            assert _ink(image, media, between, y) > 240
    report = preflight(read(pdf), which)
    assert report.print_ready and report.issues == []


def test_the_cover_colour_fills_the_bleed_but_not_the_marks(brochure):
    media, bleed, trim = (_boxes(brochure)[0][k] for k in ("/MediaBox", "/BleedBox", "/TrimBox"))
    image = _page_image(brochure)
    mid = (trim[1] + trim[3]) / 2
    # Past the right trim and through the BleedBox: the brand colour.
    for out in (2, 9, bleed[2] - trim[2] - 0.5):
        assert _ink(image, media, trim[2] + out, mid) < 120
    # The marks' band beside it is paper.
    assert _ink(image, media, trim[2] + MARK_OUT, mid) > 240


def _fold_ink(pdf: bytes, index: int) -> list[int]:
    media, trim = (_boxes(pdf)[index][k] for k in ("/MediaBox", "/TrimBox"))
    image = _page_image(pdf, index)
    panel = (trim[2] - trim[0]) / 3
    out = []
    for fold in (trim[0] + panel, trim[0] + 2 * panel):
        for y in (trim[3] + MARK_OUT, trim[1] - MARK_OUT):
            # Dashed: the darkest pixel along the mark's band.
            out.append(min(_ink(image, media, fold, y + dy) for dy in range(-8, 9, 2)))
    return out


def test_the_trifold_has_fold_marks_outside_the_trim(brochure, handout):
    for index in (0, 1):
        assert all(ink < 110 for ink in _fold_ink(brochure, index)), index
    # A handout is not folded: nothing there.
    assert all(ink > 240 for ink in _fold_ink(handout, 0))


def test_pdf_x4_has_a_cmyk_output_intent(run, tmp_path):
    out = tmp_path / "x4.pdf"
    result = run(
        "render",
        "spine-brochure",
        "--print-ready",
        "--pdf-variant",
        "pdf/x-4",
        "--patient",
        "Ana Li",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    with pikepdf.open(out) as pdf:
        intents = pdf.Root.OutputIntents
        assert len(intents) == 1
        intent = intents[0]
        assert intent.S == pikepdf.Name("/GTS_PDFX")
        profile = intent.DestOutputProfile
        assert profile.N == 4
        assert profile.read_bytes() == CMYK_PROFILE.read_bytes()
        head = profile.read_bytes()[:20]
        assert (head[12:16], head[16:20]) == (b"prtr", b"CMYK")
        meta = pdf.open_metadata()
        assert meta["pdfxid:GTS_PDFXVersion"] == "PDF/X-4"
        assert str(pdf.docinfo["/Trapped"]) == "/False"
        assert all("/TrimBox" in p.obj and "/BleedBox" in p.obj for p in pdf.pages)
        # RGB colour is device-independent: DeviceRGB is remapped to sRGB.
        spaces = pdf.pages[0].Resources.ColorSpace
        assert spaces.DefaultRGB[0] == pikepdf.Name("/ICCBased")
        assert spaces.DefaultRGB[1].N == 3
    again = tmp_path / "again.pdf"
    run("render", "spine-brochure", "--print-ready", "--pdf-variant", "pdf/x-4",
        "--patient", "Ana Li", "-o", str(again))  # fmt: skip
    assert again.read_bytes() == out.read_bytes()  # no random id, no clock
    result = run("preflight", "--pdf-x", str(out))
    assert result.exit_code == 0 and "0 errors, 0 warnings" in result.stderr, result.output


def test_pdf_x4_without_the_profile_names_the_package(run, tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_CMYK_PROFILE", str(tmp_path / "none.icc"))
    result = run(
        "render", "neck-surgery", "--pdf-variant", "pdf/x-4", "-o", str(tmp_path / "x.pdf")
    )
    assert result.exit_code != 0
    assert f"Debian package {CMYK_PACKAGE}" in result.output + result.stderr
    assert "none.icc is missing" in result.output + result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an ICC profile at all", "cannot be read"),
        ("srgb", "is not a CMYK printer profile (it is RGB mntr)"),
    ],
    ids=["malformed", "rgb-profile"],
)
def test_pdf_x4_refuses_a_profile_that_is_not_a_cmyk_printer_profile(
    run, tmp_path, monkeypatch, content, message
):
    from importlib.resources import files

    profile = tmp_path / "shop.icc"
    if content == "srgb":
        content = (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
    profile.write_bytes(content)
    monkeypatch.setenv("HANDOUTGEN_CMYK_PROFILE", str(profile))
    out = tmp_path / "x.pdf"
    result = run("render", "neck-surgery", "--pdf-variant", "pdf/x-4", "-o", str(out))
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not out.exists()  # nothing half-written


def _use_logo(ws, name: str) -> None:  # noqa: ANN001
    brand = ws / "handouts" / "brands" / "example-clinic.yaml"
    text = brand.read_text()
    brand.write_text(text.replace("logo: assets/example-clinic-logo.svg", f"logo: {name}"))


def _images(pdf: bytes) -> list[tuple[str, int, int]]:
    """(filter, width, height) of the images page 1 draws."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        found = []
        for obj in doc.pages[0].get_images().values():
            found.append((str(obj.get("/Filter", "")), int(obj.Width), int(obj.Height)))
        return found


def test_a_jpg_logo_with_spaces_in_its_name_prints(tmp_ws, run):
    from PIL import Image

    Image.new("RGB", (240, 120), (200, 30, 30)).save(tmp_ws / "assets" / "Clinic Logo.jpg")
    _use_logo(tmp_ws, "assets/Clinic Logo.jpg")
    assert run("validate", workspace=tmp_ws).exit_code == 0
    out = tmp_ws / "b.pdf"
    result = run("render", "spine-brochure", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 0, result.output
    assert ("/DCTDecode", 240, 120) in _images(out.read_bytes())


def test_a_pdf_logo_prints_as_a_picture(tmp_ws, run):
    import weasyprint

    logo = tmp_ws / "assets" / "Clinic Logo.pdf"
    weasyprint.HTML(
        string="<style>@page { size: 2in 1in; margin: 0 } div { height: 1in; background: #c00 }"
        "</style><div></div>"
    ).write_pdf(logo)
    _use_logo(tmp_ws, "assets/Clinic Logo.pdf")
    assert run("validate", workspace=tmp_ws).exit_code == 0
    out = tmp_ws / "h.pdf"
    result = run(
        "render", "neck-surgery", "--clinic", "example-clinic", "-o", str(out), workspace=tmp_ws
    )
    assert result.exit_code == 0, result.output
    assert [(w, h) for _, w, h in _images(out.read_bytes())] == [(1600, 800)]
    # A PDF of two pages is no picture: the render says which file and why.
    weasyprint.HTML(string="<p>1</p><p style='break-before: page'>2</p>").write_pdf(logo)
    result = run(
        "render", "neck-surgery", "--clinic", "example-clinic", "-o", str(out), workspace=tmp_ws
    )
    assert result.exit_code != 0
    assert "image 'assets/Clinic Logo.pdf' cannot be placed: a PDF picture must have one page" in (
        result.output + result.stderr
    )


def test_a_logo_name_that_cannot_be_used_is_a_located_error(tmp_ws, run):
    _use_logo(tmp_ws, "assets/logo.gif")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code != 0
    assert "example-clinic.yaml:" in result.output + result.stderr
    assert "must be an .svg, .png, .jpg or .pdf file" in result.output + result.stderr


SECOND = """  - src: assets/spine-segment.svg
    alt: A second drawing of the spine.
"""


def _add_picture(ws, doc: str) -> None:  # noqa: ANN001
    path = ws / "handouts" / f"{doc}.yaml"
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("images:"))
    end = next(i for i in range(at + 1, len(lines)) if not lines[i].startswith(" "))
    lines.insert(end, SECOND)
    path.write_text("".join(lines))


def _figure_alts(pdf: bytes) -> list[str]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return [
            str(o.get("/Alt"))
            for o in doc.objects
            if isinstance(o, pikepdf.Dictionary) and o.get("/S") == pikepdf.Name("/Figure")
        ]


def test_every_picture_of_a_trifold_is_placed_or_named(tmp_ws, run):
    _add_picture(tmp_ws, "spine-brochure")
    # With its three options the tri-fold has no room for a second picture: the
    # check names it, at its line, and the render refuses (never a silent drop).
    result = run("check", "spine-brochure", workspace=tmp_ws)
    assert result.exit_code != 0
    assert (
        "handouts/spine-brochure.yaml:25:10: error: [layout] images[1] "
        "'assets/spine-segment.svg' cannot be placed: with it the tri-fold runs past its "
        "2 pages"
    ) in result.output
    out = tmp_ws / "b.pdf"
    assert run("render", "spine-brochure", "-o", str(out), workspace=tmp_ws).exit_code != 0
    # With two options there is room: it prints in the inside flap.
    result = run(
        "render", "spine-brochure", "--option", "conservative-care", "--option",
        "decompression", "-o", str(out), workspace=tmp_ws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "A second drawing of the spine." in _figure_alts(out.read_bytes())


def test_a_handout_places_every_picture(tmp_ws, run):
    _add_picture(tmp_ws, "neck-surgery")
    out = tmp_ws / "h.pdf"
    result = run("render", "neck-surgery", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 0, result.output
    alts = _figure_alts(out.read_bytes())
    assert "A second drawing of the spine." in alts and len(alts) >= 2


def test_a_template_that_drops_a_picture_is_named(tmp_ws, run):
    (tmp_ws / "templates" / "nopicture.html").write_text(
        '{% extends "handout.html" %}{% block picture %}{% endblock %}'
    )
    path = tmp_ws / "handouts" / "neck-surgery.yaml"
    path.write_text(path.read_text().replace("template: handout.html", "template: nopicture.html"))
    result = run("check", "neck-surgery", workspace=tmp_ws)
    assert result.exit_code != 0
    assert (
        "error: [images] images[0] 'assets/spine-segment.svg' is not placed: the template "
        "nopicture.html prints no picture for it"
    ) in result.output
