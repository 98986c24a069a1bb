"""PDF pages as PNG images (pdfium): previews, the web form, ``--format png``."""

from __future__ import annotations

import io


def page_count(pdf: bytes) -> int:
    """How many pages a PDF has (pdfium: a runtime dependency, unlike pypdf)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return len(doc)
    finally:
        doc.close()


def page_pngs(pdf: bytes, dpi: int = 96) -> list[bytes]:
    """Each page as PNG bytes."""
    return [_png(im) for im in _images(pdf, dpi)]


def stacked_png(pdf: bytes, dpi: int = 96) -> bytes:
    """All pages, top to bottom with a grey gap, as one PNG."""
    from PIL import Image

    pages = [im.convert("RGB") for im in _images(pdf, dpi)]
    gap = max(4, dpi // 12)
    width = max(im.width for im in pages)
    height = sum(im.height for im in pages) + gap * (len(pages) - 1)
    sheet = Image.new("RGB", (width, height), (200, 200, 200))
    y = 0
    for im in pages:
        sheet.paste(im, (0, y))
        y += im.height + gap
    return _png(sheet)


def _images(pdf: bytes, dpi: int) -> list:  # list[PIL.Image.Image]
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil() for page in doc]
    finally:
        doc.close()


def _png(image) -> bytes:  # noqa: ANN001 - a PIL image
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def pdf_picture_png(pdf: bytes, longest: int = 1600) -> bytes:
    """A one-page PDF (a logo) drawn as a PNG with a transparent background,
    ``longest`` pixels on its longer side. ValueError if it is not such a PDF."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise ValueError(f"it is not a readable PDF ({exc})") from None
    try:
        if len(doc) != 1:
            raise ValueError(f"a PDF picture must have one page; this one has {len(doc)}")
        page = doc[0]
        width, height = page.get_size()
        if min(width, height) <= 0:
            raise ValueError("its page has no size")
        scale = longest / max(width, height)
        image = page.render(scale=scale, fill_color=(255, 255, 255, 0)).to_pil()
        return _png(image)
    finally:
        doc.close()
