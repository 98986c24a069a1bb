"""Raster images far bigger than their printed size: a check warning with the
effective dpi. WeasyPrint embeds an image at full size, so a 9000x9000 logo
printed an inch wide makes every PDF megabytes heavier and slower to print."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

PIXEL_BUDGET = 12_000_000  # about 4000x3000: more than any handout picture needs
MAX_DPI = 600  # print shops want 300; beyond 600 adds bytes, not sharpness
GOOD_DPI = 300
RASTER = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Oversized:
    src: str
    width: int
    height: int
    printed_in: float | None  # printed width in inches, None if not on the page
    dpi: float | None

    def message(self) -> str:
        mp = self.width * self.height / 1e6
        size = f"{self.src} is {self.width}x{self.height} pixels ({mp:.0f} megapixels)"
        if self.dpi is None or self.printed_in is None:
            return (
                f"{size}, over the budget of {PIXEL_BUDGET / 1e6:.0f} megapixels: it makes "
                "every PDF heavier; scale it down"
            )
        want = round(self.printed_in * GOOD_DPI)
        return (
            f"{size}; printed {self.printed_in:.2f} in wide that is {self.dpi:.0f} dpi, and "
            f"{GOOD_DPI} dpi is all print needs: scale it to about {want} pixels wide (every "
            "PDF embeds it at full size)"
        )


def pixel_size(path: Path) -> tuple[int, int] | None:
    """Width and height from the file's header (nothing is decoded)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.size
    except Image.DecompressionBombError:
        return (1 << 15, 1 << 15)  # beyond PIL's own limit: as huge as it gets
    except (OSError, ValueError):
        return None  # not an image: the render reports it


def _img_boxes(box: Any) -> Iterator[Any]:
    element = getattr(box, "element", None)
    if element is not None and getattr(box, "element_tag", "") == "img":
        yield box
    for child in getattr(box, "children", None) or []:
        yield from _img_boxes(child)


def oversized(root: Path, sources: list[str], layout: Any | None) -> list[Oversized]:
    """The raster images among ``sources`` (relative to ``root``) that break the
    budget: more than PIXEL_BUDGET pixels, or printed above MAX_DPI. ``layout``
    (a WeasyPrint document, or a callable making one) gives printed widths."""
    big: list[tuple[str, int, int]] = []
    for src in dict.fromkeys(sources):
        if not src.lower().endswith(RASTER):
            continue
        size = pixel_size(root / src)
        if size is not None and size[0] * size[1] > 1_000_000:
            big.append((src, *size))
    if not big:
        return []
    document = layout() if callable(layout) else layout
    widths: dict[str, float] = {}
    if document is not None:
        from handoutgen.engine.weasy import _page_box

        for page in document.pages:
            for box in _img_boxes(_page_box(page)):
                src = unquote(box.element.get("src") or "")  # asset() quotes spaces
                widths[src] = max(widths.get(src, 0.0), box.width / 96)  # CSS px -> in
    out = []
    for src, w, h in big:
        printed = widths.get(src)
        dpi = w / printed if printed else None
        if w * h > PIXEL_BUDGET or (dpi is not None and dpi > MAX_DPI):
            out.append(Oversized(src, w, h, printed, dpi))
    return out
