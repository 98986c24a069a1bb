"""The handout typeface, installed as a Python dependency.

Atkinson Hyperlegible was drawn by the Braille Institute for readers with low
vision: its letters are hard to confuse (I/l/1, 0/O), which suits patient
material. Shipping it as a package means no output depends on the system fonts.
"""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path

FAMILY = "Atkinson Hyperlegible"
_FACES = {
    ("normal", "normal"): "AtkinsonHyperlegible-Regular.ttf",
    ("bold", "normal"): "AtkinsonHyperlegible-Bold.ttf",
    ("normal", "italic"): "AtkinsonHyperlegible-Italic.ttf",
    ("bold", "italic"): "AtkinsonHyperlegible-BoldItalic.ttf",
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
    return "\n".join(rules)
