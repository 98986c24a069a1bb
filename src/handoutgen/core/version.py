"""Which handoutgen this is: the release from the package metadata, and a
fingerprint of the installed code for cache keys.

The release number changes only when someone remembers to bump it; a cached
check, fit or edition made by other code must never be served, so everything
kept on disk is keyed by :func:`code_key`, which changes with any edit to the
package's Python files (an editable install included).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _release() -> str:
    try:
        return version("handoutgen")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


__version__ = _release()


@cache
def code_fingerprint() -> str:
    """A hash of every Python file of the package as installed (16 hex digits)."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@cache
def code_key() -> str:
    """What a cached result depends on besides its content: this code, and
    the WeasyPrint that lays pages out."""
    try:
        weasyprint = version("weasyprint")
    except PackageNotFoundError:  # pragma: no cover - a broken install
        weasyprint = "none"
    return f"handoutgen {__version__} {code_fingerprint()} weasyprint {weasyprint}"
