"""A full render: the whole document laid out by WeasyPrint for one request."""

from __future__ import annotations

from .compose import render_html
from .content import Library
from .models import RenderRequest
from .weasy import layout, write_pdf


def render_pdf(library: Library, request: RenderRequest, *, draft: bool = False) -> bytes:
    """The PDF of one request, laid out in full (``draft``: the content gate's verdict)."""
    html = render_html(library, request, draft=draft)
    document = layout(library, html, strict=request.strict, allow_http=request.allow_http)
    multiple = library.document(request.document).pages_multiple_of
    if len(document.pages) % multiple:
        # Booklets: lay out again with notes pages, so the padding pages carry
        # the running header and disclaimer like every other page.
        pad = multiple - len(document.pages) % multiple
        html = render_html(library, request, draft=draft, pad_pages=pad)
        document = layout(library, html, strict=request.strict, allow_http=request.allow_http)
    return write_pdf(document, library, request.pdf_variant, strict=request.strict)
