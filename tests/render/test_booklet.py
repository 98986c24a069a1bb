"""The booklet (spine-booklet, booklet.html): a cover in the clinic's colour with
no running parts, a back cover with the clinic's contact that is always the
last page, a multiple of 4 pages, and `render --impose` printer spreads."""

from __future__ import annotations

import io
import re
import subprocess

import pikepdf
import pypdfium2 as pdfium
import pytest

from conftest import pages_text
from handoutgen.editions.imposition import spread_order
from handoutgen.engine.pdffacts import read
from handoutgen.pipeline import make_request, render
from handoutgen.quality.preflight import preflight

DISCLAIMER = "This brochure is general information, not medical advice."
TITLE = "Back pain: a guide to your treatment options"
# A notes page: its heading, then the running title.
NOTES = re.compile(r"\b(Notes|Notas) (Back pain: a guide|Dolor de espalda: una guía)")


@pytest.fixture(scope="module")
def booklets(library):
    made: dict[tuple, bytes] = {}

    def get(clinic=None, language=None, options=None, paper=None) -> bytes:
        key = (clinic, language, options, paper)
        if key not in made:
            made[key] = render(
                library,
                make_request(
                    document="spine-booklet",
                    clinic=clinic,
                    language=language,
                    options=options,
                    page_size=paper,
                    allow_draft=language is not None,  # unreviewed translations are drafts
                ),
            )
        return made[key]

    return get


def _pixel(pdf: bytes, page: int, x: float, y: float) -> tuple[int, int, int]:
    """The colour at (x, y), a share of the page's width and height from its top left."""
    doc = pdfium.PdfDocument(pdf)
    image = doc[page].render(scale=0.5).to_pil().convert("RGB")
    return image.getpixel((int(x * (image.width - 1)), int(y * (image.height - 1))))


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _lines(page) -> list[tuple[str, list]]:  # noqa: ANN001
    lines: dict[int, list] = {}
    for c in page.chars:
        lines.setdefault(c.line, []).append(c)
    return [
        ("".join((" " if c.space else "") + c.text for c in chars), chars)
        for chars in lines.values()
    ]


@pytest.mark.parametrize(("clinic", "colour"), [(None, "#0b4a5e"), ("riverside", "#5b2a86")])
def test_the_cover_is_in_the_clinics_colour_with_no_running_parts(booklets, clinic, colour):
    pdf = booklets(clinic)
    cover, inside = pages_text(pdf)[:2]
    assert TITLE in cover and "Facts to help you choose" in cover
    # No running header, page number or footer disclaimer on the cover...
    assert "Page 1 of" not in cover
    assert DISCLAIMER not in cover
    assert cover.count("Back pain") == 1
    # ...while the page after it has all three.
    assert "Page 2 of" in inside and DISCLAIMER in inside
    # The approval band hardly shows on the colour: the cover says it plainly too.
    lines = _lines(read(pdf).pages[0])
    assert any(
        t.strip() == "Not yet approved by your clinic" and not any(c.faint for c in chars)
        for t, chars in lines
    ), [t for t, _ in lines]
    # The clinic's colour to the edges of the sheet, corners and margins included.
    for x, y in ((0.01, 0.01), (0.99, 0.5), (0.5, 0.99), (0.5, 0.03)):
        assert _pixel(pdf, 0, x, y) == _hex(colour), (x, y)
    # A profile without a logo has its name written on the cover.
    if clinic == "riverside":
        assert "Riverside Back and Neck Center" in cover
    else:
        with pikepdf.open(io.BytesIO(pdf)) as doc:  # the logo is drawn (an SVG: a form)
            assert "/XObject" in doc.pages[0].Resources


@pytest.mark.parametrize(
    ("clinic", "phone", "after", "address"),
    [
        (None, "(555) 010-0100", "(555) 010-0199", "Springfield, IL 62701"),
        ("riverside", "(555) 010-0200", "(555) 010-0299", "Riverside, IL 60546"),
    ],
)
def test_the_back_cover_is_the_last_page_with_the_clinics_contact(
    booklets, clinic, phone, after, address
):
    pdf = booklets(clinic)
    back = pages_text(pdf)[-1]
    assert "Contact us Example Spine Clinic" in back or "Contact us Riverside" in back
    assert f"Phone: {phone}" in back and f"After hours: {after}" in back
    assert address in back and DISCLAIMER in back
    assert "Sample clinic: not a real phone number." in back
    assert " of 20" not in back  # no page number
    # The phone is large: at least 20 pt, where the body text is 12.
    facts = read(pdf)
    lines = _lines(facts.pages[-1])
    phone_line = next(chars for text, chars in lines if text.startswith("Phone:"))
    assert min(c.size for c in phone_line) >= 20
    # The disclaimer sits at the foot of the page, below everything else.
    disclaimer = next(chars for text, chars in lines if text.startswith("This brochure"))
    assert max(c.box[3] for c in disclaimer) < 100  # within the last 1.4 in of 8.5


def test_the_back_cover_qr_code_scans_to_the_clinics_page(booklets, tmp_path):
    # zbarimg comes from zbar-tools, which scripts/setup.sh installs.
    path = tmp_path / "b.pdf"
    pdf = booklets("riverside")
    path.write_bytes(pdf)
    last = str(len(pages_text(pdf)))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "200", "-f", last, "-l", last, str(path), str(tmp_path / "p")],
        check=True,
    )
    png = next(tmp_path.glob("p-*.png"))
    out = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True)
    assert out.stdout.strip() == "https://riverside.example.net/back-pain"


def test_a_profile_without_a_qr_target_gets_a_qr_code_to_its_web_address(run, tmp_ws):
    profile = tmp_ws / "handouts" / "brands" / "riverside.yaml"
    text = profile.read_text()
    assert "qr: https://riverside.example.net/back-pain\n" in text
    profile.write_text(text.replace("qr: https://riverside.example.net/back-pain\n", ""))
    out = tmp_ws / "b.pdf"
    result = run(
        "render", "spine-booklet", "--clinic", "riverside", "-o", str(out), workspace=tmp_ws
    )
    assert result.exit_code == 0, result.output
    pages = len(pages_text(out.read_bytes()))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "200", "-f", str(pages), "-l", str(pages), str(out), "p"],
        check=True,
        cwd=tmp_ws,
    )
    png = next(tmp_ws.glob("p-*.png"))
    scanned = subprocess.run(["zbarimg", "-q", "--raw", str(png)], capture_output=True, text=True)
    assert scanned.stdout.strip() == "https://riverside.example.net/"


@pytest.mark.parametrize(
    ("clinic", "language", "options", "paper"),
    [
        (None, None, None, None),
        ("riverside", None, None, None),
        (None, "es", None, None),
        (None, None, ("conservative-care", "decompression"), None),
        (None, None, ("fusion",), None),
        (None, None, None, "a4"),
    ],
    ids=["en", "riverside", "es", "two-options", "one-option", "a5"],
)
def test_pages_are_a_multiple_of_four_with_notes_before_the_back_cover(
    booklets, clinic, language, options, paper
):
    pdf = booklets(clinic, language, options, paper)
    pages = pages_text(pdf)
    assert len(pages) % 4 == 0, len(pages)
    # Padding goes before the back cover, which stays last.
    notes = [i for i, text in enumerate(pages) if NOTES.search(text)]
    if notes:
        assert notes == list(range(notes[0], len(pages) - 1))
    assert "Phone: (555) 010-0" in pages[-1] or "Teléfono: (555) 010-0" in pages[-1]
    # Half the sheet it folds from: half letter, or A5 for A4 paper.
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        size = [round(float(x)) for x in doc.pages[-1].mediabox]
    assert size == ([0, 0, 420, 595] if paper == "a4" else [0, 0, 396, 612])
    # Preflight knows it is a booklet (our metadata says so) and finds it clean.
    report = preflight(read(pdf), "booklet")
    assert report.booklet
    assert [str(i) for i in report.issues] == []


def test_some_option_set_is_padded(booklets):
    """Proves the test above saw padding: some booklet has notes pages."""
    assert any(
        any(NOTES.search(t) for t in pages_text(booklets(None, None, options)))
        for options in (None, ("conservative-care", "decompression"), ("fusion",))
    )


def test_the_booklet_refuses_large_print_clearly(run):
    # 18 pt text does not fit a fixed count of half-letter pages.
    result = run("render", "spine-booklet", "--large-print", "-o", "-")
    assert result.exit_code == 1
    assert "cannot hold large print (18 pt text)" in result.output


def test_spread_order_is_saddle_stitch():
    assert spread_order(16) == [
        (16, 1),
        (2, 15),
        (14, 3),
        (4, 13),
        (12, 5),
        (6, 11),
        (10, 7),
        (8, 9),
    ]
    assert spread_order(4) == [(4, 1), (2, 3)]


@pytest.mark.parametrize(("paper", "size"), [(None, (792, 612)), ("a4", (842, 595))])
def test_impose_writes_printer_spreads(run, tmp_path, booklets, paper, size):
    out = tmp_path / "spreads.pdf"
    result = run(
        "render", "spine-booklet", "--impose", *(["--page-size", paper] if paper else []),
        "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    pages = len(pages_text(booklets(paper=paper)))
    facts = read(pdf)
    # N/2 landscape sheet sides.
    assert len(facts.pages) == pages // 2
    for page in facts.pages:
        assert tuple(round(v) for v in page.media[2:]) == size
    middle = size[0] / 2

    def halves(n: int) -> tuple[str, str]:
        lines = _lines(facts.pages[n])
        left = " ".join(t for t, chars in lines if chars[0].box[0] < middle)
        right = " ".join(t for t, chars in lines if chars[0].box[0] >= middle)
        return left, right

    # Sheet 1, front: the back cover (the last page) on the left, the cover on the right.
    left, right = halves(0)
    assert "Contact us" in left and "Phone: (555) 010-0100" in left
    assert "Back pain: a guide to" in right and "Contact us" not in right
    # Sheet 1, back: page 2 on the left, page N-1 on the right.
    left, right = halves(1)
    assert "Page 2 of" in left
    assert f"Page {pages - 1} of" in right
    # The middle sheet's inside: the two middle pages, in reading order.
    left, right = halves(len(facts.pages) - 1)
    assert f"Page {pages // 2} of" in left and f"Page {pages // 2 + 1} of" in right
    # The spreads are no booklet to preflight: no page-count error.
    report = preflight(facts, "spreads")
    assert not report.booklet
    assert [i.rule for i in report.issues if i.severity == "error"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("neck-surgery",), "'neck-surgery' is a handout, not a booklet"),
        (("spine-brochure",), "'spine-brochure' is a brochure, not a booklet"),
        (("spine-booklet", "--format", "html"), "--impose writes a PDF"),
        (("spine-booklet", "--print-ready"), "a print shop imposes a --print-ready file"),
    ],
)
def test_impose_refuses_what_it_cannot_impose(run, tmp_path, args, message):
    out = tmp_path / "x.pdf"
    result = run("render", *args, "--impose", "-o", str(out))
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()
