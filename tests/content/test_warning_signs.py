"""Warning signs as data (issue 26): a document's region picks its "When to get
help" signs from handouts/warning-signs.yaml, options name what to watch for
after their procedure, and `check` requires the signs of the content standards
by id and route, in every language a document is offered in. Read back from
real PDFs and from the CLI."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT, pages_text
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.pipeline import make_request, render
from handoutgen.render.compose import render_html

EMERGENCY = "Call 911 or go to the emergency department now if:"
# Documents with no clinic profile print a line to write the phone in.
SOON = "Call your clinic soon if:"

NECK_EMERGENCY = [
    "Weakness or clumsiness in your arms or hands gets worse quickly.",
    "You have new trouble walking, or with your balance.",
    "You lose control of your bladder or bowels, or you cannot pass urine.",
    "After surgery on the front of your neck, you have trouble breathing or swallowing, "
    "or your neck swells.",
]
NECK_SOON = [
    "You have a fever with your neck pain.",
    "You have had cancer, or you are losing weight without trying.",
    "Your neck pain started after a fall or an injury.",
    "You have new or worse numbness or weakness in your arms or hands.",
]
BACK_EMERGENCY = [
    "You lose control of your bladder or bowels, or you cannot pass urine.",
    "You have numbness in your groin, buttocks or inner thighs.",
    "Weakness in your legs gets worse quickly, or you cannot stand.",
]
BACK_SOON = [
    "You have a fever with your back pain.",
    "You have had cancer, or you are losing weight without trying.",
    "Your pain started after a fall or an injury.",
    "You have new or worse numbness or weakness.",
]


def _pdf_text(library, doc: str, **kw) -> str:
    return " ".join(pages_text(render(library, make_request(document=doc, **kw))))


def _help_routes(text: str) -> tuple[str, str]:
    """The emergency list and the call-us list of the "When to get help" block."""
    start = text.index("When to get help")
    emergency = text.index(EMERGENCY, start) + len(EMERGENCY)
    soon = text.index(SOON, emergency)
    end = text.index("The decision", soon)
    return text[emergency:soon], text[soon + len(SOON) : end]


def _set(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str, after: str = "") -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


def _signs(ws: Path) -> Path:
    return ws / "handouts" / "warning-signs.yaml"


# -- what the pages print -------------------------------------------------------


def test_the_neck_handout_names_the_spinal_cord_signs_under_the_emergency_heading(library):
    text = _pdf_text(library, "neck-surgery")
    emergency, soon = _help_routes(text)
    for sign in NECK_EMERGENCY:
        assert sign in emergency, sign
    for sign in NECK_SOON:
        assert sign in soon, sign
    # Fast-worsening arm weakness is an emergency, never "call us soon".
    assert "arms or hands gets worse quickly" not in soon
    # No lower-back signs or words on a neck handout.
    for word in ("groin", "buttocks", "back pain", "Weakness in your legs"):
        assert word not in text, word


def test_the_low_back_handout_keeps_its_signs_and_shows_what_to_watch_for_after_fusion(library):
    text = _pdf_text(library, "fusion-alternatives")
    emergency, soon = _help_routes(text)
    for sign in BACK_EMERGENCY:
        assert sign in emergency, sign
    for sign in BACK_SOON:
        assert sign in soon, sign
    assert "arms or hands" not in emergency
    # The fusion section says what to watch for after the operation, by route.
    fusion = text[text.index("Surgery that joins two or more bones") :]
    after = fusion[fusion.index("Warning signs after this treatment") :]
    assert after.index(EMERGENCY) < after.index("You have chest pain") < after.index(SOON)
    assert after.index(SOON) < after.index("Your wound gets red, warm, swollen or more painful")
    # Where the signs come from is printed with the other sources.
    assert "The warning signs come from:" in text
    assert "(guideline NG59)" in text


def test_anterior_neck_surgery_lists_trouble_swallowing_as_an_emergency_after_it(library):
    text = _pdf_text(library, "neck-surgery")
    blocks = text.split("Warning signs after this treatment")[1:]
    assert len(blocks) == 2  # one per option: disc replacement and fusion
    for block in blocks:
        emergency = block[block.index(EMERGENCY) : block.index(SOON)]
        assert "You have trouble breathing or swallowing, or your neck swells." in emergency
        assert "You have new weakness or numbness in your arms or legs." in emergency
    assert "J Spine Surg. 2020;6(1):302-322" in text


def test_the_page_marks_each_sign_with_its_id_under_its_route(library):
    html = render_html(library, make_request(document="neck-surgery", format="html"))
    start = html.index('<section class="get-help"')
    block = html[start : html.index("</section>", start)]
    routes = {
        route: re.findall(r'data-sign="([a-z-]+)"', body)
        for route, body in re.findall(r'<ul class="signs (emergency|soon)">(.*?)</ul>', block)
    }
    assert routes == {
        "emergency": ["arm-weakness", "walking-balance", "bladder-bowel", "front-of-neck"],
        "soon": ["fever", "cancer", "injury", "numbness-weakness"],
    }


def test_the_spanish_neck_handout_prints_the_neck_signs(tmp_ws_translated):
    library = load_library(Workspace.at(tmp_ws_translated))
    text = _pdf_text(library, "neck-surgery", language="es", allow_draft=True)
    assert "La debilidad o la torpeza en los brazos o las manos empeora rápido." in text
    assert "Tiene fiebre además del dolor de cuello." in text
    assert "ingle" not in text


# -- check: the required signs, by id and route ------------------------------------


def test_check_fails_when_a_required_sign_is_removed(run, tmp_ws):
    path = _signs(tmp_ws)
    _set(path, "      walking-balance: You have new trouble walking, or with your balance.\n", "")
    line = _line_of(path, "emergency:", after="  neck:")
    result = run("check", "neck-surgery", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        f"handouts/warning-signs.yaml:{line}:5: error: [warning-signs] region 'neck' lacks "
        "warning sign 'walking-balance' under emergency (call 911 or go to the emergency "
        "department now), which the content standards require: add it there"
    ) in result.stdout
    # The render gate is the same rule: the handout is not printed without it.
    out = tmp_ws / "n.pdf"
    render_result = run("render", "neck-surgery", "-o", str(out), workspace=tmp_ws)
    assert render_result.exit_code == 1
    assert "'walking-balance'" in render_result.stderr
    assert not out.exists()


def test_check_fails_when_an_emergency_sign_is_moved_to_call_us_soon(run, tmp_ws):
    path = _signs(tmp_ws)
    sign = "      arm-weakness: Weakness or clumsiness in your arms or hands gets worse quickly.\n"
    fever = "      fever: You have a fever with your neck pain.\n"
    _set(path, sign, "")
    _set(path, fever, sign + fever)
    line = _line_of(path, "arm-weakness:")
    result = run("check", "neck-surgery", workspace=tmp_ws)
    assert result.exit_code == 1
    assert (
        f"handouts/warning-signs.yaml:{line}:7: error: [warning-signs] warning sign "
        "'arm-weakness' of region 'neck' is under soon, but it needs emergency (call 911 or "
        "go to the emergency department now): move it under regions: neck: emergency:"
    ) in result.stdout
    # The low-back documents do not need it: their check is clean of it.
    assert "arm-weakness" not in run("check", "fusion-alternatives", workspace=tmp_ws).stdout


def test_check_fails_when_a_translation_lacks_a_signs_text(run, tmp_ws_translated):
    path = tmp_ws_translated / "handouts" / "translations" / "es" / "warning-signs.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("      front-of-neck: >-\n")
    end = text.index("    soon:", start)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    line = _line_of(path, "emergency:", after="  neck:")
    result = run("check", "neck-surgery", workspace=tmp_ws_translated)
    assert result.exit_code == 1
    assert (
        f"handouts/translations/es/warning-signs.yaml:{line}:5: error: [warning-signs] "
        "warning sign 'front-of-neck' (neck, emergency) has no 'es' text, and neck-surgery is "
        "offered in 'es': add it under regions: neck: emergency:"
    ) in result.stdout
    # Only that sign: the others are written.
    assert "'arm-weakness' (neck" not in result.stdout
    # And Spanish is refused rather than printed without it.
    refused = run(
        "render",
        "neck-surgery",
        "--language",
        "es",
        "-o",
        str(tmp_ws_translated / "es.pdf"),
        workspace=tmp_ws_translated,
    )
    assert refused.exit_code == 1
    assert "handouts/translations/es/warning-signs.yaml" in refused.stderr


def test_check_names_a_missing_translation_file_for_a_language_offered(run, tmp_ws_translated):
    (tmp_ws_translated / "handouts" / "translations" / "zh" / "warning-signs.yaml").unlink()
    result = run("check", "nonsurgical-options", workspace=tmp_ws_translated)
    assert result.exit_code == 1
    assert (
        "handouts/translations/zh/warning-signs.yaml:1:1: error: [warning-signs] warning sign "
        "'saddle-numbness' (lower-back, emergency) has no 'zh' text, and nonsurgical-options "
        "is offered in 'zh': handouts/translations/zh/warning-signs.yaml does not exist: "
        "translate handouts/warning-signs.yaml there"
    ) in result.stdout


def test_a_template_that_drops_a_sign_is_an_error(run, tmp_ws):
    (tmp_ws / "templates" / "short.html").write_text(
        '{% extends "handout.html" %}{% block get_help %}<section class="get-help">'
        "<h2>When to get help</h2><p>Call 911 or go to the emergency department now if:</p>"
        '<ul class="signs emergency"><li data-sign="bladder-bowel">Bladder.</li></ul>'
        "</section>{% endblock %}"
    )
    doc = tmp_ws / "handouts" / "neck-surgery.yaml"
    _set(doc, "template: handout.html", "template: short.html")
    result = run("check", "neck-surgery", workspace=tmp_ws)
    assert result.exit_code == 1
    line = _line_of(doc, "template:")
    assert (
        f"handouts/neck-surgery.yaml:{line}:11: error: [warning-signs] template short.html "
        "does not print warning sign 'arm-weakness' under emergency"
    ) in result.stdout
    assert "'bladder-bowel' under emergency" not in result.stdout


def test_lower_back_words_in_a_neck_document_are_an_error(run, tmp_ws):
    doc = tmp_ws / "handouts" / "neck-surgery.yaml"
    _set(doc, "Call us with your questions before you decide.", "Call us if your back pain grows.")
    result = run("check", "neck-surgery", workspace=tmp_ws)
    assert result.exit_code == 1
    line = _line_of(doc, "region:")
    assert (
        f"handouts/neck-surgery.yaml:{line}:1: error: [region] 'back pain' is printed in a "
        "document about the neck"
    ) in result.stdout


# -- validate: the old free text, and bad references -----------------------------


def test_a_document_with_the_old_free_text_block_is_told_what_to_do(run, tmp_ws):
    doc = tmp_ws / "handouts" / "neck-surgery.yaml"
    _set(
        doc,
        "region: neck\n",
        "get_help:\n  emergency:\n    - You feel worse.\n  soon:\n    - You have a fever.\n",
    )
    line = _line_of(doc, "get_help:")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: handouts/neck-surgery.yaml:2:1: missing required key 'region'",
        f"Error: handouts/neck-surgery.yaml:{line}:1: 'get_help' was retired (the warning "
        "signs come from handouts/warning-signs.yaml, by the document's region); remove it "
        "with its lists, and set region: lower-back or region: neck",
        "2 problems found.",
    ]


def test_an_unknown_after_procedure_sign_does_not_load(run, tmp_ws):
    opt = tmp_ws / "handouts" / "options" / "cervical-fusion.yaml"
    _set(opt, "signs: [front-of-neck,", "signs: [front-of-nek,")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    line = _line_of(opt, "front-of-nek")
    assert result.stderr.splitlines()[0] == (
        f"Error: handouts/options/cervical-fusion.yaml:{line}:11: unknown after-procedure "
        "sign 'front-of-nek'; did you mean 'front-of-neck'?; the shared ones are listed "
        "under after: in handouts/warning-signs.yaml, or give the option its own under "
        "watch_after: emergency: or soon:"
    )


def test_a_sign_under_both_routes_does_not_load(run, tmp_ws):
    signs = _signs(tmp_ws)
    _set(
        signs,
        "      bladder-bowel: You lose control",
        "      fever: You have a fever.\n      bladder-bowel: You lose control",
    )
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    line = _line_of(signs, "  lower-back:")
    assert result.stderr.splitlines()[0] == (
        f"Error: handouts/warning-signs.yaml:{line + 1}:5: regions.lower-back: sign 'fever' is "
        "listed under both emergency and soon; a sign has one route"
    )


def test_a_region_without_its_signs_does_not_load(run, tmp_ws):
    signs = _signs(tmp_ws)
    text = signs.read_text(encoding="utf-8")
    start = text.index("  neck:\n")
    signs.write_text(text[:start] + text[text.index("after:\n") :], encoding="utf-8")
    doc = tmp_ws / "handouts" / "neck-surgery.yaml"
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: handouts/neck-surgery.yaml:{_line_of(doc, 'region:')}:9: region 'neck' has "
        "no warning signs in handouts/warning-signs.yaml: add a 'neck:' set under regions: "
        "there",
        "1 problem found.",
    ]


def test_a_workspace_without_the_signs_file_is_told_where_it_comes_from(run, tmp_ws):
    _signs(tmp_ws).unlink()
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "handouts/warning-signs.yaml: is missing" in result.stderr
    assert "handoutgen init DIR" in result.stderr


def test_the_shipped_signs_are_plain_words():
    """Grade 6 or lower (Flesch-Kincaid), each set as a reader meets it."""
    import yaml

    from handoutgen.quality.readability import grade, joined

    data = yaml.safe_load(_signs(ROOT).read_text(encoding="utf-8"))
    sets = [*data["regions"].values(), data["after"]]
    for signs in sets:
        texts = [*signs["emergency"].values(), *signs["soon"].values()]
        assert grade(joined(texts)) <= 6, texts


def test_the_signs_file_is_part_of_the_content_manifest_and_hash(tmp_ws):
    ws = Workspace.at(tmp_ws)
    assert _signs(tmp_ws) in ws.content_files()  # serve's reload and preview --watch
    before = load_library(ws).content_hash
    _set(_signs(tmp_ws), "fever with your neck pain.", "fever and your neck hurts.")
    assert load_library(ws).content_hash != before
