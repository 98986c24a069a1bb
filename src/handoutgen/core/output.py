"""Writing results: atomically and privately.

A crash never leaves a half-written file under the final name, and what is
written is readable by its owner only: handouts, letters and manifests hold
patient data (0600 files, 0700 folders that handoutgen creates).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from handoutgen.core.errors import DataError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700 folders. Existing folders
    keep their mode: they are the user's."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=PRIVATE_DIR)
            os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is narrowed by the umask, never widened


def require_parent(path: Path, flag: str = "-o") -> None:
    """Refuse an output path whose folder does not exist, before any work: a
    typo in a path should not quietly create a tree of folders (like ``cp`` or
    ``curl -o``, and unlike the default output/ folder, which is made)."""
    parent = path.parent
    if parent.is_dir():
        return
    what = "is not a folder" if parent.exists() else "does not exist"
    raise DataError(f"{flag} {path}: the folder {parent} {what}; create it first, or pick another")


def part_prefix(path: Path) -> str:
    """The name prefix of ``write_atomic``'s temporary files for ``path``."""
    return f".{path.name}."


def write_atomic(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Write to a temporary file beside ``path``, then rename it into place."""
    make_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=part_prefix(path), suffix=".part")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_parts(path: Path) -> int:
    """Remove temporary files that an interrupted ``write_atomic(path)`` left behind."""
    n = 0
    if path.parent.is_dir():
        prefix = part_prefix(path)
        for stale in path.parent.iterdir():
            if stale.name.startswith(prefix) and stale.name.endswith(".part"):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
                    n += 1
    return n
