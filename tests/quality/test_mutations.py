"""A mutation suite for `handoutgen check`: each test plants one defect a
reviewer found (or could find) in a copy of the shipped content, runs the real
`check` command on the document that prints it, and requires exit 1 with an
error of the expected rule naming the file the defect is in.

The unmutated content passes the same commands (test_the_shipped_content_passes),
so each failure below is the planted defect's doing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

TEMPLATE_NO_HELP = '{% extends "handout.html" %}{% block get_help %}{% endblock %}'


@dataclass(frozen=True)
class Defect:
    id: str
    file: str  # relative to the workspace
    old: str  # replaced once; "" appends ``new``; None writes ``new`` as the file
    new: str
    document: str  # the document `check` is run on
    rule: str  # a rule id an error must carry
    where: str | None = None  # the file the error must name (default: ``file``)


DEFECTS = [
    # -- safety: "When to get help" ----------------------------------------
    Defect(
        "placeholder-phone-in-a-real-profile",
        "handouts/brands/example-clinic.yaml",
        "sample: true\nphone: (555) 010-0100",
        "phone: (555) 555-5555",
        "spine-brochure",
        "phone",
    ),
    Defect(
        "fictional-phone-once-sample-is-dropped",
        "handouts/brands/example-clinic.yaml",
        "sample: true\n",
        "",
        "spine-brochure",
        "phone",
    ),
    Defect(
        "sequential-digits-typed-into-option-text",
        "handouts/options/fusion.yaml",
        "Ask your surgeon when you can drive",
        "Call 123-456-7890 to ask your surgeon when you can drive",
        "fusion-alternatives",
        "phone",
    ),
    Defect(
        "neck-handout-given-the-low-back-region",
        "handouts/neck-surgery.yaml",
        "region: neck",
        "region: lower-back",
        "neck-surgery",
        "region",
        "handouts/neck-surgery.yaml",
    ),
    Defect(
        "low-back-words-in-the-neck-handout",
        "handouts/neck-surgery.yaml",
        "Which one suits you depends on your neck and your bones.",
        "Which one suits you depends on your neck and your bones. Tell us about numbness "
        "in your groin or buttocks.",
        "neck-surgery",
        "region",
    ),
    Defect(
        "neck-emergency-sign-removed",
        "handouts/warning-signs.yaml",
        "      arm-weakness: Weakness or clumsiness in your arms or hands gets worse quickly.\n",
        "",
        "neck-surgery",
        "warning-signs",
    ),
    Defect(
        "emergency-sign-moved-to-call-us-soon",
        "handouts/warning-signs.yaml",
        "      leg-weakness: Weakness in your legs gets worse quickly, or you cannot stand.\n"
        "    soon:\n",
        "    soon:\n"
        "      leg-weakness: Weakness in your legs gets worse quickly, or you cannot stand.\n",
        "nonsurgical-options",
        "warning-signs",
    ),
    Defect(
        "template-drops-when-to-get-help",
        "templates/nohelp.html",
        None,
        TEMPLATE_NO_HELP,
        "neck-surgery",
        "safety",
        "handouts/neck-surgery.yaml",
    ),
    Defect(
        "template-drops-the-911-route",
        "templates/callus.html",
        None,
        '{% extends "handout.html" %}{% block get_help %}<section class="get-help">'
        "<h2>When to get help</h2><p>Call your clinic tomorrow if you feel worse.</p>"
        "</section>{% endblock %}",
        "neck-surgery",
        "safety",
        "handouts/neck-surgery.yaml",
    ),
    # -- claims and numbers ------------------------------------------------
    Defect(
        "absolute-promise-in-a-benefit",
        "handouts/options/fusion.yaml",
        "It has been done for decades, so surgeons know it well.",
        "It is guaranteed to cure your back pain.",
        "fusion-alternatives",
        "claims",
    ),
    Defect(
        "absolute-promise-in-a-warning",
        "handouts/options/fusion.yaml",
        "Tell your surgeon about every medicine you take",
        "This surgery is completely safe. Tell your surgeon about every medicine you take",
        "fusion-alternatives",
        "claims",
    ),
    Defect(
        "unsourced-percentage-in-a-summary",
        "handouts/options/fusion.yaml",
        "The bones grow into one and stop moving.",
        "The bones grow into one and stop moving. It works for 90% of people.",
        "fusion-alternatives",
        "evidence",
    ),
    Defect(
        "unsourced-number-in-a-warning",
        "handouts/options/fusion.yaml",
        "Ask which ones to stop before surgery, and when.",
        "Ask which ones to stop before surgery, and when. 3 in 10 people bleed badly.",
        "fusion-alternatives",
        "evidence",
    ),
    Defect(
        "studies-show-without-a-source",
        "handouts/options/fusion.yaml",
        "It may ease pain that comes from movement at a damaged level.",
        "Studies show it eases pain that comes from movement at a damaged level.",
        "fusion-alternatives",
        "evidence",
    ),
    Defect(
        "a-sellers-figure-passed-off-as-a-study",
        "handouts/options/fusion.yaml",
        "    reported_by: rival-clinic\n",
        "    reported_by: study\n",
        "fusion-alternatives",
        "evidence",
    ),
    Defect(
        "a-trial-figure-with-no-reporter",
        "handouts/options/fusion.yaml",
        "      7.4 days on average, against 4.1 days without it.\n"
        "    source: >-\n"
        "      Försth P, et al. A randomized, controlled trial of fusion surgery for\n"
        "      lumbar spinal stenosis. New England Journal of Medicine, 2016. "
        "doi:10.1056/NEJMoa1513721\n"
        "    reported_by: study\n",
        "      7.4 days on average, against 4.1 days without it.\n"
        "    source: >-\n"
        "      Försth P, et al. A randomized, controlled trial of fusion surgery for\n"
        "      lumbar spinal stenosis. New England Journal of Medicine, 2016. "
        "doi:10.1056/NEJMoa1513721\n",
        "fusion-alternatives",
        "reported-by",
    ),
    # -- balance and completeness -----------------------------------------
    Defect(
        "risks-removed",
        "handouts/options/cervical-fusion.yaml",
        "risks:\n",
        "old_risks:\n",
        "neck-surgery",
        "schema",
    ),
    Defect(
        "evidence-source-blanked",
        "handouts/options/fusion.yaml",
        "    source: >-\n      Försth P, et al.",
        "    source: ''\n    old: >-\n      Försth P, et al.",
        "fusion-alternatives",
        "schema",
    ),
    Defect(
        "review-date-long-past",
        "handouts/options/cervical-fusion.yaml",
        "reviewed: 2026-",
        "reviewed: 2019-",
        "neck-surgery",
        "currency",
    ),
    # -- plain language -----------------------------------------------------
    Defect(
        "sentence-over-25-words",
        "handouts/neck-surgery.yaml",
        "The choice is a disc replacement or a fusion.",
        "The choice is a disc replacement or a fusion, and you and your surgeon will look "
        "at your scans, your symptoms, your age, your work, your bones and your hopes "
        "before you both decide together.",
        "neck-surgery",
        "sentence-length",
    ),
    Defect(
        "jargon-without-explanation",
        "handouts/neck-surgery.yaml",
        "Other care has not helped.",
        "Other care, such as an epidural, has not helped.",
        "neck-surgery",
        "terms",
    ),
    Defect(
        "grade-16-prose",
        "handouts/neck-surgery.yaml",
        "  When a worn disc in the neck presses on nerves, surgery can remove it. The\n"
        "  space is then either joined solid (fusion) or filled with a moving artificial\n"
        "  disc. Which one suits you depends on your neck and your bones.\n",
        "  Anterior cervical discectomy necessitates intervertebral reconstruction;\n"
        "  contemporaneous arthroplasty preserves segmental kinematics, whereas\n"
        "  arthrodesis establishes osseous consolidation notwithstanding considerable\n"
        "  interindividual physiological heterogeneity.\n",
        "neck-surgery",
        "reading-level",
    ),
    # -- pictures -------------------------------------------------------------
    Defect(
        "picture-without-alt-text",
        "handouts/neck-surgery.yaml",
        "    alt: Drawing of two bones of the spine with a disc between them and a nerve "
        "leaving the spine.\n",
        "    alt: ''\n",
        "neck-surgery",
        "schema",
    ),
    # -- options a document prints -----------------------------------------
    Defect(
        "after-procedure-sign-id-that-does-not-exist",
        "handouts/options/fusion.yaml",
        "signs: [new-weakness, chest, wound, fever, leg-swelling]",
        "signs: [new-weakness, chest, wound, fever, leg-swelling, bleeding]",
        "fusion-alternatives",
        "schema",
    ),
    Defect(
        "a-phone-number-back-in-a-document",
        "handouts/neck-surgery.yaml",
        "region: neck\n",
        "region: neck\nphone: (312) 555-0100\n",
        "neck-surgery",
        "schema",
    ),
]


def _plant(ws: Path, d: Defect) -> None:
    path = ws / d.file
    if d.old is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(d.new, encoding="utf-8")
        doc = ws / "handouts" / f"{d.document}.yaml"
        text = doc.read_text(encoding="utf-8")
        name = Path(d.file).name
        doc.write_text(text.replace("template: handout.html", f"template: {name}", 1))
        return
    text = path.read_text(encoding="utf-8")
    assert d.old in text, f"{d.id}: the text to change is not in {d.file}: {d.old!r}"
    path.write_text(text.replace(d.old, d.new, 1), encoding="utf-8")


def test_the_suite_plants_at_least_25_distinct_defects():
    assert len({d.id for d in DEFECTS}) == len(DEFECTS) >= 25


def test_the_shipped_content_passes(run, tmp_ws):
    """Without a planted defect, the documents the suite checks have no error."""
    for doc in sorted({d.document for d in DEFECTS}):
        result = run("check", "--json", doc, workspace=tmp_ws)
        assert result.exit_code == 0, (doc, result.output)


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.id for d in DEFECTS])
def test_a_planted_defect_fails_check(run, tmp_ws, defect):
    _plant(tmp_ws, defect)
    result = run("check", "--json", defect.document, workspace=tmp_ws)
    assert result.exit_code == 1, result.output + result.stderr
    where = defect.where or defect.file
    errors = [f for f in _findings(result, tmp_ws) if f["severity"] == "error"]
    assert any(f["rule"] == defect.rule and f["path"] == where for f in errors), errors


def _findings(result, ws: Path) -> list[dict]:
    """check --json's findings; content that does not load stops earlier with
    located errors on stderr ("Error: <file>:<line>:<col>: ..."), each taken
    here as a finding of rule "schema" on that file."""
    if result.stdout.strip():
        return json.loads(result.stdout)["findings"]
    found = []
    for line in result.stderr.splitlines():
        if m := re.match(r"Error: (.+?):\d+:\d+: ", line):
            path = Path(m.group(1))
            if path.is_absolute():
                path = path.relative_to(ws.resolve())
            found.append({"severity": "error", "rule": "schema", "path": path.as_posix()})
    return found
