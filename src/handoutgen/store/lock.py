"""One writer per folder, on ``filelock``'s flock-based lock.

filelock opens the lock file with ``O_NOFOLLOW`` and never truncates it (a
symlink planted in its place is never followed), and the kernel drops the
flock when its holder dies, however it dies, so a killed run's lock is taken
over by the next run. What filelock does not do, this wraps around it:

- a symlink at the lock path is refused in words before filelock sees it;
- the holder's pid is written in the file (filelock's ``on_acquired``), so a
  refused run can name it and a taken-over lock is reported with the dead
  run's pid;
- the file is removed on release, while still held (filelock re-checks that
  the inode it locked is still linked, so nobody keeps a lock on a removed file).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from pathlib import Path

import filelock

from handoutgen.core.errors import HandoutgenError


class LockedError(HandoutgenError):
    """Another run holds the folder's lock."""


def _symlink_error(path: Path) -> LockedError:
    return LockedError(
        f"{path} is a symbolic link; a lock file must be a plain file. Remove it and run this again"
    )


class FolderLock:
    """``with FolderLock(folder / ".handoutgen.lock", what="batch"):`` ..."""

    def __init__(
        self, path: Path, what: str = "run", target: str | None = None, note: str = ""
    ) -> None:
        self.path = path
        self.what = what
        self.target = target or str(path.parent)  # what the lock guards, for the refusal
        self.note = note  # written on the lock's second line; a refused run shows it
        self.stale_pid: str | None = None
        self._lock = filelock.FileLock(
            str(path),
            mode=0o600,
            blocking=False,
            # A soft lock (a marker file) would outlive a killed holder.
            fallback_to_soft=False,
            on_acquired=self._claim,
        )

    def __enter__(self) -> FolderLock:
        for _ in range(3):
            if self.path.is_symlink():
                raise _symlink_error(self.path)
            try:
                self._lock.acquire()
                return self
            except filelock.Timeout:
                holder = _holder(self.path)
                if holder is None:  # released and removed meanwhile: try again
                    continue
                note = _note(self.path)
                raise LockedError(
                    f"another {self.what} is writing to {self.target} "
                    f"(pid {holder or 'unknown'}{', ' + note if note else ''}); wait for it "
                    "to finish, or stop it, then run this again"
                ) from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # planted between the check and the open
                    raise _symlink_error(self.path) from None
                raise
        raise LockedError(f"cannot take the lock {self.path}; try again")

    def _claim(self, fd: int) -> None:
        """Called by filelock holding the flock: a pid still in the file is a
        dead run's (a live one would hold the flock), so its lock was stale."""
        previous = _read(fd)
        if previous is not None:
            self.stale_pid = previous or "unknown"
        os.ftruncate(fd, 0)
        line = f"{os.getpid()} {socket.gethostname()} {int(time.time())}\n"
        note = " ".join(self.note.split())  # one line
        os.pwrite(fd, (line + (note + "\n" if note else "")).encode(), 0)

    def __exit__(self, *exc: object) -> None:
        if not self._lock.is_locked:
            return
        # Removed while still held: a run that opened this inode meanwhile finds
        # it unlinked once it gets the flock, and filelock makes it start over.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._lock.release()


def _read(fd: int) -> str | None:
    """The pid written in an open lock file; None if it is empty."""
    try:
        text = os.pread(fd, 200, 0)
    except OSError:
        return ""
    if not text:
        return None
    return text.decode("ascii", "replace").split(" ")[0].strip()


def _holder(path: Path) -> str | None:
    """The holder's pid ('' if unreadable); None if the lock file is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    try:
        return _read(fd) or ""
    finally:
        os.close(fd)


def _note(path: Path) -> str:
    """The second line of a lock file (what its holder is doing); '' if none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        text = os.pread(fd, 4200, 0).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)
    lines = text.splitlines()
    return lines[1].strip() if len(lines) > 1 else ""
