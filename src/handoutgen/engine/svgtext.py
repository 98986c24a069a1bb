"""Right-to-left words in SVG pictures, as WeasyPrint can draw them.

WeasyPrint draws the text of an SVG picture one character after another, left
to right, with no shaping: an Arabic label came out with its letters reversed
and unjoined. A picture is a file a translator writes in the normal (logical)
order, as a browser shows it, so the fix is made where WeasyPrint reads the
file: each ``<text>``/``<tspan>`` run with right-to-left letters is shaped
(Arabic letters take their joined forms, from Unicode's presentation forms)
and put in visual order, with runs of Latin letters and digits kept as they
are. The file on disk is not changed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

RTL = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
# A <text> or <tspan> element's own text (no nested markup inside the match).
_TEXT = re.compile(rb"(<(?:text|tspan)\b[^>]*>)([^<]+)")
_LTR_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.,:%/+-]*")
_MIRROR = str.maketrans("()[]{}<>", ")(][}{><")
_FORMS = ("isolated", "final", "initial", "medial")


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Letter -> {form: presentation character}, and lam-alef pairs -> forms,
    read from Unicode's decompositions of the Arabic presentation forms."""
    letters: dict[str, dict[str, str]] = {}
    ligatures: dict[str, dict[str, str]] = {}
    for cp in range(0xFE70, 0xFEFD):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) < 2 or parts[0].strip("<>") not in _FORMS:
            continue
        form, base = parts[0].strip("<>"), "".join(chr(int(p, 16)) for p in parts[1:])
        (letters if len(base) == 1 else ligatures).setdefault(base, {})[form] = chr(cp)
    return letters, ligatures


def _joins_forward(ch: str) -> bool:
    """Does this letter join the letter after it (dual-joining)?"""
    forms = _tables()[0].get(ch, {})
    return "initial" in forms or "medial" in forms or ch == "\u0640"  # tatweel


def _joins(ch: str) -> bool:
    return ch in _tables()[0] or ch == "\u0640"


def shape(text: str) -> str:
    """Arabic letters in their joined (presentation) forms, still in logical order."""
    letters, ligatures = _tables()
    marks = {i for i, ch in enumerate(text) if unicodedata.category(ch) == "Mn"}
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch not in letters:
            out.append(ch)
            i += 1
            continue
        # Neighbours, skipping combining marks (harakat).
        prev = next((text[j] for j in range(i - 1, -1, -1) if j not in marks), "")
        j = i + 1
        while j < len(text) and j in marks:
            j += 1
        nxt = text[j] if j < len(text) else ""
        joined_before = bool(prev) and _joins_forward(prev)
        pair = ch + nxt
        if pair in ligatures:  # lam-alef
            form = "final" if joined_before else "isolated"
            out.append(ligatures[pair].get(form) or ligatures[pair]["isolated"])
            i = j + 1
            continue
        joined_after = _joins_forward(ch) and bool(nxt) and _joins(nxt)
        form = {
            (False, False): "isolated",
            (True, False): "final",
            (False, True): "initial",
            (True, True): "medial",
        }[(joined_before, joined_after)]
        out.append(letters[ch].get(form) or letters[ch].get("isolated", ch))
        i += 1
    return "".join(out)


def visual(text: str) -> str:
    """A right-to-left line in the left-to-right order WeasyPrint draws it:
    reversed, with Latin letters and digits kept reading left to right."""
    if not RTL.search(text):
        return text
    flipped = shape(text)[::-1].translate(_MIRROR)
    return _LTR_RUN.sub(lambda m: m.group()[::-1], flipped)


def fix_svg(data: bytes) -> bytes:
    """An SVG file's text runs with right-to-left letters, shaped and in visual
    order (others untouched); any other bytes come back as they are."""
    if not RTL.search(data.decode("utf-8", "ignore")):
        return data

    def run(m: re.Match[bytes]) -> bytes:
        text = m.group(2).decode("utf-8")
        return m.group(1) + visual(text).encode("utf-8")

    return _TEXT.sub(run, data)
