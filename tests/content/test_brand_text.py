"""Brand-aware text and the stylesheet cascade, through the CLI and real PDFs.

The clinic's name, funding line, website and QR target come from the brand, so
``--brand`` changes every one of them; a document that types a clinic's name
into its text is a check warning; a document's own stylesheets load last."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pypdfium2 as pdfium

from conftest import pages_text


def _qr(pdf: Path, tmp_path: Path) -> str:
    """The URL the QR code on side 1 scans to (zbarimg, from zbar-tools)."""
    subprocess.run(
        ["pdftoppm", "-png", "-r", "200", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
        check=True,
    )
    out = subprocess.run(
        ["zbarimg", "-q", "--raw", str(tmp_path / "p-1.png")], capture_output=True, text=True
    )
    return out.stdout.strip()


def test_brand_changes_name_funding_website_and_qr(run, tmp_path):
    own = tmp_path / "own.pdf"
    assert run("render", "spine-brochure", "-o", str(own)).exit_code == 0
    text = " ".join(pages_text(own.read_bytes()))
    assert "Example Spine Clinic" in text
    assert "Paid for by Example Spine Clinic." in text
    assert _qr(own, tmp_path) == "https://example.org/spine/options"

    other = tmp_path / "riverside.pdf"
    result = run("render", "spine-brochure", "--brand", "riverside", "-o", str(other))
    assert result.exit_code == 0, result.output
    text = " ".join(pages_text(other.read_bytes()))
    assert "Example" not in text and "example.org" not in text
    for expected in (
        "Riverside Back and Neck Center",
        "Paid for by Riverside Back and Neck Center.",
        "https://riverside.example.net/",
        "(555) 010-0200",
    ):
        assert expected in text
    assert _qr(other, tmp_path) == "https://riverside.example.net/back-pain"


def test_check_warns_about_a_clinic_name_typed_into_the_document(run, tmp_ws):
    path = tmp_ws / "handouts" / "spine-brochure.yaml"
    text = path.read_text()
    assert "subtitle: Facts to help you choose\n" in text
    # Its translations would now be stale (an error of their own): not this test's point.
    for translation in (tmp_ws / "handouts" / "translations").glob("*/spine-brochure.yaml"):
        translation.unlink()
    path.write_text(
        text.replace(
            "subtitle: Facts to help you choose\n",
            "subtitle: Facts to help you choose, from Riverside Back and Neck Center\n",
        )
    )
    line = next(
        n for n, t in enumerate(path.read_text().splitlines(), 1) if t.startswith("subtitle:")
    )
    result = run("check", "spine-brochure", workspace=tmp_ws)
    assert result.exit_code == 0  # a warning, not an error
    assert (
        f"handouts/spine-brochure.yaml:{line}:11: warning: [brand] 'Riverside Back and Neck "
        "Center' is typed into the text" in result.output
    )
    assert (
        "come from the brand, its clinic profile (handouts/brands/riverside.yaml)" in result.output
    )
    # The shipped documents type no clinic's name.
    clean = run("check", "spine-brochure")
    assert "[brand]" not in clean.output


def _red_share(pdf: Path, box: tuple[float, float, float, float]) -> float:
    """Share of pure-red pixels in a region of side 1 (fractions of the page)."""
    doc = pdfium.PdfDocument(str(pdf))
    try:
        image = doc[0].render(scale=50 / 72).to_pil().convert("RGB")
    finally:
        doc.close()
    w, h = image.size
    region = image.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)))
    raw = region.tobytes()
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    red = sum(1 for r, g, b in pixels if r > 200 and g < 60 and b < 60)
    return red / len(pixels)


def test_document_stylesheet_wins_over_template_and_brand(run, tmp_ws):
    (tmp_ws / "styles" / "designer.css").write_text(".cover h1 { color: #ff0000; }\n")
    path = tmp_ws / "handouts" / "spine-brochure.yaml"
    path.write_text(path.read_text().replace("pages: 2\n", "pages: 2\nstyles: [designer.css]\n"))
    out = tmp_ws / "red.pdf"
    result = run("render", "spine-brochure", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 0, result.output
    # The cover is the right-hand panel of side 1; its title is in the upper part.
    cover_top = (2 / 3, 0.0, 1.0, 0.45)
    assert _red_share(out, cover_top) > 0.005
    plain = tmp_ws / "plain.pdf"
    path.write_text(path.read_text().replace("styles: [designer.css]\n", ""))
    assert run("render", "spine-brochure", "-o", str(plain), workspace=tmp_ws).exit_code == 0
    assert _red_share(plain, cover_top) == 0
