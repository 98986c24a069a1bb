"""Reading a PDF back as a reader sees it: each page's text by position."""

from __future__ import annotations


def page_words(pdf: bytes) -> list[list[str]]:
    """Each page's text in reading order, as a reader sees the page: lines from
    top to bottom (characters grouped by baseline), each line's characters left
    to right, spaces dropped. It follows positions, not the order a content
    stream draws in, so an assembled page (edition, then stamped overlay) and
    its full render compare equal exactly when they show the same text in the
    same places."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        out = []
        for page in doc:
            textpage = page.get_textpage()
            chars = []
            for i in range(textpage.count_chars()):
                ch = textpage.get_text_range(i, 1)
                if ch.strip():
                    left, bottom, _, _ = textpage.get_charbox(i)
                    chars.append((-bottom, left, ch))
            chars.sort()
            lines: list[list[tuple[float, str]]] = []
            top = None
            for neg_bottom, left, ch in chars:
                if top is None or neg_bottom - top > 2:  # a new baseline, 2 pt apart or more
                    lines.append([])
                    top = neg_bottom
                lines[-1].append((left, ch))
            out.append(["".join(ch for _, ch in sorted(line)) for line in lines])
        return out
    finally:
        doc.close()
