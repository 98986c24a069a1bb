"""`handoutgen preflight` on PDFs that are not ours: each rule fails the file it
is about (6 pt text, overlapping lines, an unembedded font, text past the trim,
a booklet of 5 pages, missing print boxes) and passes a clean one."""

from __future__ import annotations

import json

import pikepdf
import pytest
import weasyprint

PAGE = "@page { size: 5in 4in; margin: 0.5in; }"


def _pdf(tmp_path, name: str, body: str, css: str = "", **options) -> str:  # noqa: ANN003
    html = f"<html lang='en'><head><title>T</title><style>{PAGE} body {{ font: 12pt sans-serif; }}{css}</style></head><body>{body}</body></html>"
    path = tmp_path / name
    weasyprint.HTML(string=html).write_pdf(path, **options)
    return str(path)


def _json(result) -> dict:  # noqa: ANN001
    return json.loads(result.output)["files"][0]


def _rules(report: dict) -> set[str]:
    return {i["rule"] for i in report["issues"] if i["severity"] == "error"}


def test_a_clean_tagged_pdf_passes(run, tmp_path):
    path = _pdf(
        tmp_path,
        "ok.pdf",
        "<h1>Hello</h1><p>Plain text at 12 pt.</p>",
        pdf_variant="pdf/ua-1",
        pdf_tags=True,
    )
    result = run("preflight", path, "--json")
    assert result.exit_code == 0, result.output
    report = _json(result)
    assert report["issues"] == [] and report["collisions"] == 0 and report["small_chars"] == 0
    assert report["chars"] > 20


def test_six_point_text_fails(run, tmp_path):
    path = _pdf(tmp_path, "small.pdf", "<p>Big enough.</p><p style='font-size: 6pt'>Tiny print</p>")
    result = run("preflight", path)
    assert result.exit_code == 1
    assert "page 1: error: [text-too-small] 9 characters under 9 pt" in result.output
    assert '"Tiny print" (6 pt)' in result.output


def test_large_print_judges_against_18_pt(run, tmp_path):
    path = _pdf(tmp_path, "lp.pdf", "<p style='font-size: 18pt'>Large</p><p>Twelve</p>")
    assert run("preflight", path).exit_code == 0
    result = run("preflight", path, "--large-print", "--json")
    assert result.exit_code == 1
    report = _json(result)
    assert (report["min_size"], report["small_chars"]) == (18.0, 6)


def test_overlapping_lines_fail(run, tmp_path):
    body = (
        "<p style='position: absolute; margin: 0'>A line of text that sits here</p>"
        "<p style='position: absolute; margin: 4pt 0 0 20pt'>Another line drawn on top</p>"
    )
    result = run("preflight", _pdf(tmp_path, "overlap.pdf", body), "--json")
    assert result.exit_code == 1
    report = _json(result)
    assert report["collisions"] == 1
    [issue] = [i for i in report["issues"] if i["rule"] == "text-collision"]
    assert issue["page"] == 1
    assert "A line of text" in issue["message"] and "Another line" in issue["message"]
    assert issue["fix"]


def test_lines_close_together_do_not_collide(run, tmp_path):
    body = "<p style='line-height: 1'>" + "Typography quality jumps gently. " * 30 + "</p>"
    result = run("preflight", _pdf(tmp_path, "tight.pdf", body), "--json")
    assert _json(result)["collisions"] == 0


def test_text_outside_the_trim_and_the_safe_area(run, tmp_path):
    body = (
        "<p style='position: absolute; margin: 0; top: -0.45in; left: 0'>Near the edge</p>"
        "<p style='position: absolute; margin: 0; left: 4.3in; top: 1in; white-space: nowrap'>Cut off at the edge</p>"
    )
    result = run("preflight", _pdf(tmp_path, "edge.pdf", body), "--json")
    report = _json(result)
    assert result.exit_code == 1
    by_rule = {i["rule"]: i for i in report["issues"]}
    assert by_rule["text-outside-trim"]["severity"] == "error"
    assert by_rule["text-unsafe-area"]["severity"] == "warning"
    assert '"Near the edge' in by_rule["text-unsafe-area"]["message"]
    assert '"Cut off' in by_rule["text-outside-trim"]["message"]


def test_an_unembedded_font_and_an_untagged_file(run, tmp_path):
    """A hand-made PDF (not WeasyPrint's): Helvetica by name only, no tags."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    content = pdf.make_stream(b"BT /F1 12 Tf 72 700 Td (Hello world) Tj ET")
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 612, 792],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
        Contents=content,
    )
    pdf.pages.append(pikepdf.Page(page))
    path = tmp_path / "plain.pdf"
    pdf.save(path)
    result = run("preflight", str(path), "--json")
    assert result.exit_code == 1
    report = _json(result)
    issues = {i["rule"]: i for i in report["issues"]}
    assert issues["font-not-embedded"]["severity"] == "error"
    assert "Helvetica" in issues["font-not-embedded"]["message"]
    # Not claiming PDF/UA-1: told what it lacks, as a warning.
    assert issues["pdfua-tagged"]["severity"] == "warning"


def test_a_booklet_needs_a_multiple_of_four_pages(run, tmp_path):
    body = "".join(f"<p style='break-before: page'>Page {n}</p>" for n in range(5))
    path = _pdf(tmp_path, "five.pdf", body)
    assert run("preflight", path).exit_code == 0
    result = run("preflight", path, "--booklet")
    assert result.exit_code == 1
    assert "[booklet-pages] A booklet needs a multiple of 4 pages; this has 5." in result.output


def test_print_ready_needs_trim_and_bleed(run, tmp_path):
    plain = _pdf(tmp_path, "plain.pdf", "<p>No bleed</p>")
    with pikepdf.open(plain, allow_overwriting_input=True) as pdf:
        for page in pdf.pages:
            for key in ("/TrimBox", "/BleedBox"):
                if key in page.obj:
                    del page.obj[key]
        pdf.save(plain)
    result = run("preflight", plain, "--print-ready")
    assert result.exit_code == 1
    assert "[print-boxes] No TrimBox and BleedBox." in result.output
    bled = _pdf(tmp_path, "bled.pdf", "<p>Bleed</p>", css="@page { bleed: 0.125in; }")
    result = run("preflight", bled, "--json")
    assert result.exit_code == 0, result.output
    assert _json(result)["print_ready"] is True  # found from the trim box
    thin = _pdf(tmp_path, "thin.pdf", "<p>Thin bleed</p>", css="@page { bleed: 2pt; }")
    result = run("preflight", thin)
    assert result.exit_code == 1
    assert "narrowest side" in result.output


def test_a_file_that_is_not_a_pdf_is_a_clear_error(run, tmp_path):
    path = tmp_path / "note.pdf"
    path.write_text("not a pdf")
    result = run("preflight", str(path))
    assert result.exit_code == 1
    assert f"{path}: not a readable PDF" in result.output


@pytest.mark.parametrize("flag", ["--large-print", "--no-large-print"])
def test_the_large_print_flag_overrides_the_metadata(run, tmp_path, flag):
    path = tmp_path / "marked.pdf"
    with pikepdf.open(_pdf(tmp_path, "m.pdf", "<p>Twelve point</p>")) as pdf:
        pdf.docinfo["/handoutgenlargeprint"] = "yes"
        pdf.save(path)
    auto = _json(run("preflight", str(path), "--json"))
    assert auto["large_print"] is True and auto["min_size"] == 18.0
    forced = _json(run("preflight", str(path), flag, "--json"))
    assert forced["large_print"] is (flag == "--large-print")


def test_crop_marks_must_lie_outside_the_bleed(run, tmp_path):
    # WeasyPrint draws its marks in the outer half of the CSS bleed: with a
    # 0.125 in bleed they fall inside the BleedBox (the old --print-ready).
    inside = _pdf(tmp_path, "in.pdf", "<p>Marks</p>", css="@page { bleed: 0.125in; marks: crop; }")
    result = run("preflight", inside)
    assert result.exit_code == 1
    assert "[crop-marks] The crop marks at the top left, top right, bottom left and bottom " in (
        result.output
    )
    assert "inside the bleed (0.125 in)" in result.output
    outside = _pdf(tmp_path, "out.pdf", "<p>Marks</p>", css="@page { bleed: 0.5in; marks: crop; }")
    result = run("preflight", outside, "--json")
    assert result.exit_code == 0, result.output
    assert not [i for i in _json(result)["issues"] if i["rule"] == "crop-marks"]


def test_colour_painted_over_a_crop_mark_fails(run, tmp_path):
    # A box run far past the trim at the top right covers that corner's marks.
    css = (
        "@page { bleed: 0.5in; marks: crop; margin: 0 } "
        ".band { position: absolute; top: -0.5in; right: -0.5in; width: 2in; height: 1in; "
        "background: #123; }"
    )
    path = _pdf(tmp_path, "over.pdf", "<div class='band'></div><p>Text</p>", css=css)
    result = run("preflight", path)
    assert result.exit_code == 1
    assert "No crop mark shows at the top right" in result.output


def test_a_pdf_x_file_needs_its_output_intent(run, tmp_path):
    # PDF/X-4 claimed, but no device-cmyk profile given: no output intent.
    path = _pdf(tmp_path, "x.pdf", "<p>Press</p>", pdf_variant="pdf/x-4")
    with pikepdf.open(path) as pdf:
        assert "/OutputIntents" not in pdf.Root
    result = run("preflight", path)
    assert result.exit_code == 1
    assert "[pdfx-intent] It claims PDF/X-4 but has no PDF/X output intent" in result.output
    plain = _pdf(tmp_path, "plain.pdf", "<p>Plain</p>")
    assert run("preflight", plain).exit_code == 0
    result = run("preflight", "--pdf-x", plain)
    assert result.exit_code == 1 and "does not claim PDF/X" in result.output


@pytest.mark.parametrize("kind", ["letter", "handout"])
def test_only_a_large_print_letters_address_window_may_be_under_18_pt(run, tmp_path, kind):
    """The address in a #10 window is for the post office's machines: a
    large-print letter's page 1 window is judged by 9 pt; nothing else is."""
    css = (
        "@page { size: letter; margin: 0; } body { font: 18pt sans-serif; margin: 0; }"
        ".w { position: absolute; left: 0.9in; top: 2.3in; font-size: 13pt; }"
        ".out { position: absolute; left: 0.9in; top: 4in; font-size: 13pt; }"
        ".tiny { position: absolute; left: 0.9in; top: 2.8in; font-size: 7pt; }"
    )
    body = "<div class='w'>12 OAK ST</div><div class='tiny'>XY</div><div class='out'>Outside</div>"
    html = (
        f"<html lang='en'><head><title>T</title><meta name='handoutgen-kind' content='{kind}'>"
        f"<meta name='handoutgen-large-print' content='yes'><style>{css}</style></head>"
        f"<body>{body}</body></html>"
    )
    path = tmp_path / f"{kind}.pdf"
    weasyprint.HTML(string=html).write_pdf(path, custom_metadata=True)
    result = run("preflight", str(path))
    assert result.exit_code == 1
    assert '"Outside" (13 pt)' in result.output and '"XY" (7 pt)' in result.output
    assert ('"12 OAK ST"' in result.output) == (kind != "letter"), result.output
