"""A full render: the whole document laid out by WeasyPrint for one request."""

from __future__ import annotations

import re

from handoutgen.content.library import Library
from handoutgen.content.models import RenderRequest
from handoutgen.core.errors import RenderError
from handoutgen.engine.weasy import layout, visible_share, write_pdf
from handoutgen.render.compose import render_html
from handoutgen.render.context import Plan, plan

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


def render_pdf(library: Library, request: RenderRequest | Plan, *, draft: bool = False) -> bytes:
    """The PDF of one request, laid out in full (``draft``: the content gate's verdict)."""
    p = plan(library, request)
    request = p.request
    html = render_html(library, p, draft=draft)
    document = lay_out(library, html, strict=request.strict, allow_http=request.allow_http)
    multiple = p.document.pages_multiple_of
    pad = 0
    while len(document.pages) % multiple:
        # Booklets: lay out again with notes pages (before the back cover), so
        # the padding pages carry the running header and disclaimer like every
        # other page. A notes page is one page, so one more layout settles it;
        # if a stylesheet made it longer, the count is tried again.
        if pad >= 2 * multiple:
            raise RenderError(
                f"{request.document}: cannot pad {len(document.pages)} pages to a multiple "
                f"of {multiple} (pages_multiple_of) with notes pages; a stylesheet makes a "
                "notes page run over one page (.notes-page)"
            )
        pad += multiple - len(document.pages) % multiple
        html = render_html(library, p, draft=draft, pad_pages=pad)
        document = lay_out(library, html, strict=request.strict, allow_http=request.allow_http)
    require_one_sheet(p, len(document.pages))
    require_visible(document, html, request.document)
    return write_pdf(
        document, library, request.pdf_variant, strict=request.strict, date=_content_date(library)
    )


def _content_date(library: Library) -> str:
    """When the content was last reviewed: the date a PDF/X file carries, so the
    same content gives the same bytes."""
    dates = [o.reviewed for o in library.options.values()]
    return f"{max(dates).isoformat()}T00:00:00+00:00" if dates else "2000-01-01T00:00:00+00:00"


def require_one_sheet(p: Plan, pages: int) -> None:
    """An option grid is one sheet in every size, language and clinic: `check`
    measures the document's own page size; this measures the render itself."""
    doc = p.document
    if doc.kind != "grid" or doc.pages is None or pages <= doc.pages:
        return
    options = ", ".join(o.id for o in p.options)
    raise RenderError(
        f"{doc.id}: the option grid with {options} needs {pages} pages in {p.page_size} "
        f"({p.language}), but it must fit one sheet ({doc.pages} "
        "pages): choose fewer or other options, or shorten their answers"
    )


# What every copy must show where the HTML has it: the marks on every page,
# the emergency block somewhere. The content checks prove the template prints
# them; this proves no stylesheet hid them.
_ON_EVERY_PAGE = {
    "watermark": "DRAFT mark",
    "translation-mark": "'Translation not yet reviewed' mark",
    "approval-mark": "'Not yet approved by your clinic' mark",
    "approval-note": "'Not yet approved by your clinic' note",
}
_SOMEWHERE = {"get-help": "'When to get help' block"}


def _has_class(html: str, name: str) -> bool:
    return re.search(rf'class="(?:[^"]*\s)?{re.escape(name)}(?:\s[^"]*)?"', html) is not None


def require_visible(document, html: str, doc_id: str) -> None:  # noqa: ANN001
    every = [c for c in _ON_EVERY_PAGE if _has_class(html, c)]
    once = [c for c in _SOMEWHERE if _has_class(html, c)]
    labels = dict(_ON_EVERY_PAGE)
    if 'class="translation-mark machine"' in html:
        labels["translation-mark"] = "'Machine translation, not reviewed' mark"
    if not every and not once:
        return
    pages = visible_share(document, every + once)
    problems = []
    # Nearly all of it: list bullets count as text, a few letters may differ.
    for name in every:
        missing = [str(i + 1) for i, share in enumerate(pages) if share[name] < 0.9]
        if missing:
            problems.append(f"the {labels[name]} is hidden on page {', '.join(missing)}")
    for name in once:
        if sum(share[name] for share in pages) < 0.9:
            problems.append(f"the {_SOMEWHERE[name]} is hidden, in whole or in part")
    if problems:
        raise RenderError(
            f"{doc_id}: {'; '.join(problems)}. A stylesheet or template hides what every "
            "copy must show (display, visibility, opacity, colour, size or position); "
            "remove that rule"
        )
