"""Letters a clinic would sign (issue #27 item 7): a letterhead with the clinic's
logo, address and phone; the warning signs' page and the phone on the letter
itself; names from an all-caps export in proper case. Through real renders,
read back with pypdf."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

import conftest
from conftest import ROOT, pages_text, read_manifest, write_csv

HEADER = "id,first_name,last_name,address1,city,state,zip,clinician"
# A practice system's export: every name in capitals, providers "LAST, FIRST MD".
ROWS = [
    'm1,MARIA,GONZALEZ,12 Oak Street,Springfield,IL,62704,"RIVERA, SAM MD"',
    'm2,SEAN,O\'BRIEN,5 Elm St,Springfield,IL,62701,"RIVERA, SAM MD"',
    'm3,ANGUS,MCDONALD,9 Pine Rd,Chicago,IL,60601,"DE LA CRUZ, ANA NP"',
]


def _signs_page(pages: list[str]) -> int:
    """The page (1-based) the "When to get help" box starts on."""
    return next(i for i, text in enumerate(pages, start=1) if "When to get help" in text)


def test_a_mailing_from_an_all_caps_export_reads_like_a_clinic_letter(run, tmp_path):
    src = write_csv(tmp_path / "export.csv", ROWS, HEADER)
    out = tmp_path / "out"
    result = run(
        "batch", "followup-letter", str(src), "-o", str(out), "--clinic", "riverside",
        "--letter-date", "2026-11-22", "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    # Three recipients of one option set share an edition: its letter pages are
    # laid out apart from the handout, and still say where the signs are.
    assert [r["render"] for r in read_manifest(out)] == ["edition"] * 3
    expected = {
        "m1": ("Dear Maria Gonzalez,", "Sam Rivera, MD"),
        "m2": ("Dear Sean O'Brien,", "Sam Rivera, MD"),
        "m3": ("Dear Angus McDonald,", "Ana de la Cruz, NP"),
    }
    for rid, (dear, signed) in expected.items():
        pages = pages_text((out / f"{rid}.pdf").read_bytes())
        letter = pages[0]
        assert dear in letter and signed in letter
        assert "MARIA" not in letter and "RIVERA" not in letter
        # The letterhead: Riverside's name, address and numbers on page 1.
        assert "Riverside Back and Neck Center" in letter and "40 River Road" in letter
        assert "Phone: (555) 010-0200" in letter and "After hours: (555) 010-0299" in letter
        assert "(555) 010-0100" not in letter  # never another clinic's number
        page = _signs_page(pages)
        assert page == 2
        assert (
            f"If you have any of the warning signs on page {page}, call us at (555) 010-0200."
            in letter
        )
        assert "If a sign is an emergency, call 911." in letter


def test_names_as_given_prints_the_export_as_it_is(run, tmp_path):
    src = write_csv(tmp_path / "export.csv", ROWS[:1], HEADER)
    out = tmp_path / "out"
    result = run(
        "batch", "followup-letter", str(src), "-o", str(out), "--clinic", "riverside",
        "--names", "as-given", "--workers", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    letter = pages_text((out / "m1.pdf").read_bytes())[0]
    assert "Dear MARIA GONZALEZ," in letter and "RIVERA, SAM MD" in letter


def _html(run, tmp_path, *args: str) -> str:
    path = tmp_path / "letter.html"
    result = run("render", "followup-letter", "--format", "html", "-o", str(path), *args)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.output
    return path.read_text(encoding="utf-8")


def test_render_puts_typed_capitals_in_proper_case_and_keeps_own_spellings(run, tmp_path):
    html = _html(
        run, tmp_path, "--patient", "GONZALEZ, MARIA", "--clinician", "RIVERA, SAM MD, PHD"
    )
    assert "Dear Maria Gonzalez," in html and "Prepared for Maria Gonzalez" in html
    assert "Sam Rivera, MD, PhD" in html
    # Mixed case is the patient's own spelling; an unreadable name stays as typed.
    for typed in ("maría McDonald-de la Cruz", "A, B, C, D", ",,,"):
        html = _html(run, tmp_path, "--patient", typed, "--clinician", "Dr. ana Ruiz")
        assert f"Dear {typed}," in html and "Dr. ana Ruiz" in html


def test_a_letter_without_a_clinic_points_to_the_signs_and_the_clinic(run, tmp_path):
    pdf = tmp_path / "letter.pdf"
    result = run("render", "followup-letter", "--patient", "ANA LI", "-o", str(pdf))
    assert result.exit_code == 0, result.stderr
    pages = pages_text(pdf.read_bytes())
    assert "Dear Ana Li," in pages[0]
    assert (
        f"If you have any of the warning signs on page {_signs_page(pages)}, call your clinic."
        in pages[0]
    )
    assert "Phone:" not in pages[0]  # no profile: no letterhead numbers made up


def test_the_large_print_letter_with_a_logo_passes_preflight(run, tmp_path):
    pdf = tmp_path / "large.pdf"
    result = run(
        "render", "followup-letter", "--patient", "MARIA DE LA CRUZ", "--clinician",
        "RIVERA, SAM MD", "--clinic", "example-clinic", "--large-print", "-o", str(pdf),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    pages = pages_text(pdf.read_bytes())
    letter = pages[0]
    assert "Dear Maria de la Cruz," in letter and "Sam Rivera, MD" in letter
    # The whole return address prints (at 18 pt the clinic's name takes two lines).
    assert "100 Main Street, Suite 200" in letter and "Springfield, IL 62701" in letter
    assert "Phone: (555) 010-0100" in letter
    assert f"warning signs on page {_signs_page(pages)}, call us at (555) 010-0100" in letter
    result = run("preflight", str(pdf))
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output and "0 of " in result.output  # nothing under 18 pt


def test_the_spanish_letter_says_where_the_signs_are(run, tmp_path):
    pdf = tmp_path / "es.pdf"
    result = run(
        "render", "followup-letter", "--patient", "MARIA GONZALEZ", "--clinic", "riverside",
        "--language", "es", "--allow-draft", "-o", str(pdf),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    letter = pages_text(pdf.read_bytes())[0]
    assert "Estimado/a Maria Gonzalez:" in letter
    assert "Teléfono: (555) 010-0200" in letter
    assert re.search(
        r"Si tiene alguna de las señales de alarma de la página 2, llámenos al \(555\) 010-0200\.",
        letter,
    )
    assert "Si una señal es una emergencia, llame al 911." in letter


def test_the_web_form_prints_names_in_proper_case(tmp_path, monkeypatch):
    from handoutgen.content.workspace import Workspace
    from handoutgen.web.app import create_app

    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))
    client = TestClient(
        create_app(Workspace.at(ROOT), warm=False), base_url="http://127.0.0.1:8765"
    )
    page = client.get("/documents/fusion-alternatives")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/render",
        data={
            "document": "fusion-alternatives",
            "option": ["fusion", "conservative-care"],
            "patient": "SEAN O'BRIEN",
            "clinician": "RIVERA, SAM MD",
            "note": "Walk every day.",
            "csrf_token": token,
        },
    )
    assert response.status_code == 200, response.text
    text = " ".join(conftest.pages_text(response.content))
    assert "Prepared for Sean O'Brien" in text and "Sam Rivera, MD" in text


def test_an_arabic_letter_keeps_the_phone_number_left_to_right(run, tmp_path):
    # In right-to-left text "(555) 010-0100" would print as "0100-010 (555)".
    html = _html(run, tmp_path, "--clinic", "example-clinic", "--language", "ar", "--allow-draft")
    assert "\u2066(555) 010-0100\u2069" in html and "\u2066(555) 010-0199\u2069" in html
    english = _html(run, tmp_path, "--clinic", "example-clinic")
    assert "\u2066" not in english
