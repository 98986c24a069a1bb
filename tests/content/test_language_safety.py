"""A translation never says something the English no longer says, a review
never covers text it did not see, and a region never falls back to another script."""

from __future__ import annotations

from conftest import pages_text


def _edit_english(ws, old: str, new: str) -> None:
    path = ws / "handouts" / "options" / "conservative-care.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_stale_translation_is_refused_unless_allowed_as_a_marked_draft(run, tmp_ws_translated):
    ws = tmp_ws_translated
    _edit_english(
        ws, "Low risk, and you stay in control", "Low risk, and you stay fully in control"
    )
    result = run("render", "nonsurgical-options", "--language", "es", "-o", "es.pdf", workspace=ws)
    assert result.exit_code == 1
    assert (
        "handouts/translations/es/options/conservative-care.yaml was made from an older "
        "English option 'conservative-care'" in result.stderr
    )
    assert "--allow-draft" in result.stderr
    assert not (ws / "es.pdf").exists()
    # English is unaffected, and the draft prints with the mark on every page.
    assert run("render", "nonsurgical-options", "-o", "en.pdf", workspace=ws).exit_code == 0
    allowed = run(
        "render",
        "nonsurgical-options",
        "--language",
        "es",
        "--allow-draft",
        "-o",
        "es.pdf",
        workspace=ws,
    )
    assert allowed.exit_code == 0, allowed.stderr
    pages = pages_text((ws / "es.pdf").read_bytes())
    assert all("Machine translation, not reviewed" in page for page in pages)


def test_stamping_after_an_english_change_clears_the_review(run, tmp_ws_translated):
    ws = tmp_ws_translated
    path = ws / "handouts" / "translations" / "es" / "options" / "conservative-care.yaml"
    assert run("translations", "review", str(path), "--by", "Dr. Rev", workspace=ws).exit_code == 0
    # Reviewed and current: stamping changes nothing and keeps the reviewer.
    result = run("translations", "stamp", str(path), workspace=ws)
    assert result.exit_code == 0 and "Already stamped" in result.stderr
    _edit_english(
        ws, "Low risk, and you stay in control", "Low risk, and you stay fully in control"
    )
    result = run("translations", "stamp", str(path), workspace=ws)
    assert result.exit_code == 0
    assert "the English changed since Dr. Rev reviewed it; reviewer cleared" in result.stderr
    assert "  reviewer: null\n" in path.read_text(encoding="utf-8")
    out = run(
        "render",
        "nonsurgical-options",
        "--language",
        "es",
        "--allow-draft",
        "-o",
        "es.pdf",
        workspace=ws,
    )
    assert out.exit_code == 0, out.stderr
    assert "Machine translation, not reviewed" in pages_text((ws / "es.pdf").read_bytes())[0]


def test_traditional_chinese_never_gets_simplified(run, tmp_ws_translated):
    result = run(
        "render",
        "nonsurgical-options",
        "--language",
        "zh-TW",
        "-o",
        "tw.pdf",
        workspace=tmp_ws_translated,
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: 'zh-TW' is written in Traditional Chinese")
    assert not (tmp_ws_translated / "tw.pdf").exists()
