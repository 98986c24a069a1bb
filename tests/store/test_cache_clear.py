"""`cache clear` deletes only cache (issue 25): pointed at a folder with other
files, or at the private settings folder, it never removes anything else, and
neither variable ever changes an existing folder's mode."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from conftest import ROOT
from handoutgen.content.workspace import Workspace
from handoutgen.core.errors import HandoutgenError
from handoutgen.editions import vdp
from handoutgen.pipeline import make_request
from handoutgen.store import private
from handoutgen.web import auth

REQUEST = dict(document="fusion-alternatives", patient="Pat Doe", note="Rest.")


def _mode(path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _cli(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "handoutgen.cli", "--workspace", str(ROOT), *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_clear_removes_its_entries_and_leaves_other_files(tmp_path, library, monkeypatch):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    (folder / "thesis.txt").write_text("years of work")
    (folder / "photos").mkdir()
    (folder / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    (folder / "empty-folder").mkdir()
    (folder / "editions").mkdir()
    (folder / "editions" / "notes.md").write_text("mine")
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(folder))
    vdp.clear_caches()
    assert vdp.render_many(library, [make_request(**REQUEST)])[0].mode == "edition"
    entries = list(folder.rglob("*.entry"))
    # The edition and its index at least (and the content's kept values: the
    # stylesheet, the approval state, compiled templates not yet in memory).
    assert {e.relative_to(folder).parts[0] for e in entries} >= {"editions"}
    assert len(entries) >= 2 and (folder / "secret.key").exists()
    result = _cli("cache", "clear", env={"HANDOUTGEN_CACHE_DIR": str(folder)})
    vdp.clear_caches()
    assert result.returncode == 0, result.stderr
    assert f"Removed {len(entries)} cache entries." in result.stdout
    assert "Left 3 files" in result.stderr
    assert not list(folder.rglob("*.entry")) and not (folder / "secret.key").exists()
    assert not (folder / "locks").exists()
    assert (folder / "thesis.txt").read_text() == "years of work"
    assert (folder / "photos" / "cat.jpg").exists() and (folder / "empty-folder").is_dir()
    assert (folder / "editions" / "notes.md").read_text() == "mine"


def test_clear_refuses_the_private_folder_and_keeps_the_users(tmp_path):
    shared = tmp_path / "same"
    env = {"HANDOUTGEN_PRIVATE_DIR": str(shared), "HANDOUTGEN_CACHE_DIR": str(shared)}
    shared.mkdir(mode=0o700)
    shared.chmod(0o700)
    (shared / "settings.json").write_text('{"users": {"alice": {"hash": "x"}}}')
    (shared / "audit.sqlite3").write_bytes(b"SQLite format 3\0")
    for cache_dir in (shared, shared / "cache"):  # the same folder, or one inside it
        result = _cli("cache", "clear", env={**env, "HANDOUTGEN_CACHE_DIR": str(cache_dir)})
        assert result.returncode == 1
        assert "it is the private settings folder (HANDOUTGEN_PRIVATE_DIR)" in result.stderr
        assert (shared / "settings.json").exists() and (shared / "audit.sqlite3").exists()


def test_clear_refuses_the_workspaces_own_private_folder(tmp_ws, run, monkeypatch):
    monkeypatch.delenv("HANDOUTGEN_PRIVATE_DIR", raising=False)
    ws = Workspace.at(tmp_ws)
    private.update(ws, lambda data: data.update(session_key="k" * 40))
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_ws / ".handoutgen"))
    result = run("cache", "clear", workspace=tmp_ws)
    assert result.exit_code == 1 and "private settings folder" in result.stderr
    assert private.load(ws)["session_key"] == "k" * 40


def test_the_private_folder_is_refused_where_the_cache_is(tmp_ws, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_ws / "both"))
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_ws / "both"))
    with pytest.raises(HandoutgenError, match="is the cache folder"):
        auth.add_user(Workspace.at(tmp_ws), "alice", "correct horse battery")
    assert not (tmp_ws / "both" / "settings.json").exists()


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o711])
def test_a_shared_private_folder_is_refused_not_chmodded(tmp_ws, monkeypatch, mode):
    shared = tmp_ws / "shared"
    shared.mkdir()
    shared.chmod(mode)
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(shared))
    with pytest.raises(HandoutgenError, match=r"may be read by others.*chmod 700"):
        auth.add_user(Workspace.at(tmp_ws), "alice", "correct horse battery")
    assert _mode(shared) == mode and list(shared.iterdir()) == []


def test_a_new_private_folder_is_made_0700(tmp_ws, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_ws / "new" / "private"))
    auth.add_user(Workspace.at(tmp_ws), "alice", "correct horse battery")
    assert _mode(tmp_ws / "new" / "private") == 0o700


@pytest.mark.logs_expected
def test_a_shared_cache_folder_is_refused_not_chmodded(tmp_path, library, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(shared))
    vdp.clear_caches()
    outcome = vdp.render_many(library, [make_request(**REQUEST)])[0]
    assert outcome.pdf.startswith(b"%PDF")
    assert _mode(shared) == 0o755 and list(shared.iterdir()) == []
    vdp.clear_caches()
