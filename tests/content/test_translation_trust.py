"""Translations a clinic can trust (issue #26 item 4).

An unreviewed machine translation is a draft: refused for patients unless
--allow-draft, and then every page says "Machine translation, not reviewed".
Only a review recorded by `handoutgen translations review` (with the hashes of
both texts) counts. `check` reads the translated text against the English, and
the template catalogs against their msgids.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import pages_text

DOC = "nonsurgical-options"
ES = "handouts/translations/es"
# The translation files a render of DOC in Spanish reads (no clinic profile).
FILES = [
    f"{ES}/nonsurgical-options.yaml",
    f"{ES}/options/conservative-care.yaml",
    f"{ES}/options/spinal-injections.yaml",
    f"{ES}/options/radiofrequency-ablation.yaml",
    f"{ES}/options/spinal-cord-stimulation.yaml",
    f"{ES}/warning-signs.yaml",
]
MARK = "Machine translation, not reviewed"
MARK_ES = "Traducción automática, sin revisar"
REFUSED = (
    f"Error: cannot render '{DOC}' in 'es' for patients: it is a draft: not reviewed by a "
    f"qualified human translator (Section 1557): {', '.join(FILES)}; have them reviewed and "
    "run `handoutgen translations review FILE --by NAME`, or pass --allow-draft to print it "
    f"marked '{MARK}'\n"
)


def _edit(ws, rel: str, old: str, new: str) -> None:
    path = ws / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _html(run, ws, *extra: str):
    out = ws / "es.html"
    result = run(
        "render", DOC, "--language", "es", "--format", "html", "-o", str(out), *extra, workspace=ws
    )
    return result, (out.read_text(encoding="utf-8") if result.exit_code == 0 else "")


def _review_all(run, ws) -> None:
    for rel in FILES:
        result = run(
            "translations", "review", rel, "--by", "Ana Example, CHI-Spanish", workspace=ws
        )
        assert result.exit_code == 0, result.stderr
        assert f"Reviewed: {rel} by Ana Example, CHI-Spanish" in result.stderr


def test_an_unreviewed_machine_translation_is_refused_and_marked_when_allowed(
    run, tmp_ws_translated
):
    ws = tmp_ws_translated
    result = run("render", DOC, "--language", "es", "-o", "es.pdf", workspace=ws)
    assert result.exit_code == 1
    assert result.stderr == REFUSED
    assert not (ws / "es.pdf").exists()
    allowed = run("render", DOC, "--language", "es", "--allow-draft", "-o", "es.pdf", workspace=ws)
    assert allowed.exit_code == 0, allowed.stderr
    # pdftotext reads the rotated mark in content order with -raw.
    text = subprocess.run(
        ["pdftotext", "-raw", str(ws / "es.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = [" ".join(p.split()) for p in text.split("\f") if p.strip()]
    assert len(pages) > 1
    assert all(MARK in page for page in pages)
    # The page's language too, read whole by pypdf.
    assert all(f"{MARK_ES} {MARK}" in page for page in pages_text((ws / "es.pdf").read_bytes()))


def test_review_records_the_reviewer_and_both_hashes_and_removes_the_mark(run, tmp_ws_translated):
    import yaml

    ws = tmp_ws_translated
    _review_all(run, ws)
    record = yaml.safe_load((ws / FILES[1]).read_text(encoding="utf-8"))["translation"]
    assert record["reviewer"] == "Ana Example, CHI-Spanish"
    assert record["method"] == "machine+human-review"
    review = record["review"]
    assert review["by"] == "Ana Example, CHI-Spanish"
    assert review["source_sha256"] == record["source_sha256"]
    assert len(review["text_sha256"]) == 64 and review["at"].endswith("Z")
    result, html = _html(run, ws)
    assert result.exit_code == 0, result.stderr
    assert "translation-mark" not in html.split("</style>")[-1]
    check = run("check", DOC, "--json", workspace=ws)
    about = {f["rule"] for f in json.loads(check.stdout)["findings"] if f["path"] in FILES}
    assert about.isdisjoint({"translation-review", "translation-unreviewed"}), about

    # An edit to the translated text after the review: a draft again.
    _edit(ws, FILES[1], "Puede empezarlo o dejarlo", "Puede comenzarlo o dejarlo")
    result, _ = _html(run, ws)
    assert result.exit_code == 1
    assert f"(Section 1557): {FILES[1]};" in result.stderr
    result, html = _html(run, ws, "--allow-draft")
    assert result.exit_code == 0, result.stderr
    assert f'<div class="translation-mark machine"><span>{MARK_ES}</span>' in html
    check = run("check", DOC, workspace=ws)
    assert check.exit_code == 1
    assert (
        f"{FILES[1]}:3:1: error: [translation-review] the translated text changed since "
        "Ana Example, CHI-Spanish reviewed it on" in check.stdout
    )


def test_an_english_edit_after_the_review_makes_it_a_draft_again(run, tmp_ws_translated):
    ws = tmp_ws_translated
    _review_all(run, ws)
    _edit(
        ws,
        "handouts/options/conservative-care.yaml",
        "Low risk, and you stay in control",
        "Low risk, and you stay fully in control",
    )
    result, _ = _html(run, ws)
    assert result.exit_code == 1
    assert "conservative-care.yaml was made from an older English option" in result.stderr


def test_a_reviewer_typed_into_the_file_does_not_count(run, tmp_ws_translated):
    ws = tmp_ws_translated
    for rel in FILES:
        _edit(ws, rel, "reviewer: null", 'reviewer: "Dr. Typed"')
        _edit(ws, rel, "method: machine", "method: machine+human-review")
    result = run("render", DOC, "--language", "es", "-o", "es.pdf", workspace=ws)
    assert result.exit_code == 1
    assert "not reviewed by a qualified human translator (Section 1557)" in result.stderr
    result, html = _html(run, ws, "--allow-draft")
    assert result.exit_code == 0
    assert f"<span>{MARK_ES}</span>" in html
    check = run("check", DOC, workspace=ws)
    assert check.exit_code == 1
    assert (
        f"{FILES[1]}:3:1: error: [translation-review] reviewer 'Dr. Typed' has no review "
        "record (a reviewer typed into the file does not count)" in check.stdout
    )


def test_review_is_refused_while_check_finds_errors_in_the_file(run, tmp_ws_translated):
    ws = tmp_ws_translated
    _edit(ws, FILES[1], "Tiene poco riesgo", "Cura garantizada, tiene poco riesgo")
    result = run("translations", "review", FILES[1], "--by", "Ana Example", workspace=ws)
    assert result.exit_code == 1
    assert "fix what `check` finds before recording a review" in result.stderr
    assert "review:" not in (ws / FILES[1]).read_text(encoding="utf-8")


# -- planted defects: each makes `check` exit 1, located ---------------------
CC = f"{ES}/options/conservative-care.yaml"
SIGNS = f"{ES}/warning-signs.yaml"
DEFECTS = {
    "number changed": (
        CC,
        "Una revisión de 4 estudios",
        "Una revisión de 5 estudios",
        f"{CC}:92:12: error: [translation-numbers] 'evidence.0.claim': the translation lacks 4 "
        "and has 5 the English does not",
    ),
    "English left": (
        CC,
        "Puede empezarlo o dejarlo en cualquier momento.",
        "You can start it or stop it at any time you like.",
        f"{CC}:61:5: error: [translation-english] 'benefits.3': English left in the 'es' text",
    ),
    "emergency sign rewritten": (
        SIGNS,
        "Pierde el control de la vejiga o del intestino, o no puede orinar.",
        "Si pierde el control de la vejiga, llame a la clínica mañana.",
        f"{SIGNS}:35:22: error: [translation-emergency] "
        "'regions.lower-back.emergency.bladder-bowel': an emergency sign ('clínica')",
    ),
    "emergency sign removed": (
        SIGNS,
        "      bladder-bowel: Pierde el control de la vejiga o del intestino, o no puede orinar.\n",
        "",
        f"{SIGNS}:34:5: error: [warning-signs] warning sign 'bladder-bowel' (lower-back, "
        "emergency) has no 'es' text",
    ),
    "cura garantizada": (
        CC,
        "Tiene poco riesgo, y usted sigue al mando de su plan.",
        "Cura garantizada, y usted sigue al mando de su plan.",
        f"{CC}:59:5: error: [claims] 'benefits.1': absolute promise 'Cura' (cura)",
    ),
}


@pytest.mark.parametrize("name", list(DEFECTS))
def test_a_planted_translation_defect_fails_check(run, tmp_ws_translated, name):
    ws = tmp_ws_translated
    rel, old, new, expected = DEFECTS[name]
    assert run("check", DOC, "-q", workspace=ws).exit_code == 0
    _edit(ws, rel, old, new)
    result = run("check", DOC, "-q", workspace=ws)
    assert result.exit_code == 1
    assert expected in result.stdout


CALL = "Call 911 or go to the emergency department now if:"


def _catalog(ws, msgstr: str) -> None:
    """A workspace catalog overriding one Spanish template string."""
    path = ws / "locale" / "es" / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True)
    path.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        f'msgid "{CALL}"\nmsgstr "{msgstr}"\n',
        encoding="utf-8",
    )


CATALOG_DEFECTS = {
    "911 to 411": (
        "Llame al 411 o vaya ahora a la sala de emergencias si:",
        "the translation's numbers (411) differ from the English (911): 911 must print "
        "exactly as 911",
    ),
    "a live link": (
        'Llame al 911 o <a href=\\"https://example.com/cura\\">visite nuestra tienda</a> si:',
        "the translation has markup (an HTML tag, entity or link)",
    ),
    "made-up dosing": (
        "Llame al 911 o tome 800 mg de ibuprofeno cada 4 horas y espere si:",
        "the translation's numbers (911, 800, 4) differ from the English (911)",
    ),
}


@pytest.mark.parametrize("name", list(CATALOG_DEFECTS))
def test_a_planted_catalog_defect_fails_check_at_the_po_line(run, tmp_ws_translated, name):
    ws = tmp_ws_translated
    msgstr, expected = CATALOG_DEFECTS[name]
    _catalog(ws, msgstr)
    result = run("check", DOC, "-q", workspace=ws)
    assert result.exit_code == 1
    assert (
        f"locale/es/LC_MESSAGES/messages.po:5:1: error: [catalog] msgid '{CALL}': {expected}"
        in (result.stdout)
    )


def test_catalog_markup_prints_as_text_never_as_a_link(run, tmp_ws_translated):
    ws = tmp_ws_translated
    _catalog(ws, 'Llame al 911 <a href=\\"https://example.com/x\\">aquí</a> si:')
    result, html = _html(run, ws, "--allow-draft")
    assert result.exit_code == 0, result.stderr
    assert "https://example.com/x" in html
    assert '<a href="https://example.com/x"' not in html
    assert "Llame al 911 &lt;a href=&#34;https://example.com/x&#34;&gt;aquí&lt;/a&gt; si:" in html


def test_the_shipped_translations_and_catalogs_pass_the_text_rules(library):
    from handoutgen.quality.catalogrules import catalog_findings
    from handoutgen.quality.translationtext import translated_text_findings

    assert translated_text_findings(library) == []
    assert catalog_findings(library) == []


# -- every way to print refuses the draft --------------------------------------
def test_a_batch_row_in_an_unreviewed_language_is_a_row_error_naming_its_id(run, tmp_path):
    from conftest import write_csv

    header = "id,first_name,last_name,address1,city,state,zip,language"
    rows = [
        "A-1,Maria,Lopez,12 Oak St,Springfield,IL,62704,es",
        "A-2,Omar,Haddad,5 Elm St,Springfield,IL,62701,",
    ]
    src = write_csv(tmp_path / "r.csv", rows, header)
    args = ("batch", "followup-letter", str(src), "--letter-date", "2026-11-22", "--dry-run")
    result = run(*args, "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert (
        f"Error: {src}:2: language: record 'A-1': 'es' is a machine translation of this "
        "document that no qualified human translator has reviewed: not printed for patients"
    ) in result.stderr
    assert f"{src}:3:" not in result.stderr
    allowed = run(*args, "--allow-draft", "-o", str(tmp_path / "out2"))
    assert allowed.exit_code == 0, allowed.stderr


def test_the_web_form_refuses_an_unreviewed_language_with_a_form_error(tmp_path, monkeypatch):
    import re

    from fastapi.testclient import TestClient

    from conftest import ROOT
    from handoutgen.content.workspace import Workspace
    from handoutgen.web.app import create_app

    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))
    client = TestClient(
        create_app(Workspace.at(ROOT), warm=False), base_url="http://127.0.0.1:8765"
    )
    page = client.get(f"/documents/{DOC}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/render",
        data={
            "document": DOC,
            "option": ["conservative-care"],
            "patient": "Ana Li",
            "language": "es",
            "csrf_token": token,
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert (
        "The Spanish (es) version of this handout is a machine translation that no qualified "
        "human translator has reviewed yet, so it cannot be printed for patients."
    ) in response.text
