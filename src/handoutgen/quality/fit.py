"""Does a fixed-size document hold the options chosen for it?

A tri-fold has two sides, a booklet a set number of pages and an option grid
one sheet (the document's ``pages``). How many options fit is not a number
written down anywhere: it is found by laying the document out, so it follows
the templates, the styles and the text as they are today. ``capacity`` is the largest count of leading
options whose layout fits; it is cached by content, so the search is paid once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handoutgen.content.library import Library
from handoutgen.content.models import GRID_OPTIONS, Document
from handoutgen.core.errors import HandoutgenError

log = logging.getLogger("handoutgen")

# What a reader calls each fixed-size template (by file name); others are "layout".
LAYOUT_NAMES = {"trifold.html": "tri-fold", "booklet.html": "booklet"}

# The kinds whose page count is fixed: their options must fit it.
FIXED_KINDS = ("brochure", "grid")


@dataclass(frozen=True)
class Fit:
    """One layout of a document with some options: its pages and cut panels."""

    pages: int
    overflowing: tuple[str, ...]
    limit: int | None

    @property
    def ok(self) -> bool:
        return (self.limit is None or self.pages <= self.limit) and not self.overflowing


def layout_name(doc: Document) -> str:
    if doc.kind == "grid":
        return "option grid"
    return LAYOUT_NAMES.get(doc.template.rsplit("/", 1)[-1], f"{doc.pages}-page layout")


def grid_unfit(doc: Document, option_ids: list[str] | tuple[str, ...], fit: Fit) -> str | None:
    """The message when an option grid's options do not fit its sheet, naming them."""
    if fit.ok:
        return None
    sheet = "one side" if doc.pages == 1 else "one sheet, front and back"
    why = (
        f"needs {fit.pages} pages"
        if doc.pages is not None and fit.pages > doc.pages
        else f"cuts the text of {', '.join(fit.overflowing)}"
    )
    return (
        f"the option grid with {', '.join(option_ids)} {why}, but it must fit {sheet} "
        f"({doc.pages} page{'s' if doc.pages != 1 else ''}): choose fewer or other options, "
        "or shorten their answers"
    )


def measure(library: Library, doc: Document, option_ids: list[str] | tuple[str, ...]) -> Fit:
    """Lay the document out with these options (no personal data) and measure it."""
    from handoutgen.engine.weasy import layout, overflowing_panels
    from handoutgen.render.compose import render_html
    from handoutgen.render.context import make_request
    from handoutgen.store import cache

    ids = tuple(option_ids)
    # A measure depends on the content and on the code that lays it out (the
    # cache keys every entry by the code, WeasyPrint's version included).
    # (The pictures are counted: the check lays a document out with fewer.)
    key = f"{library.content_hash} {doc.id} {','.join(ids)} {len(doc.images)}"
    stored = cache.get("fit", key)
    if isinstance(stored, dict):
        try:
            return Fit(int(stored["pages"]), tuple(stored["overflowing"]), doc.pages)
        except (KeyError, TypeError, ValueError):
            pass  # an entry from another layout: measure again
    if library.documents.get(doc.id) is not doc:  # a variant of it (fewer pictures)
        from dataclasses import replace

        library = replace(library, documents={**library.documents, doc.id: doc})
    html = render_html(library, make_request(document=doc.id, options=ids))
    rendered = layout(library, html)
    fit = Fit(len(rendered.pages), tuple(overflowing_panels(rendered)), doc.pages)
    cache.put("fit", key, {"pages": fit.pages, "overflowing": list(fit.overflowing)})
    return fit


def budget(doc: Document) -> tuple[int, str] | None:
    """A document's page budget and the field that sets it: max_pages:, or the
    pages: of a booklet (padded to a multiple of its pages_multiple_of). A
    tri-fold's or a grid's pages: is a sheet, judged by its panels (``measure``)."""
    if doc.max_pages is not None:
        return doc.max_pages, "max_pages"
    if doc.pages is not None and doc.pages_multiple_of > 1:
        return doc.pages, "pages"
    return None


def pages_in(library: Library, doc: Document, language: str) -> int:
    """The pages the document prints with its own options in ``language`` (no
    personal data), padded as its render pads them."""
    from handoutgen.engine.weasy import layout
    from handoutgen.render.compose import render_html
    from handoutgen.render.context import make_request
    from handoutgen.store import cache

    key = f"{library.content_hash} {doc.id} {language}"
    stored = cache.get("budget", key)
    if isinstance(stored, int):
        return stored
    # A translation not yet reviewed is measured as its draft prints (marked).
    other = language != doc.language
    request = make_request(
        document=doc.id, language=language if other else None, allow_draft=other or None
    )
    count = len(layout(library, render_html(library, request)).pages)
    multiple = doc.pages_multiple_of
    count = -(-count // multiple) * multiple
    cache.put("budget", key, count)
    return count


def capacity(
    library: Library, doc: Document, candidates: list[str], guess: int | None = None
) -> int:
    """The largest k such that the first k ``candidates`` fit the document's pages
    (0 if not even one does). Assumes more options never take less room.

    ``guess`` is where to look first (the document's own count, say): when it is
    right, two layouts settle it; otherwise a binary search finishes the job."""
    lo, hi = 0, len(candidates)  # lo fits (0 trivially); nothing above hi is tried
    if guess is not None and 0 < guess < hi:
        if measure(library, doc, candidates[:guess]).ok:
            if not measure(library, doc, candidates[: guess + 1]).ok:
                return guess
            lo = guess + 1
        else:
            hi = guess - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(library, doc, candidates[:mid]).ok:
            lo = mid
        else:
            hi = mid - 1
    return lo


def too_many(library: Library, doc: Document, option_ids: list[str], fit: Fit) -> str | None:
    """The message when the layout does not fit because of how many options were
    chosen (fewer would fit), else None: then the text itself is too long. An
    option grid's message names the options that do not fit its sheet."""
    if fit.ok or doc.pages is None or len(option_ids) < 2:
        return None
    if doc.kind == "grid":
        return grid_unfit(doc, option_ids, fit)
    # Pages grow with options: the share of them that filled the allowed pages is
    # a good first guess.
    guess = len(option_ids) * doc.pages // max(fit.pages, 1)
    n = capacity(library, doc, option_ids[:-1], guess=max(1, guess))
    if n == 0:
        return None
    name = layout_name(doc)
    return (
        f"the {name} holds at most {n} option{'s' if n != 1 else ''}; {len(option_ids)} were "
        f"chosen: choose at most {n}, or use a document with more pages"
    )


def form_limit(library: Library, doc_id: str) -> int | None:
    """How many options the web form offers to tick for a document: None for
    documents without a fixed page count, else how many fit, taking the options
    it offers in the order the form lists them (its own first)."""
    doc = library.documents[doc_id]
    if doc.pages is None:
        return None
    if doc.kind == "grid":
        # Any 2 to 4 it offers fit (the tests lay out random sets); a set that
        # does not is refused by the render with the options named.
        return GRID_OPTIONS[1]
    try:
        return max(1, capacity(library, doc, doc.offered, guess=len(doc.options)))
    except HandoutgenError as exc:  # the form still works; every render checks the fit
        log.warning("could not measure how many options %s holds: %s", doc_id, exc)
        return None


def unfit_rows(library: Library, doc: Document, recipients: list) -> dict[int, str]:  # noqa: ANN001
    """For a batch: row number -> why its options do not fit the document, for
    each row whose option set is too many for a fixed-size layout. Each distinct
    set is laid out once."""
    if doc.pages is None or doc.kind not in FIXED_KINDS:
        return {}
    verdicts: dict[tuple[str, ...], str | None] = {}
    out: dict[int, str] = {}
    for rec in recipients:
        chosen = rec.fields.get("options") or doc.options
        ids = tuple(dict.fromkeys(chosen))
        if ids not in verdicts:
            verdicts[ids] = too_many(library, doc, list(ids), measure(library, doc, ids))
        if verdicts[ids] is not None:
            out[rec.row] = verdicts[ids]  # type: ignore[assignment]
    return out
