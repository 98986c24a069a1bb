"""One clinic identity (issue #26): every number a handout asks a patient to
call comes from the clinic profile that --clinic (or the document's brand:)
chooses; a clinic without a profile is refused; made-up numbers are `check`
errors except in a profile marked sample: true, whose pages say so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import pages_text

EXAMPLE, RIVERSIDE = "(555) 010-0100", "(555) 010-0200"
SAMPLE = "Sample clinic: not a real phone number."


def _pdf(path: Path) -> str:
    return " ".join(pages_text(path.read_bytes()))


def _line(path: Path, prefix: str) -> int:
    return next(n for n, t in enumerate(path.read_text().splitlines(), 1) if t.startswith(prefix))


def _real_profile(ws: Path, phone: str, field: str = "phone") -> Path:
    """riverside.yaml as a real clinic's profile (no sample: true) with ``field`` set."""
    path = ws / "handouts" / "brands" / "riverside.yaml"
    text = path.read_text().replace("sample: true\n", "")
    text = re.sub(rf"(?m)^{field}: .*$", f"{field}: {phone}", text)
    path.write_text(text)
    return path


def test_a_clinic_without_a_profile_is_refused_and_nothing_is_written(run, tmp_path):
    out = tmp_path / "lakeside.pdf"
    result = run("render", "neck-surgery", "--clinic", "Lakeside Spine Center", "-o", str(out))
    assert result.exit_code == 1
    assert (
        "no clinic profile 'Lakeside Spine Center'; add handouts/brands/<id>.yaml with its "
        "name and phone" in result.output
    )
    assert "choose one of: example-clinic, riverside" in result.output
    assert not out.exists()


def test_the_chosen_profile_gives_every_number_on_the_page(run, tmp_path):
    """By id or by name in any case: Riverside's numbers, never the example's."""
    for i, clinic in enumerate(("riverside", "RIVERSIDE back and neck center")):
        out = tmp_path / f"r{i}.pdf"
        result = run("render", "neck-surgery", "--clinic", clinic, "-o", str(out))
        assert result.exit_code == 0, result.output
        text = _pdf(out)
        assert "Riverside Back and Neck Center" in text
        assert f"Call us soon at {RIVERSIDE} if:" in text
        assert "After hours: (555) 010-0299" in text
        assert "Example Spine Clinic" not in text and EXAMPLE not in text
    # The brochure's contact panel, and a letter's return address, likewise.
    brochure = tmp_path / "b.pdf"
    assert (
        run("render", "spine-brochure", "--clinic", "riverside", "-o", str(brochure)).exit_code == 0
    )
    text = _pdf(brochure)
    assert f"Phone: {RIVERSIDE}" in text and EXAMPLE not in text
    letter = tmp_path / "l.pdf"
    result = run("render", "followup-letter", "--clinic", "riverside", "-o", str(letter))
    assert result.exit_code == 0, result.output
    first = pages_text(letter.read_bytes())[0]
    assert first.startswith("Riverside Back and Neck Center 40 River Road Riverside, IL 60546")
    assert "Example Spine Clinic" not in _pdf(letter)


def test_clinic_and_brand_naming_two_profiles_are_refused(run, tmp_path):
    out = tmp_path / "x.pdf"
    result = run(
        "render", "neck-surgery", "--clinic", "riverside", "--brand", "example-clinic",
        "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "name different clinic profiles; give one of them" in result.output
    assert not out.exists()


def test_no_clinic_prints_a_line_to_write_the_phone_in_never_a_number(run, tmp_path):
    out = tmp_path / "n.pdf"
    assert run("render", "neck-surgery", "-o", str(out)).exit_code == 0
    text = _pdf(out)
    assert "Call your clinic soon if:" in text
    assert "Your clinic's phone: ______" in text
    assert not re.search(r"\(\d{3}\) \d{3}-\d{4}", text)
    assert SAMPLE not in text


def test_a_sample_profile_says_so_on_every_page(run, tmp_path):
    out = tmp_path / "s.pdf"
    assert (
        run("render", "neck-surgery", "--clinic", "example-clinic", "-o", str(out)).exit_code == 0
    )
    pages = pages_text(out.read_bytes())
    assert all(SAMPLE in page for page in pages), pages
    assert f"Call us soon at {EXAMPLE} if:" in pages[0]
    # A tri-fold: across the top of both sides.
    brochure = tmp_path / "b.pdf"
    assert run("render", "spine-brochure", "-o", str(brochure)).exit_code == 0
    assert all(SAMPLE in page for page in pages_text(brochure.read_bytes()))


def test_a_real_profile_prints_without_the_sample_mark(run, tmp_ws):
    _real_profile(tmp_ws, "(312) 867-4213")
    # Its after-hours number is still the sample's: an error until it is real too.
    still = run("check", workspace=tmp_ws)
    assert still.exit_code == 1 and "[phone] after_hours: (555) 010-0299" in still.output
    _real_profile(tmp_ws, "(312) 867-4200", field="after_hours")
    assert run("check", workspace=tmp_ws).exit_code == 0
    out = tmp_ws / "r.pdf"
    result = run(
        "render", "neck-surgery", "--clinic", "riverside", "-o", str(out), workspace=tmp_ws
    )
    assert result.exit_code == 0, result.output
    text = _pdf(out)
    assert "Call us soon at (312) 867-4213 if:" in text
    assert "Sample" not in text


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("(555) 555-5555", "every digit is the same"),
        ("(312) 555-0100", "555-0100 to 555-0199 are kept for fiction"),
        ("(555) 010-0100", "555 is not an area code in use"),
        ("123-456-7890", "its digits run in order"),
        ("(000) 234-5678", "no area code starts with 0"),
        ("(911) 234-5678", "911 is a service code"),
    ],
)
def test_check_flags_a_made_up_number_in_a_real_profile_with_its_line(run, tmp_ws, number, why):
    path = _real_profile(tmp_ws, number)
    result = run("check", workspace=tmp_ws)
    assert result.exit_code == 1
    line = _line(path, "phone:")
    assert (
        f"handouts/brands/riverside.yaml:{line}:8: error: [phone] phone: {number} is not a "
        f"number a patient can call ({why}" in result.output
    )
    # And nothing is printed with it.
    out = tmp_ws / "x.pdf"
    refused = run(
        "render", "neck-surgery", "--clinic", "riverside", "-o", str(out), workspace=tmp_ws
    )
    assert refused.exit_code == 1
    assert "clinic profile 'riverside' cannot print" in refused.output
    assert not out.exists()


def test_check_flags_a_made_up_after_hours_number(run, tmp_ws):
    path = _real_profile(tmp_ws, "(312) 867-4213")
    _real_profile(tmp_ws, "(312) 555-0100", field="after_hours")
    result = run("check", workspace=tmp_ws)
    assert result.exit_code == 1
    line = _line(path, "after_hours:")
    assert f"handouts/brands/riverside.yaml:{line}:14: error: [phone] after_hours:" in result.output


def test_check_flags_a_made_up_number_typed_into_a_document(run, tmp_ws):
    path = tmp_ws / "handouts" / "neck-surgery.yaml"
    text = path.read_text()
    assert "next_steps:\n  - " in text
    path.write_text(
        text.replace("next_steps:\n  - ", "next_steps:\n  - Call (555) 555-5555 to book. ", 1)
    )
    line = _line(path, "next_steps:") + 1
    result = run("check", "neck-surgery", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        f"handouts/neck-surgery.yaml:{line}:5: error: [phone] (555) 555-5555 is not a number "
        "a patient can call" in result.output
    )


def test_a_phone_left_in_a_document_is_a_located_validate_error(run, tmp_ws):
    path = tmp_ws / "handouts" / "neck-surgery.yaml"
    path.write_text(
        path.read_text().replace("region: neck\n", "region: neck\nphone: (312) 867-4213\n", 1)
    )
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    line = _line(path, "phone:")
    assert (
        f"handouts/neck-surgery.yaml:{line}:1: 'phone' belongs to the clinic, not the document: "
        "move it to the clinic's profile in handouts/brands/<id>.yaml" in result.output
    )


def test_a_profile_phone_that_is_not_a_number_is_a_validate_error(run, tmp_ws):
    path = _real_profile(tmp_ws, "call the front desk")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    line = _line(path, "phone:")
    assert (
        f"handouts/brands/riverside.yaml:{line}:8: phone: must be a 10-digit number with its "
        "area code" in result.output
    )


def test_preview_takes_a_clinic_and_refuses_one_without_a_profile(run, tmp_path):
    result = run("preview", "neck-surgery", "-o", str(tmp_path / "p"), "--clinic", "Lakeside")
    assert result.exit_code == 1
    assert "no clinic profile 'Lakeside'" in result.output
    assert not list(tmp_path.glob("p/*.png"))
