"""`handoutgen validate`: every problem at once, located as path:line:column."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT

OPTION_IDS = {
    "fusion",
    "decompression",
    "cervical-disc-replacement",
    "lumbar-disc-replacement",
    "total-joint-replacement",
    "nucleus-replacement",
    "dynamic-stabilization",
    "conservative-care",
    "spinal-injections",
    "radiofrequency-ablation",
    "spinal-cord-stimulation",
    "fibrin-injection",
    "regenerative-injections",
    "cervical-fusion",
}


def test_shipped_content_is_valid(run):
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.stderr == "OK: 8 documents and 14 options are valid.\n"


def test_shipped_options_are_exactly_the_thirteen(library):
    assert set(library.options) == OPTION_IDS
    assert {"fusion-alternatives", "nonsurgical-options"} <= set(library.documents)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_every_problem_is_reported_in_one_run(run, tmp_ws: Path):
    opts = tmp_ws / "handouts" / "options"
    doc = tmp_ws / "handouts" / "fusion-alternatives.yaml"
    # 1. A typo in a key.
    _edit(opts / "fusion.yaml", "\nsummary:", "\nsumary:")
    # 2. A wrong type.
    _edit(opts / "decompression.yaml", "reviewed: 2026-11-22", "reviewed: last week")
    # 3. A bare Yes that YAML reads as a boolean.
    _edit(opts / "conservative-care.yaml", 'motion: "Yes"', "motion: Yes")
    # 4. An unknown option id in a document.
    _edit(doc, "  - decompression\n", "  - decompresion\n")
    # 5. A template that does not exist.
    _edit(doc, "template: handout.html", "template: nowhere.html")
    # 6. A document without a disclaimer.
    nonsurg = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    text = nonsurg.read_text()
    start = text.index("disclaimers:")
    end = text.index("producer:")
    nonsurg.write_text(text[:start] + text[end:])
    # 7. A YAML syntax error.
    (opts / "spinal-injections.yaml").write_text("id: spinal-injections\ntitle: [unclosed\n")
    # 8. A duplicate option id in another file.
    (opts / "fusion-copy.yaml").write_text((opts / "radiofrequency-ablation.yaml").read_text())

    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    err = result.stderr
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].endswith("problems found.")
    assert all(line.startswith("Error: handouts/") or "problems found" in line for line in lines)

    line = _line_of(opts / "fusion.yaml", "sumary:")
    assert (
        f"handouts/options/fusion.yaml:{line}:1: unknown key 'sumary'; did you mean 'summary'?"
        in err
    )
    assert "handouts/options/fusion.yaml:1:1: missing required key 'summary'" in err
    line = _line_of(opts / "decompression.yaml", "reviewed:")
    assert (
        f"handouts/options/decompression.yaml:{line}:11: reviewed: Input should be a valid date"
        in err
    )
    line = _line_of(opts / "conservative-care.yaml", "motion: Yes")
    assert (
        f"handouts/options/conservative-care.yaml:{line}:11: facts.motion: expected text, but YAML "
        "read a bare yes/no as true/false" in err
    )
    line = _line_of(doc, "decompresion")
    assert (
        f"handouts/fusion-alternatives.yaml:{line}:5: unknown option 'decompresion'; "
        "did you mean 'decompression'?" in err
    )
    line = _line_of(doc, "template:")
    assert (
        f"handouts/fusion-alternatives.yaml:{line}:11: template 'nowhere.html' not found; looked in templates"
        in err
    )
    assert "handouts/nonsurgical-options.yaml:2:1: document has no disclaimer" in err
    # Reported where the bracket opens, not at the end of the file.
    assert (
        "handouts/options/spinal-injections.yaml:2:8: YAML syntax error: a bracket opened "
        "here is never closed" in err
    )
    assert "duplicate option id 'radiofrequency-ablation'" in err
    assert "id 'radiofrequency-ablation' does not match the file name fusion-copy.yaml" in err


def test_duplicate_keys_are_reported(run, tmp_ws: Path):
    path = tmp_ws / "handouts" / "options" / "fusion.yaml"
    path.write_text(path.read_text() + "title: Fusion again\n")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    n = len(path.read_text().splitlines())
    assert f"fusion.yaml:{n}:1: duplicate key 'title' (first on line 2)" in result.stderr


def test_a_retired_key_names_its_line_and_what_to_do(run, tmp_ws: Path):
    """Option pages were retired (issue 24): a workspace that still asks for
    them is told so at that line, not "unknown key", and renders nothing."""
    path = tmp_ws / "handouts" / "followup-letter.yaml"
    _edit(path, "values_exercise: false\n", "values_exercise: false\noption_pages: true\n")
    line = _line_of(path, "option_pages:")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: handouts/followup-letter.yaml:{line}:1: 'option_pages' was retired (options "
        "always print in the document's one flow now); remove this line",
        "1 problem found.",
    ]
    result = run("render", "followup-letter", "-o", str(tmp_ws / "l.pdf"), workspace=tmp_ws)
    assert result.exit_code == 1
    assert "'option_pages' was retired" in result.stderr
    assert not (tmp_ws / "l.pdf").exists()


def test_missing_answer_for_a_comparison_row(run, tmp_ws: Path):
    path = tmp_ws / "handouts" / "options" / "fusion.yaml"
    _edit(
        path,
        "  cost: Some insurers refuse it unless it corrects a deformity; ask your insurer\n",
        "",
    )
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "option 'fusion' has no answer for 'cost'" in result.stderr


def test_not_a_workspace(run, tmp_path: Path):
    result = run("validate", workspace=tmp_path)
    assert result.exit_code == 1
    assert "Error: no handouts/ folder in" in result.stderr
    assert "pass --workspace DIR" in result.stderr


def test_translations_fit_the_model(run, tmp_ws: Path):
    path = tmp_ws / "handouts" / "options" / "fusion.yaml"
    _edit(
        path,
        "title: Spinal fusion\n",
        "title:\n  en: Spinal fusion\n  es: Fusión espinal\n",
    )
    assert run("validate", workspace=tmp_ws).exit_code == 0
    _edit(path, "  en: Spinal fusion\n", "")
    result = run("validate", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "title: an 'en' text is required beside translations" in result.stderr


def test_package_root_is_the_repo():
    assert (ROOT / "handouts" / "options").is_dir()
