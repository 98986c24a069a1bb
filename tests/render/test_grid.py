"""The option grid (kind: grid): questions down the side, 2 to 4 options across,
on one sheet (front and back), through real renders read back from the PDF."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import random
import re

import pypdf
import pytest

from conftest import pages_text
from handoutgen.content.models import pick_text
from handoutgen.engine.pdffacts import read
from handoutgen.pipeline import make_request, render
from handoutgen.quality.preflight import preflight
from handoutgen.render.compose import render_html

DOC = "option-grid"


def grid_pdf(library, options=None, **fields) -> bytes:
    request = make_request(
        document=DOC,
        options=tuple(options) if options else None,
        patient="Ana Li",
        visit_date=dt.date(2026, 11, 20),
        **fields,
    )
    return render(library, request)


def page_count(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_the_grid_prints_the_questions_each_option_the_signs_and_the_phone(library):
    pdf = grid_pdf(library, clinic="example-clinic")
    assert page_count(pdf) <= 2
    pages = pages_text(pdf)
    text = " ".join(pages)
    doc = library.documents[DOC]
    # Questions down the side: the document's, then the benefit and risks rows.
    for factor in doc.factors:
        assert pick_text(factor.question) in text
    assert "What is the main benefit?" in text and "What are the main risks?" in text
    # Options across, each answering from its own reviewed facts.
    for option_id in doc.options:
        option = library.options[option_id]
        assert pick_text(option.title) in pages[0]
        assert pick_text(option.facts["what"]) in text
        assert pick_text(option.benefits[0]) in text
        for i in option.serious_risks:
            assert " ".join(pick_text(option.risks[i]).split()) in text
    # The emergency route and the clinic's phone from its profile.
    assert "Call 911 or go to the emergency department now if:" in text
    assert "Call us soon at (555) 010-0100 if:" in text
    assert "Prepared for Ana Li" in pages[0]


def test_a_question_an_option_cannot_answer_says_ask_your_care_team(library):
    # Loading refuses a document whose options lack one of its answers (below);
    # the template still never leaves a cell blank.
    fusion = library.options["fusion"]
    facts = {k: v for k, v in fusion.facts.items() if k != "cost"}
    options = {**library.options, "fusion": fusion.model_copy(update={"facts": facts})}
    html = render_html(dataclasses.replace(library, options=options), make_request(document=DOC))
    row = html.split("Will insurance pay?", 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    # conservative-care, spinal-injections, decompression, fusion
    assert [c.strip() for c in cells][3] == "Ask your care team"
    assert all(c.strip() for c in cells)


def test_a_grid_question_every_option_must_answer(tmp_ws, run):
    path = tmp_ws / "handouts" / "option-grid.yaml"
    path.write_text(
        path.read_text().replace(
            "  - id: cost\n",
            "  - id: sport\n    question: When can I play sports again?\n  - id: cost\n",
        )
    )
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        "handouts/option-grid.yaml:51:5: option 'fusion' has no answer for 'sport': add it "
        "under facts in handouts/options/fusion.yaml" in result.output
    )


def _random_sets(library, count: int = 4) -> list[tuple[str, ...]]:
    offered = library.documents[DOC].offered
    rng = random.Random(27)  # seeded: the same sets on every run
    sets = [tuple(rng.sample(offered, rng.choice((2, 3, 4)))) for _ in range(count)]
    # The four with the most text and sources (measured while building it): the
    # longest sheet the grid can be asked for.
    sets.append(
        ("spinal-injections", "fusion", "spinal-cord-stimulation", "lumbar-disc-replacement")
    )
    return sets


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_random_sets_of_two_to_four_options_fit_one_sheet_and_pass_preflight(library, paper):
    for options in _random_sets(library):
        pdf = grid_pdf(library, options, clinic="example-clinic", page_size=paper)
        assert page_count(pdf) <= 2, (paper, options)
        text = " ".join(pages_text(pdf))
        for option_id in options:
            assert pick_text(library.options[option_id].title) in text, (paper, options)
        report = preflight(read(pdf), f"{DOC}-{paper}-{'-'.join(options)}")
        assert [str(i) for i in report.issues if i.severity == "error"] == [], options
        assert report.collisions == 0 and report.small_chars == 0, options


def test_a_set_that_cannot_fit_the_sheet_is_refused_naming_document_and_options(tmp_ws, run):
    # An option whose answers run long: four of them cannot fit one sheet.
    path = tmp_ws / "handouts" / "options" / "fusion.yaml"
    long = " ".join(["It can ease pain that comes from movement at a damaged level."] * 12)
    path.write_text(
        path.read_text().replace(
            "  what: Major surgery that joins bones", f"  what: Major surgery. {long}"
        )
    )
    result = run("render", DOC, "-o", str(tmp_ws / "x.pdf"), workspace=tmp_ws)
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert (
        "option-grid: the option grid with conservative-care, spinal-injections, "
        "decompression, fusion needs 4 pages, but it must fit one sheet, front and back "
        "(2 pages): choose fewer or other options, or shorten their answers" in message
    ), message
    assert not (tmp_ws / "x.pdf").exists()
    # `check` says the same, at the document's options.
    result = run("check", DOC, workspace=tmp_ws)
    assert result.exit_code == 1
    assert "handouts/option-grid.yaml" in result.output and "[fit]" in result.output


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["fusion"], "1 was chosen (fusion)"),
        (
            [
                "fusion",
                "decompression",
                "spinal-injections",
                "conservative-care",
                "fibrin-injection",
            ],
            "5 were chosen (fusion, decompression, spinal-injections, conservative-care, "
            "fibrin-injection)",
        ),
    ],
)
def test_fewer_than_two_or_more_than_four_options_is_a_clear_error(run, options, said):
    args = [a for o in options for a in ("--option", o)]
    result = run("render", DOC, *args, "-o", "-")
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert (
        f"option-grid is an option grid: it compares 2 to 4 options side by side, and {said}"
        in message
    )


def test_check_passes_the_shipped_grid(run):
    result = run("check", DOC)
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


def test_an_untranslated_language_is_the_usual_clear_error(run):
    result = run("render", DOC, "--language", "zh", "--allow-draft", "-o", "-")  # es has one
    assert result.exit_code == 1
    assert "no translation file for document 'option-grid'" in result.output


def test_large_print_is_refused_for_the_fixed_sheet(run):
    result = run("render", DOC, "--large-print", "-o", "-")
    assert result.exit_code == 1
    assert "cannot hold large print (18 pt text)" in result.output


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ("pages: 2", "pages: 3"),
        ("  - fusion\n# Other", "  - fusion\n  - fibrin-injection\n# Other"),
    ],
)
def test_a_grid_document_is_one_sheet_of_two_to_four_options(tmp_ws, run, edit, said):
    path = tmp_ws / "handouts" / "option-grid.yaml"
    text = path.read_text()
    assert edit in text
    path.write_text(text.replace(edit, said))
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "handouts/option-grid.yaml:" in result.output
    assert (
        "an option grid is one sheet: set pages: 2" in result.output
        or "an option grid compares 2 to 4 options; options: lists 5" in result.output
    )
