"""Saddle-stitch imposition (``render --impose``): a booklet's pages as printer
spreads, two to a landscape sheet side, in the order that reads right once the
sheets are printed on both sides (flipped on the short edge), stacked, folded
and stapled down the middle.

With pikepdf (MPL-2.0): each page becomes a form XObject drawn at its place on
the sheet, so text stays text. The kept imposition library on PyPI (pdfimpose)
is GPL-3.0, which does not fit this MIT package.
"""

from __future__ import annotations

import io

from handoutgen.content.models import Document
from handoutgen.core.errors import DataError, RenderError

# Landscape sheet sizes in points: a half-letter booklet fills a letter sheet,
# an A5 one (--page-size a4) an A4 sheet; other sizes are centred.
SHEETS = {"letter": (792.0, 612.0), "a4": (841.89, 595.28)}
# What the spreads file says it is (a booklet's own PDF says "booklet").
SPREADS_KIND = "booklet-spreads"
_KEPT = ("/Title", "/Author", "/Subject", "/Creator", "/handoutgendocument")


def refusal(doc: Document, fmt: str, print_ready: bool) -> str:
    """Why ``--impose`` cannot apply to this render, or "" if it can."""
    if doc.pages_multiple_of % 4:
        return (
            f"--impose makes printer spreads of a booklet, and '{doc.id}' is a {doc.kind}, "
            "not a booklet (a booklet's YAML has pages_multiple_of: 4, as spine-booklet's "
            "does); leave out --impose"
        )
    if fmt != "pdf":
        return f"--impose writes a PDF; leave out --format {fmt} or --impose"
    if print_ready:
        return (
            "--impose lays out spreads for an office printer; a print shop imposes a "
            "--print-ready file itself: leave out one of them"
        )
    return ""


def require_imposable(doc: Document, fmt: str, print_ready: bool) -> None:
    why = refusal(doc, fmt, print_ready)
    if why:
        raise DataError(why)


def spread_order(pages: int) -> list[tuple[int, int]]:
    """The (left, right) page numbers of each sheet side, front then back, sheet
    by sheet: for 16 pages 16,1 / 2,15 / 14,3 / 4,13 / ... / 8,9."""
    if pages <= 0 or pages % 4:
        raise RenderError(f"a booklet needs a multiple of 4 pages to impose; this has {pages}")
    sides = []
    for i in range(pages // 2):
        low, high = i + 1, pages - i
        # Fronts have the higher page on the left; backs the lower.
        sides.append((high, low) if i % 2 == 0 else (low, high))
    return sides


def impose(pdf: bytes, sheet: str = "letter") -> bytes:
    """The spreads of a booklet PDF (pages in reading order) on ``sheet`` paper."""
    import pikepdf

    if sheet not in SHEETS:
        raise RenderError(f"no sheet size '{sheet}' to impose on; use one of {', '.join(SHEETS)}")
    sheet_w, sheet_h = SHEETS[sheet]
    with pikepdf.open(io.BytesIO(pdf)) as src, pikepdf.new() as out:
        order = spread_order(len(src.pages))
        forms, boxes = [], []
        for page in src.pages:
            forms.append(out.copy_foreign(page.as_form_xobject()))
            boxes.append([float(x) for x in page.mediabox])
        for left, right in order:
            content, xobjects = [], pikepdf.Dictionary()
            for slot, number in enumerate((left, right)):
                x0, y0, x1, y1 = boxes[number - 1]
                w, h = x1 - x0, y1 - y0
                # Never enlarged; shrunk only if the pages are larger than half the sheet.
                scale = min(sheet_w / 2 / w, sheet_h / h, 1.0)
                # The pair is centred on the sheet; the fold is its middle.
                left_edge = (sheet_w - 2 * w * scale) / 2 + slot * w * scale
                bottom = (sheet_h - h * scale) / 2
                name = f"/Page{number}"
                xobjects[name] = forms[number - 1]
                tx, ty = left_edge - x0 * scale, bottom - y0 * scale
                content.append(f"q {scale:.6f} 0 0 {scale:.6f} {tx:.4f} {ty:.4f} cm {name} Do Q")
            side = pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=pikepdf.Array([0, 0, sheet_w, sheet_h]),
                Resources=pikepdf.Dictionary(XObject=xobjects),
                Contents=out.make_stream(("\n".join(content) + "\n").encode()),
            )
            out.pages.append(pikepdf.Page(side))
        for key in _KEPT:
            if key in src.docinfo:
                out.docinfo[key] = src.docinfo[key]
        out.docinfo["/handoutgenkind"] = SPREADS_KIND
        if "/Lang" in src.Root:
            out.Root.Lang = src.Root.Lang
        buf = io.BytesIO()
        out.save(buf, deterministic_id=True)
    return buf.getvalue()
