"""Intelligent Mail barcodes on mailed letters (issue #28 item 4): drawn when
the clinic profile has a Mailer ID, read back from the PDF's pixels and
compared with the USPS 4-state encoding of the expected tracking and routing
codes."""

from __future__ import annotations

import hashlib
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
    # The same inputs give the same letters, barcodes included.
    again = _batch(run, tmp_ws, src, tmp_path / "again")
    assert again.exit_code == 0, again.stderr
    for rid in expected:
        first, second = (tmp_path / d / f"{rid}.pdf" for d in ("out", "again"))
        assert (
            hashlib.sha256(first.read_bytes()).digest()
            == hashlib.sha256(second.read_bytes()).digest()
        )


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
