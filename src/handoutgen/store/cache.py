"""An on-disk cache for results that depend only on content, never on patients.

It lives in ``$HANDOUTGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/handoutgen``, else
``~/.cache/handoutgen``; ``HANDOUTGEN_CACHE_DIR=off`` turns it off. Entries are
keyed by a hash of the content and of the installed code (version.code_key),
so a change to any YAML, template, style or Python file misses the cache.

The cache may sit on a shared machine, and what it holds is stamped into every
recipient's PDF, so it trusts nothing it reads:

- the folder is created 0700; one that belongs to another user, that the
  group or others may read or write, or that is the private settings folder
  is refused (a warning, and no cache), never chmodded;
- entries are written 0600 under a temporary name and renamed, and opened with
  ``O_NOFOLLOW`` (a symlink planted in the cache is never followed);
- every entry carries an HMAC-SHA256 under a per-cache secret key
  (``secret.key``, 0600), bound to its kind and key: a modified, truncated or
  swapped entry is reported, deleted and rebuilt;
- build locks are filelock's (opened with ``O_NOFOLLOW``, never truncated), and a
  lock path that is not a plain file is refused;
- the total size is capped (``HANDOUTGEN_CACHE_MAX_MB``, default 512), the
  least recently used entries going first.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handoutgen.core.version import code_key

log = logging.getLogger("handoutgen")

MAGIC = b"HGC1"
MAC_SIZE = 32
KEY_NAME = "secret.key"
SUFFIX = ".entry"
DEFAULT_MAX_MB = 512
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_warned: set[tuple[str, str]] = set()


def cache_dir() -> Path | None:
    env = os.environ.get("HANDOUTGEN_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "handoutgen"


def max_bytes() -> int:
    try:
        mb = float(os.environ.get("HANDOUTGEN_CACHE_MAX_MB", DEFAULT_MAX_MB))
    except ValueError:
        mb = DEFAULT_MAX_MB
    return max(0, int(mb * 1024 * 1024))


class CacheRefused(Exception):
    """The cache folder or its key cannot be trusted; the reason says why."""


def _warn_once(folder: Path, reason: str) -> None:
    if (str(folder), reason) not in _warned:
        _warned.add((str(folder), reason))
        log.warning("not using the cache folder %s: %s", folder, reason)


def _check_private_dir(folder: Path) -> None:
    """The folder must be a directory of ours that nobody else may read or
    write. An existing folder's mode is never changed: a folder shared with
    others is refused, and the message says how to fix it."""
    st = os.stat(folder)  # a symlinked cache folder is judged by its target
    if not stat.S_ISDIR(st.st_mode):
        raise CacheRefused("it is not a folder")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise CacheRefused("it belongs to another user; use a folder of your own")
    if st.st_mode & 0o022:
        raise CacheRefused(
            "the group or others may write to it; run `chmod 700` on it or choose another folder"
        )
    if st.st_mode & 0o044:
        raise CacheRefused(
            "the group or others may read it; run `chmod 700` on it if it is the cache's "
            "own, or choose another folder (HANDOUTGEN_CACHE_DIR)"
        )
    private = os.environ.get("HANDOUTGEN_PRIVATE_DIR", "").strip()
    if private and overlapping(folder, Path(private)):
        raise CacheRefused(_SAME)


_SAME = (
    "it is the private settings folder (HANDOUTGEN_PRIVATE_DIR), or one holds the other; "
    "give the cache a folder of its own"
)


def overlapping(a: Path, b: Path) -> bool:
    """Whether two folders are the same or one lies inside the other."""
    ra, rb = Path(os.path.realpath(a)), Path(os.path.realpath(b))
    return ra == rb or ra.is_relative_to(rb) or rb.is_relative_to(ra)


def _open_private(path: Path, flags: int) -> int:
    """Open a file that must be a regular file of ours, never through a symlink."""
    fd = os.open(path, flags | _NOFOLLOW | os.O_NONBLOCK, 0o600)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CacheRefused(f"{path.name} is not a regular file")
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise CacheRefused(f"{path.name} belongs to another user")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_key(root: Path) -> bytes:
    path = root / KEY_NAME
    for _ in range(2):
        try:
            fd = _open_private(path, os.O_RDONLY)
        except FileNotFoundError:
            _create_key(root, path)
            continue
        except OSError as exc:  # ELOOP: a symlink where the key should be
            raise CacheRefused(f"cannot open its key ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as fh:
            if os.fstat(fh.fileno()).st_mode & 0o077:
                raise CacheRefused("its key file may be read by others; delete it to get a new one")
            key = fh.read(MAC_SIZE + 1)
        if len(key) != MAC_SIZE:
            raise CacheRefused("its key file is damaged; delete it to get a new one")
        return key
    raise CacheRefused("its key file could not be created")  # pragma: no cover


def _create_key(root: Path, path: Path) -> None:
    """Write a new key under a temporary name, then link it into place: two
    processes starting at once agree on whichever key was linked first."""
    tmp = root / f".{KEY_NAME}.{secrets.token_hex(8)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(MAC_SIZE))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@dataclass(frozen=True)
class Cache:
    """An opened, checked cache folder and its secret key."""

    root: Path
    secret: bytes

    # -- paths -------------------------------------------------------------------
    def _name(self, kind: str, key: str) -> str:
        # Other code may check, measure or lay out differently: its entries are
        # never found (and age out), whatever version number it claims.
        return hashlib.sha256(f"{code_key()}\0{kind}\0{key}".encode()).hexdigest()

    def path(self, kind: str, key: str) -> Path:
        name = self._name(kind, key)
        return self.root / kind / name[:2] / (name + SUFFIX)

    def _mac(self, kind: str, key: str, payload: bytes) -> bytes:
        # Bound to kind and key, so an entry moved to another name fails too.
        head = MAGIC + kind.encode() + b"\0" + key.encode() + b"\0"
        return hmac.new(self.secret, head + payload, hashlib.sha256).digest()

    def _mkdir(self, folder: Path) -> None:
        """Every level under the root 0700 (mkdir's parents would get 0755)."""
        current = self.root
        for part in folder.relative_to(self.root).parts:
            current = current / part
            with contextlib.suppress(FileExistsError):
                os.mkdir(current, 0o700)

    # -- entries -----------------------------------------------------------------
    def get(self, kind: str, key: str) -> bytes | None:
        """The payload, or None if missing; a forged or damaged entry is reported,
        deleted and counts as missing."""
        path = self.path(kind, key)
        try:
            fd = _open_private(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except (OSError, CacheRefused) as exc:
            self._reject(path, kind, key, f"cannot be opened safely ({exc})")
            return None
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
        head = len(MAGIC) + MAC_SIZE
        if len(data) < head or not data.startswith(MAGIC):
            self._reject(path, kind, key, "is damaged")
            return None
        payload = data[head:]
        if not hmac.compare_digest(data[len(MAGIC) : head], self._mac(kind, key, payload)):
            self._reject(path, kind, key, "failed its integrity check (modified or damaged)")
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently used goes first
        return payload

    def _reject(self, path: Path, kind: str, key: str, why: str) -> None:
        log.warning("%s entry %s in the cache %s; building it again", kind, key[:12], why)
        with contextlib.suppress(OSError):
            os.unlink(path)

    def put(self, kind: str, key: str, payload: bytes) -> None:
        path = self.path(kind, key)
        self._mkdir(path.parent)
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(MAGIC + self._mac(kind, key, payload) + payload)
            # A torn write after a crash fails its MAC and is rebuilt: no fsync needed.
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.evict(max_bytes())

    @contextlib.contextmanager
    def lock(self, kind: str, key: str) -> Iterator[bool]:
        """Hold the build lock of an entry (filelock's flock, released by the
        kernel if its holder dies); yields False if the lock file is not safe
        to use (the caller then builds without storing)."""
        import filelock

        folder = self.root / "locks"
        path = folder / (self._name(kind, key) + ".lock")
        try:
            self._mkdir(folder)
            # filelock opens with O_NOFOLLOW and never truncates; a symlink or
            # any other non-file is refused here, in words, before it is opened.
            with contextlib.suppress(FileNotFoundError):
                if not stat.S_ISREG(path.lstat().st_mode):
                    raise CacheRefused(f"{path.name} is not a regular file")
            # Kept on release: every waiter locks the same file.
            held = filelock.FileLock(
                str(path), mode=0o600, fallback_to_soft=False, preserve_lock_file=True
            )
            held.acquire()
        except (OSError, CacheRefused) as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                # A cache nobody may write (read-only or shared): what is
                # cached is still used; what is not is made and not kept.
                log.warning(
                    "the cache folder %s cannot be written (%s); building without caching",
                    self.root,
                    exc.strerror,
                )
            else:
                log.warning(
                    "build lock %s in the cache is unsafe (%s); not caching", path.name, exc
                )
            yield False
            return
        try:
            yield True
        finally:
            held.release()

    # -- housekeeping ------------------------------------------------------------
    def entries(self) -> list[tuple[Path, os.stat_result]]:
        out = []
        for path in self.root.rglob("*" + SUFFIX):
            with contextlib.suppress(OSError):
                st = path.lstat()
                if stat.S_ISREG(st.st_mode):
                    out.append((path, st))
        return out

    def evict(self, limit: int) -> int:
        """Delete least recently used entries until the total is under ``limit``."""
        entries = self.entries()
        total = sum(st.st_size for _, st in entries)
        if total <= limit:
            return 0
        target = int(limit * 0.8)  # some headroom, so not every put evicts
        removed = 0
        for path, st in sorted(entries, key=lambda e: e[1].st_mtime):
            if total <= target:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= st.st_size
                removed += 1
        return removed

    def info(self) -> dict[str, Any]:
        kinds: dict[str, dict[str, int]] = {}
        for path, st in self.entries():
            kind = path.relative_to(self.root).parts[0]
            k = kinds.setdefault(kind, {"entries": 0, "bytes": 0})
            k["entries"] += 1
            k["bytes"] += st.st_size
        return {
            "folder": str(self.root),
            "status": "ok",
            "kinds": kinds,
            "entries": sum(k["entries"] for k in kinds.values()),
            "bytes": sum(k["bytes"] for k in kinds.values()),
            "max_bytes": max_bytes(),
        }


def open_cache() -> Cache | None:
    """The cache, checked and ready; None if it is off or cannot be trusted."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)
        _check_private_dir(folder)
        return Cache(folder, _read_key(folder))
    except CacheRefused as exc:
        _warn_once(folder, str(exc))
    except OSError as exc:
        # A read-only or missing home only costs speed.
        log.debug("cache unavailable (%s)", exc)
    return None


def info() -> dict[str, Any]:
    """What ``handoutgen cache info`` shows."""
    folder = cache_dir()
    if folder is None:
        return {"folder": None, "status": "off (HANDOUTGEN_CACHE_DIR=off)"}
    if not folder.exists():
        return {
            "folder": str(folder),
            "status": "empty (not created yet)",
            "max_bytes": max_bytes(),
        }
    try:
        _check_private_dir(folder)
    except CacheRefused as exc:
        return {"folder": str(folder), "status": f"refused: {exc}"}
    cache = open_cache()
    if cache is None:
        return {"folder": str(folder), "status": "unavailable"}
    return cache.info()


_ENTRY = re.compile(r"[0-9a-f]{64}\.entry")
_PART = re.compile(r"\.[0-9a-f]{64}\.entry\.[0-9a-f]{12}\.part")
_LOCK = re.compile(r"[0-9a-f]{64}\.lock")
_KEY_TMP = re.compile(r"\.secret\.key\.[0-9a-f]{16}")
_KIND = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_SHARD = re.compile(r"[0-9a-f]{2}")


def clear(private_folder: Path | None = None) -> tuple[int, int]:
    """Delete the cache's own files: entries, build locks and the key (a new
    key is made on next use), each recognised by its name's format, and the
    folders they leave empty. Anything else is left where it is: the folder
    may have been pointed at one that holds other files.

    Returns (entries deleted, other files left). Refuses a folder that is not
    ours, that others may read, or that is (or holds, or lies in) the private
    settings folder."""
    from handoutgen.core.errors import HandoutgenError

    folder = cache_dir()
    if folder is None:
        return 0, 0
    env = os.environ.get("HANDOUTGEN_PRIVATE_DIR", "").strip()
    for other in (private_folder, Path(env) if env else None):
        if other is not None and overlapping(folder, other):
            raise HandoutgenError(f"not clearing {folder}: {_SAME}")
    if not folder.exists():
        return 0, 0
    try:
        _check_private_dir(folder)
    except CacheRefused as exc:
        raise HandoutgenError(f"not clearing {folder}: {exc}") from None
    count = 0

    def remove(path: Path, pattern: re.Pattern[str]) -> bool:
        with contextlib.suppress(OSError):
            if pattern.fullmatch(path.name) and stat.S_ISREG(path.lstat().st_mode):
                path.unlink()
                return True
        return False

    def is_dir(path: Path) -> bool:
        with contextlib.suppress(OSError):
            return stat.S_ISDIR(path.lstat().st_mode)  # never through a symlink
        return False

    for child in list(folder.iterdir()):
        if child.name == KEY_NAME:
            remove(child, re.compile(re.escape(KEY_NAME)))
        elif _KEY_TMP.fullmatch(child.name):
            remove(child, _KEY_TMP)
        elif child.name == "locks" and is_dir(child):
            for lock in list(child.iterdir()):
                remove(lock, _LOCK)
        elif _KIND.fullmatch(child.name) and is_dir(child):
            shards = [s for s in child.iterdir() if _SHARD.fullmatch(s.name) and is_dir(s)]
            if not shards:
                continue  # a folder of someone else's, even an empty one, is left alone
            for shard in shards:
                for entry in list(shard.iterdir()):
                    if remove(entry, _ENTRY):
                        count += 1
                    else:
                        remove(entry, _PART)
                with contextlib.suppress(OSError):
                    shard.rmdir()  # only if emptied
        if is_dir(child):
            with contextlib.suppress(OSError):
                child.rmdir()
    left = sum(1 for p in folder.rglob("*") if not is_dir(p))
    return count, left


# -- JSON values (content check results) ---------------------------------------------


def get(kind: str, key: str) -> Any | None:
    cache = open_cache()
    if cache is None:
        return None
    payload = cache.get(kind, key)
    if payload is None:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return None


def put(kind: str, key: str, value: Any) -> None:
    cache = open_cache()
    if cache is None:
        return
    try:
        cache.put(kind, key, json.dumps(value).encode("utf-8"))
    except OSError as exc:
        log.debug("cache not written (%s)", exc)
