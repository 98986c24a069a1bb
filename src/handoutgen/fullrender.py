"""A full render: the whole document laid out by WeasyPrint for one request."""

from __future__ import annotations

import re

from .compose import render_html
from .content import Library
from .models import RenderRequest
from .weasy import layout, write_pdf

_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def lay_out(library: Library, html: str, *, strict: bool = False, allow_http: bool = False):  # noqa: ANN201
    """Lay out a document, its one <style> parsed once per worker and reused.

    Parsing the stylesheet and loading its fonts was about a fifth of a
    full render. A document with several <style> elements is laid out as it
    is, so the cascade between them stays exactly as written."""
    styles = _STYLE.findall(html)
    # --strict must see the stylesheet's own warnings, which a parse reused
    # from an earlier document would not repeat; --allow-http fetches with
    # another fetcher than the shared parse has.
    if strict or allow_http or len(styles) != 1 or html.count("<style") != 1:
        return layout(library, html, strict=strict, allow_http=allow_http)
    bare = _STYLE.sub("", html, count=1)
    return layout(library, bare, strict=strict, allow_http=allow_http, css=styles[0])


def render_pdf(library: Library, request: RenderRequest, *, draft: bool = False) -> bytes:
    """The PDF of one request, laid out in full (``draft``: the content gate's verdict)."""
    html = render_html(library, request, draft=draft)
    document = lay_out(library, html, strict=request.strict, allow_http=request.allow_http)
    multiple = library.document(request.document).pages_multiple_of
    if len(document.pages) % multiple:
        # Booklets: lay out again with notes pages, so the padding pages carry
        # the running header and disclaimer like every other page.
        pad = multiple - len(document.pages) % multiple
        html = render_html(library, request, draft=draft, pad_pages=pad)
        document = lay_out(library, html, strict=request.strict, allow_http=request.allow_http)
    return write_pdf(document, library, request.pdf_variant, strict=request.strict)
