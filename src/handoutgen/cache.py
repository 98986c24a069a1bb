"""A small on-disk cache for results that depend only on content, never on patients.

It lives in ``$HANDOUTGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/handoutgen``, else
``~/.cache/handoutgen``; ``HANDOUTGEN_CACHE_DIR=off`` turns it off. Entries are
keyed by a hash of the content, so a change to any YAML, template or style,
or a new handoutgen version, misses the cache. A broken entry is ignored and
rewritten; a read-only cache folder only costs speed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("handoutgen")


def cache_dir() -> Path | None:
    env = os.environ.get("HANDOUTGEN_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "handoutgen"


def _path(kind: str, key: str) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    return folder / kind / (hashlib.sha256(key.encode()).hexdigest() + ".json")


def get(kind: str, key: str) -> Any | None:
    path = _path(kind, key)
    if path is None:
        return None
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if entry.get("key") == key:
            return entry["value"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, AttributeError):
        log.debug("ignoring a broken cache entry %s", path)
    return None


def put(kind: str, key: str, value: Any) -> None:
    path = _path(kind, key)
    if path is None:
        return
    from .output import write_atomic

    try:
        write_atomic(path, json.dumps({"key": key, "value": value}).encode("utf-8"))
    except OSError as exc:
        log.debug("cache not written (%s)", exc)
