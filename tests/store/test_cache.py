"""The cache on a shared machine: private, authenticated, bounded. A poisoned
edition, a planted symlink or a folder others can write never reaches a PDF."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import stat
import subprocess

import pikepdf
import pytest

from handoutgen.editions import vdp
from handoutgen.engine.readback import page_words
from handoutgen.pipeline import make_request, render_pdf, warm_edition
from handoutgen.store import cache

REQUEST = dict(document="fusion-alternatives", patient="Pat Doe", note="Rest.")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(folder))
    vdp.clear_caches()
    cache._warned.clear()
    yield folder
    vdp.clear_caches()


def _mode(path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_folders_are_0700_and_files_0600(library, fresh_cache):
    outcome = vdp.render_many(library, [make_request(**REQUEST)])[0]
    assert outcome.mode == "edition"
    paths = [fresh_cache, *fresh_cache.rglob("*")]
    assert any(p.suffix == ".entry" for p in paths) and (fresh_cache / "secret.key").exists()
    for path in paths:
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), path


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_a_folder_others_may_write_is_refused(library, fresh_cache, caplog, mode):
    fresh_cache.mkdir()
    fresh_cache.chmod(mode)
    caplog.set_level(logging.WARNING, logger="handoutgen")
    outcome = vdp.render_many(library, [make_request(**REQUEST)])[0]
    assert outcome.pdf.startswith(b"%PDF")  # still rendered, only without a cache
    assert "the group or others may write to it" in caplog.text
    assert list(fresh_cache.iterdir()) == []
    assert "refused" in cache.info()["status"]


# chown to another user needs root; CI and set-up run as root, so it runs there.
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_a_folder_of_another_user_is_refused(library, fresh_cache, caplog):
    fresh_cache.mkdir(mode=0o700)
    os.chown(fresh_cache, 65534, 65534)  # nobody
    caplog.set_level(logging.WARNING, logger="handoutgen")
    vdp.render_many(library, [make_request(**REQUEST)])
    assert "it belongs to another user" in caplog.text
    assert list(fresh_cache.iterdir()) == []


@pytest.mark.logs_expected
def test_a_readable_folder_is_refused_and_never_chmodded(fresh_cache):
    """It may be a shared folder someone pointed the variable at (issue 25)."""
    fresh_cache.mkdir()
    fresh_cache.chmod(0o755)
    assert cache.open_cache() is None
    assert _mode(fresh_cache) == 0o755
    assert "may read it; run `chmod 700`" in cache.info()["status"]


def _poison(pdf: bytes) -> bytes:
    """What an attacker adds: visible text and a JavaScript action on opening."""
    doc = pikepdf.open(io.BytesIO(pdf))
    page = doc.pages[0]
    font = doc.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont="/Helvetica"
        )
    )
    page.obj.Resources.Font = pikepdf.Dictionary(PoisonF=font)
    page.contents_add(doc.make_stream(b"BT /PoisonF 24 Tf 72 72 Td (POISONED EDITION) Tj ET"))
    doc.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.alert('pwned')")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_a_poisoned_edition_is_detected_reported_and_rebuilt(library, fresh_cache, caplog):
    request = make_request(**REQUEST)
    good = vdp.render_many(library, [request])[0]
    key = vdp.split(library, request).key
    entry = cache.open_cache().path("editions", key)
    raw = entry.read_bytes()
    head = len(cache.MAGIC) + cache.MAC_SIZE
    meta_line, _, pdf = raw[head:].partition(b"\n")
    evil_pdf = _poison(pdf)
    meta = json.loads(meta_line)
    meta["sha256"] = __import__("hashlib").sha256(evil_pdf).hexdigest()  # "updating its checksum"
    entry.write_bytes(raw[:head] + json.dumps(meta).encode() + b"\n" + evil_pdf)
    vdp.clear_caches()

    caplog.set_level(logging.WARNING, logger="handoutgen")
    again = vdp.render_many(library, [request])[0]
    assert f"editions entry {key[:12]} in the cache failed its integrity check" in caplog.text
    assert again.mode == "edition" and again.pdf == good.pdf
    assert b"POISONED" not in again.pdf and b"JavaScript" not in again.pdf
    assert b"POISONED" not in entry.read_bytes()  # rebuilt in place


def test_an_entry_signed_with_another_key_is_refused(fresh_cache):
    store = cache.open_cache()
    store.put("checks", "k", b"[]")
    other = cache.Cache(store.root, b"\0" * cache.MAC_SIZE)
    other.put("checks", "k", b'[{"forged": true}]')  # valid format, wrong key
    assert store.get("checks", "k") is None


def test_an_entry_moved_to_another_key_is_refused(fresh_cache):
    store = cache.open_cache()
    store.put("checks", "a", b"value of a")
    store.path("checks", "b").parent.mkdir(parents=True, exist_ok=True)
    store.path("checks", "b").write_bytes(store.path("checks", "a").read_bytes())
    assert store.get("checks", "b") is None
    assert store.get("checks", "a") == b"value of a"


def test_a_symlinked_lock_never_touches_its_target(library, fresh_cache, tmp_path, caplog):
    request = make_request(**REQUEST)
    key = vdp.split(library, request).key
    store = cache.open_cache()
    target = tmp_path / "precious.txt"
    target.write_text("do not truncate me\n")
    lock = store.root / "locks" / (store._name("editions", key) + ".lock")
    lock.parent.mkdir(mode=0o700)
    lock.symlink_to(target)
    caplog.set_level(logging.WARNING, logger="handoutgen")
    outcome = vdp.render_many(library, [request])[0]
    assert outcome.pdf.startswith(b"%PDF")
    assert target.read_text() == "do not truncate me\n"
    assert "build lock" in caplog.text and "unsafe" in caplog.text


def test_a_symlink_planted_as_an_entry_is_not_followed(fresh_cache, tmp_path):
    store = cache.open_cache()
    target = tmp_path / "target.txt"
    target.write_text("outside\n")
    path = store.path("checks", "k")
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    assert store.get("checks", "k") is None
    store.put("checks", "k", b"fresh")
    assert target.read_text() == "outside\n"
    assert store.get("checks", "k") == b"fresh" and not path.is_symlink()


def test_a_symlinked_or_readable_key_refuses_the_cache(fresh_cache, tmp_path, caplog):
    fresh_cache.mkdir(mode=0o700)
    other = tmp_path / "key"
    other.write_bytes(b"k" * 32)
    (fresh_cache / "secret.key").symlink_to(other)
    caplog.set_level(logging.WARNING, logger="handoutgen")
    assert cache.open_cache() is None
    (fresh_cache / "secret.key").unlink()
    (fresh_cache / "secret.key").write_bytes(b"k" * 32)
    (fresh_cache / "secret.key").chmod(0o644)
    assert cache.open_cache() is None
    assert "its key file may be read by others" in caplog.text


def test_least_recently_used_entries_go_first(fresh_cache, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_CACHE_MAX_MB", str(10 * 1024 / 1048576))  # 10 KiB
    store = cache.open_cache()
    blob = b"x" * 3000
    for name in "abc":
        store.put("editions", name, blob)
    for i, name in enumerate("abc"):  # a, b, c used in that order, a long ago
        os.utime(store.path("editions", name), (1000 + i, 1000 + i))
    assert store.get("editions", "a") == blob  # a is used again: now the newest
    store.put("editions", "d", blob)  # 4 x 3 KiB > 10 KiB: evict down to 8 KiB
    present = {n for n in "abcd" if store.path("editions", n).exists()}
    assert present == {"a", "d"}
    assert cache.info()["bytes"] <= 10 * 1024


def test_cache_info_and_clear(library, fresh_cache, run):
    vdp.render_many(library, [make_request(**REQUEST)])
    result = run("cache", "info")
    assert result.exit_code == 0
    assert f"folder: {fresh_cache}" in result.stdout
    assert "status: ok" in result.stdout and "editions: 1 entries" in result.stdout
    info = json.loads(run("cache", "info", "--json").stdout)
    assert info["kinds"]["editions"]["entries"] == 1
    result = run("cache", "clear")
    assert result.exit_code == 0 and "Removed" in result.stdout
    assert list(fresh_cache.iterdir()) == []
    vdp.clear_caches()
    assert vdp.cached_edition(vdp.split(library, make_request(**REQUEST)).key) is None


def test_cache_clear_refuses_a_folder_others_may_write(fresh_cache, run):
    fresh_cache.mkdir()
    (fresh_cache / "keep").write_text("x")
    fresh_cache.chmod(0o777)
    result = run("cache", "clear")
    assert result.exit_code == 1
    assert "not clearing" in result.stderr
    assert (fresh_cache / "keep").exists()


def _immutable(folder, on: bool) -> bool:
    """chattr +i (or -i) on the folder and all in it: even root cannot write there."""
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(
        ["chattr", "-R", "+i" if on else "-i", str(folder)], capture_output=True, check=False
    )
    return done.returncode == 0


def test_a_read_only_cache_is_used_and_never_written(library, fresh_cache, caplog):
    """A cache folder nobody may write (shared read-only, or a full disk's
    permissions): a cached edition is still used, an edition that cannot
    be stored is built and used anyway, and nothing in the folder changes."""
    letter = dict(
        document="followup-letter",
        patient="Pat Doe",
        options=["fusion", "decompression", "spinal-injections"],
    )
    assert warm_edition(library, make_request(**letter))
    vdp.clear_caches()  # what follows reads the folder, not this process's memory
    before = sorted((str(p), p.stat().st_size) for p in fresh_cache.rglob("*"))
    if not _immutable(fresh_cache, True):
        # tmpfs and some container filesystems keep no inode flags; the tests
        # run as root, so chmod alone would not stop a write.
        pytest.skip("needs chattr +i: this filesystem keeps no inode flags (tmpfs, some overlays)")
    try:
        other_reader = {**letter, "patient": "Lee Roe"}
        cached = vdp.render_many(library, [make_request(**other_reader)], build=False)[0]
        assert cached.mode == "edition", cached.reason
        with caplog.at_level(logging.WARNING, logger="handoutgen"):
            edition = vdp.render_many(library, [make_request(**REQUEST)])[0]
        assert edition.mode == "edition", edition.reason
        assert page_words(edition.pdf) == page_words(render_pdf(library, make_request(**REQUEST)))
    finally:
        assert _immutable(fresh_cache, False)
    assert sorted((str(p), p.stat().st_size) for p in fresh_cache.rglob("*")) == before
    assert "cannot be written" in caplog.text and "building without caching" in caplog.text
