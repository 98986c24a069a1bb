"""Handouts in the reader's language: translation files, template strings,
staleness, the "not yet reviewed" mark, per-recipient languages.

The shipped Spanish is written by the content team; these tests make their
own small translation files (fixtures), so they test the machinery whatever
the shipped translations say.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, pages_text, write_csv
from handoutgen.content.library import load_library
from handoutgen.content.translations import dotted, text_fields
from handoutgen.content.workspace import Workspace
from handoutgen.core.errors import HandoutgenError

DOC = "nonsurgical-options"

# Template strings whose English must not appear in a Spanish page.
ENGLISH_TEMPLATE_STRINGS = [
    "Prepared for",
    "Visit of",
    "Page 1 of",
    "The decision",
    "When to get help",
    "Possible benefits",
    "Possible risks",
    "Questions to ask",
    "What matters most to you",
    "What you can do next",
    "About this handout",
    "Reviewed November",
    "Call 911",
    "After hours",
    "Sample clinic",
]


def write_translation(
    ws: Path,
    lang: str,
    kind: str,
    item_id: str,
    text,  # noqa: ANN001 - callable(loc, english) -> str
    *,
    reviewer: str | None = None,
    method: str = "machine",
    drop: tuple[str, ...] = (),
) -> Path:
    """A translation file for one content file: every text field through ``text``."""
    library = load_library(Workspace.at(ws))
    models = {
        "option": library.options,
        "document": library.documents,
        "signs": {"warning-signs": library.signs},
    }
    model = models[kind][item_id]
    data: dict = {
        "translation": {
            "translator": "test fixture",
            "reviewer": reviewer,
            "method": method,
            "date": dt.date(2026, 11, 22),
        }
    }
    for loc, value, _ in text_fields(model):
        if dotted(loc) in drop:
            continue
        node = data
        for part, nxt in zip(loc, loc[1:] + (None,), strict=True):
            if nxt is None:
                if isinstance(node, list):
                    node.append(text(loc, value["en"]))
                else:
                    node[part] = text(loc, value["en"])
            else:
                if isinstance(node, list):
                    while len(node) <= part:
                        node.append([] if isinstance(nxt, int) else {})
                    node = node[part]
                else:
                    node = node.setdefault(part, [] if isinstance(nxt, int) else {})
    rel = f"options/{item_id}.yaml" if kind == "option" else f"{item_id}.yaml"
    path = ws / "handouts" / "translations" / lang / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def translate_document(ws: Path, lang: str, text, doc_id: str = DOC, **kw) -> list[Path]:  # noqa: ANN001
    """The document, its options and the warning signs (every document prints
    its region's)."""
    library = load_library(Workspace.at(ws))
    paths = [write_translation(ws, lang, "document", doc_id, text, **kw)]
    for opt in library.documents[doc_id].options:
        paths.append(write_translation(ws, lang, "option", opt, text, **kw))
    paths.append(write_translation(ws, lang, "signs", "warning-signs", text, **kw))
    return paths


def spanish(loc, english: str) -> str:  # noqa: ANN001
    """A stand-in Spanish text: marked, so a test can tell it from the English."""
    return f"Texto en español de {dotted(loc)}."


def faithful(loc, english: str) -> str:  # noqa: ANN001
    """A stand-in Spanish text that keeps the English numbers (as `check` asks)."""
    return " ".join(["Texto en español.", *re.findall(r"\d+(?:[.,]\d+)*", english)])


def edit_english(ws: Path, option: str, key: str) -> int:
    """Change the first line of an option's text field; return the key's line."""
    path = ws / "handouts" / "options" / f"{option}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    i = next(n for n, x in enumerate(lines) if x.startswith(f"{key}:"))
    j = i + 1 if lines[i].rstrip().endswith((">-", "|", ">")) else i
    head = f"{key}: " if j == i else lines[j][: len(lines[j]) - len(lines[j].lstrip())]
    rest = lines[j][len(f"{key}: ") :] if j == i else lines[j].lstrip()
    lines[j] = f"{head}Changed. {rest}"
    path.write_text("".join(lines), encoding="utf-8")
    return i + 1


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def es_ws(tmp_ws: Path) -> Path:
    translate_document(tmp_ws, "es", spanish)
    return tmp_ws


def test_spanish_render_has_no_english_template_strings(run, es_ws):
    # The clinic profile's text (its funding line) in Spanish too.
    brands = es_ws / "handouts" / "translations" / "es" / "brands"
    brands.mkdir(parents=True)
    shutil.copy(
        ROOT / "handouts" / "translations" / "es" / "brands" / "example-clinic.yaml", brands
    )
    out = es_ws / "es.pdf"
    result = run(
        "render", DOC, "--language", "es", "--allow-draft", "--patient", "Alex Example",
        "--visit-date", "2026-11-20", "--clinic", "Example Spine Clinic", "-o", str(out),
        workspace=es_ws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    flat = " ".join(text.split())
    assert "Preparado para Alex Example" in flat
    assert "20 de noviembre de 2026" in flat  # Babel's Spanish long date
    assert "Página 1 de" in flat
    assert "Texto en español de main_message." in flat
    assert "Fuera del horario de atención: (555) 010-0199" in flat
    assert "Clínica de muestra: no es un número de teléfono real." in flat
    # Machine translation, not reviewed: the mark on every page (pypdf reads the
    # rotated line whole; pdftotext splits it).
    pages = pages_text(out.read_bytes())
    assert len(pages) > 1
    for page in pages:
        assert "Traducción automática, sin revisar Machine translation, not reviewed" in page
    for english in ENGLISH_TEMPLATE_STRINGS:
        assert english not in flat, english
    # The page says its language.
    import pikepdf

    with pikepdf.open(out) as pdf:
        assert str(pdf.Root.Lang) == "es"


def test_english_render_is_unchanged_by_translations(run, es_ws):
    out = es_ws / "en.pdf"
    result = run("render", DOC, "--patient", "Alex Example", "-o", str(out), workspace=es_ws)
    assert result.exit_code == 0, result.output
    flat = " ".join(pdf_text(out).split())
    assert "Prepared for Alex Example" in flat and "Page 1 of" in flat
    assert "español" not in flat and "Translation not yet reviewed" not in flat


def review(run, ws: Path, paths: list[Path]) -> None:
    for path in paths:
        result = run("translations", "review", str(path), "--by", "R. Revisora, CMI", workspace=ws)
        assert result.exit_code == 0, result.stderr


def test_reviewed_translation_has_no_mark_until_the_english_changes(run, tmp_ws):
    paths = translate_document(tmp_ws, "es", faithful, method="human")
    review(run, tmp_ws, paths)
    html = tmp_ws / "es.html"
    run("render", DOC, "--language", "es", "--format", "html", "-o", str(html), workspace=tmp_ws)
    assert "translation-mark" not in html.read_text(encoding="utf-8").split("</style>")[1]
    # An English edit makes the (reviewed) translation stale: refused, or with
    # --allow-draft marked again.
    edit_english(tmp_ws, "conservative-care", "summary")
    args = ("render", DOC, "--language", "es", "--format", "html", "-o", str(html))
    refused = run(*args, workspace=tmp_ws)
    assert refused.exit_code == 1 and "was made from an older English" in refused.stderr
    result = run(*args, "--allow-draft", workspace=tmp_ws)
    assert result.exit_code == 0, result.output
    body = html.read_text(encoding="utf-8").split("</style>")[1]
    assert '<div class="translation-mark">Traducción sin revisar / ' in body


def test_stale_translation_is_reported_at_the_english_line(run, tmp_ws):
    paths = translate_document(tmp_ws, "es", spanish)
    stamped = run("translations", "stamp", *map(str, paths), workspace=tmp_ws)
    assert stamped.exit_code == 0, stamped.output
    findings = json.loads(run("check", DOC, "--json", workspace=tmp_ws).stdout)["findings"]
    assert not [f for f in findings if f["rule"] == "translation-stale"]
    unreviewed = [
        f for f in findings if f["rule"] == "translation-unreviewed" and "/es/" in f["path"]
    ]
    assert len(unreviewed) == len(paths)
    # Edit one English field.
    line = edit_english(tmp_ws, "conservative-care", "recovery")
    result = run("check", DOC, workspace=tmp_ws)
    assert result.exit_code == 1
    stale = [x for x in result.stdout.splitlines() if "[translation-stale]" in x]
    assert len(stale) == 1, stale
    assert stale[0].startswith(f"handouts/options/conservative-care.yaml:{line}:")
    assert "'recovery' changed since the 'es' translation was made" in stale[0]
    assert "handouts/translations/es/options/conservative-care.yaml" in stale[0]


def test_unstamped_translation_is_stale(run, es_ws):
    result = run("check", DOC, workspace=es_ws)
    assert result.exit_code == 1
    assert "[translation-stale] not stamped with the English it was made from" in result.stdout


def test_missing_field_is_a_check_error_and_the_language_is_refused(run, tmp_ws):
    translate_document(tmp_ws, "es", spanish)
    write_translation(
        tmp_ws, "es", "option", "conservative-care", spanish, drop=("benefits.1", "facts.motion")
    )
    result = run("check", DOC, workspace=tmp_ws)
    assert result.exit_code == 1
    missing = [x for x in result.stdout.splitlines() if "[translation]" in x]
    assert len(missing) == 2, missing
    assert all(
        x.startswith("handouts/translations/es/options/conservative-care.yaml:") for x in missing
    )
    assert any(
        "missing the translation of 'facts.motion' (handouts/options/conservative-care.yaml:" in x
        for x in missing
    )
    assert any(
        "'benefits' has 3 items, the English (handouts/options/conservative-care.yaml:" in x
        and "has 4" in x
        for x in missing
    )
    out = tmp_ws / "x.pdf"
    result = run("render", DOC, "--language", "es", "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 1
    assert "option 'conservative-care' is not translated into 'es'" in result.output
    assert "Nothing falls back to English" in result.output
    assert not out.exists()


def test_stray_key_and_bad_record_are_check_errors(run, es_ws):
    path = es_ws / "handouts" / "translations" / "es" / "options" / "conservative-care.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["category"] = "cirugía"  # not a text field
    data["translation"]["method"] = "google"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = run("check", DOC, workspace=es_ws).stdout
    assert "'category' is not a text field of handouts/options/conservative-care.yaml" in out
    assert "translation.method: Input should be 'human', 'machine+human-review' or 'machine'" in out


def test_unknown_language_is_refused_not_english(run, tmp_ws):
    result = run("render", DOC, "--language", "fr", "-o", str(tmp_ws / "fr.pdf"), workspace=tmp_ws)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: 'fr' (French) is not available for {DOC}; it is available in English (en)\n"
    )
    assert not (tmp_ws / "fr.pdf").exists()


def test_missing_template_string_is_a_check_error(run, es_ws):
    (es_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}\n'
        "{% block before_table %}\n"
        '<p>{{ _("A string nobody translated") }}</p>\n'
        "{% endblock %}\n",
        encoding="utf-8",
    )
    result = run("check", DOC, "--json", workspace=es_ws)
    findings = json.loads(result.stdout)["findings"]
    hits = [f for f in findings if f["rule"] == "template-string" and "'es'" in f["message"]]
    assert [(h["path"], h["line"]) for h in hits] == [("templates/handout.html", 3)]
    assert "no 'es' translation" in hits[0]["message"]
    # And the render says so instead of printing English.
    result = run(
        "render", DOC, "--language", "es", "--allow-draft", "--format", "html", "-o", "x.html",
        workspace=es_ws,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "'A string nobody translated' has no 'es' translation" in result.output


def test_shipped_catalogs_cover_every_template_string():
    """The package's own templates against its own catalogs: nothing missing."""
    from handoutgen.content import i18n
    from handoutgen.content.workspace import PACKAGE_DIR

    templates = sorted((PACKAGE_DIR / "templates").glob("*.html"))
    assert templates
    for lang in i18n.languages():
        assert i18n.missing_messages(lang, templates) == [], lang


def test_workspace_catalog_adds_a_language_string(run, es_ws):
    po = es_ws / "locale" / "es" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid "Question"\nmsgstr "Su pregunta"\n', encoding="utf-8")
    (es_ws / "templates" / "x.html").write_text("", encoding="utf-8")  # a template folder
    html = es_ws / "es.html"
    result = run(
        "render", DOC, "--language", "es", "--allow-draft", "--format", "html", "-o", str(html),
        workspace=es_ws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '<th scope="col" class="question">Su pregunta</th>' in html.read_text(encoding="utf-8")


def test_hostile_translation_text_is_escaped(run, tmp_ws):
    translate_document(tmp_ws, "es", lambda loc, en: '<script>alert(1)</script>{{ 7*7 }} "x"')
    html = tmp_ws / "es.html"
    result = run(
        "render", DOC, "--language", "es", "--allow-draft", "--format", "html", "-o", str(html),
        workspace=tmp_ws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = html.read_text(encoding="utf-8").split("</style>")[1]
    # Printed as typed, never run: no 49 where the text was (a source's URL may hold "49").
    assert "<script>" not in body and "&lt;script&gt;" in body and "{{ 7*7 }}" in body
    assert "</script>49" not in body and "&lt;/script&gt;49" not in body


def test_list_json_reports_languages(run, es_ws):
    data = json.loads(run("list", "--json", workspace=es_ws).stdout)
    langs = {d["id"]: d["languages"] for d in data["documents"]}
    assert langs[DOC][0] == "en" and "es" in langs[DOC]
    # Without one option's translation, the document is not offered in Spanish.
    (es_ws / "handouts/translations/es/options/spinal-injections.yaml").unlink()
    data = json.loads(run("list", "--json", workspace=es_ws).stdout)
    assert "es" not in {d["id"]: d["languages"] for d in data["documents"]}[DOC]


def test_stamp_refuses_an_incomplete_file_and_is_idempotent(run, tmp_ws):
    paths = translate_document(tmp_ws, "es", spanish)
    first = run("translations", "stamp", str(paths[0]), workspace=tmp_ws)
    assert first.exit_code == 0 and "Stamped:" in first.stderr
    before = paths[0].read_bytes()
    again = run("translations", "stamp", str(paths[0]), workspace=tmp_ws)
    assert "Already stamped" in again.stderr and paths[0].read_bytes() == before
    bad = write_translation(tmp_ws, "es", "option", "conservative-care", spanish, drop=("title",))
    result = run("translations", "stamp", str(bad), workspace=tmp_ws)
    assert result.exit_code == 1 and "fix them" in result.output
    assert "source_sha256" not in bad.read_text(encoding="utf-8")


def test_batch_dry_run_refuses_an_untranslated_language(run, es_ws, tmp_path):
    rows = write_csv(
        tmp_path / "r.csv",
        ["a1,Alex Example,es", "a2,Sam Rivera,", "a3,Kim Lee,fr", "a4,Ana Paz,de"],
        "id,name,language",
    )
    result = run(
        "batch", DOC, str(rows), "-o", str(tmp_path / "out"), "--dry-run", "--allow-draft",
        workspace=es_ws,
    )  # fmt: skip
    assert result.exit_code == 3  # rows a1 and a2 are valid
    lines = [x for x in result.output.splitlines() if ": language: " in x]
    assert len(lines) == 2, result.output
    assert "r.csv:4 (id a3): language: 'fr' is not a language this document" in lines[0]
    assert "(it has: en, " in lines[0] and "fr" not in lines[0].split("it has:")[1]
    assert "r.csv:5 (id a4): language: 'de'" in lines[1]
    assert "nothing rendered" in result.output


def test_batch_gives_each_recipient_their_language(run, es_ws, tmp_path):
    rows = write_csv(
        tmp_path / "r.csv", ["a1,Alex Example,es", "a2,Sam Rivera,"], "id,name,language"
    )
    out = tmp_path / "out"
    result = run("batch", DOC, str(rows), "-o", str(out), "--allow-draft", workspace=es_ws)
    assert result.exit_code == 0, result.output
    es = " ".join(pdf_text(out / "a1.pdf").split())
    en = " ".join(pdf_text(out / "a2.pdf").split())
    assert "Preparado para Alex Example" in es and "Página 1 de" in es
    assert "Prepared for" not in es
    assert "Prepared for Sam Rivera" in en and "Page 1 of" in en and "español" not in en


def test_api_render_language(es_ws):
    import handoutgen

    ws = handoutgen.open_workspace(es_ws)
    html = ws.render(DOC, language="es", format="html", allow_draft=True).decode()
    assert '<html lang="es">' in html
    with pytest.raises(HandoutgenError, match=r"^'fr' \(French\) is not available for "):
        ws.render(DOC, language="FR", format="html")  # any case, as on the command line


def test_web_form_offers_the_documents_languages_and_renders_the_choice(
    run, tmp_ws, tmp_path, monkeypatch
):
    import re

    from fastapi.testclient import TestClient

    from handoutgen.web.app import create_app

    # The form prints for patients: a reviewed translation (a draft is refused).
    es_ws = tmp_ws
    review(run, es_ws, translate_document(es_ws, "es", faithful))

    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))
    client = TestClient(
        create_app(Workspace.at(es_ws), warm=False), base_url="http://127.0.0.1:8765"
    )
    page = client.get(f"/documents/{DOC}")
    assert page.status_code == 200
    select = re.search(r'<select id="language" name="language">(.*?)</select>', page.text, re.S)
    assert select, page.text
    codes = re.findall(r'<option value="(\w+)"', select.group(1))
    assert codes[0] == "en" and "es" in codes
    assert "Español (Spanish)" in select.group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {
        "document": DOC,
        "option": ["conservative-care", "spinal-injections"],
        "patient": "Alex Example",
        "visit_date": "2026-11-20",
        "page_size": "letter",
        "language": "es",
        "csrf_token": token,
    }
    response = client.post("/render", data=form)
    assert response.status_code == 200, response.text[:500]
    text = " ".join(pages_text(response.content))
    assert "Preparado para Alex Example" in text and "Prepared for" not in text
    # A language the document lacks is explained on the form, not rendered in English.
    response = client.post("/render", data={**form, "language": "fr"})
    assert response.status_code == 422
    assert "&#39;fr&#39; (French) is not available for nonsurgical-options" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_check_report_lists_unreviewed_translations(run, es_ws):
    data = json.loads(run("check", DOC, "--report", "--json", workspace=es_ws).stdout)
    items = [i for i in data[DOC] if i["standard"] == "Translations" and "'es'" in i["item"]]
    assert len(items) == 1 and items[0]["status"] == "not met"
    assert "not reviewed by a qualified human translator" in items[0]["evidence"]
    assert "handouts/translations/es/options/conservative-care.yaml" in items[0]["evidence"]


# -- Chinese and Arabic: the machinery for other scripts -----------------------
ARABIC_MAIN = "ألم الظهر شائع"
CHINESE = "治疗背痛的方法有很多种。"


def arabic(loc, english: str) -> str:  # noqa: ANN001
    """Arabic stand-in text with a Latin name inside it (bidi: the name stays LTR)."""
    if dotted(loc) == "main_message":
        return ARABIC_MAIN
    return f"نص عربي عن Medtronic رقم {len(dotted(loc))}."


def chinese(loc, english: str) -> str:  # noqa: ANN001
    return CHINESE * 3 if dotted(loc) == "main_message" else f"中文说明：{dotted(loc)}。"


def test_chinese_render_uses_the_cjk_font_and_no_english_template_strings(run, tmp_ws):
    translate_document(tmp_ws, "zh", chinese)
    out = tmp_ws / "zh.pdf"
    result = run(
        "render", DOC, "--language", "zh", "--allow-draft", "--patient", "Alex Example",
        "--visit-date", "2026-11-20", "-o", str(out), workspace=tmp_ws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    flat = "".join(pdf_text(out).split())
    assert "为AlexExample准备" in flat
    assert "2026年11月20日" in flat  # Babel's Chinese long date
    assert "第1页，共" in flat
    assert CHINESE in flat
    for english in ENGLISH_TEMPLATE_STRINGS:
        assert "".join(english.split()) not in flat, english
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    assert "Noto-Sans-CJK-SC" in fonts  # the Simplified Chinese forms


def test_arabic_render_reads_right_to_left(run, tmp_ws):
    import pdfplumber

    translate_document(tmp_ws, "ar", arabic)
    out = tmp_ws / "ar.pdf"
    result = run(
        "render", DOC, "--language", "ar", "--allow-draft", "--patient", "Alex Example",
        "--visit-date", "2026-11-20", "-o", str(out), workspace=tmp_ws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with pdfplumber.open(out) as pdf:
        page = pdf.pages[0]
        words = page.extract_words(keep_blank_chars=False, use_text_flow=False)
        chars = page.chars
        width = page.width
    # The main message's line: its characters, read from right to left (by x),
    # spell the Arabic text in its logical order.
    arabic_chars = [c for c in chars if "\u0600" <= c["text"] <= "\u06ff"]
    assert arabic_chars
    lines: dict[int, list] = {}
    for c in arabic_chars:
        lines.setdefault(round(c["top"]), []).append(c)
    target = "".join(ARABIC_MAIN.split())
    found = False
    for line in lines.values():
        rtl = "".join(c["text"] for c in sorted(line, key=lambda c: -c["x0"]))
        if target in rtl:
            found = True
            # Right-aligned: the line ends near the right margin, not the left.
            assert max(c["x1"] for c in line) > width * 0.6
    assert found, [
        ("".join(c["text"] for c in sorted(v, key=lambda c: -c["x0"]))) for v in lines.values()
    ][:5]
    # The Latin name inside Arabic text stays left to right.
    assert any(w["text"] == "Medtronic" for w in words)
    # Page numbers in Arabic, in place at the bottom.
    text = pdf_text(out)
    for control in "\u202a\u202b\u202c\u202d\u202e":  # pdftotext's bidi embeddings
        text = text.replace(control, "")
    assert "صفحة" in text and "Page" not in text
    for english in ENGLISH_TEMPLATE_STRINGS:
        assert english not in text, english


@pytest.mark.parametrize(
    ("lang", "text"), [("es", spanish), ("zh", chinese), ("ar", arabic)], ids=["es", "zh", "ar"]
)
def test_each_language_passes_pdf_ua_and_says_its_language(tmp_ws, tmp_path, lang, text):
    import io

    import pikepdf

    from conftest import pdf_ua_problems as _validate
    from handoutgen.engine.pdffacts import struct_elements as _walk
    from handoutgen.pipeline import make_request, render

    translate_document(tmp_ws, lang, text)
    library = load_library(Workspace.at(tmp_ws))
    pdf = render(
        library, make_request(document=DOC, patient="Ana Li", language=lang, allow_draft=True)
    )
    failures, findings = _validate(pdf, tmp_path)
    assert failures == []
    assert findings == []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert str(doc.Root.Lang) == lang
        # The English half of the "not yet reviewed" mark is tagged English.
        langs = {str(e.get("/Lang")) for e in _walk(doc.Root.StructTreeRoot) if "/Lang" in e}
        assert "en" in langs


# -- notices of language assistance (taglines) ---------------------------------
# Test text only: handoutgen ships no tagline text (see taglines.py).
TAGLINES = """\
languages: [es, ar]
taglines:
  - language: ar
    name: العربية
    text: "نص تجريبي للاختبار فقط. {phone}"
    source: test fixture, not a real tagline
  - language: es
    name: Español
    text: "Texto de prueba solamente. Llame al {phone}."
    source: test fixture, not a real tagline
"""
LETTER = "followup-letter"
ADDRESS = ["--patient", "Alex Example"]


def test_letter_prints_the_clinics_taglines_on_their_own_page(run, tmp_ws):
    (tmp_ws / "handouts" / "notices").mkdir()
    (tmp_ws / "handouts" / "notices" / "taglines.yaml").write_text(TAGLINES, encoding="utf-8")
    html = tmp_ws / "l.html"
    # The taglines print the clinic's phone: no letter goes out without a clinic profile.
    refused = run("render", LETTER, *ADDRESS, "--format", "html", "-o", str(html), workspace=tmp_ws)
    assert refused.exit_code == 1
    assert "the 'es' tagline needs the clinic's phone number" in refused.output
    assert not html.exists()
    result = run(
        "render", LETTER, *ADDRESS, "--clinic", "example-clinic", "--format", "html",
        "-o", str(html), workspace=tmp_ws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = html.read_text(encoding="utf-8").split("</style>")[1]
    section = body[body.index('<section class="taglines"') :]
    # In the configured order, each in its language; the phone filled in.
    assert section.index('lang="es"') < section.index('lang="ar"')
    assert "Llame al (555) 010-0100." in section
    assert '<p lang="ar" dir="rtl">' in section
    # A handout (not a letter) has none.
    out = tmp_ws / "h.html"
    run("render", DOC, "--format", "html", "-o", str(out), workspace=tmp_ws)
    assert 'class="taglines"' not in out.read_text(encoding="utf-8").split("</style>")[1]


def test_no_taglines_file_prints_no_taglines(run, tmp_ws):
    html = tmp_ws / "l.html"
    result = run("render", LETTER, *ADDRESS, "--format", "html", "-o", str(html), workspace=tmp_ws)
    assert result.exit_code == 0, result.output
    assert 'class="taglines"' not in html.read_text(encoding="utf-8").split("</style>")[1]


def test_a_listed_language_without_its_tagline_stops_the_letter(run, tmp_ws):
    bad = TAGLINES.replace("languages: [es, ar]", "languages: [es, ar, vi]").replace(
        "    source: test fixture, not a real tagline\n", "", 1
    )
    (tmp_ws / "handouts" / "notices").mkdir()
    (tmp_ws / "handouts" / "notices" / "taglines.yaml").write_text(bad, encoding="utf-8")
    out = run("check", LETTER, workspace=tmp_ws).stdout
    assert (
        "handouts/notices/taglines.yaml:3:5: error: [taglines] taglines.0.source: Field required"
        in out
    )
    result = run("render", LETTER, *ADDRESS, "-o", str(tmp_ws / "l.pdf"), workspace=tmp_ws)
    assert result.exit_code == 1 and "taglines.0.source: Field required" in result.output
    assert not (tmp_ws / "l.pdf").exists()
    # With its source back, the missing 'vi' tagline is what remains.
    (tmp_ws / "handouts" / "notices" / "taglines.yaml").write_text(
        TAGLINES.replace("languages: [es, ar]", "languages: [es, ar, vi]"), encoding="utf-8"
    )
    out = run("check", LETTER, workspace=tmp_ws).stdout
    assert "handouts/notices/taglines.yaml:1:" in out and "no tagline for 'vi'" in out


def test_pictures_with_words_have_a_version_per_language(run, es_ws):
    html = es_ws / "es.html"
    result = run(
        "render", DOC, "--language", "es", "--allow-draft", "--format", "html", "-o", str(html),
        workspace=es_ws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = html.read_text(encoding="utf-8").split("</style>")[1]
    import base64
    import re

    src = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)"', body).group(1)
    svg = base64.b64decode(src).decode("utf-8")
    assert ">Hueso<" in svg and ">Bone<" not in svg
    # Without the Spanish version, check says its words print as they are.
    (es_ws / "assets" / "spine-segment.es.svg").unlink()
    findings = json.loads(run("check", DOC, "--json", workspace=es_ws).stdout)["findings"]
    assert any(
        f["rule"] == "translation-image" and "assets/spine-segment.es.svg" in f["message"]
        for f in findings
    )


def test_a_regional_code_uses_the_base_translation_and_keeps_its_mark(es_ws):
    import handoutgen

    ws = handoutgen.open_workspace(es_ws)
    html = ws.render(DOC, language="es-MX", format="html", allow_draft=True).decode()
    assert '<html lang="es-MX">' in html
    body = html.split("</style>")[1]
    assert '<div class="translation-mark machine"><span>Traducción automática, sin revisar' in body


def test_an_english_translation_folder_is_refused(run, tmp_ws):
    write_translation(tmp_ws, "en", "option", "conservative-care", spanish)
    out = run("check", DOC, workspace=tmp_ws).stdout
    assert "English is the source language" in out
    html = tmp_ws / "en.html"
    run("render", DOC, "--format", "html", "-o", str(html), workspace=tmp_ws)
    assert "Texto en español" not in html.read_text(encoding="utf-8")


# -- plural forms (Babel reads the catalog; its Plural-Forms picks the form) ----
PLURAL_TEMPLATE = (
    '{% extends "default/handout.html" %}\n'
    "{% block before_table %}\n"
    "{% for n in [0, 1, 2, 3, 11, 100] %}"
    '<p class="count">{{ ngettext("%(num)s option", "%(num)s options", n) }}</p>'
    "{% endfor %}\n"
    "{% endblock %}\n"
)
ARABIC_PLURALS = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);\\n"

msgid "%(num)s option"
msgid_plural "%(num)s options"
msgstr[0] "zero %(num)s"
msgstr[1] "one %(num)s"
msgstr[2] "two %(num)s"
msgstr[3] "few %(num)s"
msgstr[4] "many %(num)s"
msgstr[5] "other %(num)s"
"""


def test_a_plural_takes_the_form_the_catalog_rule_picks(run, tmp_ws):
    """Arabic has six plural forms; a number picks one by the catalog's
    Plural-Forms rule, not by "is it 1"."""
    translate_document(tmp_ws, "ar", arabic)
    po = tmp_ws / "locale" / "ar" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(ARABIC_PLURALS, encoding="utf-8")
    (tmp_ws / "templates" / "handout.html").write_text(PLURAL_TEMPLATE, encoding="utf-8")
    checked = run("check", DOC, "--json", workspace=tmp_ws)
    findings = json.loads(checked.stdout)["findings"]
    assert [f["message"] for f in findings if f["rule"] == "template-string"] == []
    html = tmp_ws / "ar.html"
    result = run(
        "render", DOC, "--language", "ar", "--allow-draft", "--format", "html", "-o", str(html),
        workspace=tmp_ws,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    counts = re.findall(r'<p class="count">([^<]*)</p>', html.read_text(encoding="utf-8"))
    assert counts == ["zero 0", "one 1", "two 2", "few 3", "many 11", "other 100"]


def test_an_untranslated_plural_is_a_check_error_and_stops_the_render(run, es_ws):
    (es_ws / "templates" / "handout.html").write_text(PLURAL_TEMPLATE, encoding="utf-8")
    findings = json.loads(run("check", DOC, "--json", workspace=es_ws).stdout)["findings"]
    hits = [f for f in findings if f["rule"] == "template-string" and "'es'" in f["message"]]
    assert [(h["path"], h["line"]) for h in hits] == [("templates/handout.html", 3)]
    assert "plural" in hits[0]["message"]
    result = run(
        "render", DOC, "--language", "es", "--allow-draft", "--format", "html", "-o", "x.html",
        workspace=es_ws,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "'%(num)s option' (plural '%(num)s options') has no 'es' translation" in result.output
    assert not (es_ws / "x.html").exists()
