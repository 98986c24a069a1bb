"""The public API is typed: keyword arguments are checked by a type checker,
and the types it takes and returns are importable from the package root."""

from __future__ import annotations

import subprocess
import sys

import handoutgen
from conftest import ROOT


def test_the_types_the_api_uses_are_exported_from_the_root():
    from handoutgen.content.models import RenderRequest
    from handoutgen.mailing.batch import BatchReport, BatchSettings
    from handoutgen.quality.checks import Finding

    assert handoutgen.BatchReport is BatchReport
    assert handoutgen.BatchSettings is BatchSettings
    assert handoutgen.Finding is Finding
    assert handoutgen.RenderRequest is RenderRequest
    for name in handoutgen.__all__:
        assert getattr(handoutgen, name) is not None, name
    assert (ROOT / "src" / "handoutgen" / "py.typed").is_file()


def test_importing_the_package_loads_no_models_or_weasyprint():
    code = "import sys, handoutgen; print(sorted(m for m in sys.modules if m.split('.')[0] in ('weasyprint', 'pydantic', 'pikepdf')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_misspelled_or_mistyped_keyword_is_a_type_error(tmp_path):
    script = tmp_path / "use_api.py"
    script.write_text(
        "import handoutgen\n"
        "ws = handoutgen.open_workspace('.')\n"
        "ok: bytes = ws.render('fusion-alternatives', patient='A', options=['fusion'], page_size='a4')\n"
        "ws.render('fusion-alternatives', pateint='A')\n"
        "ws.render('fusion-alternatives', page_size='A5')\n"
        "report: handoutgen.BatchReport = ws.batch('followup-letter', 'r.csv', 'out', dry_run=True)\n"
        "ws.batch('followup-letter', 'r.csv', 'out', workres=2)\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--config-file",
            "/dev/null",
            "--ignore-missing-imports",
            str(script),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["4", "5", "7"], out.stdout
    assert '"pateint"' in errors[0] and '"workres"' in errors[2]
