"""`handoutgen check` and accessible output: each rule fires on a small bad example."""

from __future__ import annotations

import collections
import datetime as dt
import io
import json
import subprocess
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from conftest import ROOT, pages_text
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.pipeline import make_request, render
from handoutgen.quality.checks import check

TODAY = dt.date(2026, 11, 22)


def test_shipped_content_passes_every_check(run, library):
    # The warnings left are honest: the shipped translations are machine drafts,
    # one warning per file, until a medical translator reviews them; and Chinese
    # and Arabic have no reading-level formula (one warning per language).
    findings = check(library, today=TODAY)
    assert {f.rule for f in findings} == {"translation-unreviewed", "reading-level"}
    translated = sorted(str(p) for p in (ROOT / "handouts" / "translations").rglob("*.yaml"))
    unreviewed = [f for f in findings if f.rule == "translation-unreviewed"]
    assert sorted(str(ROOT / f.path) for f in unreviewed) == translated
    level = sorted(f.path.split("/")[2] for f in findings if f.rule == "reading-level")
    assert level == ["ar", "zh"]
    result = run("check")
    assert result.exit_code == 0
    # Each document's approval state, then the count: nobody approved the samples.
    states = [
        f"{d}: not yet approved by the clinic (`handoutgen approve {d} --by NAME` after review)\n"
        for d in sorted(library.documents)
    ]
    assert result.stderr == "".join(states) + f"0 errors, {len(translated) + 2} warnings.\n"


def _findings(ws: Path, *docs: str):
    return check(load_library(Workspace.at(ws)), list(docs) or None, today=TODAY)


def _set(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _line(path: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


def _messages(findings, severity=None):
    return [
        f"{f.path}:{f.line}: {f.rule}: {f.message}"
        for f in findings
        if severity is None or f.severity == severity
    ]


@pytest.fixture
def opt(tmp_ws: Path) -> Path:
    return tmp_ws / "handouts" / "options" / "fibrin-injection.yaml"


@pytest.mark.parametrize("word", ["cure", "guaranteed", "no risk", "100%", "painless"])
def test_absolute_promises_are_errors(tmp_ws, opt, word):
    _set(opt, "  - No hardware stays in your body,", f"  - It is {word} for most people,")
    findings = _findings(tmp_ws)
    line = _line(opt, f"It is {word}")
    assert [m for m in _messages(findings, "error") if "claims" in m] == [
        f"handouts/options/fibrin-injection.yaml:{line}: claims: absolute promise '{word}': "
        "no treatment can promise this; describe the chance of benefit instead"
    ]


def test_reading_level_above_ten_is_an_error(tmp_ws, opt):
    hard = (
        "Intradiscal biologic augmentation necessitates comprehensive multidisciplinary "
        "preprocedural evaluation, incorporating sophisticated radiological characterization "
        "of annular morphology and contemporaneous physiological assessment of intervertebral "
        "degeneration."
    )
    text = opt.read_text()
    for field, nxt in (("how_it_works", "suits"), ("suits", "not_for"), ("not_for", "benefits")):
        start = text.index(f"{field}: >-")
        end = text.index(f"{nxt}:")
        text = text[:start] + f"{field}: >-\n  {hard}\n" + text[end:]
    opt.write_text(text)
    findings = [f for f in _findings(tmp_ws) if f.rule == "reading-level" and "Flesch" in f.message]
    assert len(findings) == 1
    assert findings[0].severity == "error"
    assert findings[0].line == _line(opt, "how_it_works")
    assert "above 10; hardest part: how_it_works" in findings[0].message


def test_reading_level_limits_are_set_per_document(tmp_ws):
    doc = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    _set(doc, "kind: handout\n", "kind: handout\nreading_level: {warn: 3, error: 4}\n")
    findings = [f for f in _findings(tmp_ws, "nonsurgical-options") if f.rule == "reading-level"]
    assert any(f.severity == "error" and f.option == "spinal-injections" for f in findings)
    assert any("above 4" in f.message for f in findings)


def test_harms_must_get_comparable_detail(tmp_ws, opt):
    text = opt.read_text()
    start = text.index("risks:")
    end = text.index("recovery:")
    opt.write_text(text[:start] + "risks:\n  - Soreness.\n" + text[end:])
    findings = [f for f in _findings(tmp_ws) if f.rule == "balance"]
    assert [(f.severity, f.line) for f in findings] == [("warning", _line(opt, "risks:"))]
    assert "benefits have 36 words but risks only 1" in findings[0].message


def test_one_option_crowding_the_others_is_a_warning(tmp_ws):
    path = tmp_ws / "handouts" / "options" / "radiofrequency-ablation.yaml"
    extra = " It is done in a clinic room, and a nurse stays with you the whole time." * 30
    text = path.read_text()
    start = text.index("how_it_works: >-")
    end = text.index("suits:")
    path.write_text(text[:start] + f"how_it_works: >-\n  {extra.strip()}\n" + text[end:])
    findings = [
        f for f in _findings(tmp_ws, "nonsurgical-options") if f.rule == "balance" and f.document
    ]
    assert len(findings) == 1
    assert "option 'radiofrequency-ablation' takes" in findings[0].message
    assert "more than twice the median" in findings[0].message


def test_numbers_need_a_source(tmp_ws, opt):
    _set(
        opt,
        "  - It is done with a needle,",
        "  - About 9 in 10 people say it is done with a needle,",
    )
    _set(opt, "  - It aims to treat", "  - Studies show it aims to treat")
    errors = _messages(_findings(tmp_ws), "error")
    assert any("number '9' has no source" in m for m in errors)
    assert any("'Studies show' needs its source" in m for m in errors)


def test_probabilities_need_denominator_and_time(tmp_ws, opt):
    _set(
        opt,
        "About 83 out of 100 had a successful result at\n      long-term follow-up.",
        "83% had a successful result.",
    )
    _set(opt, "It does not say how long that was, and there was no", "There was no")
    errors = _messages(_findings(tmp_ws), "error")
    assert any("a probability needs a denominator" in m for m in errors)
    assert any("a probability needs a time period" in m for m in errors)


def test_maker_figures_must_be_labelled(tmp_ws):
    path = tmp_ws / "handouts" / "options" / "total-joint-replacement.yaml"
    _set(path, "    reported_by: manufacturer\n", "")
    errors = [f for f in _findings(tmp_ws) if f.severity == "error"]
    assert [f.message for f in errors] == [
        "a figure without who reported it: set reported_by (study, manufacturer, competitor, "
        "clinic, rival-clinic or group)",
        "this statement comes from a device maker or clinic, not a study: set reported_by: "
        "manufacturer, clinic or rival-clinic so the handout labels it",
    ]
    assert errors[1].line == _line(path, "source: >-")


def test_maker_figures_are_labelled_in_the_handout(library):
    pdf = render(
        library, make_request(document="fusion-alternatives", options=("total-joint-replacement",))
    )
    assert "Reported by the maker of this device: The implant's maker reports" in " ".join(
        pages_text(pdf)
    )


def test_content_past_its_review_date_is_an_error(tmp_ws, opt):
    _set(opt, "reviewed: 2026-11-22", "reviewed: 2024-06-01")
    errors = [f for f in _findings(tmp_ws) if f.rule == "currency"]
    assert [(f.severity, f.line, f.message) for f in errors] == [
        (
            "error",
            _line(opt, "reviewed:"),
            "reviewed 2024-06-01 is older than 24 months (review was due 2026-06-01)",
        )
    ]


def test_required_parts(tmp_ws, opt):
    text = opt.read_text()
    opt.write_text(text[: text.index("\nevidence:") + 1] + "reviewed: 2026-11-15\n")
    doc = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    text = doc.read_text()
    doc.write_text(text[: text.index("next_steps:")] + text[text.index("disclaimers:") :])
    _set(doc, "  - fibrin-injection\n", "") if "fibrin" in doc.read_text() else None
    _set(
        doc, "  - spinal-cord-stimulation\n", "  - spinal-cord-stimulation\n  - fibrin-injection\n"
    )
    _set(doc, "kind: handout", "kind: brochure")
    text = doc.read_text()
    doc.write_text(text[: text.index("producer:")])
    errors = _messages(_findings(tmp_ws, "nonsurgical-options"), "error")
    assert (
        "handouts/options/fibrin-injection.yaml:1: required: no evidence: add at least one claim with its source"
        in errors
    )
    assert any("no next step for the reader" in m for m in errors)
    assert any("no producer: say who wrote and funded it" in m for m in errors)


def test_images_need_alt_text(tmp_ws):
    (tmp_ws / "templates").mkdir(exist_ok=True)
    (tmp_ws / "templates" / "pic.html").write_text(
        '{% extends "handout.html" %}{% block before_table %}<img src="assets/spine.png">{% endblock %}'
    )
    doc = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    _set(doc, "template: handout.html", "template: pic.html")
    errors = _messages(_findings(tmp_ws, "nonsurgical-options"), "error")
    assert any("image assets/spine.png in template pic.html has no alt text" in m for m in errors)


def test_render_refuses_content_with_errors_unless_draft(tmp_ws, opt, run):
    _set(opt, "  - No hardware stays", "  - It is a cure. No hardware stays")
    doc = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    _set(
        doc, "  - spinal-cord-stimulation\n", "  - spinal-cord-stimulation\n  - fibrin-injection\n"
    )
    result = run("render", "nonsurgical-options", "-o", "out.pdf", workspace=tmp_ws)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: document 'nonsurgical-options' has 1 content error: "
        "handouts/options/fibrin-injection.yaml:"
    )
    assert "pass --allow-draft to print a DRAFT" in result.stderr
    assert not (tmp_ws / "out.pdf").exists()
    result = run(
        "render", "nonsurgical-options", "--allow-draft", "-o", "out.pdf", workspace=tmp_ws
    )
    assert result.exit_code == 0, result.stderr
    pages = pages_text((tmp_ws / "out.pdf").read_bytes())
    assert all("DRAFT" in p for p in pages)


def test_draft_status_is_watermarked_and_approved_is_not(tmp_ws, library):
    pdf = render(library, make_request(document="nonsurgical-options"))
    assert not any("DRAFT" in p for p in pages_text(pdf))
    doc = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    _set(doc, "kind: handout\n", "kind: handout\nstatus: draft\n")
    lib = load_library(Workspace.at(tmp_ws))
    pages = pages_text(render(lib, make_request(document="nonsurgical-options")))
    assert all("DRAFT" in p for p in pages)


def test_check_json(run):
    result = run("check", "nonsurgical-options", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["errors"] == 0
    assert {f["rule"] for f in data["findings"]} == {"translation-unreviewed", "reading-level"}
    assert data["warnings"] == len(data["findings"])


def test_check_json_lists_findings(run, tmp_ws, opt):
    _set(opt, "  - No hardware stays", "  - Guaranteed relief. No hardware stays")
    result = run("check", "--json", workspace=tmp_ws)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["errors"] == 1
    f = data["findings"][0]
    assert (f["severity"], f["rule"], f["option"], f["path"]) == (
        "error",
        "claims",
        "fibrin-injection",
        "handouts/options/fibrin-injection.yaml",
    )


# -- accessible PDFs ---------------------------------------------------------


def _struct_types(pdf: pikepdf.Pdf) -> list[tuple[str, pikepdf.Object]]:
    out = []

    def walk(node):
        if isinstance(node, pikepdf.Dictionary):
            if "/S" in node:
                out.append((str(node.S), node))
            kids = node.get("/K")
            if isinstance(kids, pikepdf.Array):
                for kid in kids:
                    walk(kid)
            elif kids is not None:
                walk(kids)

    walk(pdf.Root.StructTreeRoot)
    return out


@pytest.fixture(scope="module")
def tagged(library) -> bytes:
    return render(library, make_request(document="nonsurgical-options", patient="Ana Li"))


def test_pdf_is_tagged_pdf_ua(tagged, tmp_path):
    path = tmp_path / "t.pdf"
    path.write_bytes(tagged)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    assert "Tagged:          yes" in info
    with pikepdf.open(io.BytesIO(tagged)) as pdf:
        assert str(pdf.Root.Lang) == "en"
        assert pdf.Root.ViewerPreferences.DisplayDocTitle
        meta = pdf.open_metadata()
        assert meta.get("pdfuaid:part") == "1"
        assert meta.get("dc:title") == "Treating back pain without major surgery"
        kinds = [k for k, _ in _struct_types(pdf)]
    headings = [int(k[2:]) for k in kinds if k in ("/H1", "/H2", "/H3", "/H4", "/H5", "/H6")]
    assert headings[0] == 1
    assert all(b <= a + 1 for a, b in zip(headings, headings[1:], strict=False)), (
        "a heading level is skipped"
    )
    assert kinds.count("/TH") >= 5  # question column and option headers
    assert "/Table" in kinds


def test_alt_text_reaches_the_tags(tmp_ws):
    from PIL import Image

    Image.new("RGB", (40, 20), (11, 74, 94)).save(tmp_ws / "assets" / "spine.png")
    (tmp_ws / "templates").mkdir(exist_ok=True)
    (tmp_ws / "templates" / "pic.html").write_text(
        '{% extends "handout.html" %}{% block before_table %}'
        '<figure><img src="assets/spine.png" alt="Drawing of two vertebrae and a disc">'
        "<figcaption>The parts of the spine</figcaption></figure>{% endblock %}"
    )
    _set(
        tmp_ws / "handouts" / "nonsurgical-options.yaml",
        "template: handout.html",
        "template: pic.html",
    )
    lib = load_library(Workspace.at(tmp_ws))
    pdf = render(lib, make_request(document="nonsurgical-options"))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        figures = [n for k, n in _struct_types(doc) if k == "/Figure"]
        # The document's own picture, the one the template adds, then the icon
        # array of 100 people, its alt text the sentence it shows.
        assert [str(f.Alt) for f in figures] == [
            "Drawing of two bones of the spine with a disc between them and a nerve leaving "
            "the spine.",
            "Drawing of two vertebrae and a disc",
            "Managing pain without a procedure: about 33 out of 100 people had back surgery "
            "after all within about 9 years.",
        ]


def test_pdf_a_for_archiving(library):
    pdf = render(library, make_request(document="nonsurgical-options", pdf_variant="pdf/a-3u"))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        meta = doc.open_metadata()
        assert (meta.get("pdfaid:part"), meta.get("pdfaid:conformance")) == ("3", "U")
        assert "/StructTreeRoot" in doc.Root


def _font_sizes(pdf: bytes) -> collections.Counter:
    """Point sizes of the printed characters. PDFium reports the size in text space;
    WeasyPrint lays out in CSS px and draws under a 0.75 (px -> pt) matrix."""
    sizes: collections.Counter = collections.Counter()
    doc = pdfium.PdfDocument(pdf)
    try:
        for page in doc:
            text = page.get_textpage()
            for i in range(text.count_chars()):
                if not text.get_text_range(i, 1).isspace():
                    sizes[round(pdfium_c.FPDFText_GetFontSize(text.raw, i) * 0.75, 1)] += 1
    finally:
        doc.close()
    return sizes


def test_body_text_is_at_least_12pt(tagged):
    sizes = _font_sizes(tagged)
    body, _ = sizes.most_common(1)[0]
    assert body >= 12


def test_large_print(library, run):
    pdf = render(library, make_request(document="nonsurgical-options", large_print=True))
    sizes = _font_sizes(pdf)
    body, _ = sizes.most_common(1)[0]
    assert body == 18
    text = " ".join(pages_text(pdf))
    # The table is reflowed: every answer is there, none cut.
    lib_doc = library.documents["nonsurgical-options"]
    for oid in lib_doc.options:
        for factor in lib_doc.factors:
            assert library.options[oid].facts[factor.id]["en"] in text
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        kinds = [k for k, _ in _struct_types(doc)]
        assert "/Table" in kinds  # only the values exercise table remains
        # Its header row, and one row per factor.
        assert kinds.count("/TH") <= 4 + len(lib_doc.factors)


def test_questions_and_values_exercise_follow_the_switches(library):
    ns = " ".join(pages_text(render(library, make_request(document="nonsurgical-options"))))
    assert "Questions to ask at your next visit" in ns
    assert "How likely is it that radiofrequency ablation would help me, and for how long?" in ns
    assert "What matters most to you?" in ns
    assert "Keeping my costs down" in ns
    fa = " ".join(pages_text(render(library, make_request(document="fusion-alternatives"))))
    assert "Questions to ask at your next visit" in fa
    assert "What matters most to you?" not in fa  # values_exercise: false


def test_check_results_are_cached_by_content_and_rebuilt_when_broken(tmp_ws, run, monkeypatch):
    from handoutgen.quality import checks

    cache = tmp_ws / "cache"
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(cache))
    assert run("render", "nonsurgical-options", "-o", "a.pdf", workspace=tmp_ws).exit_code == 0
    entries = list((cache / "checks").rglob("*.entry"))
    assert len(entries) == 1
    good = entries[0].read_bytes()
    entries[0].write_text("{not json")
    checks.clear_caches()
    assert run("render", "nonsurgical-options", "-o", "b.pdf", workspace=tmp_ws).exit_code == 0
    assert entries[0].read_bytes() == good  # rebuilt, authenticated again (see test_cache.py)
    assert json.loads(good[36:]) == []
    # A content change is a new key: the edited content is checked, not served stale.
    opt = tmp_ws / "handouts" / "options" / "spinal-injections.yaml"
    _set(opt, "  - No cut, and you", "  - A guaranteed fix. No cut, and you")
    checks.clear_caches()
    result = run("render", "nonsurgical-options", "-o", "c.pdf", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "absolute promise 'guaranteed'" in result.stderr
    assert len(list((cache / "checks").rglob("*.entry"))) == 2
