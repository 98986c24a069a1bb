"""One writer per folder: a lock file created atomically and held with flock.

The file is created with O_CREAT|O_EXCL|O_NOFOLLOW (a symlink planted in its
place is never followed, so no other file is truncated), and an exclusive
``flock`` is held on it while the run lasts. The kernel drops the flock when
its process dies, however it dies, so a lock left by a killed run is stale by
construction and the next run takes it over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import time
from pathlib import Path

from .errors import HandoutgenError


class LockedError(HandoutgenError):
    """Another run holds the folder's lock."""


class FolderLock:
    """``with FolderLock(folder / ".handoutgen.lock", what="batch"):`` ..."""

    def __init__(self, path: Path, what: str = "run") -> None:
        self.path = path
        self.what = what
        self.fd: int | None = None
        self.stale_pid: str | None = None

    def __enter__(self) -> FolderLock:
        for _ in range(50):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise LockedError(
                    f"another {self.what} is writing to {self.path.parent} "
                    f"(pid {holder or 'unknown'}); wait for it to finish, or stop it, "
                    "then run this again"
                ) from None
            # The file may have been removed and re-created by a run that just
            # finished: the lock counts only if it is still the file at the path.
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            if os.fstat(fd).st_size:
                # A dead run's pid is still written in it: its lock was stale.
                self.stale_pid = _read(fd) or "unknown"
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()} {int(time.time())}\n".encode())
            self.fd = fd
            return self
        raise LockedError(f"cannot take the lock {self.path}; try again")

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            return os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        try:
            return os.open(self.path, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise LockedError(
                    f"{self.path} is a symbolic link; a lock file must be a plain file. "
                    "Remove it and run this again"
                ) from None
            if exc.errno == errno.ENOENT:  # removed between the two opens: go round again
                return self._open()
            raise

    def __exit__(self, *exc: object) -> None:
        if self.fd is None:
            return
        # Unlink while still holding the flock, so nobody takes a lock on a file
        # that is about to disappear (the inode check above covers the rest).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


def _read(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("ascii", "replace").split(" ")[0].strip()
    except OSError:
        return ""
