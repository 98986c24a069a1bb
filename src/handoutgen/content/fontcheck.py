"""Is a brand's font family there? Installed (fontconfig), packaged, or shipped in
the workspace with ``@font-face``. A missing family would otherwise fall back to
another font silently, and the brochure prints in a face nobody chose."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import tinycss2

from handoutgen.content.fonts import DIGITS, FAMILY
from handoutgen.content.workspace import Workspace


@lru_cache(maxsize=1)
def installed_families() -> tuple[str, ...] | None:
    """Font families fontconfig knows (``fc-list : family``); None without fc-list."""
    exe = shutil.which("fc-list")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, ":", "family"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names: set[str] = set()
    for line in out.splitlines():
        # One line per face: its family names, localized ones after commas.
        names.update(n.strip().replace("\\-", "-") for n in line.split(",") if n.strip())
    return tuple(sorted(names))


def declared_families(workspace: Workspace) -> set[str]:
    """Families a stylesheet in the workspace's styles/ declares with @font-face."""
    found: set[str] = set()
    styles = workspace.root / "styles"
    if not styles.is_dir():
        return found
    for path in sorted(styles.rglob("*.css")):
        if not (workspace.confined(path) and path.is_file()):
            continue
        found.update(_font_faces(path))
    return found


def _font_faces(path: Path) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()  # reported by the stylesheet checks
    names = set()
    for rule in tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True):
        if rule.type != "at-rule" or rule.lower_at_keyword != "font-face" or not rule.content:
            continue
        for decl in tinycss2.parse_blocks_contents(
            rule.content, skip_comments=True, skip_whitespace=True
        ):
            if decl.type == "declaration" and decl.lower_name == "font-family":
                parts = [t for t in decl.value if t.type in ("string", "ident")]
                name = " ".join(t.value for t in parts).strip()
                if name:
                    names.add(name)
    return names


def font_problem(workspace: Workspace, family: str) -> str | None:
    """Why ``family`` cannot be used (naming the alternatives), or None if it can."""
    installed = installed_families()
    known = {FAMILY, DIGITS, *declared_families(workspace)}
    if installed is None:
        if family.casefold() in {k.casefold() for k in known}:
            return None
        return (
            f"font_family '{family}' cannot be checked: fontconfig's fc-list is not installed "
            "(install fontconfig), and no @font-face in styles/ declares it"
        )
    everything = {*installed, *known}
    if family.casefold() in {k.casefold() for k in everything}:
        return None
    close = difflib.get_close_matches(family, sorted(everything), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    sample = [f for f in (FAMILY, "Noto Sans", "Noto Serif", "DejaVu Sans") if f in everything]
    return (
        f"font_family '{family}' is not installed on this machine nor declared with "
        f"@font-face in the workspace's styles/, so the text would silently fall back to "
        f"another font; {hint}installed families include {', '.join(sample)} "
        f"(`fc-list : family` lists all {len(installed)}); or ship the font files in assets/ "
        "with an @font-face rule in a stylesheet in styles/"
    )
