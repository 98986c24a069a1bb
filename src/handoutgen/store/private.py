"""The workspace's private settings: ``.handoutgen/settings.json``, mode 0600.

It holds the web app's users (argon2 hashes, never passwords), the key that
signs sign-in cookies, and what each user's form remembers (clinician and
clinic, never a patient). The folder is 0700 and the file 0600; every change
is written to a private temporary file and renamed over the old one under a
lock, so the CLI and a running server never see half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from handoutgen.content.workspace import Workspace, display_path
from handoutgen.core.errors import HandoutgenError

FOLDER = ".handoutgen"
FILE = "settings.json"


def folder(workspace: Workspace) -> Path:
    """``WORKSPACE/.handoutgen``, or ``$HANDOUTGEN_PRIVATE_DIR`` when set (tests,
    or a workspace on a read-only share)."""
    override = os.environ.get("HANDOUTGEN_PRIVATE_DIR")
    return Path(override) if override else workspace.root / FOLDER


def settings_path(workspace: Workspace) -> Path:
    return folder(workspace) / FILE


def _ensure_folder(workspace: Workspace) -> Path:
    """The private folder: made 0700 if new; an existing one is checked, never
    chmodded (it may be a shared folder someone pointed the variable at)."""
    path = folder(workspace)
    _apart_from_cache(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        check_folder(path)
    else:
        os.chmod(path, 0o700)  # ours, just made: mkdir's mode is masked by the umask
    return path


def check_folder(path: Path) -> None:
    """Refuse a private folder that is not ours, that others may read or write,
    or that is (or holds, or lies in) the cache folder."""
    import stat

    st = os.stat(path)
    shown = display_path(path)
    if not stat.S_ISDIR(st.st_mode):
        raise HandoutgenError(f"the private folder {shown} is not a folder")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise HandoutgenError(
            f"the private folder {shown} belongs to another user; use a folder of your own "
            "(HANDOUTGEN_PRIVATE_DIR)"
        )
    if st.st_mode & 0o077:
        raise HandoutgenError(
            f"the private folder {shown} may be read by others, and it holds the users' "
            f"password hashes and the sign-in key: run `chmod 700 {shown}` if it is only "
            "handoutgen's, or choose another folder (HANDOUTGEN_PRIVATE_DIR)"
        )
    _apart_from_cache(path)


def _apart_from_cache(path: Path) -> None:
    from handoutgen.store.cache import cache_dir, overlapping

    shown = display_path(path)
    cache = cache_dir()
    if cache is not None and overlapping(path, cache):
        raise HandoutgenError(
            f"the private folder {shown} is the cache folder (HANDOUTGEN_CACHE_DIR), or one "
            "holds the other: `cache clear` would delete the users; give each its own folder"
        )


@contextlib.contextmanager
def _locked(workspace: Workspace, name: str = "settings.lock") -> Iterator[None]:
    """One writer at a time across processes, by an advisory lock on ``name``
    in the private folder (settings.json; the audit log and its anchor)."""
    import fcntl

    lock = _ensure_folder(workspace) / name
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def load(workspace: Workspace) -> dict[str, Any]:
    """The settings, or an empty dict when there are none yet."""
    path = settings_path(workspace)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise HandoutgenError(f"cannot read {display_path(path)}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise HandoutgenError(
            f"{display_path(path)}:{getattr(exc, 'lineno', '?')}: not valid JSON ({exc}); "
            "fix it or move it away"
        ) from None
    if not isinstance(data, dict):
        raise HandoutgenError(f"{display_path(path)}: expected a JSON object")
    return data


def update(workspace: Workspace, change: Callable[[dict[str, Any]], Any]) -> Any:
    """Apply ``change`` to the settings under a lock and save them (0600).

    Returns what ``change`` returned. If it raises, nothing is written."""
    with _locked(workspace):
        data = load(workspace)
        result = change(data)
        path = settings_path(workspace)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp: mode 0600
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return result


def signing_key(workspace: Workspace) -> bytes:
    """The key that signs sign-in cookies, made once and kept in the settings,
    so a restart does not sign everyone out."""
    key = load(workspace).get("session_key")
    if isinstance(key, str) and len(key) >= 32:
        return key.encode()

    def make(data: dict[str, Any]) -> str:
        if not (isinstance(data.get("session_key"), str) and len(data["session_key"]) >= 32):
            data["session_key"] = secrets.token_urlsafe(48)
        return data["session_key"]

    return update(workspace, make).encode()
