"""Variable-data rendering: lay out the shared pages once, stamp each recipient on top.

A template marks what is personal: whole pages (``vdp.personal_pages``, the
letter) and small boxes in the shared flow (``vdp.slot``: the "Prepared for"
line, the note). A *split* render gives the edition HTML, where each box is a
placeholder of the same size, plus the personal parts. An edition is laid out
and written once and cached on disk, keyed by a hash of its HTML (which inlines
the content, templates and styles), the content hash (which covers assets and
handoutgen's version) and WeasyPrint's version.

Recipients are then laid out many per WeasyPrint document: their personal
pages, and one overlay page per edition page holding the running header,
"Page X of Y" and the slot boxes at their placeholders' positions. pikepdf
stamps each overlay on a copy of the edition's pages and merges the letter's
tag tree into the edition's, so the result reads like a full render.

Whenever it might not, that recipient gets a full render and the reason is
reported: a box whose text outgrew its placeholder, a personal page that
overflowed, personal text found in the shared HTML, or an edition whose
self-check (a full render compared page by page) failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from markupsafe import Markup, escape

from .content import Library
from .errors import HandoutgenError
from .models import RenderRequest

log = logging.getLogger("handoutgen")

FORMAT = 2  # bump when the cached edition layout changes meaning
AUTHOR_PLACEHOLDER = "handoutgen-personal-author"
HEAD_SLOTS = ("prepared-for",)  # slots whose text the running header repeats

# The edition draws no personal margin text; the overlays draw only that.
EDITION_CSS = """
@page { @top-left { content: none; } @bottom-right { content: none; } }
@page :first { @top-left { content: none; } }
"""
PERSONAL_CSS = """
html { background: none; }
@page { background: var(--background); }
@page vdp-overlay { background: none; }
@page { @top-left { content: string(vdp-head); } @bottom-right { content: string(vdp-page); } }
@page :first { @top-left { content: string(vdp-head); } }
@page vdp-overlay { @top-right { content: none; } @bottom-left { content: none; } }
.vdp-strings { string-set: vdp-head attr(data-head), vdp-page attr(data-page); height: 0; margin: 0; }
.vdp-recipient + .vdp-recipient { break-before: page; }
.vdp-overlay { page: vdp-overlay; break-before: page; }
.vdp-recipient > .vdp-overlay:first-child { break-before: auto; }
.vdp-slot { position: absolute; margin: 0; }
"""


# -- template side ----------------------------------------------------------------


@dataclass
class Slot:
    name: str
    line: bool
    content: Markup


class Marks:
    """The ``vdp`` object templates see. In a full render it only wraps; in a
    split render it records the personal parts and leaves placeholders."""

    # All a (sandboxed) template may touch: not whether it is being split.
    template_api = ("slot", "personal_pages", "author")

    def __init__(self, splitting: bool = False) -> None:
        self.splitting = splitting
        self.slots: list[Slot] = []
        self.personal: list[Markup] = []
        self.draft = False
        self.author_value: str | None = None

    def author(self, value: str | None) -> str:
        """The PDF's author (the clinic) as personal metadata: an edition holds a
        fixed placeholder, which assembly replaces with the recipient's value."""
        if not self.splitting:
            return value or ""
        self.author_value = value
        return AUTHOR_PLACEHOLDER

    def slot(self, name: str, line: bool = True, caller: Any = None) -> Markup:
        content = Markup(caller() if caller else "").strip()
        if not self.splitting or not content:
            return Markup('<div class="{}">{}</div>').format(name, content)
        index = len(self.slots)
        self.slots.append(Slot(name, line, content))
        # A line slot keeps one line of height; a block slot keeps its min-height.
        filler = Markup("&nbsp;") if line else Markup("")
        return Markup('<div class="{}" data-vdp-slot="{}">{}</div>').format(name, index, filler)

    def personal_pages(self, caller: Any = None) -> Markup:
        content = Markup(caller() if caller else "").strip()
        if not self.splitting:
            return content
        self.personal.append(content)
        return Markup("")


# -- splitting ----------------------------------------------------------------------


@dataclass
class Split:
    request: RenderRequest  # the real request: only its marks are used for stamping
    base_html: str  # the edition's document, placeholders in, before the edition CSS
    marks: Marks  # the real request's personal parts
    shared_request: RenderRequest | None = None  # the stand-in request the edition is built from
    key: str = ""
    reason: str = ""  # why this recipient needs a full render ("" if none)

    @property
    def edition_html(self) -> str:
        return _inject_css(self.base_html, EDITION_CSS)

    @property
    def head_text(self) -> str:
        for s in self.marks.slots:
            if s.name in HEAD_SLOTS:
                return s.content.striptags()
        return ""


def _inject_css(html: str, css: str) -> str:
    return html.replace("</style>", css + "</style>", 1)


@cache
def _weasyprint_version() -> str:
    from importlib.metadata import version

    return version("weasyprint")


# Every field of a request that describes the patient, the visit or who sent it.
PERSONAL_FIELDS = (
    "patient",
    "first_name",
    "last_name",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "note",
    "clinician",
    "clinic",
    "visit_date",
    "letter_date",
)

# Two made-up people who differ in every field: in length, first letter, case,
# digits, month and day. An edition is rendered from the first; the second must
# give the same shared HTML, or the template prints personal data outside its
# marked parts. Stand-ins replace only the fields the real request has, so the
# template takes the same branches.
PERSONAS: tuple[dict[str, Any], dict[str, Any]] = (
    {
        "patient": "Avery Standin",
        "first_name": "Avery",
        "last_name": "Standin",
        "address1": "1 Placeholder Road",
        "address2": "Unit 2",
        "city": "Sampleton",
        "state": "ZZ",
        "zip": "00001",
        "note": "A stand-in note.",
        "clinician": "Dr. Avery Example",
        "clinic": "Stand-in Clinic",
        "visit_date": dt.date(2001, 2, 3),
        "letter_date": dt.date(2001, 2, 4),
    },
    {
        "patient": "Moe Q. Placeholder-Wright",
        "first_name": "Moe",
        "last_name": "Placeholder-Wright",
        "address1": "98765 Other Avenue North",
        "address2": "Floor 11, Suite 1200",
        "city": "Elsewhere Falls",
        "state": "QQ",
        "zip": "99999-8888",
        "note": "Another made-up note,\nwith a second paragraph.",
        "clinician": "Jo Other, NP",
        "clinic": "Placeholder Health Partners",
        "visit_date": dt.date(2019, 11, 28),
        "letter_date": dt.date(2019, 12, 30),
    },
)


def stand_in(request: RenderRequest, persona: int = 0) -> RenderRequest:
    """The request with every personal field it has replaced by a stand-in."""
    values = PERSONAS[persona]
    update = {f: (values[f] if getattr(request, f) else None) for f in PERSONAL_FIELDS}
    return request.model_copy(update=update)


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


def split(library: Library, request: RenderRequest) -> Split:
    """Split a request into the edition it can share and its personal parts.

    The edition's HTML is rendered from stand-ins (:func:`stand_in`), never from
    the request: it holds no patient data by construction. The differential
    check (:func:`_shared`) proves the template keeps personal data in its
    marked parts; the request's own split render must then give the same shared
    HTML, or it renders in full."""
    from .render import render_html

    marks = Marks(splitting=True)
    html = render_html(library, request, marks=marks)
    shared = _shared(library, request)
    s = Split(request, shared.html, marks, shared_request=shared.request)
    if marks.draft:
        s.reason = "draft"
    elif "<main>" not in html or "</style>" not in html:
        s.reason = "template has no <main> or <style>"
    elif shared.reason:
        s.reason = shared.reason
    elif html != shared.html or _shape(marks) != shared.shape:
        s.reason = (
            "personal data changes the shared pages (the template treats some values specially)"
        )
    h = hashlib.sha256()
    for part in (str(FORMAT), library.content_hash, _weasyprint_version(), request.pdf_variant):
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


def _shape(marks: Marks) -> tuple:
    return (tuple(slot.name for slot in marks.slots), len(marks.personal), marks.draft)


def _shared(library: Library, request: RenderRequest) -> _Shared:
    """The stand-in render and its differential check, once per document,
    options and set of filled-in fields (a batch has a handful)."""
    from .render import render_html

    shared_request = stand_in(request, 0)
    key = (library.content_hash, str(library.workspace.root), dt.date.today(), shared_request)
    if key in _SHARED:
        _SHARED.move_to_end(key)
        return _SHARED[key]
    marks_a, marks_b = Marks(splitting=True), Marks(splitting=True)
    html_a = render_html(library, shared_request, marks=marks_a)
    html_b = render_html(library, stand_in(request, 1), marks=marks_b)
    reason = ""
    if html_a != html_b or _shape(marks_a) != _shape(marks_b):
        names = _leaking_fields(library, shared_request, html_a)
        shown = ", ".join(n.replace("_", " ") for n in names) or "fields together"
        reason = f"personal data ({shown}) printed outside the template's marked personal parts"
    result = _Shared(shared_request, html_a, _shape(marks_a), reason)
    _SHARED[key] = result
    while len(_SHARED) > 256:
        _SHARED.popitem(last=False)
    return result


def _leaking_fields(library: Library, shared_request: RenderRequest, html_a: str) -> list[str]:
    """Which fields change the shared HTML, one at a time (only when the check fails)."""
    from .render import render_html

    names = []
    for name in PERSONAL_FIELDS:
        if getattr(shared_request, name) is None:
            continue
        other = shared_request.model_copy(update={name: PERSONAS[1][name]})
        if render_html(library, other, marks=Marks(splitting=True)) != html_a:
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
    ok: bool = True
    reason: str = ""

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "key": self.key,
            "pages": self.pages,
            "slots": {str(k): v for k, v in self.slots.items()},
            "ok": self.ok,
            "reason": self.reason,
            "sha256": hashlib.sha256(self.pdf).hexdigest(),
        }


_MEMORY: OrderedDict[str, Edition] = OrderedDict()
_MEMORY_SIZE = 24


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
    return Edition(key, pdf, int(meta["pages"]), slots, bool(meta["ok"]), str(meta["reason"]))


def cached_edition(key: str) -> Edition | None:
    """The edition from memory or disk. A disk entry is authenticated by the
    cache's HMAC (cache.py): a forged or damaged one is reported and missing."""
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    from .cache import open_cache

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
    from .cache import open_cache

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
    from .render import _watch_weasyprint, layout, write_pdf

    document = layout(library, s.edition_html)
    slots: dict[int, list[float]] = {}
    reason = ""
    for page_index, page in enumerate(document.pages):
        # Positions are kept relative to the page area, the containing block
        # of the overlay's absolutely positioned copies.
        ox, oy = page._page_box.content_box_x(), page._page_box.content_box_y()
        for index, box in _slot_boxes(page):
            if index in slots:
                reason = "a personal box breaks across pages"
            slots[index] = [
                page_index,
                box.border_box_x() - ox,
                box.border_box_y() - oy,
                box.width,
                box.border_height(),
            ]
    with _watch_weasyprint():
        pdf = write_pdf(document, library, s.shared_request.pdf_variant)
    edition = Edition(s.key, pdf, len(document.pages), slots, not reason, reason)
    if edition.ok:
        edition.ok, edition.reason = _self_check(library, edition, s)
    if not edition.ok:
        log.info("edition %s renders in full: %s", s.key[:12], edition.reason)
    return edition


def _self_check(library: Library, edition: Edition, s: Split) -> tuple[bool, str]:
    """Assemble the second stand-in persona and compare it with its full render.
    Catches templates whose margin boxes or personal parts do not follow the
    conventions this module relies on. No real request is involved."""
    from .render import render_pdf

    probe = stand_in(s.shared_request, 1)
    ps = split(library, probe)
    if ps.key != s.key or ps.reason:
        return True, ""  # the probe does not fit this edition; nothing to compare
    outcome = _personalize(library, edition, [ps])[0]
    if outcome.pdf is None:
        return True, ""
    full = render_pdf(library, probe)
    if page_words(outcome.pdf) != page_words(full):
        return False, "self-check: the assembled pages differ from a full render"
    return True, ""


def page_words(pdf: bytes) -> list[list[str]]:
    """Each page's words, sorted: equal for two PDFs with the same text per page."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        out = []
        for page in doc:
            text = page.get_textpage().get_text_range()
            out.append(sorted(re.findall(r"\w+|[^\w\s]", text)))
        return out
    finally:
        doc.close()


def _walk(box):  # noqa: ANN001, ANN202
    """Every box under ``box``, absolutely positioned ones included."""
    from weasyprint.layout.absolute import AbsolutePlaceholder

    if isinstance(box, AbsolutePlaceholder):
        box = box._box
    yield box
    for child in getattr(box, "children", ()):
        yield from _walk(child)


def _slot_boxes(page) -> list[tuple[int, Any]]:  # noqa: ANN001
    from weasyprint.formatting_structure import boxes

    found = []
    seen: set[int] = set()
    for box in _walk(page._page_box):
        element = box.element
        if element is None or not isinstance(box, boxes.BlockBox):
            continue
        index = element.get("data-vdp-slot")
        if index is not None and int(index) not in seen:
            seen.add(int(index))
            found.append((int(index), box))
    return found


# -- personal layer -------------------------------------------------------------------


@dataclass
class Outcome:
    pdf: bytes | None = None
    mode: str = "full"  # "edition" or "full"
    reason: str = ""  # why a full render was needed
    error: HandoutgenError | None = None
    pages: int = 0


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_STRINGS = '<div class="vdp-strings" data-head="{}" data-page="{}"></div>'
_FIRST_TAG = re.compile(r"^\s*<[^>]+>")


def _recipient_html(k: int, s: Split, edition: Edition) -> str:
    personal = s.marks.personal
    total = len(personal) + edition.pages
    head = s.head_text
    parts = [f'<div class="vdp-recipient" data-vdp-r="{k}">']
    for i, section in enumerate(personal):
        strings = Markup(_STRINGS).format("", f"Page {i + 1} of {total}")
        # Inside the page's first element, so no named-page break comes first.
        section = _FIRST_TAG.sub(
            lambda m, strings=strings: m.group(0) + str(strings), str(section), count=1
        )
        parts.append(section)
    head_page = min(
        (int(v[0]) for i, v in edition.slots.items() if s.marks.slots[i].name in HEAD_SLOTS),
        default=None,
    )
    for j in range(edition.pages):
        number = len(personal) + j + 1
        shown = head if (number > 1 and head_page is not None and head_page <= j) else ""
        parts.append(f'<section class="vdp-overlay" data-vdp-p="{j}">')
        parts.append(Markup(_STRINGS).format(shown, f"Page {number} of {total}"))
        for i, slot in enumerate(s.marks.slots):
            page, x, y, w, _ = edition.slots[i]
            if int(page) == j:
                parts.append(
                    Markup(
                        '<div class="{} vdp-slot" data-vdp-slot="{}" '
                        'style="left: {:.4f}px; top: {:.4f}px; width: {:.4f}px">{}</div>'
                    ).format(slot.name, i, x, y, w, slot.content)
                )
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def _personalize(library: Library, edition: Edition, splits: list[Split]) -> list[Outcome]:
    """Lay out the personal layer of many recipients in one WeasyPrint document,
    then assemble each recipient's PDF. Recipients whose layer does not fit get
    an Outcome with a reason and no PDF (the caller renders them in full)."""
    from .fonts import needs_fallback_font
    from .render import _watch_weasyprint, layout

    outcomes = [Outcome() for _ in splits]
    for s, o in zip(splits, outcomes, strict=False):
        if set(range(len(s.marks.slots))) - set(edition.slots):
            o.reason = "the edition has no place for a personal box"
    live = [k for k, o in enumerate(outcomes) if not o.reason]
    if not live:
        return outcomes
    first = _inject_css(splits[live[0]].base_html, PERSONAL_CSS)
    prefix = first[: first.index("<main>") + len("<main>")]
    # The stylesheet is parsed once per process and reused for every chunk.
    style = _STYLE.search(prefix)
    css = style.group(1) if style else None
    if style:
        prefix = prefix[: style.start()] + prefix[style.end() :]
    body = "".join(_recipient_html(k, splits[k], edition) for k in live)
    document = layout(library, prefix + body + "</main></body></html>", css=css)

    # Which pages belong to whom, and did every box land where the edition's did?
    pages: dict[int, list[tuple[int, int | None]]] = {k: [] for k in live}
    for index, page in enumerate(document.pages):
        r, p = _page_owner(page)
        if r is None or r not in pages:
            continue
        pages[r].append((index, p))
        if p is None:
            continue
        ox, oy = page._page_box.content_box_x(), page._page_box.content_box_y()
        for slot_index, box in _slot_boxes(page):
            want = edition.slots[slot_index]
            got = [box.border_box_x() - ox, box.border_box_y() - oy, box.width, box.border_height()]
            if any(abs(a - b) > 0.01 for a, b in zip(got, want[1:], strict=False)):
                slot = splits[r].marks.slots[slot_index]
                label = slot.name.replace("-", " ")
                if needs_fallback_font(slot.content.striptags()):
                    # Another script's font has other line metrics: the box
                    # moved or grew although the text may be short.
                    outcomes[
                        r
                    ].reason = (
                        f"the {label} text uses a fallback font, which changes the size of its box"
                    )
                else:
                    outcomes[r].reason = f"the {label} text is too long for its box"
    letter_pages: list[int] = []
    overlay_pages: list[int] = []
    plan: dict[int, tuple[list[int], list[int]]] = {}
    for k in live:
        o = outcomes[k]
        personal = [i for i, p in pages[k] if p is None]
        overlays = [(i, p) for i, p in pages[k] if p is not None]
        if len(personal) != len(splits[k].marks.personal):
            o.reason = o.reason or "a personal page overflowed"
        elif [p for _, p in overlays] != list(range(edition.pages)):
            o.reason = o.reason or "the overlay pages do not match the edition"
        if o.reason:
            continue
        plan[k] = (
            list(range(len(letter_pages), len(letter_pages) + len(personal))),
            list(range(len(overlay_pages), len(overlay_pages) + len(overlays))),
        )
        letter_pages.extend(personal)
        overlay_pages.extend(i for i, _ in overlays)
    if not plan:
        return outcomes
    import pikepdf

    with _watch_weasyprint():
        letters = (
            document.copy([document.pages[i] for i in letter_pages]).write_pdf(pdf_tags=True)
            if letter_pages
            else None
        )
        overlays_pdf = document.copy([document.pages[i] for i in overlay_pages]).write_pdf(
            pdf_tags=False
        )
    with contextlib.ExitStack() as stack:
        lpdf = stack.enter_context(pikepdf.open(io.BytesIO(letters))) if letters else None
        opdf = stack.enter_context(pikepdf.open(io.BytesIO(overlays_pdf)))
        ltree = _LetterTree(lpdf) if lpdf is not None else None
        for k, (lp, op) in plan.items():
            try:
                author = splits[k].marks.author_value
                outcomes[k].pdf = _assemble(edition, ltree, lp, opdf, op, author)
                outcomes[k].mode = "edition"
                outcomes[k].pages = len(lp) + len(op)
            except Exception as exc:  # noqa: BLE001 - fall back, never lose the row
                log.debug("assembly failed: %r", exc, exc_info=True)
                outcomes[k].reason = f"assembly failed ({type(exc).__name__})"
    return outcomes


def _page_owner(page) -> tuple[int | None, int | None]:  # noqa: ANN001
    r = p = None
    for box in page._page_box.descendants():
        element = box.element
        if element is None:
            continue
        if r is None and element.get("data-vdp-r") is not None:
            r = int(element.get("data-vdp-r"))
        if element.get("data-vdp-p") is not None:
            p = int(element.get("data-vdp-p"))
            break
    return r, p


# -- assembly (pikepdf) -------------------------------------------------------------------


def _copy(out, obj):  # noqa: ANN001, ANN202
    """copy_foreign for direct objects too (a parent tree holds direct arrays)."""
    import pikepdf

    if isinstance(obj, pikepdf.Object) and obj.is_indirect:
        return out.copy_foreign(obj)
    if isinstance(obj, pikepdf.Array):
        return pikepdf.Array([_copy(out, x) for x in obj])
    if isinstance(obj, pikepdf.Dictionary):
        return pikepdf.Dictionary({k: _copy(out, v) for k, v in obj.items()})
    return obj


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
    opdf,  # noqa: ANN001
    op: list[int],
    author: str | None = None,
):  # noqa: ANN202
    import pikepdf
    from pikepdf import Array, Name

    out = pikepdf.open(io.BytesIO(edition.pdf))
    _set_author(out, author)
    # 1. Stamp each overlay as a form XObject, marked as an artifact (the
    #    header and page number are artifacts; slot text is pagination data too).
    for j, o_index in enumerate(op):
        form = out.copy_foreign(opdf.pages[o_index].as_form_xobject())
        page = out.pages[j]
        # A fixed name (add_resource would pick a random one): same input, same bytes.
        name = Name(f"/HgVdp{j}")
        if "/Resources" not in page.obj:
            page.obj.Resources = pikepdf.Dictionary()
        if "/XObject" not in page.obj.Resources:
            page.obj.Resources.XObject = pikepdf.Dictionary()
        page.obj.Resources.XObject[name] = form
        page.contents_add(b"q\n", prepend=True)
        page.contents_add(f"Q\n/Artifact BMC q {name} Do Q EMC\n".encode())
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
            old_key = int(source.obj.get("/StructParents", -1))
            if old_key in ltree.parents:
                page.obj.StructParents = next_key
                nums.append(next_key)
                nums.append(_copy(out, ltree.parents[old_key]))
                next_key += 1
            for annot in page.obj.get("/Annots", Array()):
                if "/StructParent" in annot and int(annot.StructParent) in ltree.parents:
                    parent = ltree.parents[int(annot.StructParent)]
                    annot.StructParent = next_key
                    nums.append(next_key)
                    nums.append(_copy(out, parent))
                    next_key += 1
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
    split: Split | None = None
    outcome: Outcome = field(default_factory=Outcome)


def render_many(
    library: Library, requests: list[RenderRequest], *, build: bool = True
) -> list[Outcome]:
    """PDFs for many requests, sharing editions where it is safe.

    ``build=False`` uses only editions already cached and renders the rest in
    full (a single render after a batch or a web app warm-up is fast; a cold
    single render is no slower than before)."""
    from .render import render_pdf

    jobs = [Job(r) for r in requests]
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        try:
            reason = ineligible(library, job.request)
            if not reason:
                job.split = split(library, job.request)
                reason = job.split.reason
        except HandoutgenError as exc:
            job.outcome = Outcome(error=exc)
            continue
        if reason:
            job.outcome.reason = reason
        else:
            groups.setdefault(job.split.key, []).append(job)
    for _key, members in groups.items():
        try:
            edition = get_edition(library, members[0].split, build=build)
        except HandoutgenError as exc:
            for job in members:
                job.outcome = Outcome(error=exc)
            continue
        if edition is None:
            for job in members:
                job.outcome.reason = "edition not cached"
            continue
        if not edition.ok:
            for job in members:
                job.outcome.reason = edition.reason
            continue
        outcomes = _personalize(library, edition, [j.split for j in members])
        for job, outcome in zip(members, outcomes, strict=False):
            job.outcome = outcome
    for job in jobs:
        o = job.outcome
        if o.pdf is None and o.error is None:
            try:
                o.pdf = render_pdf(library, job.request)
                o.mode = "full"
            except HandoutgenError as exc:
                o.error = exc
    return [j.outcome for j in jobs]


def render_one(library: Library, request: RenderRequest, *, build: bool = False) -> Outcome:
    outcome = render_many(library, [request], build=build)[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome
