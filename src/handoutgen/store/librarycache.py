"""The validated content of a workspace, kept between processes.

Reading and validating every YAML file, translation, template and stylesheet
is about a fifth of a one-off ``handoutgen render``; the result depends only on
those files (and on the code, which the cache keys every entry by). The
entry is keyed by the workspace's content manifest (each file's path, size
and modification time), so any edit, new file or removed file loads afresh.

The entry is a pickle. Unpickling runs code, so this reads only from the
private cache (a folder of this user's that nobody else may write, every entry
authenticated by its HMAC; see cache.py): whoever could forge an entry could
already run code as this user.
"""

from __future__ import annotations

import hashlib
import logging
import pickle

from handoutgen.content.library import Library, load_library
from handoutgen.content.workspace import Workspace
from handoutgen.store.cache import open_cache

log = logging.getLogger("handoutgen")

KIND = "library"


def _key(workspace: Workspace) -> str:
    h = hashlib.sha256(str(workspace.root.resolve()).encode() + b"\0")
    for path, size, mtime in workspace.content_stamp():
        h.update(f"{path}\0{size}\0{mtime}\0".encode())
    return h.hexdigest()


def load(workspace: Workspace) -> Library:
    """:func:`load_library`, from the cache when the content files are unchanged.
    A workspace with problems is never cached: each load reports them again."""
    store = open_cache()
    if store is None:
        return load_library(workspace)
    key = _key(workspace)
    payload = store.get(KIND, key)
    if payload is not None:
        try:
            library = pickle.loads(payload)
        except Exception as exc:  # noqa: BLE001 - an entry from other code: load afresh
            log.debug("cached content not usable (%s)", type(exc).__name__)
        else:
            if isinstance(library, Library) and library.workspace.root == workspace.root:
                return library
    library = load_library(workspace)
    try:
        store.put(KIND, key, pickle.dumps(library, protocol=pickle.HIGHEST_PROTOCOL))
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        log.debug("content not cached (%s)", type(exc).__name__)
    return library
