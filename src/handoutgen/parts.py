"""Composable editions: each option's pages laid out once, the rest per reader.

A document with ``option_pages: true`` prints each option's details on pages of
their own, after everything that depends on the option set (the comparison
table, the glossary, the questions) and on the reader (the letter). Those
option pages are the same in every option set: each is headed by its own
title and cites its own sources, numbered from 1. Nothing about an option's
pages may depend on what precedes them: the reader, the head of the document
(everything before <main>), page position (left and right pages, counters)
or the option's siblings (":first-of-type", "+"); ``plan`` refuses each.

So a recipient's PDF is assembled from:

- *parts*: one option's pages, laid out and written (tagged) once per option,
  variant, language, page size and style, and cached like editions (keyed by
  a hash of their HTML, which inlines the content and styles, and the content
  hash). A part is rendered from stand-ins, and the reader's own render must
  give the same part HTML, so no patient data reaches a cached part;
- the *flow*: the reader's own pages (the letter, the opening pages, the table,
  the closing sections), laid out per reader from the real request, followed
  by one empty *overlay* page per part page. The overlays make "Page X of Y"
  count the parts' pages, carry the running name onto them, and hold their
  bookmarks, exactly where a full render would.

pikepdf appends each part's pages with their tag subtrees, stamps the overlays
on them, and drops the overlay pages. A part is used only once *verified*: the
first time it is built, a stand-in reader with that option set is assembled
and compared, page by page and in reading order, with its full render.

Whenever composing might not read exactly like a full render, the reader gets
a full render instead and the outcome says why (``vdp.Fallback``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import handoutgen

from .assemble import NotComposable, compose
from .compose import render_html
from .content import Library
from .fullrender import lay_out, render_pdf, require_visible
from .marks import EDITION_CSS, OVERLAY_PAGE_ATTR, PART_PLACE, PERSONAL_MARGIN_BOXES, Marks
from .models import RenderRequest
from .readback import page_words
from .standins import stand_in
from .weasy import (
    Geometry,
    first_marks,
    margin_boxes,
    page_bookmarks,
    page_has_body_content,
    version,
    write_pages,
    write_pdf,
)

log = logging.getLogger("handoutgen")

FORMAT = 1  # bump when a cached part's layout changes meaning

# The flow's overlay pages: transparent, and only the reader's margin text
# (the running name, "Page X of Y"); the part under them draws the rest.
COMPOSE_CSS = """
html { background: none; }
@page { background: var(--background); }
@page vdp-overlay { background: none;
  @top-center { content: none; } @top-right { content: none; } @bottom-left { content: none; } }
.vdp-overlay { page: vdp-overlay; break-before: page; height: 0; margin: 0; }
"""
# A part's document starts with one page that is thrown away, so the part's
# first page is never the document's first (:first rules, as in a full render).
_LEAD = '<div class="vdp-part-lead"></div>'
_META = re.compile(r"<meta [^>]*>\n?")
# Page marks that repeat on every page: an overlay page would draw them twice.
_EVERY_PAGE = ('class="watermark"', 'class="translation-mark"')
# Styles that carry from the pages before an option into its pages (left and
# right pages, counters other than the page number): an option's pages laid
# out apart would not follow them in every option set.
_CARRIED = re.compile(
    r"@page[^{]*:(?:left|right|recto|verso|blank|nth)\b"
    r"|(?:page-)?break-(?:before|after)\s*:\s*(?:left|right|recto|verso)\b"
    r"|counter-(?:increment|reset|set)\s*:(?!\s*(?:page|none)\s*[;}])",
    re.I,
)
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
# Selectors that match an element by its place among its siblings: an option
# laid out on its own has other siblings than in the reader's document, so
# ".option-page:first-of-type" or ".option-page + .option-page" would style
# every part like the first (or none like the rest). Safe only inside an option
# (after a compound naming .option or .option-page), or on elements that sit
# only in lists, tables and definition lists.
_POSITIONAL = re.compile(r":(?:first|last|nth|only)-|:has\(|^[+~]$", re.I)
_OPTION = re.compile(r"\.option(?:-page)?(?![\w-])")
_INNER = re.compile(r"^(?:li|tr|td|th|dd|dt)(?![\w-])", re.I)
_GROUPS = ("media", "supports", "layer", "container")  # at-rules that hold style rules
_COMBINATOR = re.compile(r"\s*([>+~])\s*|\s+")


def _positional_selector(selector: str) -> bool:
    """Whether a selector can match an option's pages, or what holds them, by
    their place among their siblings (see _POSITIONAL)."""
    inside = option = False  # past an option's compound and a combinator into it
    tokens = [t for t in _COMBINATOR.split(selector.strip()) if t]
    for i, token in enumerate(tokens):
        if token in ("+", "~"):
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if not inside and (option or not _INNER.match(following)):
                return True
        elif token == ">":
            inside = inside or option
        else:
            inside = inside or option  # a descendant combinator
            if not inside and _POSITIONAL.search(token) and not _INNER.match(token):
                return True
            option = option or bool(_OPTION.search(token))
    return False


@functools.lru_cache(maxsize=32)
def _positional(css: str) -> bool:
    """Whether the stylesheet has a selector that styles an option by its siblings."""
    import tinycss2

    def rules(nodes):  # noqa: ANN001, ANN202
        for node in nodes:
            if node.type == "qualified-rule":
                yield tinycss2.serialize(node.prelude)
            elif (
                node.type == "at-rule"
                and node.content is not None
                and node.lower_at_keyword in _GROUPS
            ):
                yield from rules(tinycss2.parse_rule_list(node.content, True, True))

    for prelude in rules(tinycss2.parse_stylesheet(css, True, True)):
        # Commas outside brackets separate selectors (":is(a, b)" keeps its own).
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(prelude):
            depth += ch in "([" and 1 or ch in ")]" and -1 or 0
            if ch == "," and depth == 0:
                parts.append(prelude[start:i])
                start = i + 1
        parts.append(prelude[start:])
        if any(_positional_selector(sel) for sel in parts):
            return True
    return False


def _prefix(html: str) -> str:
    """The document up to <main>, without its metadata (the flow carries that)."""
    return _META.sub("", html[: html.index("<main>") + len("<main>")])


def _inject_css(html: str, css: str) -> str:
    return html.replace("</style>", css + "</style>", 1)


# -- planning -------------------------------------------------------------------------------


@dataclass
class PartSpec:
    name: str  # the option id
    html: str  # the part document's HTML
    key: str


@dataclass
class Plan:
    request: RenderRequest
    flow_html: str  # the reader's document without the option pages
    parts: list[PartSpec]
    probe: RenderRequest  # a stand-in with the same options: verifies new parts
    reason: str = ""  # why this reader cannot be composed ("" if it can)


def _parts_of(library: Library, request: RenderRequest, draft: bool) -> tuple[str, Marks]:
    marks = Marks(parts=True)
    return render_html(library, request, draft=draft, marks=marks), marks


def plan(library: Library, request: RenderRequest, *, draft: bool = False) -> Plan | None:
    """How this request would be composed, or None if its document has no option pages."""
    if not library.document(request.document).option_pages:
        return None
    html, marks = _parts_of(library, request, draft)
    # The overlay pages go at the end of <main>: a full render must have
    # nothing after the option pages but other option pages.
    start, end = html.find(PART_PLACE), html.rfind("</main>")
    after = html[start:end].replace(PART_PLACE, "") if 0 <= start < end else ""
    html = html.replace(PART_PLACE, "")
    probe = stand_in(request, 0)
    p = Plan(request, html, [], probe)
    if draft or marks.draft:
        p.reason = "draft"
        return p
    if any(m in html for m in _EVERY_PAGE):
        p.reason = "a mark printed on every page (draft or translation not reviewed)"
        return p
    if "<main>" not in html or "</style>" not in html:
        p.reason = "template has no <main> or <style>"
        return p
    if not marks.parts:
        p.reason = "the template prints no option pages"
        return p
    if after.strip():
        p.reason = "the template prints something after the option pages"
        return p
    body = html[html.index("<main>") :].lower()
    if "<style" in body or "<link" in body:
        # It styles the whole document: the option pages laid out apart (with
        # the head only) or the flow (without them) would miss it.
        p.reason = "a stylesheet inside <main>"
        return p
    if any(_CARRIED.search(css) for css in _STYLE.findall(html)):
        p.reason = "the stylesheet styles or numbers pages by their position (left and right pages, counters)"
        return p
    if any(_positional(css) for css in _STYLE.findall(html)):
        p.reason = (
            "the stylesheet styles an option by its place among its siblings "
            "(:first-of-type, :nth-child, + or ~), which differs on pages of its own"
        )
        return p
    names = [n for n, _ in marks.parts]
    if len(set(names)) != len(names):
        p.reason = "an option is chosen twice"
        return p
    html_a, marks_a = _parts_of(library, probe, draft)
    html_b, marks_b = _parts_of(library, stand_in(request, 1), draft)
    if not (marks.parts == marks_a.parts == marks_b.parts):
        p.reason = "personal data printed in the option pages"
        return p
    # Everything before <main> (styles, running elements) is laid out with
    # each part and drawn on its pages: it must not depend on the reader, or
    # a part would print the stand-in's data on a real reader's pages.
    prefix = _prefix(html_a)
    if not (_prefix(html) == prefix == _prefix(html_b)):
        p.reason = "personal data printed before <main> (on every page)"
        return p
    prefix = _inject_css(prefix, EDITION_CSS)
    for name, content in marks.parts:
        doc_html = prefix + _LEAD + str(content) + "</main></body></html>"
        h = hashlib.sha256()
        # handoutgen's own version too (an edition's key has it in its <meta>,
        # which a part's HTML leaves out): an upgrade never reuses older parts.
        pieces = (str(FORMAT), handoutgen.__version__, library.content_hash, version())
        for piece in (*pieces, request.pdf_variant, name):
            h.update(piece.encode() + b"\n")
        h.update(doc_html.encode())
        p.parts.append(PartSpec(name, doc_html, h.hexdigest()))
    return p


# -- parts ----------------------------------------------------------------------------------


@dataclass
class Part:
    key: str
    pdf: bytes
    pages: int
    # WeasyPrint's bookmarks per page: [level, label, [x, y], state]
    bookmarks: list[list[list[Any]]] = field(default_factory=list)
    verified: bool = False
    failed: bool = False  # its check found a difference: never used
    why: str = ""  # what the check found, when it failed

    @property
    def usable(self) -> bool:
        return self.verified and not self.failed

    def pack(self) -> bytes:
        meta = {
            "format": FORMAT,
            "key": self.key,
            "pages": self.pages,
            "bookmarks": self.bookmarks,
            "verified": self.verified,
            "failed": self.failed,
            "why": self.why,
            "sha256": hashlib.sha256(self.pdf).hexdigest(),
        }
        return json.dumps(meta, sort_keys=True).encode() + b"\n" + self.pdf

    @classmethod
    def unpack(cls, key: str, payload: bytes) -> Part:
        head, _, pdf = payload.partition(b"\n")
        meta = json.loads(head)
        if meta.get("format") != FORMAT or meta.get("key") != key:
            raise ValueError("wrong format or key")
        if hashlib.sha256(pdf).hexdigest() != meta["sha256"]:
            raise ValueError("checksum mismatch")
        return cls(
            key,
            pdf,
            int(meta["pages"]),
            list(meta["bookmarks"]),
            bool(meta["verified"]),
            bool(meta["failed"]),
            str(meta.get("why", "")),
        )


_MEMORY: OrderedDict[str, Part] = OrderedDict()
_MEMORY_SIZE = 64


def clear_caches() -> None:
    _MEMORY.clear()


def _remember(part: Part) -> Part:
    _MEMORY[part.key] = part
    _MEMORY.move_to_end(part.key)
    while len(_MEMORY) > _MEMORY_SIZE:
        _MEMORY.popitem(last=False)
    return part


def cached_part(key: str) -> Part | None:
    """The part from memory or the disk cache (HMAC-authenticated, cache.py)."""
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    from .cache import open_cache

    store = open_cache()
    payload = store.get("parts", key) if store is not None else None
    if payload is None:
        return None
    try:
        part = Part.unpack(key, payload)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("option part %s in the cache is damaged (%s); building it again", key[:12], exc)
        return None
    return _remember(part)


def _store(part: Part) -> None:
    from .cache import open_cache

    store = open_cache()
    if store is None:
        return
    try:
        store.put("parts", part.key, part.pack())
    except OSError as exc:
        log.debug("option part not cached (%s)", exc)


def build_part(library: Library, spec: PartSpec) -> Part:
    """Lay out one option's pages (after a lead page that is dropped) and write them tagged."""
    document = lay_out(library, spec.html)
    if len(document.pages) < 2:
        # The stylesheet does not start the option on a page of its own.
        return Part(spec.key, b"", 0, failed=True)
    pages = document.pages[1:]
    bookmarks = [page_bookmarks(page) for page in pages]
    pdf = write_pdf(document.copy(pages), library)
    return Part(spec.key, pdf, len(pages), bookmarks)


@contextlib.contextmanager
def _build_lock(key: str):  # noqa: ANN202
    from .cache import open_cache

    store = open_cache()
    if store is None:
        yield
        return
    with store.lock("parts", key):
        yield


def get_parts(library: Library, p: Plan, *, build: bool) -> list[Part] | None:
    """The plan's parts, built (and verified) if missing and ``build``; None if
    one is missing and may not be built. If one already failed its check, only
    the parts at hand (compose_one then says why)."""
    found = [cached_part(s.key) for s in p.parts]
    if all(part is not None for part in found):
        return [part for part in found if part is not None]
    if any(part is not None and part.failed for part in found):
        # One option's pages already failed their check: the reader renders in
        # full whatever the others are, so they are not built (nor judged) now.
        return [part for part in found if part is not None]
    if not build:
        return None
    new: list[Part] = []
    # The missing parts' locks are held (taken in one order: no deadlock) until
    # they are checked and stored, so another worker waits for them instead of
    # building them again.
    with contextlib.ExitStack() as locks:
        for key in sorted({s.key for s, part in zip(p.parts, found, strict=True) if part is None}):
            locks.enter_context(_build_lock(key))
        for i, spec in enumerate(p.parts):
            if found[i] is not None:
                continue
            part = cached_part(spec.key)  # another worker may have built it meanwhile
            if part is None:
                part = _remember(build_part(library, spec))
                new.append(part)
            found[i] = part
        parts = [part for part in found if part is not None]
        if new:
            _verify(library, p, parts, new)
    return parts


def _verify(library: Library, p: Plan, parts: list[Part], new: list[Part]) -> None:
    """Assemble the stand-in reader with this option set and compare it with its
    full render; the new parts are verified if they read the same, else failed.
    Only a verdict is kept: a check that could not run (an error, not a
    difference) leaves the parts unused now and checked again next time."""
    ok, verdict, why = False, True, "an option's pages differ from a full render"
    if any(not part.usable for part in parts if all(part is not n for n in new)):
        # Another option's pages failed their check: this set cannot tell
        # whether the new ones are right. They are checked with another set.
        verdict = False
        parts = []
    try:
        probe = plan(library, p.probe) if parts else None
        if (
            probe is not None
            and not probe.reason
            and [s.key for s in probe.parts] == [s.key for s in p.parts]
        ):
            for part in new:
                part.verified = True  # provisionally, so the probe can use them
            pdf, _ = compose_one(library, probe, parts)
            ok = page_words(pdf) == page_words(render_pdf(library, p.probe, draft=False))
    except ComposeError as exc:
        log.debug("option part check: %s", exc)
        why = str(exc)
    except Exception as exc:  # noqa: BLE001 - an unverifiable part is never used
        log.debug("option part check failed: %r", exc, exc_info=True)
        verdict = False
    for part in new:
        part.verified, part.failed = ok, not ok
        part.why = "" if ok else why
        if not verdict:
            log.info("option part %s could not be checked; not cached", part.key[:12])
            _MEMORY.pop(part.key, None)  # checked again, with another set or later
            continue
        if not ok:
            log.info("option part %s renders in full: it differs from a full render", part.key[:12])
        _store(part)


# -- composing a reader ---------------------------------------------------------------------


class ComposeError(Exception):
    """Composing this reader would not read like a full render (the reason)."""


def _flow_document(library: Library, p: Plan, parts: list[Part]):  # noqa: ANN202
    total = sum(part.pages for part in parts)
    overlays = "".join(
        f'<section class="vdp-overlay" {OVERLAY_PAGE_ATTR}="{j}"></section>' for j in range(total)
    )
    html = _inject_css(p.flow_html, COMPOSE_CSS)
    html = html.replace("</main>", overlays + "</main>", 1)
    return lay_out(library, html)


def _same_place(got: dict[str, Geometry], want: dict[str, Geometry]) -> bool:
    """Whether each margin box's text sits where the reference page has it: the
    same top and bottom (as many lines), and the same left end, right end or
    centre (the page number's width changes with its digits; its anchor must not)."""
    if got.keys() != want.keys():
        return False
    for name, (left, right, top, bottom) in got.items():
        w_left, w_right, w_top, w_bottom = want[name]
        if abs(top - w_top) > 0.01 or abs(bottom - w_bottom) > 0.01:
            return False
        ends = (left - w_left, right - w_right, (left + right - w_left - w_right) / 2)
        if not any(abs(d) <= 0.01 for d in ends):
            return False
    return True


def compose_one(library: Library, p: Plan, parts: list[Part]) -> tuple[bytes, int]:
    """The reader's PDF and page count, from its flow and the cached parts
    (raises ComposeError)."""
    for part in parts:
        if not part.usable:
            raise ComposeError(part.why or "an option's pages differ from a full render")
    document = _flow_document(library, p, parts)
    # What every copy must show (the "When to get help" block) is in the flow:
    # a stylesheet that hides it fails here as it fails a full render.
    require_visible(document, p.flow_html, p.request.document)
    total = sum(part.pages for part in parts)
    flow = len(document.pages) - total
    marks = [
        first_marks(page, (OVERLAY_PAGE_ATTR,)).get(OVERLAY_PAGE_ATTR) for page in document.pages
    ]
    if flow < 1 or marks[flow:] != list(range(total)) or any(m is not None for m in marks[:flow]):
        raise ComposeError("the overlay pages do not line up with the option pages")
    if any(page_has_body_content(page) for page in document.pages[flow:]):
        raise ComposeError("something the stylesheet repeats on every page")
    # An overlay page draws only the running name and the page number: they
    # must sit where the reader's other pages have them. Boxes sized by their
    # neighbours (no fixed width) would spread over the part's running title.
    if flow >= 2:
        where = margin_boxes(document.pages[flow - 1], list(PERSONAL_MARGIN_BOXES))
        if any(
            not _same_place(margin_boxes(page, list(PERSONAL_MARGIN_BOXES)), where)
            for page in document.pages[flow:]
        ):
            raise ComposeError(
                "the running name or page number would move on the option pages "
                "(page-margin boxes without a fixed width)"
            )
    # The parts' bookmarks go on the overlay pages, so the outline nests them
    # exactly as a full render does.
    index = flow
    for part in parts:
        for marks_on_page in part.bookmarks:
            document.pages[index].bookmarks = [
                (level, label, tuple(point), state) for level, label, point, state in marks_on_page
            ]
            index += 1
    # The overlays are written first: WeasyPrint adds a clamped line's ellipsis
    # while drawing, so a page drawn a second time shows it twice ("……" after
    # a long running name). The flow's own copies of these pages are dropped.
    overlays = write_pages(document, range(flow, flow + total), tags=False)
    pdf = write_pdf(document, library, p.request.pdf_variant)
    try:
        composed = compose(pdf, flow, [part.pdf for part in parts], overlays)
    except NotComposable as exc:
        raise ComposeError(str(exc)) from None
    return composed, flow + total
