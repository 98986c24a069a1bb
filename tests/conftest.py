from __future__ import annotations

import io
import logging
import re
import shutil
from pathlib import Path

import pypdf
import pytest
from click.testing import CliRunner

from handoutgen.cli import cli
from handoutgen.content import load_library
from handoutgen.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Tests never touch the user's cache folder."""
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    from handoutgen import checks

    checks._CACHE.clear()


@pytest.fixture(scope="session")
def library():
    return load_library(Workspace.at(ROOT))


@pytest.fixture
def tmp_ws(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the shipped workspace that a test may break; the test runs inside it."""
    for name in ("handouts", "templates", "styles", "assets"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp_path / name)
    # Empty folders are not in git: a fresh clone has no templates/ or styles/.
    for name in ("templates", "styles"):
        (tmp_path / name).mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


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


@pytest.fixture
def assert_no_logs(caplog):
    """Fail the test if WeasyPrint or handoutgen warned (like WeasyPrint's own tests)."""
    caplog.set_level(logging.WARNING)
    for name in ("weasyprint", "handoutgen"):
        logging.getLogger(name).propagate = True
    yield
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
