"""An icon array: 100 drawn people, the first N filled in, as an SVG image.

Risk is easier to weigh as "so many people out of 100" drawn than as a
percentage. The picture is built here, byte for byte the same for the same
numbers, and carried as a ``data:`` image so WeasyPrint tags it as one
/Figure whose /Alt is the sentence it shows (PDF/UA). Filled against outlined
people, in one dark ink, so it reads the same in black and white.
"""

from __future__ import annotations

import base64
from html import escape

from markupsafe import Markup

INK = "#1b1b1b"
PAPER = "#ffffff"
COLUMNS = 10
CELL = 11  # one person is 10 units wide, with 1 unit between people

# A person: a round head over rounded shoulders, inside a 10 x 10 cell.
_PERSON = (
    '<circle cx="{x5}" cy="{y26}" r="1.9"/>'
    '<path d="M{x1},{y98} V{y72} Q{x1},{y49} {x5},{y49} Q{x9},{y49} {x9},{y72} V{y98} Z"/>'
)


def _person(col: int, row: int) -> str:
    x, y = col * CELL, row * CELL

    def n(v: float) -> str:
        return f"{v:g}"

    return _PERSON.format(
        x1=n(x + 1.2),
        x5=n(x + 5),
        x9=n(x + 8.8),
        y26=n(y + 2.6),
        y49=n(y + 4.9),
        y72=n(y + 7.2),
        y98=n(y + 9.8),
    )


def svg(filled: int, label: str) -> str:
    """The SVG text: 100 people, ``filled`` of them (row by row from the top left)
    dark, the rest outlined; ``label`` is its title and accessible name."""
    if not 0 <= filled <= 100:
        raise ValueError(f"an icon array shows 0 to 100 people filled in, not {filled}")
    size = COLUMNS * CELL - 1
    people = [_person(i % COLUMNS, i // COLUMNS) for i in range(100)]
    title = escape(label, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}" role="img" aria-label="{title}">'
        f"<title>{title}</title>"
        f'<g fill="{INK}">{"".join(people[:filled])}</g>'
        f'<g fill="{PAPER}" stroke="{INK}" stroke-width="0.7">{"".join(people[filled:])}</g>'
        "</svg>"
    )


def icon_array(filled: int, label: str) -> Markup:
    """An <img> of :func:`svg` for a template, its alt text the same sentence."""
    data = base64.b64encode(svg(filled, label).encode("utf-8")).decode("ascii")
    return Markup(
        '<img class="icon-array" src="data:image/svg+xml;base64,{}" alt="{}" data-filled="{}">'
    ).format(data, label, filled)
