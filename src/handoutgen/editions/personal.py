"""The personal layer: each recipient's pages and overlays, laid out many per
WeasyPrint document, then stamped on the edition's pages."""

from __future__ import annotations

import contextlib
import io
import logging
import re
from typing import Any

from markupsafe import Markup

from handoutgen.content.i18n import page_of
from handoutgen.content.library import Library
from handoutgen.editions.assemble import LetterTree, assemble_letter
from handoutgen.editions.model import Edition, Fallback, Mode, Outcome, Split, inject_css
from handoutgen.engine.weasy import (
    drop_fixed,
    first_marks,
    layout,
    marked_boxes,
    page_holders,
    write_pages,
)
from handoutgen.render.marks import (
    HEAD_SLOTS,
    OVERLAY_PAGE_ATTR,
    PAGE_MARKS,
    PAGE_REF_HTML,
    PAGE_REFS,
    PERSONAL_CSS,
    RECIPIENT_ATTR,
    SLOT_ATTR,
)

log = logging.getLogger("handoutgen")


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


def _page_refs(html: str, personal_pages: int, edition: Edition) -> str:
    """The page numbers a letter refers to (marks.PAGE_REFS), written in: the
    page of the id in the edition, after the personal pages."""
    for ref, name in PAGE_REFS.items():
        if ref in html:
            number = personal_pages + edition.anchors[name] + 1
            html = html.replace(ref, PAGE_REF_HTML.format(number))
    return html


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
        page_html = _page_refs(str(section), len(personal), edition)
        strings = Markup(_STRINGS).format("", page_of(i + 1, total, lang))
        # Inside the page's first element, so no named-page break comes first.
        marked = _FIRST_TAG.sub(lambda m: m.group(0) + str(strings), page_html, count=1)  # noqa: B023 - used at once
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


def personalize(library: Library, edition: Edition, splits: list[Split]) -> list[Outcome]:
    """Lay out the personal layer of many recipients in one WeasyPrint document,
    then assemble each recipient's PDF. Recipients whose layer does not fit get
    an Outcome with a reason and no PDF (the caller renders them in full)."""
    outcomes = [Outcome() for _ in splits]
    for s, o in zip(splits, outcomes, strict=True):
        if set(range(len(s.marks.slots))) - set(edition.slots):
            o.fall_back(Fallback.NO_PLACE)
        # A page the letter refers to that the edition does not have (a
        # template without the "When to get help" box): target-counter's.
        if any(
            ref in page and name not in edition.anchors
            for page in s.marks.personal
            for ref, name in PAGE_REFS.items()
        ):
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
    first = inject_css(splits[live[0]].base_html, PERSONAL_CSS)
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
            drop_fixed(document, used, PAGE_MARKS)
            overlays = write_pages(document, used, tags=False)
            letters = write_pages(document, letter_pages, tags=True) if letter_pages else None
            with contextlib.ExitStack() as stack:
                opdf = stack.enter_context(pikepdf.open(io.BytesIO(overlays)))
                forms = [page.as_form_xobject() for page in opdf.pages]
                lpdf = stack.enter_context(pikepdf.open(io.BytesIO(letters))) if letters else None
                ltree = LetterTree(lpdf) if lpdf is not None else None
                author = splits[k].marks.author_value
                positions = [[local[i] for i in ids] for ids in overlay_pages]
                lp = list(range(len(letter_pages)))
                pdf = assemble_letter(edition, ltree, lp, forms, positions, author)
            outcomes[k].pdf = pdf
            outcomes[k].mode = Mode.EDITION
            outcomes[k].pages = len(letter_pages) + len(overlay_pages)
        except Exception as exc:  # noqa: BLE001 - fall back, never lose the row
            log.debug("assembly failed: %r", exc, exc_info=True)
            outcomes[k].fall_back(Fallback.ASSEMBLY, type(exc).__name__)
