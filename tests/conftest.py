from __future__ import annotations

import io
import logging
import re
import shutil
from pathlib import Path

import pypdf
import pytest
from click.testing import CliRunner

# The session's FHIR server (tests/ehr, tests/mailing), started when first used.
from fhirserver import fhir_server  # noqa: F401
from handoutgen.cli import cli
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


# The day the suite lives on: content review dates are measured against it, so
# the suite (and what it renders) gives the same answers on any real date.
TODAY = "2026-11-22"


def pytest_configure(config):
    """Before any fixture, even module- and session-scoped ones: a private cache
    folder for the whole session (never the user's), and a fixed today."""
    import os
    import tempfile

    config._handoutgen_tmp = tempfile.mkdtemp(prefix="handoutgen-tests-")
    os.environ["HANDOUTGEN_CACHE_DIR"] = str(Path(config._handoutgen_tmp) / "cache")
    os.environ["HANDOUTGEN_TODAY"] = TODAY
    # CLI renders write audit rows: never into the checkout's .handoutgen/.
    os.environ["HANDOUTGEN_PRIVATE_DIR"] = str(Path(config._handoutgen_tmp) / "private")


def pytest_unconfigure(config):
    tmp = getattr(config, "_handoutgen_tmp", None)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_memory():
    """No test sees what another kept in memory (check results, editions...)."""
    from handoutgen import reset_caches

    reset_caches()


@pytest.fixture(scope="session")
def library():
    return load_library(Workspace.at(ROOT))


@pytest.fixture
def tmp_ws(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the shipped English workspace that a test may break; the test
    runs inside it. The shipped translations are left out: a test that edits the
    English would otherwise also (rightly) make every translation of it stale.
    Tests of the languages use ``tmp_ws_translated``."""
    copy_workspace(tmp_path, translations=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def copy_workspace(dest: Path, *, translations: bool) -> Path:
    """The shipped content (with or without its translations) in ``dest``, as
    a clinic's workspace: empty override folders (this checkout's top-level
    templates/ and styles/ are the packaged defaults themselves)."""
    ignore = None if translations else _top_translations
    shutil.copytree(ROOT / "handouts", dest / "handouts", ignore=ignore)
    shutil.copytree(ROOT / "assets", dest / "assets")
    for name in ("templates", "styles"):
        (dest / name).mkdir()
    return dest


def _top_translations(folder: str, names: list[str]) -> list[str]:
    return ["translations"] if Path(folder) == ROOT / "handouts" else []


@pytest.fixture
def tmp_ws_translated(tmp_ws: Path) -> Path:
    """``tmp_ws`` with the shipped translations too."""
    shutil.copytree(ROOT / "handouts" / "translations", tmp_ws / "handouts" / "translations")
    return tmp_ws


@pytest.fixture
def run():
    """Run the CLI in-process; stdout and stderr kept apart."""

    def _run(*args: str, workspace: Path = ROOT):
        runner = CliRunner()
        return runner.invoke(cli, ["--workspace", str(workspace), *args], catch_exceptions=False)

    return _run


def write_csv(path: Path, rows: list[str], header: str) -> Path:
    """A recipient list as a spreadsheet exports it: a header line, then the rows."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def read_manifest(out_dir: Path) -> list[dict[str, str]]:
    import csv

    with open(out_dir / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text with whitespace folded; a word wrapped after its hyphen
    ("non-" / "surgical") is joined again."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    return [re.sub(r"(\w)- (\w)", r"\1-\2", p) for p in pages]


def pdf_ua_problems(pdf: bytes, tmp_path: Path) -> tuple[list[str], list[str]]:
    """(page-validation failures, pdfua errors and warnings)."""
    import page
    from pdfua.model import Severity
    from pdfua.validator import Validator

    report = page.validate_pdf_bytes(pdf, profile="ua1")
    failures = [f"{f.rule_id}: {f.message}" for f in report.failures]
    assert report.is_compliant == (not failures)
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    outcomes = Validator().validate(str(path)).outcomes
    findings = [
        f"{f.rule_id} {f.severity.name}: {f.message}"
        for o in outcomes
        for f in o.findings
        if f.severity in (Severity.ERROR, Severity.WARNING)
    ]
    return failures, findings


# Every test fails on any warning WeasyPrint or handoutgen logs, unless it is
# marked @pytest.mark.logs_expected (WeasyPrint's own pattern): a new warning
# in a render is a finding, not noise.
@pytest.fixture(autouse=True)
def _no_unexpected_logs(request):
    if request.node.get_closest_marker("logs_expected") or "assert_no_logs" in request.fixturenames:
        yield
        return
    request.getfixturevalue("assert_no_logs")
    yield


@pytest.fixture
def assert_no_logs(caplog):
    """Fail the test if WeasyPrint or handoutgen warned (like WeasyPrint's own tests)."""
    caplog.set_level(logging.WARNING)
    for name in ("weasyprint", "handoutgen"):
        logging.getLogger(name).propagate = True
    yield
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.split(".")[0] in ("weasyprint", "handoutgen")
    ]
    assert warnings == []
