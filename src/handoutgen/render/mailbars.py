"""Where an Intelligent Mail barcode's bars go: the geometry the letter draws.

Dimensions are the nominal ones of USPS-B-3200 ("Intelligent Mail Barcode
4-State Specification", bar dimensions): a pitch of 22 bars per inch (20-24
allowed), bars 0.020 in wide (0.015-0.025), a full bar 0.145 in tall
(0.125-0.165), a tracker 0.048 in (0.039-0.057), an ascender or descender
0.096 in. One unit below is 1/2200 in, so the pitch is 100 units.
"""

from __future__ import annotations

UNITS_PER_INCH = 2200
PITCH = 100  # 1/22 in
BAR = 44  # 0.020 in
TRACKER = 106  # 0.048 in
REACH = 106  # what an ascender adds above the tracker, a descender below
FULL = TRACKER + 2 * REACH  # 318: 0.1445 in

# Each bar's (top, height) by its letter in the encoder's string.
_SHAPES = {
    "F": (0, FULL),
    "A": (0, REACH + TRACKER),
    "D": (REACH, TRACKER + REACH),
    "T": (REACH, TRACKER),
}


def barcode(letters: str | None) -> dict[str, str] | None:
    """The bars ``"AFDT..."`` as an SVG image (a data: URL) and its size in
    inches; None without a barcode. The letter paints it as a CSS background,
    which WeasyPrint tags as an artifact: an inline <svg> would be a Figure
    that PDF/UA requires alternative text for, and a screen reader has nothing
    to say about bars for the post office's sorting machines."""
    if not letters:
        return None
    import base64

    width = PITCH * (len(letters) - 1) + BAR
    rects = "".join(
        f'<rect x="{PITCH * i}" y="{_SHAPES[c][0]}" width="{BAR}" height="{_SHAPES[c][1]}"/>'
        for i, c in enumerate(letters)
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{FULL}" '
        f'viewBox="0 0 {width} {FULL}" fill="#000">{rects}</svg>'
    )
    return {
        "width": f"{width / UNITS_PER_INCH:.4f}in",
        "height": f"{FULL / UNITS_PER_INCH:.4f}in",
        "svg": "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii"),
    }
