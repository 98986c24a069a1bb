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


# The recipient's box in the envelope window (styles/handout.css,
# .recipient-address: 3.6 in wide; 0.95 in tall, 1.05 in in large print).
# A #10 window (4.5 x 1.125 in, its top 2.125 in down the sheet) holds it
# with room for the insert to shift. The large-print box is taller but ends
# 0.05 in above the window's bottom edge: a mail house checks that nothing
# of the address or barcode can slip out of the window.
BOX_WIDTH = 3.6 * 72  # pt
BOX_HEIGHT = {False: 0.95 * 72, True: 1.05 * 72}
LINE_HEIGHT = {False: 1.2, True: 1.1}
TEXT_SIZE = {False: 11.0, True: 18.0}  # pt: the letter's own text size
MIN_TEXT = 9.0  # pt: the print minimum (quality/preflight.py), for the address too
# The barcode with its clear zones (the .imb margins, 0.04 + 0.03 in).
IMB_ROOM = (FULL / UNITS_PER_INCH + 0.07) * 72


def _em(ch: str) -> float:
    """A generous advance width, in em, for Atkinson Hyperlegible's capitals
    (the widest, M and W, are 0.84) and for wide scripts."""
    if ch.isspace():
        return 0.3
    if ord(ch) >= 0x2E80:  # CJK and other full-width letters
        return 1.0
    if ch in "\u2066\u2067\u2068\u2069":  # isolates draw nothing
        return 0.0
    return 0.85 if ch in "MWmw" else 0.72


def address_size(lines: list[str], large_print: bool, barcode: bool) -> float:
    """The recipient address's text size in pt: the letter's own (11 pt,
    18 pt in large print) when it fits the window box, else the largest that
    fits every line unwrapped, and the barcode below, in 0.5 pt steps. The
    address is read by the post office's machines, not the patient: in large
    print 4 lines and a barcode cannot be 18 pt in a #10 window."""
    room = BOX_HEIGHT[large_print] - (IMB_ROOM if barcode else 0.0)
    size = TEXT_SIZE[large_print]
    if lines:
        size = min(size, room / (len(lines) * LINE_HEIGHT[large_print]))
        widest = max(sum(_em(c) for c in line) for line in lines)
        if widest:
            size = min(size, BOX_WIDTH / widest)
    return max(MIN_TEXT, int(size * 2) / 2)
