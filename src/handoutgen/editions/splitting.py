"""Splitting a request: the edition's HTML from stand-in personas, and the
request's personal parts; whether it can use an edition at all."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

from handoutgen.content.library import Library
from handoutgen.content.models import PERSONAL_FIELDS, RenderRequest
from handoutgen.editions.model import FORMAT, Fallback, Split
from handoutgen.engine.weasy import (
    version,
)
from handoutgen.render.compose import render_html
from handoutgen.render.context import Plan, plan
from handoutgen.render.marks import (
    Marks,
)
from handoutgen.render.standins import PERSONAS, stand_in

log = logging.getLogger("handoutgen")


def ineligible(library: Library, request: RenderRequest | Plan) -> str:
    """Why this request cannot use an edition, or "" if it can."""
    if isinstance(request, Plan):
        doc, request = request.document, request.request
    else:
        doc = library.document(request.document)
    if request.format != "pdf":
        return f"{request.format} output"
    if doc.kind not in ("handout", "letter"):
        return f"{doc.kind} layout"
    if doc.pages_multiple_of != 1:
        return "pages padded to a multiple"
    if request.print_ready:
        return "print-ready output"
    if request.pdf_variant != "pdf/ua-1":
        return f"{request.pdf_variant} output"
    if request.strict or request.allow_http:
        return "--strict or --allow-http"
    return ""


def split(library: Library, request: RenderRequest | Plan, *, draft: bool = False) -> Split:
    """Split a request into the edition it can share and its personal parts.

    The edition's HTML is rendered from stand-ins (:func:`stand_in`), never from
    the request: it holds no patient data by construction. The differential
    check (:func:`_shared`) proves the template keeps personal data in its
    marked parts; the request's own split render must then give the same shared
    HTML, or it renders in full."""
    p = plan(library, request)
    marks = Marks(splitting=True)
    html = render_html(library, p, draft=draft, marks=marks)
    shared = _shared(library, p, draft)
    s = Split(p.request, shared.html, marks, draft, shared_request=shared.request, plan=p)
    if marks.draft:
        s.fallback = Fallback.DRAFT
    elif "<main>" not in html or "</style>" not in html:
        s.fallback = Fallback.TEMPLATE
    elif shared.reason:
        s.fallback, s.detail = Fallback.PERSONAL_IN_SHARED, shared.reason
    elif html != shared.html or marks.shape != shared.shape:
        s.fallback, s.detail = (
            Fallback.PERSONAL_IN_SHARED,
            "personal data changes the shared pages (the template treats some values specially)",
        )
    h = hashlib.sha256()
    for part in (str(FORMAT), library.content_hash, version(), p.request.pdf_variant):
        h.update(part.encode() + b"\n")
    h.update(s.edition_html.encode())
    s.key = h.hexdigest()
    return s


@dataclass(frozen=True)
class _Shared:
    request: RenderRequest
    html: str
    shape: tuple
    reason: str


_SHARED: OrderedDict[tuple, _Shared] = OrderedDict()


def _shared(library: Library, p: Plan, draft: bool) -> _Shared:
    """The stand-in render and its differential check, once per document,
    options and set of filled-in fields (a batch has a handful)."""
    shared_request = stand_in(p.request, 0)
    key = (library.content_hash, str(library.workspace.root), draft, shared_request)
    if key in _SHARED:
        _SHARED.move_to_end(key)
        return _SHARED[key]
    marks_a, marks_b = Marks(splitting=True), Marks(splitting=True)
    html_a = render_html(library, p.personal(shared_request), draft=draft, marks=marks_a)
    html_b = render_html(library, p.personal(stand_in(p.request, 1)), draft=draft, marks=marks_b)
    reason = ""
    if html_a != html_b or marks_a.shape != marks_b.shape:
        names = _leaking_fields(library, p.personal(shared_request), html_a, draft)
        shown = ", ".join(n.replace("_", " ") for n in names) or "fields together"
        reason = f"personal data ({shown}) printed outside the template's marked personal parts"
    result = _Shared(shared_request, html_a, marks_a.shape, reason)
    _SHARED[key] = result
    while len(_SHARED) > 64:  # each holds a document's HTML: a worker needs a few at a time
        _SHARED.popitem(last=False)
    return result


def _leaking_fields(library: Library, shared: Plan, html_a: str, draft: bool) -> list[str]:
    """Which fields change the shared HTML, one at a time (only when the check fails)."""
    names = []
    for name in PERSONAL_FIELDS:
        if getattr(shared.request, name) is None:
            continue
        other = shared.personal(shared.request.model_copy(update={name: PERSONAS[1][name]}))
        if render_html(library, other, draft=draft, marks=Marks(splitting=True)) != html_a:
            names.append(name)
    return names


def clear_caches() -> None:
    _SHARED.clear()
