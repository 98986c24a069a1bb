"""HTML from a request: the template, its context, nothing else.

The content gate (are the document's checks clean?) runs above this, in the
pipeline (pipeline.py), which passes its verdict in as ``draft``.
"""

from __future__ import annotations

from handoutgen.content.library import Library
from handoutgen.content.models import RenderRequest
from handoutgen.content.templating import render_template
from handoutgen.render.context import context, plan
from handoutgen.render.marks import Marks


def render_html(
    library: Library,
    request: RenderRequest,
    *,
    standalone: bool = False,
    draft: bool = False,
    pad_pages: int = 0,
    marks: Marks | None = None,
) -> str:
    """The HTML WeasyPrint lays out; ``standalone`` inlines fonts as data URIs.

    ``draft`` marks every page DRAFT (content with errors that the request
    allowed); a document whose status is not ``approved`` is always a draft.
    """
    p = plan(library, request)
    ctx = context(
        library, p, inline_fonts=standalone, draft=draft, pad_pages=pad_pages, marks=marks
    )
    if marks is not None:
        marks.draft = ctx["draft"]
    return render_template(library.workspace.template_dirs, p.document.template, ctx)
