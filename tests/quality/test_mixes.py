"""Every mix of options a document offers renders (issue 26, item 5).

A document prints its own ``options:`` and the ones it ``offers:``, nothing
else; "Words to know" is its glossary with the chosen options' ``terms:``, so
no mix is refused because a word one option brings is not in the document's
glossary. Proved on the shipped content through the render gate's own check
(every option alone and every pair, and a seeded sample of 3 and 4), and on
real PDFs read back; then the refusals: the CLI, check, a batch row, validate.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import re
import subprocess
from pathlib import Path

from conftest import TODAY, write_csv
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.pipeline import make_request, render
from handoutgen.quality.checks import check, check_render

DAY = dt.date.fromisoformat(TODAY)
SEED = 26  # the number: a fixed sample, the same on every run
SAMPLE = 8  # larger mixes tried per document


def _failures(library, doc_id: str, mixes) -> list[str]:
    out = []
    for mix in mixes:
        for f in check_render(library, doc_id, tuple(mix), today=DAY):
            out.append(f"{doc_id} with {', '.join(mix)}: {f}")
    return out


def test_every_document_offers_only_options_that_exist_and_more_than_none(library):
    for doc in library.documents.values():
        assert doc.offered[: len(doc.options)] == doc.options
        assert set(doc.offered) <= set(library.options), doc.id
    # The documents the web form offered all 14 options on now say what they allow.
    assert len(library.documents["fusion-alternatives"].offered) == 12
    assert "cervical-fusion" not in library.documents["fusion-alternatives"].offered
    assert library.documents["neck-surgery"].offered == [
        "cervical-disc-replacement",
        "cervical-fusion",
    ]


def test_every_offered_option_alone_and_every_pair_passes_check(library):
    failures = []
    for doc in library.documents.values():
        # An option grid compares 2 to 4: one alone is refused (tests/render/test_grid.py).
        singles = [] if doc.kind == "grid" else [(o,) for o in doc.offered]
        mixes = singles + list(itertools.combinations(doc.offered, 2))
        failures += _failures(library, doc.id, mixes)
    assert not failures, "\n".join(failures)


def test_a_seeded_sample_of_larger_mixes_passes_check(library):
    rng = random.Random(SEED)
    failures, tried = [], 0
    for doc in sorted(library.documents.values(), key=lambda d: d.id):
        pool = [m for k in (3, 4) for m in itertools.combinations(doc.offered, k)]
        for mix in rng.sample(pool, min(SAMPLE, len(pool))):
            mix = list(mix)
            rng.shuffle(mix)  # --option takes any order: the words follow the options
            failures += _failures(library, doc.id, [mix])
            tried += 1
    assert tried >= 30
    assert not failures, "\n".join(failures)


def _words_to_know(pdf: bytes, heading: str, after: str) -> str:
    """The "Words to know" block as printed (poppler, which keeps each floated
    word beside its meaning): from its heading to the next heading."""
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    text = " ".join(text.split())
    start = text.index(heading)
    return text[start : text.index(after, start)]


def test_a_mix_prints_the_words_its_options_bring(library):
    # The mix the old code refused: "'nerve block' is used before it is explained".
    pdf = render(
        library,
        make_request(
            document="fusion-alternatives", options=("conservative-care", "spinal-injections")
        ),
    )
    words = _words_to_know(pdf, "Words to know", "The options side by side")
    assert "nerve block:" in words and "epidural:" in words  # spinal-injections' terms
    assert "randomized trial:" in words  # the document's own
    assert "laminectomy" not in words  # decompression's, and it is not chosen
    # The document's default mix lists decompression's words, and no others.
    words = _words_to_know(
        render(library, make_request(document="fusion-alternatives")),
        "Words to know",
        "The options side by side",
    )
    assert "laminectomy:" in words and "bone spur:" in words
    assert "nerve block" not in words


def test_a_translated_mix_prints_the_translated_words(run, tmp_ws_translated):
    # Reviewed first: patients get no draft (and the draft's rotated mark would
    # run through the text poppler reads here).
    ws = tmp_ws_translated
    es = ws / "handouts" / "translations" / "es"
    files = ["fusion-alternatives", "options/conservative-care", "options/spinal-injections"]
    for name in [*files, "warning-signs"]:
        result = run(
            "translations", "review", str(es / f"{name}.yaml"), "--by", "R. Rev", workspace=ws
        )
        assert result.exit_code == 0, result.stderr
    pdf = render(
        load_library(Workspace.at(ws)),
        make_request(
            document="fusion-alternatives",
            options=("conservative-care", "spinal-injections"),
            language="es",
        ),
    )
    words = _words_to_know(pdf, "Palabras que debe conocer", "Las opciones")
    assert "bloqueo nervioso:" in words and "epidural:" in words
    assert "estudio aleatorizado:" in words


# -- what a document does not offer is refused, naming what it does ---------------

NOT_OFFERED = (
    "neck-surgery does not offer option 'fusion'; it offers cervical-disc-replacement, "
    "cervical-fusion (a document offers more when handouts/neck-surgery.yaml lists them "
    "under offers:)"
)


def test_render_and_check_refuse_an_option_the_document_does_not_offer(run, tmp_path):
    out = tmp_path / "x.pdf"
    result = run("render", "neck-surgery", "--option", "fusion", "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {NOT_OFFERED}\n"
    assert not out.exists()
    result = run("check", "neck-surgery", "--option", "fusion")
    assert result.exit_code == 1
    assert result.stderr == f"Error: {NOT_OFFERED}\n"
    # With no document named, --option checks the documents that offer them all.
    result = run("check", "--option", "cervical-fusion", "--json")
    assert result.exit_code == 0, result.output
    checked = {
        f["document"]
        for f in json.loads(result.stdout)["findings"]
        if not f["rule"].startswith("translation")
    }
    assert checked <= {"neck-surgery", None}
    result = run("check", "--option", "cervical-fusion", "--option", "fusion")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no document offers 'cervical-fusion', 'fusion' together: name a document, "
        "or list the options under a document's offers:\n"
    )


def test_list_shows_what_each_document_offers(run, library):
    data = json.loads(run("list", "--json").stdout)
    offers = {d["id"]: d["offers"] for d in data["documents"]}
    assert offers == {d.id: d.offered for d in library.documents.values()}
    assert "offers: cervical-disc-replacement, cervical-fusion" in run("list").stdout


def test_a_batch_row_with_an_option_the_letter_does_not_offer_is_a_row_error(run, tmp_path):
    header = "id,first_name,last_name,address1,city,state,zip,options"
    rows = [
        "R-1,Ann,Lee,1 A St,Peoria,IL,61602,fusion;spinal-injections",
        "R-2,Bo,Kim,1 A St,Peoria,IL,61602,conservative-care;cervical-fusion",
    ]
    src = write_csv(tmp_path / "r.csv", rows, header)
    result = run("batch", "followup-letter", str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 3  # R-1 is valid
    assert (
        f"Error: {src}:3 (id R-2): options: followup-letter does not offer option 'cervical-fusion'; "
        "it offers conservative-care, " in result.stderr
    )
    assert "1 valid, 1 with problems" in result.stderr


def _lib(ws: Path):
    return load_library(Workspace.at(ws))


def _add_offers(path: Path, *ids: str) -> None:
    text = path.read_text()
    offers = "".join(f"  - {i}\n" for i in ids)
    path.write_text(text.replace("\nmain_message:", f"\noffers:\n{offers}main_message:", 1))


def _line(path: Path, needle: str) -> int:
    return next(i for i, t in enumerate(path.read_text().splitlines(), 1) if needle in t)


def test_validate_locates_a_bad_offers_entry(tmp_ws, run):
    doc = tmp_ws / "handouts" / "neck-surgery.yaml"
    _add_offers(doc, "fusoin", "conservative-care", "conservative-care")
    opt = tmp_ws / "handouts" / "options" / "conservative-care.yaml"
    opt.write_text(opt.read_text().replace('  motion: "Yes"\n', ""))
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    err = result.stderr
    first = _line(doc, "  - fusoin")
    assert (
        f"handouts/neck-surgery.yaml:{first}:5: unknown option 'fusoin'; did you mean 'fusion'?"
        in err
    )
    assert (
        f"handouts/neck-surgery.yaml:{first + 2}:5: option 'conservative-care' is listed twice"
        in err
    )
    # An offered option answers every comparison question too, or a mix prints a blank.
    assert (
        f"handouts/neck-surgery.yaml:{_line(doc, '- id: motion')}:5: option 'conservative-care' "
        "has no answer for 'motion': add it under facts in "
        "handouts/options/conservative-care.yaml" in err
    )


def test_check_reports_an_offered_mix_that_would_be_refused(tmp_ws):
    # fusion-alternatives offers spinal-injections (not one of its own options),
    # whose "nerve block" is taken out of its terms.
    opt = tmp_ws / "handouts" / "options" / "spinal-injections.yaml"
    text = opt.read_text()
    entry = (
        "  - term: nerve block\n"
        "    meaning: A numbing shot that shows whether a joint or nerve causes the pain.\n"
    )
    assert entry in text
    opt.write_text(text.replace(entry, ""))
    library = _lib(tmp_ws)
    # Its own options are fine: only a mix a clinician may choose shows it.
    assert (
        check_render(
            library,
            "fusion-alternatives",
            tuple(library.documents["fusion-alternatives"].options),
            DAY,
        )
        == []
    )
    found = check(library, ["fusion-alternatives"], today=DAY)
    terms = [f for f in found if f.rule == "terms"]
    assert [(f.path, f.line, f.severity, f.option) for f in terms] == [
        (
            "handouts/options/spinal-injections.yaml",
            _line(opt, "how_it_works"),
            "error",
            "spinal-injections",
        )
    ]
    assert terms[0].message == (
        "'nerve block' is used before it is explained: add it to the terms: of option "
        "'spinal-injections' (\"Words to know\" lists them wherever it is chosen) or, if it "
        "is a word of the whole document, to its glossary:, or explain it in brackets where "
        "it first appears (when fusion-alternatives prints 'spinal-injections')"
    )
    # The render gate refuses that mix with the same words.
    refused = check_render(library, "fusion-alternatives", ("spinal-injections",), DAY)
    assert [f.message for f in refused] == [terms[0].message.rsplit(" (when", 1)[0]]


def test_a_template_that_drops_words_to_know_is_told_so(tmp_ws):
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}{% block glossary %}{% endblock %}'
    )
    errors = [
        f
        for f in check_render(_lib(tmp_ws), "fusion-alternatives", ("spinal-injections",), DAY)
        if f.rule == "terms"
    ]
    assert errors
    assert all(
        re.match(
            r"'[a-z ]+' is in Words to know for these options, but the page uses it", f.message
        )
        for f in errors
    ), [f.message for f in errors]


def test_a_word_defined_twice_differently_is_a_warning(tmp_ws, run):
    opt = tmp_ws / "handouts" / "options" / "spinal-injections.yaml"
    text = opt.read_text()
    old = "    meaning: The facet joints are small joints at the back of the spine.\n"
    assert old in text
    opt.write_text(text.replace(old, "    meaning: Small joints of the spine.\n"))
    result = run("check", workspace=tmp_ws)
    first = tmp_ws / "handouts" / "options" / "radiofrequency-ablation.yaml"
    line = _line(opt, "meaning: Small joints")
    assert (
        f"handouts/options/spinal-injections.yaml:{line}:14: warning: [terms] 'facet' has "
        f"another meaning in handouts/options/radiofrequency-ablation.yaml:"
        f"{_line(first, 'term: facet')}: a mix that prints both shows only one; give it the "
        "same words in both"
    ) in result.stdout
