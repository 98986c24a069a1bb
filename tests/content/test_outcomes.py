"""Numbers a patient can weigh (issue 26, item 6): an option's results from
trials print as "About N out of 100 people ... after T", with who was studied,
how sure we are and the source's number; icon arrays of 100 people carry the
same sentence as their alt text into the tagged PDF; the comparison table asks
"How strong is the evidence?" apart from "What happened in trials?"; and
`check` refuses an outcome it cannot trace to a checkable source. Read back from
real PDFs, HTML and the CLI."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pikepdf

from conftest import pages_text
from handoutgen.content.iconarray import svg
from handoutgen.engine.pdffacts import struct_elements
from handoutgen.pipeline import make_request, render
from handoutgen.render.compose import render_html

FUSION_REOPERATION = "About 33 out of 100 people had another back operation within about 9 years."
DISC_SATISFIED = (
    "About 63 out of 100 people were satisfied with their care after 2 years, compared with "
    "about 39 out of 100 after a rehab program of exercise and coping skills."
)
SCIATICA_RECOVERED = (
    "About 95 out of 100 people felt they had recovered after 1 year, compared with about 95 "
    "out of 100 of those who waited, with surgery later only if needed."
)
PROGRAM_SURGERY = "About 33 out of 100 people had back surgery after all within about 9 years."


def _text(pdf: bytes) -> str:
    return " ".join(pages_text(pdf))


def _figure_alts(pdf: bytes) -> list[str]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return [
            str(n.Alt)
            for n in struct_elements(doc.Root.StructTreeRoot)
            if str(n.S) == "/Figure" and "/Alt" in n
        ]


def test_fusion_alternatives_prints_outcomes_out_of_100(library):
    text = _text(render(library, make_request(document="fusion-alternatives")))
    for sentence in (FUSION_REOPERATION, DISC_SATISFIED, SCIATICA_RECOVERED, PROGRAM_SURGERY):
        assert sentence in text
    assert len(re.findall(r"About \d+ out of 100 people", text)) >= 4
    # Who was studied and how sure we are, in plain words, beside each.
    assert (
        "Who was studied: 173 adults in Norway with low back pain for at least a year and "
        "worn discs at one or two levels"
    ) in text
    assert "How sure we are: Low. The trials were small or had flaws" in text
    assert "How sure we are: Moderate. New research might change this." in text
    # Each figure's source is in the list, with its DOI.
    for doi in ("10.1007/s00586-012-2382-0", "10.1136/bmj.d2786", "10.1056/NEJMoa064039"):
        assert doi in text.replace(" ", "")


def test_icon_arrays_carry_the_sentence_as_alt_text_in_the_tagged_pdf(library):
    pdf = render(library, make_request(document="fusion-alternatives"))
    alts = _figure_alts(pdf)
    assert (
        "Spinal fusion: about 33 out of 100 people had another back operation within about 9 years."
    ) in alts
    assert (
        "Disc replacement in the lower back: about 63 out of 100 people were satisfied with "
        "their care after 2 years."
    ) in alts
    assert (
        "After a rehab program of exercise and coping skills: about 39 out of 100 people were "
        "satisfied with their care after 2 years."
    ) in alts


def test_icon_array_html_is_filled_and_outlined_people_with_a_title(library):
    html = render_html(library, make_request(document="fusion-alternatives", format="html"))
    images = re.findall(
        r'<img class="icon-array" src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)" '
        r'data-filled="(\d+)">',
        html,
    )
    assert len(images) == 4
    for data, alt, filled in images:
        picture = base64.b64decode(data).decode("utf-8")
        title = alt.replace("&#39;", "'")
        assert f"<title>{title}</title>" in picture
        assert f'aria-label="{title}"' in picture
        # Black and white: the first N people are solid ink, the rest outlined.
        solid, outlined = picture.split('<g fill="#ffffff" stroke="#1b1b1b"')
        assert solid.count("<circle") == int(filled)
        assert outlined.count("<circle") == 100 - int(filled)
    # The same numbers draw the same picture, byte for byte.
    assert svg(33, "x") == svg(33, "x")
    assert svg(33, "x") != svg(34, "x")


def test_outcomes_print_in_the_booklet_and_the_letter(library):
    booklet = _text(render(library, make_request(document="spine-booklet")))
    assert PROGRAM_SURGERY in booklet
    letter = _text(
        render(
            library,
            make_request(
                document="followup-letter",
                options=("fusion", "conservative-care"),
                patient="Ana Li",
            ),
        )
    )
    assert FUSION_REOPERATION in letter
    assert PROGRAM_SURGERY in letter


def test_spanish_outcomes_keep_the_numbers(library):
    text = _text(
        render(
            library, make_request(document="fusion-alternatives", language="es", allow_draft=True)
        )
    )
    assert (
        "Cerca de 63 de cada 100 personas estaban satisfechas con su tratamiento a los 2 años, "
        "comparado con cerca de 39 de cada 100"
    ) in text
    assert "Cerca de 33 de cada 100 personas tuvieron otra operación de espalda" in text


def test_the_table_splits_strength_of_evidence_from_results(library):
    text = _text(render(library, make_request(document="fusion-alternatives")))
    assert "How strong is the research?" not in text
    strength = text.index("How strong is the evidence?")
    results = text.index("What happened in trials?")
    assert strength < results
    row = text[strength:results]
    assert "Several trials" in row and "A review of trials, with flaws" in row
    assert "In trials, close to fusion for back pain alone" in text[results:]


def test_waiting_answer_does_not_cite_trials_that_did_not_study_waiting(library):
    text = _text(render(library, make_request(document="fusion-alternatives")))
    start = text.index("What happens if I wait?", text.index("Common questions"))
    answer = text[start : start + 400]
    assert "No trial has tested waiting" in answer
    assert "improved over two years, whichever care they had" not in text


def _option(ws: Path, name: str) -> Path:
    return ws / "handouts" / "options" / f"{name}.yaml"


def _line_of(path: Path, needle: str) -> int:
    return path.read_text(encoding="utf-8").splitlines().index(needle) + 1


def test_check_refuses_an_outcome_whose_source_is_not_an_evidence_id(run, tmp_ws):
    path = _option(tmp_ws, "fusion")
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "    source: froholdt-2012\n", "    source: froholdt-2013\n"
        ),
        encoding="utf-8",
    )
    line = _line_of(path, "    source: froholdt-2013")
    result = run("check", "fusion-alternatives", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        f"handouts/options/fusion.yaml:{line}:13: error: [outcomes] source 'froholdt-2013' is "
        "not the id of an evidence item of this option (ids: froholdt-2012): add id: "
        "froholdt-2013 to the evidence item the figure comes from"
    ) in result.stdout


def test_check_refuses_an_outcome_source_without_doi_or_pubmed_id(run, tmp_ws):
    path = _option(tmp_ws, "lumbar-disc-replacement")
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "Hellum C, et al. BMJ, 2011. doi:10.1136/bmj.d2786 (PMID 21596740)",
            "Hellum C, et al. BMJ, 2011.",
        ),
        encoding="utf-8",
    )
    result = run("check", "fusion-alternatives", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        "error: [outcomes] 'hellum-2011' must be a published study (reported_by: study) whose "
        "source gives the journal, the year and a DOI or PubMed id"
    ) in result.stdout


def test_check_refuses_a_time_without_a_number_and_a_number_in_the_words(run, tmp_ws):
    path = _option(tmp_ws, "fusion")
    text = path.read_text(encoding="utf-8")
    text = text.replace("    time: within about 9 years\n", "    time: later on\n")
    text = text.replace(
        "  - what: had another back operation\n",
        "  - what: had another back operation (33 out of 100)\n",
    )
    path.write_text(text, encoding="utf-8")
    result = run("check", "fusion-alternatives", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "error: [outcomes] time 'later on' needs a number and a unit" in result.stdout
    assert "error: [outcomes] a number out of 100 belongs in with_option or without" in (
        result.stdout
    )


def test_validate_refuses_a_number_over_100_and_a_lone_comparison(run, tmp_ws):
    path = _option(tmp_ws, "lumbar-disc-replacement")
    text = path.read_text(encoding="utf-8")
    text = text.replace("    with_option: 63\n", "    with_option: 163\n")
    text = text.replace("    without: 39\n", "")
    path.write_text(text, encoding="utf-8")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code != 0
    out = result.stdout + result.stderr
    line = _line_of(path, "    with_option: 163")
    assert f"handouts/options/lumbar-disc-replacement.yaml:{line}" in out
    assert "less than or equal to 100" in out
    path.write_text(text.replace("    with_option: 163\n", "    with_option: 63\n"), "utf-8")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code != 0
    assert "comparison and without go together" in result.stdout + result.stderr
