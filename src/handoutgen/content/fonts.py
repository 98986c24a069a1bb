"""The handout typeface, installed as a Python dependency.

Atkinson Hyperlegible was drawn by the Braille Institute for readers with low
vision: its letters are hard to confuse (I/l/1, 0/O), which suits patient
material. Shipping it as a package means no output depends on the system fonts.
"""

from __future__ import annotations

import base64
import unicodedata
from functools import cache
from pathlib import Path

FAMILY = "Atkinson Hyperlegible"
_FACES = {
    ("normal", "normal"): "AtkinsonHyperlegible-Regular.ttf",
    ("bold", "normal"): "AtkinsonHyperlegible-Bold.ttf",
    ("normal", "italic"): "AtkinsonHyperlegible-Italic.ttf",
    ("bold", "italic"): "AtkinsonHyperlegible-BoldItalic.ttf",
}

DIGITS = "Handout Digits"
_DIGIT_FACES = {
    ("normal", "normal"): "HandoutDigits-Regular.ttf",
    ("bold", "normal"): "HandoutDigits-Bold.ttf",
    ("normal", "italic"): "HandoutDigits-Italic.ttf",
    ("bold", "italic"): "HandoutDigits-BoldItalic.ttf",
}


@cache
def font_dir() -> Path:
    import fontpkg_atkinson_hyperlegible as pkg

    return Path(pkg.__file__).resolve().parent / "files"


def font_files() -> list[Path]:
    return [font_dir() / name for name in _FACES.values()]


@cache
def font_face_css(inline: bool = False) -> str:
    """``@font-face`` rules: file URLs for rendering, data URIs for a standalone HTML file."""
    rules = []
    for (weight, style), name in _FACES.items():
        path = font_dir() / name
        if inline:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            src = f"url(data:font/ttf;base64,{data})"
        else:
            src = f'url("{path.as_uri()}")'
        rules.append(
            f'@font-face {{ font-family: "{FAMILY}"; font-weight: {weight}; '
            f"font-style: {style}; src: {src} format('truetype'); }}"
        )
    # Atkinson Hyperlegible draws a slashed zero, which older readers can misread
    # (as 8 or Ø): the digits 0-9 come from Noto Sans, subset and shipped in
    # fonts/ (SIL Open Font License 1.1), listed first in the stylesheets.
    for (weight, style), name in _DIGIT_FACES.items():
        path = Path(__file__).resolve().parents[1] / "fonts" / name
        if inline:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            src = f"url(data:font/ttf;base64,{data})"
        else:
            src = f'url("{path.as_uri()}")'
        rules.append(
            f'@font-face {{ font-family: "{DIGITS}"; font-weight: {weight}; '
            f"font-style: {style}; src: {src} format('truetype'); unicode-range: U+0030-0039; }}"
        )
    return "\n".join(rules)


# Fallbacks for names in other scripts (Arabic, Chinese, Vietnamese...): the
# Noto families that scripts/setup.sh installs from Debian (fonts-noto-core,
# fonts-noto-cjk). They are named in the CSS after the main font, so a glyph
# the main font lacks is drawn by one of them.
FALLBACK_FAMILIES = (
    "Noto Sans",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Thai",
    "Noto Sans CJK SC",
)


@cache
def _fallback_files() -> tuple[Path, ...]:
    import shutil
    import subprocess

    if not shutil.which("fc-list"):
        return ()
    out = subprocess.run(
        ["fc-list", "--format", "%{family[0]}\t%{file}\n"], capture_output=True, text=True
    ).stdout
    wanted = set(FALLBACK_FAMILIES)
    files = sorted(
        {
            Path(f)
            for line in out.splitlines()
            for fam, _, f in [line.partition("\t")]
            if fam in wanted
        }
    )
    return tuple(files)


@cache
def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    if path.suffix.lower() in (".ttc", ".otc"):
        coll = TTCollection(str(path), lazy=True)
        return frozenset(coll.fonts[0].getBestCmap() or {})
    return frozenset(TTFont(str(path), lazy=True).getBestCmap() or {})


def fallback_fonts_installed() -> list[str]:
    """File names of the installed fallback fonts (for `handoutgen doctor`)."""
    return sorted({f.name for f in _fallback_files()})


def needs_fallback_font(text: str) -> bool:
    """Whether some character of ``text`` is drawn by a fallback font, not the main one."""
    have = _cmap(font_dir() / _FACES[("normal", "normal")])
    return any(ord(c) not in have for c in _drawn(text))


def _drawn(text: str) -> set[str]:
    """The characters that need a glyph: not spaces, controls or format characters
    (bidi isolates, joiners), which Pango lays out without one."""
    return {c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf")}


def missing_glyphs(text: str) -> list[str]:
    """Characters of ``text`` that neither the main font nor a fallback can draw."""
    need = {ord(c) for c in _drawn(text)}
    need -= _cmap(font_dir() / _FACES[("normal", "normal")])
    for path in _fallback_files():
        if not need:
            break
        need -= _cmap(path)
    return [f"U+{cp:04X}" for cp in sorted(need)]
