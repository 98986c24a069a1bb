"""The command line itself: help, README coverage, start-up, JSON listing, doctor."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from conftest import ROOT
from handoutgen.cli import cli

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_and_is_in_the_readme(name, run):
    command = cli.commands[name]
    assert command.help and len(command.help) > 20
    result = run(name, "--help")
    assert result.exit_code == 0
    assert command.help.splitlines()[0] in result.output
    readme = (ROOT / "README.md").read_text()
    assert f"handoutgen {name}" in readme


def test_every_option_has_help():
    for command in [cli, *cli.commands.values()]:
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{command.name} {param.opts} has no help"


def test_help_does_not_import_weasyprint():
    code = (
        "import sys\n"
        "from handoutgen.cli import main\n"
        "sys.argv = ['handoutgen', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'weasyprint' not in sys.modules, 'weasyprint imported by --help'\n"
        "assert 'pydantic' not in sys.modules, 'pydantic imported by --help'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.startswith("handoutgen, version ")


def test_list_json(run):
    result = run("list", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"documents", "options"}
    fusion = dict(next(d for d in data["documents"] if d["id"] == "fusion-alternatives"))
    approval = fusion.pop("approval")
    offers = fusion.pop("offers")
    assert fusion == {
        "id": "fusion-alternatives",
        "title": "Spinal fusion and other choices for back pain",
        "kind": "handout",
        "languages": ["en", "es"],
    }
    assert approval["state"] == "pending" and approval["by"] is None
    assert offers[:4] == [
        "fusion",
        "decompression",
        "lumbar-disc-replacement",
        "conservative-care",
    ]
    assert all(
        set(d) == {"id", "title", "kind", "languages", "offers", "approval"}
        for d in data["documents"]
    )
    assert all(set(o) == {"id", "title"} for o in data["options"])
    assert len(data["options"]) == 14


def test_list_text(run):
    result = run("list")
    assert result.exit_code == 0
    assert "fusion-alternatives" in result.stdout
    assert "Spinal cord stimulation" in result.stdout


def test_doctor_reports_subsetting(run):
    result = run("doctor")
    assert result.exit_code == 0, result.output
    assert "HarfBuzz subsetting" in result.output
    assert "Font: Atkinson Hyperlegible" in result.output
    assert "Fallback fonts:" in result.output


def test_unexpected_errors_have_no_traceback_unless_debug(run, monkeypatch):
    from handoutgen.store import librarycache

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(librarycache, "load", boom)
    result = run("validate")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: unexpected RuntimeError: disk on fire (run with --debug for the traceback)\n"
    )
    with pytest.raises(RuntimeError):
        run("--debug", "validate")


def test_installed_entry_point_runs(tmp_path):
    exe = ROOT / ".venv" / "bin" / "handoutgen"
    if not exe.exists():
        exe = "handoutgen"
    result = subprocess.run(
        [
            str(exe),
            "--workspace",
            str(ROOT),
            "-q",
            "render",
            "nonsurgical-options",
            "-o",
            str(tmp_path / "x.pdf"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (tmp_path / "x.pdf").read_bytes().startswith(b"%PDF-")


# -- errors in plain words (issue 24) ---------------------------------------------------

DOC = "fusion-alternatives"
USAGE = "Usage: cli render [OPTIONS] DOCUMENT\nTry 'cli render --help' for help.\n\n"


def test_a_date_in_another_form_is_a_usage_error_naming_the_form(run, tmp_path):
    result = run("render", DOC, "--visit-date", "11/20/2026", "-o", str(tmp_path / "x.pdf"))
    assert result.exit_code == 2
    assert result.stderr == USAGE + (
        "Error: Invalid value for '--visit-date': '11/20/2026' does not match the format "
        "'%Y-%m-%d'.\n"
    )
    assert not (tmp_path / "x.pdf").exists()
    result = run("batch", "followup-letter", "r.csv", "-o", "out", "--letter-date", "22.11.2026")
    assert result.exit_code == 2
    assert "Invalid value for '--letter-date': '22.11.2026' does not match" in result.stderr


def test_the_visit_date_reaches_the_page_as_a_date(run, tmp_path):
    out = tmp_path / "x.html"
    result = run("render", DOC, "--visit-date", "2026-11-20", "--format", "html", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "November 20, 2026" in out.read_text(encoding="utf-8")


def test_fixed_choices_take_any_case_and_a_bad_one_lists_them(run, tmp_path):
    out = tmp_path / "x.html"
    result = run(
        "render", DOC, "--page-size", "A4", "--format", "HTML", "--pdf-variant", "PDF/UA-1",
        "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = run("render", DOC, "--format", "docx")
    assert result.exit_code == 2
    assert result.stderr == USAGE + (
        "Error: Invalid value for '--format': 'docx' is not one of 'pdf', 'html', 'png'.\n"
    )


def test_a_language_code_in_any_case_is_its_canonical_code(run, tmp_path):
    out = tmp_path / "es.html"
    result = run(
        "render", DOC, "--language", "ES", "--allow-draft", "--format", "html", "-o", str(out)
    )
    assert result.exit_code == 0, result.stderr
    assert '<html lang="es"' in out.read_text(encoding="utf-8")


def test_a_language_the_document_lacks_is_one_line_naming_those_it_has(run, tmp_path):
    result = run("render", DOC, "--language", "fr", "-o", str(tmp_path / "fr.pdf"))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 'fr' (French) is not available for fusion-alternatives; "
        "it is available in English (en), Spanish (es)\n"
    )
    assert not (tmp_path / "fr.pdf").exists()


def test_a_malformed_language_code_is_a_usage_error(run):
    result = run("render", DOC, "--language", "english")
    assert result.exit_code == 2
    assert result.stderr == USAGE + (
        "Error: Invalid value for '--language': 'english' is not a language code; use two "
        "letters like 'en' or 'es', with a region if needed, like 'es-MX'\n"
    )


def test_verbosity_flags_work_after_the_command_too(run):
    import logging

    logger = logging.getLogger("handoutgen")
    result = run("validate", "-v")
    assert result.exit_code == 0 and logger.level == logging.INFO
    result = run("-v", "validate", "-v")  # they add up
    assert result.exit_code == 0 and logger.level == logging.DEBUG
    result = run("validate")
    assert result.exit_code == 0 and logger.level == logging.WARNING
    assert result.stderr.startswith("OK: ")
    result = run("validate", "-q")
    assert result.exit_code == 0 and logger.level == logging.ERROR
    assert result.stderr == ""
    result = run("cache", "info", "-q")  # a subgroup's commands too
    assert result.exit_code == 0 and logger.level == logging.ERROR


def test_an_output_in_a_missing_folder_is_refused_and_nothing_is_made(run, tmp_ws):
    target = tmp_ws / "typo" / "sub" / "x.pdf"
    result = run("render", DOC, "-o", str(target), workspace=tmp_ws)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: -o {target}: the folder {target.parent} does not exist; "
        "create it first, or pick another\n"
    )
    assert not (tmp_ws / "typo").exists()
    # The default output/ folder is still made for you.
    result = run("render", DOC, workspace=tmp_ws)
    assert result.exit_code == 0, result.stderr
    assert (tmp_ws / "output" / f"{DOC}.pdf").is_file()


def test_preview_makes_its_folder_but_not_a_missing_one_above_it(run, tmp_ws):
    out = tmp_ws / "typo" / "out"
    result = run("preview", DOC, "-o", str(out), workspace=tmp_ws)
    assert result.exit_code == 1
    assert f"Error: -o {out}: the folder {out.parent} does not exist" in result.stderr
    assert not (tmp_ws / "typo").exists()
