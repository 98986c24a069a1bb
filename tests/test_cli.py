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
    assert {
        "id": "fusion-alternatives",
        "title": "Spinal fusion and other choices for back pain",
        "kind": "handout",
        "languages": ["en", "es"],
    } in data["documents"]
    assert all(set(d) == {"id", "title", "kind", "languages"} for d in data["documents"])
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
    import handoutgen.content as content

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(content, "load_library", boom)
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
