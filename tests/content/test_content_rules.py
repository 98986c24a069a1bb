"""The content rules of issue 14, each proven on a bad example, and the shipped
content read back from real PDFs (safety block, attribution, agreement of
`check` and the render gate)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from conftest import pages_text
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.pipeline import make_request, render
from handoutgen.quality.checks import check, check_render, rules

TODAY = dt.date(2026, 11, 22)


def _lib(ws: Path):
    return load_library(Workspace.at(ws))


def _set(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _errors(ws: Path, doc: str, rule: str, options=None, layout=False):
    found = rules(_lib(ws), doc, options, today=TODAY, layout=layout)
    return [f for f in found if f.severity == "error" and f.rule == rule]


def _doc(ws: Path, name: str) -> Path:
    return ws / "handouts" / f"{name}.yaml"


def _opt(ws: Path, name: str) -> Path:
    return ws / "handouts" / "options" / f"{name}.yaml"


# -- safety ------------------------------------------------------------------


def test_a_document_without_a_region_does_not_load(tmp_ws):
    """The warning signs are chosen by region (warning-signs.yaml): a document
    must say which."""
    from handoutgen.core.errors import ValidationFailed

    _set(_doc(tmp_ws, "neck-surgery"), "region: neck\n", "")
    with pytest.raises(ValidationFailed) as exc:
        _lib(tmp_ws)
    assert [str(p) for p in exc.value.problems] == [
        "handouts/neck-surgery.yaml:2:1: missing required key 'region'"
    ]


def test_a_template_that_drops_the_block_or_the_emergency_route_is_an_error(tmp_ws):
    (tmp_ws / "templates" / "nohelp.html").write_text(
        '{% extends "handout.html" %}{% block get_help %}{% endblock %}'
    )
    (tmp_ws / "templates" / "callus.html").write_text(
        '{% extends "handout.html" %}{% block get_help %}<section class="get-help">'
        "<h2>When to get help</h2><p>Call us if you feel worse.</p></section>{% endblock %}"
    )
    doc = _doc(tmp_ws, "neck-surgery")
    _set(doc, "template: handout.html", "template: nohelp.html")
    errors = _errors(tmp_ws, "neck-surgery", "safety")
    assert len(errors) == 1 and 'does not print the "When to get help" block' in errors[0].message
    _set(doc, "template: nohelp.html", "template: callus.html")
    errors = _errors(tmp_ws, "neck-surgery", "safety")
    assert len(errors) == 1 and "without the emergency route" in errors[0].message


def test_call_us_without_a_phone_number_is_an_error(tmp_ws):
    """A block of a template's own that drops both the clinic's number and the
    line to write it in (the get_help() macro prints one or the other)."""
    (tmp_ws / "templates" / "nophone.html").write_text(
        '{% extends "handout.html" %}{% block get_help %}<section class="get-help">'
        "<h2>When to get help</h2><p>Call 911 now if you cannot stand.</p>"
        "<p>Call us soon if you feel worse.</p></section>{% endblock %}"
    )
    _set(_doc(tmp_ws, "neck-surgery"), "template: handout.html", "template: nophone.html")
    errors = _errors(tmp_ws, "neck-surgery", "safety")
    assert [e.message for e in errors] == [
        "the document says 'call us' but prints no phone number nor a line to write it in: "
        "the number comes from the clinic profile (handouts/brands/<id>.yaml, phone:), and "
        "the get_help() macro prints it"
    ]


def test_every_shipped_document_prints_both_routes_and_the_phone(library):
    """The clinic profile's number (a document's brand:), or with none a line
    to write it in: never a number of the document's own."""
    for doc_id, doc in library.documents.items():
        text = " ".join(pages_text(render(library, make_request(document=doc_id))))
        assert "When to get help" in text, doc_id
        assert "Call 911 or go to the emergency department now if:" in text, doc_id
        assert "You lose control of your bladder or bowels" in text, doc_id
        if doc.brand:
            phone = library.brands[doc.brand].phone
            assert f"Call us soon at {phone} if:" in text, doc_id
        else:
            assert "Call your clinic soon if:" in text, doc_id
            assert "Your clinic's phone: ____" in text, doc_id


def test_procedure_warnings_print_with_their_option(library):
    text = " ".join(pages_text(render(library, make_request(document="nonsurgical-options"))))
    assert "If you take a blood thinner, tell us before the shot." in text
    assert "check your blood sugar more often" in text
    assert "Opioid pain medicines can slow or stop your breathing" in text


# -- attribution and sources -----------------------------------------------------


def test_a_figure_without_who_reported_it_is_an_error(tmp_ws):
    path = _opt(tmp_ws, "fusion")
    _set(
        path,
        "    reported_by: study\n    level: one randomized trial\n",
        "    level: one randomized trial\n",
    )
    errors = _errors(tmp_ws, "fusion-alternatives", "reported-by")
    assert len(errors) == 1
    assert errors[0].option == "fusion"
    assert errors[0].message.startswith("a figure without who reported it")


def test_figures_name_the_right_party_in_the_pdf(library):
    pdf = render(
        library,
        make_request(
            document="newer-options", options=("total-joint-replacement", "nucleus-replacement")
        ),
    )
    text = " ".join(pages_text(pdf))
    assert "Reported by the maker of this device: The implant's maker reports" in text
    assert "Reported by the maker of a competing device: The method is described" in text
    fa = " ".join(pages_text(render(library, make_request(document="fusion-alternatives"))))
    assert "Reported by the maker of a competing device: Results in the lower back" in fa
    assert "Published research: A trial followed 247 people aged 50 to 80" in fa
    assert "doi:10.1056/NEJMoa1513721" in fa
    assert "Reported by the device maker" not in fa


def test_a_coverage_statement_without_a_source_is_an_error(tmp_ws):
    _set(
        _opt(tmp_ws, "conservative-care"),
        "  cost: Coverage varies; ask your insurer\n",
        "  cost: Usually covered by insurance\n",
    )
    errors = _errors(tmp_ws, "nonsurgical-options", "coverage")
    assert [(e.option, e.line) for e in errors] == [("conservative-care", 46)]
    # The same words with a coverage source are allowed (fusion has one).
    assert _errors(tmp_ws, "fusion-alternatives", "coverage", options=["fusion"]) == []


# -- balance, completeness, reading ------------------------------------------------


def test_a_brochure_option_without_benefits_and_risks_is_an_error(tmp_ws):
    (tmp_ws / "templates" / "thin.html").write_text(
        '{% extends "base.html" %}{% from "macros.html" import get_help %}'
        "{% block content %}{{ get_help(doc, brand, warning_signs) }}"
        "{% for o in options %}<h3>{{ o.title | t }}</h3>{% endfor %}{% endblock %}"
    )
    _set(_doc(tmp_ws, "spine-brochure"), "template: trifold.html", "template: thin.html")
    errors = _errors(tmp_ws, "spine-brochure", "balance")
    assert [e.message for e in errors] == [
        f"the brochure names option '{o}' but shows no benefits or risks for it: every "
        "option it names needs both"
        for o in ("conservative-care", "decompression", "fusion")
    ]


def test_an_option_used_by_no_document_is_a_warning(tmp_ws):
    shutil.copy(_opt(tmp_ws, "cervical-fusion"), _opt(tmp_ws, "orphan"))
    _set(_opt(tmp_ws, "orphan"), "id: cervical-fusion", "id: orphan")
    found = [f for f in check(_lib(tmp_ws), today=TODAY, layout=False) if f.rule == "unused"]
    assert [(f.severity, f.option) for f in found] == [("warning", "orphan")]


def test_every_shipped_option_is_used(library):
    used = {o for d in library.documents.values() for o in d.options}
    assert used == set(library.options)


def test_long_sentences_are_errors(tmp_ws):
    long = " ".join(["It helps"] + ["some"] * 26) + "."
    _set(
        _opt(tmp_ws, "conservative-care"),
        "  - Low risk, and you stay",
        f"  - {long} Low risk, and you stay",
    )
    errors = _errors(tmp_ws, "nonsurgical-options", "sentence-length")
    assert len(errors) == 1
    assert errors[0].message.startswith("sentence of 28 words (limit 25)")
    assert errors[0].option == "conservative-care"


def test_smog_grade_is_checked_beside_flesch_kincaid(tmp_ws):
    # Flesch-Kincaid limits left loose, SMOG strict: only SMOG can fire.
    _set(
        _doc(tmp_ws, "nonsurgical-options"),
        "kind: handout\n",
        "kind: handout\nreading_level: {warn: 19, error: 20, smog_warn: 5, smog_error: 6}\n",
    )
    found = rules(_lib(tmp_ws), "nonsurgical-options", today=TODAY, layout=False)
    smog = [f for f in found if f.rule == "reading-level" and f.severity == "error"]
    assert smog and all("SMOG grade is" in f.message and "above 6" in f.message for f in smog)
    assert not any("Flesch-Kincaid" in f.message for f in found)


def test_an_undefined_medical_term_is_an_error(tmp_ws):
    # "bone spur" is decompression's own word (its terms:), not the document's.
    path = _opt(tmp_ws, "decompression")
    _set(
        path,
        "  - term: bone spur\n    meaning: A small growth of extra bone, often from arthritis.\n",
        "",
    )
    errors = _errors(tmp_ws, "fusion-alternatives", "terms")
    assert [e.message.split(" is used")[0] for e in errors] == ["'bone spur'"]
    # Reported where the fix goes: the option's file, at the word's first use.
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "how_it_works" in t)
    assert (errors[0].path, errors[0].line, errors[0].option) == (
        "handouts/options/decompression.yaml",
        line,
        "decompression",
    )
    assert "add it to the terms: of option 'decompression'" in errors[0].message
    # Explained in brackets where it first appears is fine too.
    _set(path, "or a bone spur.", "or a bone spur (extra bone).")
    assert _errors(tmp_ws, "fusion-alternatives", "terms") == []


def test_a_word_the_document_itself_uses_belongs_in_its_glossary(tmp_ws):
    # nonsurgical-options' FAQ says "nerve block": the document's own word.
    path = _doc(tmp_ws, "nonsurgical-options")
    _set(
        path,
        "  - term: nerve block\n    meaning: A numbing shot that shows whether a joint or nerve "
        "causes the pain.\n",
        "",
    )
    errors = _errors(tmp_ws, "nonsurgical-options", "terms", options=["conservative-care"])
    assert [(e.path, e.option) for e in errors] == [("handouts/nonsurgical-options.yaml", None)]
    assert errors[0].message.startswith(
        "'nerve block' is used before it is explained: add it to glossary:"
    )


def test_a_brochure_that_overflows_its_pages_is_an_error(tmp_ws):
    _set(_doc(tmp_ws, "spine-booklet"), "pages: 24\n", "pages: 8\n")
    # The fit rule measures what the pages hold and names the way out.
    errors = _errors(tmp_ws, "spine-booklet", "fit", layout=True)
    assert len(errors) == 1
    assert errors[0].message.startswith("the booklet holds at most ")
    assert "; 5 were chosen: choose at most " in errors[0].message


def test_a_trifold_panel_that_overflows_is_an_error(tmp_ws):
    _set(
        _opt(tmp_ws, "fusion"),
        "  - It can make an unstable",
        "  - " + "It can help a lot. " * 40 + "It can make an unstable",
    )
    # WeasyPrint would carry the overflow of the fixed panels onto a third
    # sheet; the fit rule, measured with this content, says so first.
    errors = _errors(tmp_ws, "spine-brochure", "fit", layout=True)
    assert [e.message.split(":")[0] for e in errors] == [
        "the tri-fold holds at most 2 options; 3 were chosen"
    ]
    # The booklet, with more pages, holds it (with one option fewer than its own five).
    fewer = ("conservative-care", "spinal-injections", "decompression", "fusion")
    assert _errors(tmp_ws, "spine-booklet", "fit", options=fewer, layout=True) == []
    assert _errors(tmp_ws, "spine-booklet", "layout", options=fewer, layout=True) == []


# -- one engine for check and render ------------------------------------------


def test_check_and_render_agree_on_requested_options(tmp_ws, run):
    _set(
        _opt(tmp_ws, "fusion"),
        "  - It has been done for decades,",
        "  - It is a cure. It has been done for decades,",
    )
    # newer-options offers fusion beside its own options.
    result = run("render", "newer-options", "--option", "fusion", "-o", "x.pdf", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "absolute promise 'cure'" in result.stderr
    result = run("check", "newer-options", "--option", "fusion", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "handouts/options/fusion.yaml" in result.stdout
    assert "absolute promise 'cure'" in result.stdout


def test_today_is_injected_so_the_suite_does_not_expire(library):
    later = dt.date(2030, 1, 1)
    stale = [
        f for f in rules(library, "neck-surgery", today=later, layout=False) if f.rule == "currency"
    ]
    assert {f.option for f in stale if f.option} == {"cervical-disc-replacement", "cervical-fusion"}
    # The warning signs are reviewed on the same clock.
    assert [f.path for f in stale if not f.option] == ["handouts/warning-signs.yaml"]
    assert [f for f in check_render(library, "neck-surgery", ("cervical-fusion",), today=later)]
    assert check_render(library, "neck-surgery", ("cervical-fusion",), today=TODAY) == []


# -- the report -------------------------------------------------------------------


def test_check_report_json(run, tmp_ws):
    _set(
        _doc(tmp_ws, "neck-surgery"),
        "images:\n  - src: assets/spine-segment.svg\n",
        "images: []\nx_images:\n  - src: assets/spine-segment.svg\n",
    )
    text = _doc(tmp_ws, "neck-surgery").read_text()
    start, end = text.index("x_images:"), text.index("factors:")
    _doc(tmp_ws, "neck-surgery").write_text(text[:start] + text[end:])
    result = run("check", "neck-surgery", "--report", "--json", workspace=tmp_ws)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    items = {i["item"]: i for i in data["neck-surgery"]}
    assert (
        items["Says when and how to get help (911 and the clinic's phone)"]["status"] == "verified"
    )
    assert items["Uses visual aids with alt text"] == {
        "standard": "PEMAT-P understandability",
        "item": "Uses visual aids with alt text",
        "status": "not met",
        "evidence": "no picture in the document",
        "rules": [],
        "verdict": "not met",
    }
    assert {i["standard"] for i in data["neck-surgery"]} == {
        "IPDAS qualifying",
        "IPDAS certifying",
        "PEMAT-P understandability",
        "PEMAT-P actionability",
    }
    plain = run("check", "neck-surgery", "--report", workspace=tmp_ws)
    assert "[ ] Uses visual aids with alt text: not met; no picture in the document" in plain.stdout


@pytest.mark.parametrize("doc_id", ["fusion-alternatives", "spine-brochure"])
def test_shipped_documents_meet_every_report_item(run, doc_id):
    data = json.loads(run("check", doc_id, "--report", "--json").stdout)
    unmet = [i for i in data[doc_id] if i["status"] == "not met"]
    # Only the translations fall short, honestly: they are machine drafts that
    # no qualified medical translator has reviewed yet.
    assert {i["standard"] for i in unmet} <= {"Translations"}
    assert all("not reviewed" in i["evidence"] or "Translation not" in i["evidence"] for i in unmet)


def test_a_research_bullet_above_grade_8_is_an_error(tmp_ws):
    _set(
        _opt(tmp_ws, "spinal-cord-stimulation"),
        "Disability\n      scores improved about the same either way.",
        "Standardized disability questionnaires demonstrated statistically "
        "indistinguishable improvements irrespective of stimulation allocation.",
    )
    found = rules(_lib(tmp_ws), "nonsurgical-options", today=TODAY, layout=False)
    bullets = [f for f in found if f.message.startswith("research bullet is grade")]
    assert [(f.severity, f.option) for f in bullets] == [("error", "spinal-cord-stimulation")]
