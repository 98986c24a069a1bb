"""Intelligent Mail barcodes on mailed letters (issue #28 item 4): drawn when
the clinic profile has a Mailer ID, read back from the PDF's pixels and
compared with the USPS 4-state encoding of the expected tracking and routing
codes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import conftest
from handoutgen.mailing.imb import bars

HEADER = "id,first_name,last_name,address1,city,state,zip"
ROWS = [
    "A-1,Maria,Lopez,12 Oak Street Apt 4,Springfield,IL,62704",  # row 2
    "A-2,Omar,Haddad,5 Elm St,Springfield,IL,62701-1234",  # row 3
    "A-3,Li,Wang,9 Pine Rd,Chicago,IL,60601",  # row 4
]


def read_bars(pdf: Path, tmp: Path) -> str | None:
    """The barcode on page 1 as its 65 letters, read from a 300 dpi raster of
    the page's top: the pixel row that crosses 65 evenly spaced dark runs is
    the tracker band; how far each bar reaches above and below it says
    A(scender), D(escender), F(ull) or T(racker). None if there is none."""
    from PIL import Image

    out = tmp / f"{pdf.stem}-page1"
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "300", "-f", "1", "-l", "1", "-singlefile",
         "-x", "0", "-y", "0", "-W", "2550", "-H", "1200", str(pdf), str(out)],
        check=True,
    )  # fmt: skip
    img = Image.open(f"{out}.pgm")
    width, height = img.size
    px = img.load()

    def dark(x: int, y: int) -> bool:
        return px[x, y] < 128

    band = []
    for y in range(height):
        runs, start = [], None
        for x in range(width):
            if dark(x, y) and start is None:
                start = x
            elif not dark(x, y) and start is not None:
                runs.append((start, x))
                start = None
        if len(runs) == 65:
            gaps = [b[0] - a[0] for a, b in zip(runs, runs[1:], strict=False)]
            if max(gaps) - min(gaps) <= 2 and all(e - s <= 9 for s, e in runs):
                band.append((y, runs))
    if not band:
        return None
    top, bottom = band[0][0], band[-1][0]
    reach = (bottom - top) // 2
    letters = []
    for s, e in band[len(band) // 2][1]:
        x = (s + e) // 2
        up, down = top, bottom
        while up > 0 and dark(x, up - 1):
            up -= 1
        while down < height - 1 and dark(x, down + 1):
            down += 1
        a, d = top - up > reach, down - bottom > reach
        letters.append("F" if a and d else "A" if a else "D" if d else "T")
    return "".join(letters)


@pytest.fixture(autouse=True)
def _own_private_folder(tmp_path, monkeypatch):
    """Each test its own serial counters (the session shares one private folder)."""
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))


def _with_mailer_id(ws: Path, lines: str = 'mailer_id: "012345"') -> None:
    path = ws / "handouts" / "brands" / "example-clinic.yaml"
    path.write_text(path.read_text() + lines + "\n")


def _batch(run, ws: Path, src: Path, out: Path, *args: str):
    return run(
        "batch", "followup-letter", str(src), "-o", str(out), "--clinic", "example-clinic",
        "--workers", "1", "--letter-date", "2026-11-22", *args, workspace=ws,
    )  # fmt: skip


@pytest.mark.parametrize(
    "routing,expected",
    [
        # USPS-B-3200 (Intelligent Mail Barcode 4-State Specification), its
        # worked examples for tracking code 01234567094987654321.
        ("", "ATTFATTDTTADTAATTDTDTATTDAFDDFADFDFTFFFFFTATFAAAATDFFTDAADFTFDTDT"),
        ("01234", "DTTAFADDTTFTDTFTFDTDDADADAFADFATDDFTAAAFDTTADFAAATDFDTDFADDDTDFFT"),
        ("012345678", "ADFTTAFDTTTTFATTADTAAATFTFTATDAAAFDDADATATDTDTTDFDTDATADADTDFFTFA"),
        ("01234567891", "AADTFFDFTDADTAADAATFDTDDAAADDTDTTDAFADADDDTFFFDDTTTADFAAADFTDAADA"),
    ],
)
def test_the_encoder_gives_the_specs_examples(routing, expected):
    assert bars("01234567094987654321", routing) == expected


def test_letters_carry_the_barcode_of_their_row_and_zip(run, tmp_ws, tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    _with_mailer_id(tmp_ws)
    src = conftest.write_csv(tmp_path / "r.csv", ROWS, HEADER)
    result = _batch(run, tmp_ws, src, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    # Barcode id 00, service type 300 (the default), Mailer ID 012345, and the
    # row's number as the 9-digit serial; the ZIP or ZIP+4 as routing.
    expected = {
        "A-1": bars("00300012345000000002", "62704"),
        "A-2": bars("00300012345000000003", "627011234"),
        "A-3": bars("00300012345000000004", "60601"),
    }
    assert len(set(expected.values())) == 3
    for rid, want in expected.items():
        assert read_bars(tmp_path / "out" / f"{rid}.pdf", tmp_path) == want
    # Three letters of one set share an edition: the barcode is in each
    # letter's personal layer, and the assembled letter stays PDF/UA.
    assert {r["render"] for r in conftest.read_manifest(tmp_path / "out")} == {"edition"}
    pdf = (tmp_path / "out" / "A-2.pdf").read_bytes()
    assert conftest.pdf_ua_problems(pdf, tmp_path) == ([], [])
    # The manifest records each letter's tracking code (no patient data).
    codes = {r["id"]: r["tracking"] for r in conftest.read_manifest(tmp_path / "out")}
    assert codes == {"A-1": "00300012345000000002", "A-2": "00300012345000000003",
                     "A-3": "00300012345000000004"}  # fmt: skip


def test_a_nine_digit_mailer_id_and_own_service_type(run, tmp_ws, tmp_path):
    _with_mailer_id(tmp_ws, 'mailer_id: "901234567"\nservice_type: "040"\nbarcode_id: "01"')
    src = conftest.write_csv(tmp_path / "r.csv", ROWS[:1], HEADER)
    result = _batch(run, tmp_ws, src, tmp_path / "out", "--full-render")
    assert result.exit_code == 0, result.stderr
    got = read_bars(tmp_path / "out" / "A-1.pdf", tmp_path)
    assert got == bars("01040901234567000002", "62704")


def test_no_barcode_without_a_mailer_id(run, tmp_ws, tmp_path):
    src = conftest.write_csv(tmp_path / "r.csv", ROWS[:1], HEADER)
    result = _batch(run, tmp_ws, src, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert read_bars(tmp_path / "out" / "A-1.pdf", tmp_path) is None


@pytest.mark.logs_expected
def test_rows_whose_zip_is_unknown_get_none_in_one_line(run, tmp_ws, tmp_path):
    _with_mailer_id(tmp_ws)
    rows = [f"B-{i},Al,Ng,{i} Elm St,Springfield,IL,00000" for i in range(5)]
    src = conftest.write_csv(tmp_path / "r.csv", [*ROWS[:1], *rows], HEADER)
    result = _batch(run, tmp_ws, src, tmp_path / "out", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert (
        f"{src}: 5 letters without a barcode: rows 3, 4, 5, 6, 7 (zip: no barcode: the ZIP "
        "code is not in the USPS ZIP list; check it)"
    ) in result.stderr
    assert result.stderr.count("no barcode") == 1


@pytest.mark.parametrize(
    "line,message",
    [
        ('mailer_id: "12345"', "mailer_id: a Mailer ID is 6 or 9 digits (0-9), in quotes"),
        ("mailer_id: 123456", "mailer_id: write the digits in quotes"),
        ('mailer_id: "912345"', "mailer_id: a Mailer ID of 6 digits cannot begin with 9"),
        ('mailer_id: "012345"\nservice_type: "3x0"', "service_type: a Service Type ID is 3"),
        ('mailer_id: "012345"\nbarcode_id: "07"', "barcode_id: the second digit of"),
    ],
)
def test_a_bad_mailer_id_is_a_located_error(run, tmp_ws, tmp_path, line, message):
    _with_mailer_id(tmp_ws, line)
    brand = tmp_ws / "handouts" / "brands" / "example-clinic.yaml"
    number = next(
        i
        for i, text in enumerate(brand.read_text().splitlines(), 1)
        if text.startswith(message.split(":")[0])
    )
    where = f"handouts/brands/example-clinic.yaml:{number}:"
    checked = run("check", workspace=tmp_ws)
    assert checked.exit_code != 0
    assert where in checked.stderr and message in checked.stderr, checked.stderr
    src = conftest.write_csv(tmp_path / "r.csv", ROWS[:1], HEADER)
    result = _batch(run, tmp_ws, src, tmp_path / "out")
    assert result.exit_code != 0
    assert where in result.stderr and message in result.stderr, result.stderr
    assert not (tmp_path / "out" / "A-1.pdf").exists()


def test_a_letter_with_a_barcode_passes_pdf_ua_and_preflight(library, tmp_path):
    from handoutgen.engine.pdffacts import read
    from handoutgen.pipeline import make_request, render
    from handoutgen.quality.preflight import preflight

    code = bars("00300012345000000002", "62704")
    pdf = render(
        library,
        make_request(
            document="followup-letter", first_name="Ana", last_name="Li", address1="12 OAK ST",
            city="SPRINGFIELD", state="IL", zip="62704", imb=code,
        ),
    )  # fmt: skip
    failures, findings = conftest.pdf_ua_problems(pdf, tmp_path)
    assert failures == [] and findings == []
    assert [str(i) for i in preflight(read(pdf), "followup-letter").issues] == []
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    assert read_bars(path, tmp_path) == code
    # The bars are drawn, not text: the address reads as before.
    assert "12 OAK ST SPRINGFIELD, IL 62704" in conftest.pages_text(pdf)[0]


def _address_box(pdf: Path, lines: list[str]) -> list[tuple[str, tuple[float, ...]]]:
    """Each address line of page 1 as read back, with its box in inches from
    the sheet's top-left (left, top, right, bottom)."""
    import pdfplumber

    with pdfplumber.open(pdf) as doc:
        words = doc.pages[0].extract_words(keep_blank_chars=True, x_tolerance=2)
    out = []
    for line in lines:
        found = [w for w in words if w["text"] == line]
        assert found, (line, [w["text"] for w in words[:20]])
        w = found[0]
        out.append((line, tuple(v / 72 for v in (w["x0"], w["top"], w["x1"], w["bottom"]))))
    return out


# The #10 envelope's recipient window on the sheet, inches (styles/handout.css).
WINDOW = (0.875, 2.125, 5.375, 3.25)
# The large-print address box within it: a line past it is clipped (overflow: hidden).
LARGE_BOX = (0.875, 2.15, 4.475, 3.2)


@pytest.mark.parametrize("page_size", ["letter", "a4"])
def test_a_large_print_letter_keeps_four_lines_and_the_barcode_in_the_window(
    run, tmp_ws, tmp_path, page_size
):
    """Issue #28: at 18 pt a 4-line address filled the window and the barcode
    below it was cut. The schema's longest address is 4 lines (name, two
    street lines, city line); the address text shrinks to fit, 9 pt at least."""
    _with_mailer_id(tmp_ws)
    header = "id,first_name,last_name,address1,address2,city,state,zip"
    rows = [
        "A-1,Maria,Lopez,12 Oak Street,Apt 4,Springfield,IL,62704",
        "A-2,Maximiliana,Oyelaran-Whitfield,12345 North Martin Luther King Jr Blvd,"
        "Apt 1204,Springfield,IL,62701-1234",
    ]
    expected = {
        "A-1": (
            ["Maria Lopez", "12 OAK ST", "APT 4", "SPRINGFIELD, IL 62704"],
            bars("00300012345000000002", "62704"),
        ),
        "A-2": (
            [
                "Maximiliana Oyelaran-Whitfield",
                "12345 N MARTIN LUTHER KING JR BLVD",
                "APT 1204",
                "SPRINGFIELD, IL 62701-1234",
            ],
            bars("00300012345000000003", "627011234"),
        ),
    }
    if page_size == "letter":
        src = conftest.write_csv(tmp_path / "r.csv", rows, header)
        result = _batch(run, tmp_ws, src, tmp_path / "out", "--large-print")
        assert result.exit_code == 0, result.stderr
        pdfs = {rid: tmp_path / "out" / f"{rid}.pdf" for rid in expected}
    else:  # a batch has no page-size column: the same letter rendered on A4
        from handoutgen.content.library import load_library
        from handoutgen.content.workspace import Workspace
        from handoutgen.pipeline import make_request, render

        library = load_library(Workspace.at(tmp_ws))
        pdfs = {}
        for rid, (lines, code) in expected.items():
            first, last = lines[0].split(" ")
            city, state, zipc = lines[3].replace(",", "").split(" ")
            pdf = render(
                library,
                make_request(
                    document="followup-letter", first_name=first, last_name=last,
                    address1=lines[1], address2=lines[2], city=city, state=state, zip=zipc,
                    imb=code, large_print=True, page_size="a4", clinic="example-clinic",
                ),
            )  # fmt: skip
            pdfs[rid] = tmp_path / f"{rid}-a4.pdf"
            pdfs[rid].write_bytes(pdf)
    from handoutgen.engine.pdffacts import read
    from handoutgen.quality.preflight import preflight

    for rid, (lines, code) in expected.items():
        pdf = pdfs[rid]
        assert read_bars(pdf, tmp_path) == code, rid
        for line, (left, top, right, bottom) in _address_box(pdf, lines):
            assert left >= LARGE_BOX[0] - 0.01 and right <= LARGE_BOX[2], (rid, line, right)
            assert top >= LARGE_BOX[1] - 0.01 and bottom <= LARGE_BOX[3], (rid, line, bottom)
        assert LARGE_BOX[2] <= WINDOW[2] and LARGE_BOX[3] <= WINDOW[3]
        report = preflight(read(pdf.read_bytes()), str(pdf))
        assert report.large_print
        assert [str(i) for i in report.issues] == []


def _counter(tmp_path: Path) -> dict:
    import json
    import stat

    path = tmp_path / "private" / "mail-serials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return json.loads(path.read_text())


def test_serials_are_unique_across_mailings_and_kept_on_resume(run, tmp_ws, tmp_path):
    """Issue #28: Full-Service IMb needs a serial unique per Mailer ID for 45
    days, not only within a mailing."""
    _with_mailer_id(tmp_ws)
    src = conftest.write_csv(tmp_path / "r.csv", ROWS, HEADER)
    # A dry run takes no serials.
    assert _batch(run, tmp_ws, src, tmp_path / "dry", "--dry-run").exit_code == 0
    assert not (tmp_path / "private" / "mail-serials.json").exists()
    first = _batch(run, tmp_ws, src, tmp_path / "one")
    assert first.exit_code == 0, first.stderr
    # In full (a resumed row alone would not share an edition, whose bytes differ).
    second = _batch(run, tmp_ws, src, tmp_path / "two", "--full-render")
    assert second.exit_code == 0, second.stderr
    # The first mailing's block is serials 0-4 (rows 2-4 are its letters), the
    # second's 5-9: the same rows get other serials.
    for rid, row, zipc in (("A-1", 2, "62704"), ("A-3", 4, "60601")):
        assert read_bars(tmp_path / "one" / f"{rid}.pdf", tmp_path) == bars(
            f"00300012345{row:09d}", zipc
        )
        assert read_bars(tmp_path / "two" / f"{rid}.pdf", tmp_path) == bars(
            f"00300012345{row + 5:09d}", zipc
        )
    one = {r["tracking"] for r in conftest.read_manifest(tmp_path / "one")}
    two = {r["tracking"] for r in conftest.read_manifest(tmp_path / "two")}
    assert len(one) == len(two) == 3 and not one & two
    # The counter holds the next serial per Mailer ID, nothing about anyone.
    assert _counter(tmp_path) == {"012345": 10}
    # A resumed batch keeps its block: the letter made again is byte-identical,
    # and no serials are taken.
    kept = (tmp_path / "two" / "A-2.pdf").read_bytes()
    (tmp_path / "two" / "A-2.pdf").unlink()
    again = _batch(run, tmp_ws, src, tmp_path / "two", "--resume", "--full-render")
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "two" / "A-2.pdf").read_bytes() == kept
    assert {r["tracking"] for r in conftest.read_manifest(tmp_path / "two")} == two
    assert _counter(tmp_path) == {"012345": 10}


@pytest.mark.logs_expected
def test_serials_wrap_around_with_a_warning(run, tmp_ws, tmp_path):
    """A 9-digit Mailer ID has 6-digit serials (0-999999); past the last one the
    counter starts again at 0, and says so."""
    _with_mailer_id(tmp_ws, 'mailer_id: "901234567"')
    (tmp_path / "private").mkdir(mode=0o700)
    path = tmp_path / "private" / "mail-serials.json"
    path.write_text('{"901234567": 999998}\n')
    path.chmod(0o600)
    src = conftest.write_csv(tmp_path / "r.csv", ROWS[:1], HEADER)
    result = _batch(run, tmp_ws, src, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert "serial numbers of Mailer ID 901234567 ran out (999999) and start again at 0" in (
        result.stderr
    )
    assert read_bars(tmp_path / "out" / "A-1.pdf", tmp_path) == bars(
        "00300901234567000002", "62704"
    )
    assert _counter(tmp_path) == {"901234567": 3}


def test_batches_at_once_take_disjoint_blocks(tmp_ws, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from handoutgen.content.workspace import Workspace
    from handoutgen.store.serials import take

    ws = Workspace.at(tmp_ws)
    with ThreadPoolExecutor(8) as pool:
        blocks = list(pool.map(lambda _: take(ws, "012345", 7, 10**9), range(16)))
    spans = sorted((b.base, b.base + b.size) for b in blocks)
    assert spans == [(7 * i, 7 * i + 7) for i in range(16)]
    assert _counter(tmp_path) == {"012345": 112}
