"""Variable-data rendering: lay out the shared pages once, stamp each recipient on top.

A template marks what is personal (marks.py). A *split* render gives the
edition HTML, rendered from stand-in personas so it holds no patient data, and
the request's personal parts. An edition is laid out and written once and
cached on disk, keyed by a hash of its HTML (which inlines the content,
templates and styles), the content hash (which covers assets and handoutgen's
version) and WeasyPrint's version.

Recipients are then laid out many per WeasyPrint document: their personal
pages and their overlays. An edition page with slot boxes takes an overlay of
its own (running header, "Page X of Y" and the slots at their placeholders'
positions); any other page takes the recipient's running header (laid out
once, the same on every page) and "Page X of Y" (laid out once per chunk: it
holds no personal data). pikepdf stamps the overlays on a copy of the
edition's pages and merges the letter's tag tree into the edition's, so the
result reads like a full render.

Whenever it might not, that recipient gets a full render and the outcome says
why (:class:`Fallback`). An edition is used only once *verified*: its
self-check assembled a stand-in recipient and found the same words, page by
page and in reading order, as that recipient's full render.

This module is below the pipeline (render.py): the content gate's verdict
comes in as ``draft``, and WeasyPrint is reached only through weasy.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from markupsafe import Markup, escape

from handoutgen.content.i18n import page_of
from handoutgen.content.library import Library
from handoutgen.content.models import PERSONAL_FIELDS, RenderRequest
from handoutgen.core.errors import HandoutgenError
from handoutgen.editions.assemble import adopt_tags, stamp
from handoutgen.engine.readback import page_words
from handoutgen.engine.weasy import (
    first_marks,
    layout,
    marked_boxes,
    page_holders,
    version,
    write_pages,
    write_pdf,
)
from handoutgen.render.compose import render_html
from handoutgen.render.fullrender import render_pdf
from handoutgen.render.marks import (
    AUTHOR_PLACEHOLDER,
    EDITION_CSS,
    HEAD_SLOTS,
    OVERLAY_PAGE_ATTR,
    PERSONAL_CSS,
    RECIPIENT_ATTR,
    SLOT_ATTR,
    Marks,
)
from handoutgen.render.standins import PERSONAS, stand_in

log = logging.getLogger("handoutgen")

FORMAT = 3  # bump when the cached edition layout changes meaning


class Mode(str, Enum):
    """How a recipient's PDF was made."""

    EDITION = "edition"
    FULL = "full"


class Fallback(Enum):
    """Why a recipient was rendered in full instead of from an edition.

    The value is the text shown to users (summary lines, the manifest's
    ``render`` column); ``{detail}`` is filled in from the outcome."""

    INELIGIBLE = "{detail}"  # not a PDF, a brochure, print-ready... (detail says which)
    DRAFT = "draft"
    TEMPLATE = "template has no <main> or <style>"
    PERSONAL_IN_SHARED = "{detail}"
    NOT_CACHED = "edition not cached"
    BOX_SPLIT = "a personal box breaks across pages"
    UNVERIFIED = "the edition could not be checked against a full render"
    SELF_CHECK = "self-check: the assembled pages differ from a full render"
    NO_PLACE = "the edition has no place for a personal box"
    SLOT_TOO_LONG = "the {detail} text is too long for its box"
    SLOT_FONT = "the {detail} text uses a fallback font, which changes the size of its box"
    PAGE_OVERFLOW = "a personal page overflowed"
    OVERLAY_MISMATCH = "the overlay pages do not match the edition"
    ASSEMBLY = "assembly failed ({detail})"

    @property
    def missed(self) -> bool:
        """Whether warming the cache would have avoided it (the web app then builds it)."""
        return self is Fallback.NOT_CACHED

    def text(self, detail: str = "") -> str:
        return self.value.format(detail=detail)


# -- splitting ----------------------------------------------------------------------


@dataclass
class Split:
    request: RenderRequest  # the real request: only its marks are used for stamping
    base_html: str  # the edition's document, placeholders in, before the edition CSS
    marks: Marks  # the real request's personal parts
    draft: bool = False  # the content gate's verdict for this request
    shared_request: RenderRequest | None = None  # the stand-in request the edition is built from
    key: str = ""
    fallback: Fallback | None = None  # why this recipient needs a full render
    detail: str = ""

    @property
    def edition_html(self) -> str:
        return _inject_css(self.base_html, EDITION_CSS)


def _inject_css(html: str, css: str) -> str:
    return html.replace("</style>", css + "</style>", 1)


def ineligible(library: Library, request: RenderRequest) -> str:
    """Why this request cannot use an edition, or "" if it can."""
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


def split(library: Library, request: RenderRequest, *, draft: bool = False) -> Split:
    """Split a request into the edition it can share and its personal parts.

    The edition's HTML is rendered from stand-ins (:func:`stand_in`), never from
    the request: it holds no patient data by construction. The differential
    check (:func:`_shared`) proves the template keeps personal data in its
    marked parts; the request's own split render must then give the same shared
    HTML, or it renders in full."""
    marks = Marks(splitting=True)
    html = render_html(library, request, draft=draft, marks=marks)
    shared = _shared(library, request, draft)
    s = Split(request, shared.html, marks, draft, shared_request=shared.request)
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
    for part in (str(FORMAT), library.content_hash, version(), request.pdf_variant):
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


def _shared(library: Library, request: RenderRequest, draft: bool) -> _Shared:
    """The stand-in render and its differential check, once per document,
    options and set of filled-in fields (a batch has a handful)."""
    shared_request = stand_in(request, 0)
    key = (library.content_hash, str(library.workspace.root), draft, shared_request)
    if key in _SHARED:
        _SHARED.move_to_end(key)
        return _SHARED[key]
    marks_a, marks_b = Marks(splitting=True), Marks(splitting=True)
    html_a = render_html(library, shared_request, draft=draft, marks=marks_a)
    html_b = render_html(library, stand_in(request, 1), draft=draft, marks=marks_b)
    reason = ""
    if html_a != html_b or marks_a.shape != marks_b.shape:
        names = _leaking_fields(library, shared_request, html_a, draft)
        shown = ", ".join(n.replace("_", " ") for n in names) or "fields together"
        reason = f"personal data ({shown}) printed outside the template's marked personal parts"
    result = _Shared(shared_request, html_a, marks_a.shape, reason)
    _SHARED[key] = result
    while len(_SHARED) > 64:  # each holds a document's HTML: a worker needs a few at a time
        _SHARED.popitem(last=False)
    return result


def _leaking_fields(
    library: Library, shared_request: RenderRequest, html_a: str, draft: bool
) -> list[str]:
    """Which fields change the shared HTML, one at a time (only when the check fails)."""
    names = []
    for name in PERSONAL_FIELDS:
        if getattr(shared_request, name) is None:
            continue
        other = shared_request.model_copy(update={name: PERSONAS[1][name]})
        if render_html(library, other, draft=draft, marks=Marks(splitting=True)) != html_a:
            names.append(name)
    return names


# -- editions -----------------------------------------------------------------------


@dataclass
class Edition:
    key: str
    pdf: bytes
    pages: int
    # slot index -> [page, x, y, width, height] of the placeholder's border box,
    # in CSS px from the top left of the page area
    slots: dict[int, list[float]]
    # Checked against a full render (the self-check found the same words on
    # every page, in reading order). An edition that was not is never used.
    verified: bool = False
    fallback: Fallback | None = None  # why it cannot be used, if it cannot

    @property
    def usable(self) -> bool:
        return self.verified and self.fallback is None

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "key": self.key,
            "pages": self.pages,
            "slots": {str(k): v for k, v in self.slots.items()},
            "verified": self.verified,
            "fallback": self.fallback.name if self.fallback else None,
            "sha256": hashlib.sha256(self.pdf).hexdigest(),
        }


_MEMORY: OrderedDict[str, Edition] = OrderedDict()
_MEMORY_SIZE = 24


def clear_caches() -> None:
    _MEMORY.clear()
    _SHARED.clear()


def _remember(edition: Edition) -> Edition:
    _MEMORY[edition.key] = edition
    _MEMORY.move_to_end(edition.key)
    while len(_MEMORY) > _MEMORY_SIZE:
        _MEMORY.popitem(last=False)
    return edition


def _pack(edition: Edition) -> bytes:
    meta = json.dumps(edition.meta(), sort_keys=True).encode()
    return meta + b"\n" + edition.pdf


def _unpack(key: str, payload: bytes) -> Edition:
    head, _, pdf = payload.partition(b"\n")
    meta = json.loads(head)
    if meta.get("format") != FORMAT or meta.get("key") != key:
        raise ValueError("wrong format or key")
    if hashlib.sha256(pdf).hexdigest() != meta["sha256"]:
        raise ValueError("checksum mismatch")
    slots = {int(k): [float(x) for x in v] for k, v in meta["slots"].items()}
    fallback = Fallback[meta["fallback"]] if meta.get("fallback") else None
    return Edition(key, pdf, int(meta["pages"]), slots, bool(meta["verified"]), fallback)


def cached_edition(key: str) -> Edition | None:
    """The edition from memory or disk. A disk entry is authenticated by the
    cache's HMAC (cache.py): a forged or damaged one is reported and missing."""
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    from handoutgen.store.cache import open_cache

    store = open_cache()
    payload = store.get("editions", key) if store is not None else None
    if payload is None:
        return None
    try:
        edition = _unpack(key, payload)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("edition %s in the cache is damaged (%s); building it again", key[:12], exc)
        return None
    return _remember(edition)


def _store(edition: Edition, store) -> None:  # noqa: ANN001 - a cache.Cache
    try:
        store.put("editions", edition.key, _pack(edition))
    except OSError as exc:
        log.debug("edition not cached (%s)", exc)


@contextlib.contextmanager
def _build_lock(key: str):  # noqa: ANN202
    """Workers that need the same edition wait for one to build it. Yields the
    cache to store the result in, or None (no cache, or its lock is unsafe)."""
    from handoutgen.store.cache import open_cache

    store = open_cache()
    if store is None:
        yield None
        return
    with store.lock("editions", key) as usable:
        yield store if usable else None


def get_edition(library: Library, s: Split, *, build: bool = True) -> Edition | None:
    edition = cached_edition(s.key)
    if edition is not None or not build:
        return edition
    with _build_lock(s.key) as store:
        edition = cached_edition(s.key)  # another worker may have built it meanwhile
        if edition is None:
            edition = _remember(build_edition(library, s))
            if store is not None:
                _store(edition, store)
    return edition


def build_edition(library: Library, s: Split) -> Edition:
    """Lay out and write the shared pages, then check them against a full render."""
    assert s.shared_request is not None
    document = layout(library, s.edition_html)
    slots: dict[int, list[float]] = {}
    fallback = None
    for page_index, page in enumerate(document.pages):
        for index, (x, y, w, h) in marked_boxes(page, SLOT_ATTR):
            if index in slots:
                fallback = Fallback.BOX_SPLIT
            slots[index] = [page_index, x, y, w, h]
    pdf = write_pdf(document, library, s.shared_request.pdf_variant)
    edition = Edition(s.key, pdf, len(document.pages), slots, fallback=fallback)
    if fallback is None:
        edition.verified, edition.fallback = _self_check(library, edition, s)
    if not edition.usable:
        assert edition.fallback is not None
        log.info("edition %s renders in full: %s", s.key[:12], edition.fallback.text())
    return edition


def _self_check(library: Library, edition: Edition, s: Split) -> tuple[bool, Fallback | None]:
    """(verified, why not usable): assemble the second stand-in persona and
    compare it, page by page and in reading order, with its full render.
    Catches templates whose margin boxes or personal parts do not follow the
    conventions this module relies on. No real request is involved. An edition
    whose probe cannot be assembled is not verified, so it is not used."""
    assert s.shared_request is not None
    probe = stand_in(s.shared_request, 1)
    if probe.note:
        # Persona B's two-paragraph note outgrows the note box's minimum height
        # (that recipient would rightly render in full); the probe must fit.
        probe = probe.model_copy(update={"note": "A different stand-in note."})
    ps = split(library, probe, draft=s.draft)
    if ps.key != s.key or ps.fallback is not None:
        return False, Fallback.UNVERIFIED
    outcome = _personalize(library, edition, [ps])[0]
    if outcome.pdf is None:
        return False, Fallback.UNVERIFIED
    full = render_pdf(library, probe, draft=s.draft)
    if page_words(outcome.pdf) != page_words(full):
        return True, Fallback.SELF_CHECK
    return True, None


# -- personal layer -------------------------------------------------------------------


@dataclass
class Outcome:
    pdf: bytes | None = None
    mode: Mode = Mode.FULL
    fallback: Fallback | None = None  # why a full render was needed
    detail: str = ""
    error: HandoutgenError | None = None
    pages: int = 0

    @property
    def reason(self) -> str:
        """Why a full render was needed, in words ("" if it was not)."""
        return self.fallback.text(self.detail) if self.fallback else ""

    def fall_back(self, fallback: Fallback, detail: str = "") -> None:
        if self.fallback is None:  # the first cause found is the one reported
            self.fallback, self.detail = fallback, detail


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_STRINGS = '<div class="vdp-strings" data-head="{}" data-page="{}"></div>'
_FIRST_TAG = re.compile(r"^\s*<[^>]+>")
_HTML_LANG = re.compile(r'<html lang="([^"]+)"')


class _Overlays:
    """The overlay pages of a chunk's personal layer, each laid out once.

    A page of an edition takes either its own overlay (when personal slots sit
    on it: running name, page number and slots together), or the recipient's
    running name (one overlay, the same on every page that shows it) plus
    "Page X of Y" (one overlay per distinct text, shared by the whole chunk: it
    holds no personal data). Laying out one empty page per edition page and
    recipient was most of the cost of a stamped letter."""

    def __init__(self) -> None:
        self.ids: dict[tuple[Any, ...], int] = {}
        self.numbers: list[tuple[int, str]] = []  # shared page-number overlays (id, text)

    def new(self, key: tuple[Any, ...]) -> int:
        self.ids[key] = len(self.ids)
        return self.ids[key]

    def number(self, text: str) -> int:
        if ("number", text) not in self.ids:
            self.numbers.append((self.new(("number", text)), text))
        return self.ids[("number", text)]

    def shared_html(self) -> str:
        if not self.numbers:
            return ""
        sections = "".join(_overlay_html(i, "", text) for i, text in self.numbers)
        return f'<div class="vdp-recipient" {RECIPIENT_ATTR}="-1">{sections}</div>'


def _overlay_html(oid: int, head: str, page: str, slots: str = "") -> str:
    strings = Markup(_STRINGS).format(head, page)
    return f'<section class="vdp-overlay" {OVERLAY_PAGE_ATTR}="{oid}">{strings}{slots}</section>'


def _recipient_html(
    k: int, s: Split, edition: Edition, overlays: _Overlays
) -> tuple[str, list[list[int]]]:
    """A recipient's personal pages and overlays, and for each edition page the
    overlays to stamp on it (in drawing order)."""
    personal = s.marks.personal
    total = len(personal) + edition.pages
    head = s.marks.head_text
    # "Page X of Y" in the edition's language (its <html lang>), as the stylesheet prints it.
    found = _HTML_LANG.search(s.base_html)
    lang = found.group(1) if found else "en"
    parts = []
    for i, section in enumerate(personal):
        strings = Markup(_STRINGS).format("", page_of(i + 1, total, lang))
        # Inside the page's first element, so no named-page break comes first.
        marked = _FIRST_TAG.sub(lambda m: m.group(0) + str(strings), str(section), count=1)  # noqa: B023 - used at once
        parts.append(marked)
    head_page = min(
        (int(v[0]) for i, v in edition.slots.items() if s.marks.slots[i].name in HEAD_SLOTS),
        default=None,
    )
    stamps: list[list[int]] = []
    head_id: int | None = None
    for j in range(edition.pages):
        number = len(personal) + j + 1
        shown = head if (number > 1 and head_page is not None and head_page <= j) else ""
        text = page_of(number, total, lang)
        slots = [
            Markup(
                '<div class="{} vdp-slot" {}="{}" '
                'style="left: {:.4f}px; top: {:.4f}px; width: {:.4f}px">{}</div>'
            ).format(slot.name, Markup(SLOT_ATTR), i, x, y, w, slot.content)
            for i, slot in enumerate(s.marks.slots)
            for page, x, y, w, _ in [edition.slots[i]]
            if int(page) == j
        ]
        if slots:
            oid = overlays.new(("page", k, j))
            parts.append(_overlay_html(oid, shown, text, "".join(slots)))
            stamps.append([oid])
            continue
        ids = []
        if shown:
            if head_id is None:
                head_id = overlays.new(("head", k))
                parts.append(_overlay_html(head_id, shown, ""))
            ids.append(head_id)
        ids.append(overlays.number(text))
        stamps.append(ids)
    if not parts:  # nothing of its own to lay out (its pages take shared overlays only)
        return "", stamps
    return f'<div class="vdp-recipient" {RECIPIENT_ATTR}="{k}">{"".join(parts)}</div>', stamps


def _personalize(library: Library, edition: Edition, splits: list[Split]) -> list[Outcome]:
    """Lay out the personal layer of many recipients in one WeasyPrint document,
    then assemble each recipient's PDF. Recipients whose layer does not fit get
    an Outcome with a reason and no PDF (the caller renders them in full)."""
    outcomes = [Outcome() for _ in splits]
    for s, o in zip(splits, outcomes, strict=True):
        if set(range(len(s.marks.slots))) - set(edition.slots):
            o.fall_back(Fallback.NO_PLACE)
    live = [k for k, o in enumerate(outcomes) if o.fallback is None]
    if not live:
        return outcomes
    document, stamps, numbers = _lay_out_layers(library, edition, splits, live)
    pages, where = _pages_by_recipient(document, edition, splits, outcomes, live)
    plan = _assembly_plan(splits, outcomes, pages, stamps, where, numbers)
    _assemble_all(document, edition, splits, outcomes, plan)
    return outcomes


def _lay_out_layers(
    library: Library, edition: Edition, splits: list[Split], live: list[int]
) -> tuple[Any, dict[int, list[list[int]]], set[int]]:
    """One WeasyPrint document with every live recipient's personal pages and
    overlays; which overlays each recipient's edition pages take; and which
    overlays are the shared page numbers."""
    first = _inject_css(splits[live[0]].base_html, PERSONAL_CSS)
    prefix = first[: first.index("<main>") + len("<main>")]
    # The stylesheet is parsed once per process and reused for every chunk.
    style = _STYLE.search(prefix)
    css = style.group(1) if style else None
    if style:
        prefix = prefix[: style.start()] + prefix[style.end() :]
    overlays = _Overlays()
    bodies, stamps = [], {}
    for k in live:
        html, stamps[k] = _recipient_html(k, splits[k], edition, overlays)
        bodies.append(html)
    body = "".join(bodies) + overlays.shared_html()
    document = layout(library, prefix + body + "</main></body></html>", css=css)
    return document, stamps, {oid for oid, _ in overlays.numbers}


def _pages_by_recipient(
    document: Any, edition: Edition, splits: list[Split], outcomes: list[Outcome], live: list[int]
) -> tuple[dict[int, list[tuple[int, int | None]]], dict[int, list[int]]]:
    """Which pages belong to whom ((page index, overlay or None for a personal
    page)), where each overlay landed (its page indices), and whether every box
    landed where the edition's did."""
    from handoutgen.content.fonts import needs_fallback_font

    pages: dict[int, list[tuple[int, int | None]]] = {k: [] for k in live}
    where: dict[int, list[int]] = {}
    holders = page_holders(document, (RECIPIENT_ATTR, OVERLAY_PAGE_ATTR))
    for index, page in enumerate(document.pages):
        owner = first_marks(page, (RECIPIENT_ATTR, OVERLAY_PAGE_ATTR))
        r, p = owner.get(RECIPIENT_ATTR), owner.get(OVERLAY_PAGE_ATTR)
        if p is not None:
            where.setdefault(p, []).append(index)
        strangers = holders[index] - {(r, p)}
        if strangers:
            # Content of another page's owner drawn here: a box too tall for its
            # page (a long letter, a note past its box) that WeasyPrint went on
            # with over the next page, whoever owns it. Nobody whose content is
            # on this page, or who would stamp it, may use this layout.
            for other_r, other_p in [*sorted(strangers, key=repr), (r, p)]:
                if other_r is not None and other_r in pages:
                    spilled = (other_r, other_p) != (r, p)
                    cause = Fallback.PAGE_OVERFLOW if spilled else Fallback.OVERLAY_MISMATCH
                    outcomes[other_r].fall_back(cause)
                if other_p is not None:
                    # Counted on a second page, so every recipient that
                    # stamps this overlay fails the one-page check below.
                    where.setdefault(other_p, []).append(index)
        if r is None or r not in pages:
            continue
        pages[r].append((index, p))
        if p is None:
            continue
        for slot_index, got in marked_boxes(page, SLOT_ATTR):
            want = edition.slots[slot_index][1:]
            if any(abs(a - b) > 0.01 for a, b in zip(got, want, strict=True)):
                slot = splits[r].marks.slots[slot_index]
                label = slot.name.replace("-", " ")
                # Another script's font has other line metrics: the box moved
                # or grew although the text may be short.
                cause = (
                    Fallback.SLOT_FONT
                    if needs_fallback_font(slot.content.striptags())
                    else Fallback.SLOT_TOO_LONG
                )
                outcomes[r].fall_back(cause, label)
    return pages, where


def _assembly_plan(
    splits: list[Split],
    outcomes: list[Outcome],
    pages: dict[int, list[tuple[int, int | None]]],
    stamps: dict[int, list[list[int]]],
    where: dict[int, list[int]],
    numbers: set[int],
) -> dict[int, tuple[list[int], list[list[int]]]]:
    """For each recipient that fits: its personal pages, and for each edition
    page the pages of the overlays to stamp on it (pages of the layer document)."""
    plan: dict[int, tuple[list[int], list[list[int]]]] = {}
    for k, owned in pages.items():
        o = outcomes[k]
        personal = [i for i, p in owned if p is None]
        used = list(dict.fromkeys(oid for ids in stamps[k] for oid in ids))
        # Each overlay it takes on a page of its own, and its own overlays (not
        # the shared page numbers) on its pages, in order.
        own = [oid for oid in used if oid not in numbers]
        if len(personal) != len(splits[k].marks.personal):
            o.fall_back(Fallback.PAGE_OVERFLOW)
        elif (
            any(len(where.get(oid, ())) != 1 for oid in used)
            or [p for _, p in owned if p is not None] != own
        ):
            o.fall_back(Fallback.OVERLAY_MISMATCH)
        if o.fallback is None:
            plan[k] = (personal, [[where[oid][0] for oid in ids] for ids in stamps[k]])
    return plan


def _assemble_all(
    document: Any,
    edition: Edition,
    splits: list[Split],
    outcomes: list[Outcome],
    plan: dict[int, tuple[list[int], list[list[int]]]],
) -> None:
    """Write each recipient's letter (tagged) and overlays, then its PDF.

    Each recipient's pages are written apart, though laid out with the chunk:
    a written file's fonts hold the glyphs of every page in it, so a shared
    write would put the characters of other recipients' names and notes in
    this recipient's fonts, and its bytes would depend on who else was in the
    chunk. (About 11 ms a recipient more than one write per chunk.)"""
    import pikepdf

    for k, (letter_pages, overlay_pages) in plan.items():
        try:
            # This recipient's overlays (its own and the shared page numbers),
            # each written once: the name on every page is one form.
            used = list(dict.fromkeys(i for ids in overlay_pages for i in ids))
            local = {i: n for n, i in enumerate(used)}
            overlays = write_pages(document, used, tags=False)
            letters = write_pages(document, letter_pages, tags=True) if letter_pages else None
            with contextlib.ExitStack() as stack:
                opdf = stack.enter_context(pikepdf.open(io.BytesIO(overlays)))
                forms = [page.as_form_xobject() for page in opdf.pages]
                lpdf = stack.enter_context(pikepdf.open(io.BytesIO(letters))) if letters else None
                ltree = _LetterTree(lpdf) if lpdf is not None else None
                author = splits[k].marks.author_value
                positions = [[local[i] for i in ids] for ids in overlay_pages]
                lp = list(range(len(letter_pages)))
                pdf = _assemble(edition, ltree, lp, forms, positions, author)
            outcomes[k].pdf = pdf
            outcomes[k].mode = Mode.EDITION
            outcomes[k].pages = len(letter_pages) + len(overlay_pages)
        except Exception as exc:  # noqa: BLE001 - fall back, never lose the row
            log.debug("assembly failed: %r", exc, exc_info=True)
            outcomes[k].fall_back(Fallback.ASSEMBLY, type(exc).__name__)


# -- assembly (pikepdf) -------------------------------------------------------------------


class _LetterTree:
    """The personal pages' tag tree, split by page so each recipient takes its own."""

    def __init__(self, pdf) -> None:  # noqa: ANN001
        import pikepdf

        self.pdf = pdf
        root = pdf.Root.StructTreeRoot
        document = root.K[0] if isinstance(root.K, pikepdf.Array) else root.K
        self.by_page: dict[tuple[int, int], list] = {}
        for child in document.K:
            # Cut the link up to this file's root, so copying a child copies only its subtree.
            if "/P" in child:
                del child["/P"]
            self.by_page.setdefault(child.Pg.objgen, []).append(child)
        nums = root.ParentTree.Nums
        self.parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}


def _set_author(out, author: str | None) -> None:  # noqa: ANN001
    """Put the recipient's author (clinic) where the edition has the placeholder."""
    if "/Author" in out.docinfo and str(out.docinfo.Author) == AUTHOR_PLACEHOLDER:
        if author:
            out.docinfo.Author = author
        else:
            del out.docinfo["/Author"]
    if "/Metadata" in out.Root:
        xmp = out.Root.Metadata.read_bytes()
        if AUTHOR_PLACEHOLDER.encode() in xmp:
            value = str(escape(author or "")).encode()
            out.Root.Metadata.write(xmp.replace(AUTHOR_PLACEHOLDER.encode(), value))


def _assemble(
    edition: Edition,
    ltree: _LetterTree | None,
    lp: list[int],
    forms: list[Any],
    op: list[list[int]],
    author: str | None = None,
):  # noqa: ANN202
    import pikepdf
    from pikepdf import Array

    out = pikepdf.open(io.BytesIO(edition.pdf))
    _set_author(out, author)
    # 1. Stamp the overlays as form XObjects, marked as artifacts (the
    #    header and page number are artifacts; slot text is pagination data too).
    for j, positions in enumerate(op):
        for n, o_index in enumerate(positions):
            # copy_foreign copies a form once per output, however many pages take it.
            stamp(out.pages[j], out.copy_foreign(forms[o_index]), f"/HgVdp{j}_{n}")
    # 2. The personal pages go first, with their tag subtrees.
    if ltree is not None and lp:
        root = out.Root.StructTreeRoot
        document = root.K[0] if isinstance(root.K, Array) else root.K
        nums = root.ParentTree.Nums
        next_key = max((int(nums[i]) for i in range(0, len(nums), 2)), default=-1) + 1
        new_children = []
        for position, l_index in enumerate(lp):
            source = ltree.pdf.pages[l_index]
            out.pages.insert(position, source)
            page = out.pages[position]
            next_key = adopt_tags(out, page, source, ltree.parents, next_key)
            for child in ltree.by_page.get(source.obj.objgen, []):
                copy = out.copy_foreign(child)
                copy.P = document
                new_children.append(copy)
        document.K = Array([*new_children, *document.K])
        if "/ParentTreeNextKey" in root:
            root.ParentTreeNextKey = next_key
    buf = io.BytesIO()
    # Object streams keep the tag tree's thousands of small objects compact.
    out.save(buf, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    out.close()
    return buf.getvalue()


# -- entry points -----------------------------------------------------------------------------


@dataclass
class Job:
    request: RenderRequest
    draft: bool = False
    split: Split | None = None
    outcome: Outcome = field(default_factory=Outcome)


def render_many(
    library: Library,
    requests: list[RenderRequest],
    *,
    drafts: list[bool] | None = None,
    build: bool = True,
) -> list[Outcome]:
    """PDFs for many requests that passed the content gate (``drafts``: its
    verdicts), sharing editions where it is safe.

    ``build=False`` uses only editions already cached and renders the rest in
    full (a single render after a batch or a web app warm-up is fast; a cold
    single render is no slower than before)."""
    jobs = [Job(r, d) for r, d in zip(requests, drafts or [False] * len(requests), strict=True)]
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        try:
            why = ineligible(library, job.request)
            if why:
                job.outcome.fall_back(Fallback.INELIGIBLE, why)
                continue
            if job.draft:
                job.outcome.fall_back(Fallback.DRAFT)
                continue
            job.split = split(library, job.request, draft=job.draft)
        except HandoutgenError as exc:
            job.outcome = Outcome(error=exc)
            continue
        if job.split.fallback is not None:
            job.outcome.fall_back(job.split.fallback, job.split.detail)
        else:
            groups.setdefault(job.split.key, []).append(job)
    for members in groups.values():
        _render_group(library, members, build)
    for job in jobs:
        o = job.outcome
        if o.pdf is None and o.error is None:
            try:
                o.pdf = render_pdf(library, job.request, draft=job.draft)
                o.mode = Mode.FULL
            except HandoutgenError as exc:
                o.error = exc
    return [j.outcome for j in jobs]


# An edition of its own pays off from this many recipients with one option set
# (batch.py renders smaller sets in full). Building and checking it costs about
# three full renders (3.3 s), and each recipient stamped on it 0.11 s, against
# 1.05 s for a full render.
SHARED_MIN = 3


def _render_group(library: Library, members: list[Job], build: bool) -> None:
    """Recipients of one edition: stamped on it if it exists (or is built) and is usable."""
    first = members[0].split
    assert first is not None
    try:
        edition = get_edition(library, first, build=build)
    except HandoutgenError as exc:
        for job in members:
            job.outcome = Outcome(error=exc)
        return
    if edition is None or not edition.usable:
        cause = Fallback.NOT_CACHED if edition is None else edition.fallback
        for job in members:
            job.outcome.fall_back(cause or Fallback.UNVERIFIED)
        return
    splits = [j.split for j in members if j.split is not None]
    for job, outcome in zip(members, _personalize(library, edition, splits), strict=True):
        job.outcome = outcome
