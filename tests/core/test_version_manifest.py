"""One version, read from the package metadata; cache keys that follow the
code; one list of content files behind the hash, serve's reload and the watch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version as dist_version
from pathlib import Path

from fastapi.testclient import TestClient

import handoutgen
from conftest import ROOT
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.core.version import code_fingerprint
from handoutgen.store import cache
from handoutgen.web.app import create_app

PACKAGE = ROOT / "src" / "handoutgen"


def test_the_version_is_the_installed_metadata_and_the_projects(run):
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert handoutgen.__version__ == dist_version("handoutgen") == declared
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"handoutgen, version {declared}"


def test_no_module_reads_the_version_back_from_the_package_root():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"from \.+ import .*__version__", text), path


def _fingerprint_of(package: Path) -> str:
    code = (
        "import importlib.util, sys;"
        f"spec = importlib.util.spec_from_file_location('v', {str(package / 'core' / 'version.py')!r});"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
        "print(m.code_fingerprint())"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_any_change_to_the_code_changes_its_fingerprint(tmp_path):
    copy = tmp_path / "handoutgen"
    shutil.copytree(PACKAGE, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    assert _fingerprint_of(copy) == code_fingerprint()
    fit = copy / "quality" / "fit.py"
    fit.write_text(fit.read_text() + "\n# a one-line change\n")
    assert _fingerprint_of(copy) != code_fingerprint()


def test_a_cached_result_of_other_code_is_never_served(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    cache.put("checks", "some content", ["a finding"])
    assert cache.get("checks", "some content") == ["a finding"]
    # The same content and key, measured by different code.
    monkeypatch.setattr(cache, "code_key", lambda: "handoutgen 9.9 0123456789abcdef")
    assert cache.get("checks", "some content") is None


def _catalog(ws: Path) -> Path:
    po = ws / "locale" / "es" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    shutil.copy(PACKAGE / "locale" / "es" / "LC_MESSAGES" / "messages.po", po)
    return po


def test_the_content_manifest_lists_every_folder_a_page_depends_on(tmp_ws):
    ws = Workspace.at(tmp_ws)
    _catalog(tmp_ws)
    folders = ws.content_folders()
    for folder in (
        tmp_ws / "handouts",
        tmp_ws / "templates",
        tmp_ws / "styles",
        tmp_ws / "assets",
        tmp_ws / "locale",
        PACKAGE / "templates",
        PACKAGE / "styles",
        PACKAGE / "locale",
    ):
        assert folder in folders, folder
    files = ws.content_files()
    assert tmp_ws / "handouts" / "options" / "fusion.yaml" in files
    assert not any("__pycache__" in p.parts for p in files)


def test_a_workspace_catalog_edit_reaches_the_hash_serve_and_the_api(tmp_ws, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_ws.parent / "private"))
    po = _catalog(tmp_ws)
    hash_before = load_library(Workspace.at(tmp_ws)).content_hash
    client = TestClient(
        create_app(Workspace.at(tmp_ws), warm=False), base_url="http://127.0.0.1:8765"
    )
    before = client.get("/api/version").json()["version"]
    api = handoutgen.open_workspace(tmp_ws)
    api_before = api.library.content_hash

    po.write_text(po.read_text(encoding="utf-8") + '\nmsgid "Nothing"\nmsgstr "Nada"\n')
    assert load_library(Workspace.at(tmp_ws)).content_hash != hash_before
    assert client.get("/api/version").json()["version"] != before  # serve reloads
    assert api.library.content_hash != api_before
