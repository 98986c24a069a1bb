"""The WeasyPrint adapter: layout, writing, log capture, and every internal.

This is the only module that imports WeasyPrint or reads its internals (page
boxes, absolutely positioned placeholders). Each internal it reads is covered
by ``tests/test_weasy_adapter.py``, which fails loudly if a WeasyPrint release
changes it; pyproject.toml caps the major version for the same reason.
WeasyPrint is imported inside functions, so importing handoutgen stays cheap.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Any

from handoutgen.content.fonts import font_dir
from handoutgen.content.library import Library
from handoutgen.content.workspace import PACKAGE_ROOTS
from handoutgen.core.errors import RenderError

if TYPE_CHECKING:
    import weasyprint

log = logging.getLogger("handoutgen")


@cache
def version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version("weasyprint")


def preload() -> None:
    """Import WeasyPrint now (a worker's first render is then not the slow one)."""
    import weasyprint  # noqa: F401


# -- logs ------------------------------------------------------------------------------


class Warnings(logging.Handler):
    """WeasyPrint's warnings during one step (missing glyphs, images, bad CSS)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class _Redact(logging.Filter):
    """WeasyPrint's records, made safe to log whatever their wording or shape.

    WeasyPrint quotes document text in some messages: the character no font
    can draw, from a patient's name, is a format argument since 70 and sat
    inside a pre-formatted string before. No rule about one message's wording
    survives such a change, so every record is reduced here to a plain string
    (no args left to format again, no traceback) in which:

    - a string argument is kept only when it is a URL or an absolute path (a
      missing image must be named) or sits in backticks (WeasyPrint's quoting
      of CSS source, from the workspace's stylesheets); a one-character string
      becomes its code point (which glyph is missing), any other a ``...``;
    - a pre-formatted message, and any argument that is not a string or a
      number (an exception), gets the same rule for each quoted string in it;
    - any character outside printable ASCII left anywhere becomes its code point.

    A missing-glyph message then reads as one fixed sentence."""

    _QUOTED = re.compile(
        r"\"([^\"]*)\"|'([^']*)'|\u201c([^\u201d]*)\u201d|\u2018([^\u2019]*)\u2019"
    )
    _KEPT = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://|/)\S*")  # URLs, absolute paths
    _TOKEN = re.compile("\u27e6(\\d+)\u27e7")  # an argument's place, see below

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "weasyprint" or record.name.startswith("weasyprint."):
            record.msg, record.args = self.redact(record), ()
            record.exc_info = record.exc_text = record.stack_info = None
        return True

    def redact(self, record: logging.LogRecord) -> str:
        args = record.args if isinstance(record.args, tuple) else None
        text = None
        if args:
            # Format with a numbered mark in place of each argument that is not
            # a number, then put each argument's redacted form in its place.
            marks = tuple(
                a if isinstance(a, int | float) else f"\u27e6{i}\u27e7" for i, a in enumerate(args)
            )
            try:
                formatted = str(record.msg) % marks
            except (TypeError, ValueError, IndexError):
                formatted = None  # the args do not fit the message: its format string alone
            if formatted is not None:
                text = self._TOKEN.sub(lambda m: self._argument(m, args, formatted), formatted)
        if text is None:
            text = self._quotes(str(record.msg))
        text = re.sub(r"[^\x20-\x7e]", lambda m: f"U+{ord(m.group()):04X}", text)
        if text.startswith(".notdef glyph"):
            point = re.search(r"U\+[0-9A-F]{4,6}", text)
            text = ".notdef glyph rendered: no font can draw " + (
                point.group() if point else "a character"
            )
        return text

    def _argument(self, match: re.Match[str], args: tuple, formatted: str) -> str:
        value = args[int(match.group(1))]
        if not isinstance(value, str):
            return self._quotes(str(value))
        if formatted[: match.start()].count("`") % 2:  # in backticks: CSS source, kept
            return value
        return self._one(value)

    def _quotes(self, text: str) -> str:
        """Each quoted string in ``text`` redacted, its quotes kept."""

        def one(m: re.Match[str]) -> str:
            inner = next(g for g in m.groups() if g is not None)
            return m.group()[0] + self._one(inner) + m.group()[-1]

        return self._QUOTED.sub(one, text)

    def _one(self, value: str) -> str:
        if self._KEPT.fullmatch(value):
            return value
        return f"U+{ord(value):04X}" if len(value) == 1 else "..."


_REDACT = _Redact()


def redact_weasyprint_logs() -> None:
    """Put the filter on WeasyPrint's loggers (a logger's filter sees only the
    records logged on it, not its children's). Called on import and by each
    ``watch`` (adding it again is a no-op), so records logged outside a render
    step are redacted too."""
    for name in ("weasyprint", "weasyprint.progress"):
        logging.getLogger(name).addFilter(_REDACT)


redact_weasyprint_logs()


def _short(message: str) -> str:
    """WeasyPrint's message with a file URL shown as its file name."""
    return re.sub(r"'?file://[^\s']*/([^/\s']+)'?", r"'\1'", message).rstrip(": ")


@contextlib.contextmanager
def watch(strict: bool = False) -> Iterator[Warnings]:
    """Collect WeasyPrint's warnings; with ``strict``, any warning is a RenderError."""
    handler = Warnings()
    redact_weasyprint_logs()
    wp_log = logging.getLogger("weasyprint")
    wp_log.addHandler(handler)
    try:
        yield handler
    finally:
        wp_log.removeHandler(handler)
    # A picture that does not load would leave a hole (a clinic's logo, a
    # labelled drawing) in a PDF that looks finished: always an error.
    broken = [m for m in handler.messages if m.startswith("Failed to load image")]
    if broken:
        raise RenderError(
            "an image could not be loaded: "
            + "; ".join(_short(m) for m in broken[:3])
            + ". Fix or replace the file (SVG and PNG inside the workspace)"
        )
    if strict and handler.messages:
        raise RenderError("rendering produced warnings (--strict): " + "; ".join(handler.messages))


# -- layout --------------------------------------------------------------------------------


def _fetcher(library: Library, allow_http: bool = False):  # noqa: ANN202
    from handoutgen.engine.fetcher import SafeURLFetcher

    ws, declared = library.workspace, library.declared_assets()
    return SafeURLFetcher(
        [ws.root, *PACKAGE_ROOTS, font_dir()],
        allow_http=allow_http,
        refused=lambda path: ws.reach_refused(path, declared),
    )


_PARSED_CSS: dict[tuple[str, str], Any] = {}
# Dropped before interpreter shutdown, when WeasyPrint's font clean-up can no
# longer run.
atexit.register(_PARSED_CSS.clear)


def clear_caches() -> None:
    _PARSED_CSS.clear()


def parsed_css(library: Library, css: str):  # noqa: ANN201
    """A parsed stylesheet and its font configuration, kept between layouts:
    parsing the stylesheet and loading its fonts is a good part of a small render."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    key = (str(library.workspace.root), hashlib.sha256(css.encode()).hexdigest())
    if key not in _PARSED_CSS:
        if len(_PARSED_CSS) >= 8:
            _PARSED_CSS.pop(next(iter(_PARSED_CSS)))
        fonts = FontConfiguration()
        sheet = weasyprint.CSS(
            string=css,
            base_url=library.workspace.root.as_uri() + "/",
            url_fetcher=_fetcher(library),
            font_config=fonts,
        )
        _PARSED_CSS[key] = (sheet, fonts)
    return _PARSED_CSS[key]


def layout(
    library: Library,
    html: str,
    *,
    strict: bool = False,
    allow_http: bool = False,
    css: str | None = None,
) -> weasyprint.Document:
    """Lay out HTML under the safe fetcher; return WeasyPrint's Document.

    ``css``, if given, is applied as a stylesheet parsed once and reused (the
    HTML then carries no <style> of its own)."""
    import weasyprint

    from handoutgen.engine.fetcher import RefusedURL

    source = weasyprint.HTML(
        string=html,
        base_url=library.workspace.root.as_uri() + "/",
        url_fetcher=_fetcher(library, allow_http),
    )
    refuse_attachments(source)
    options: dict[str, Any] = {}
    if css is not None:
        sheet, fonts = parsed_css(library, css)
        options = {"stylesheets": [sheet], "font_config": fonts}
    with watch(strict):
        try:
            return source.render(**options)
        except RefusedURL as exc:
            raise RenderError(f"refused to load {exc.url}: {exc.reason}") from None


def refuse_attachments(source: weasyprint.HTML) -> None:
    """No file may be embedded in a handout: ``<link>`` or ``<a rel=attachment>``
    is refused before layout, so nothing is fetched or written."""
    urls = [
        element.get("href") or "(no href)"
        for element in source.etree_element.iter()
        if element.tag in ("link", "a")
        and "attachment" in (element.get("rel") or "").lower().split()
    ]
    if urls:
        raise RenderError(
            f"refused to attach {', '.join(urls)}: handouts may not carry attachments"
        )


# -- writing -------------------------------------------------------------------------------


def write_pdf(
    document: weasyprint.Document,
    library: Library,
    variant: str = "pdf/ua-1",
    *,
    strict: bool = False,
    date: str | None = None,
) -> bytes:
    """Tagged (accessible) PDF; a fixed identifier from the content keeps it byte-identical.
    Glyphs are drawn while writing, so missing-glyph warnings come from here.
    PDF/X-4 (pdfx.py) is dated ``date`` (ISO 8601), the content's."""
    from handoutgen.engine import pdfx
    from handoutgen.engine.tagging import repair

    if variant == pdfx.VARIANT:
        pdfx.prepare(document, date or "2000-01-01T00:00:00+00:00")
    with watch(strict), lang_tags():  # elements in another language say so
        pdf = document.write_pdf(
            custom_metadata=True,
            pdf_identifier=library.content_hash[:32].encode(),
            pdf_variant=variant,
            pdf_tags=True,
        )
    if variant == pdfx.VARIANT:
        pdf = pdfx.settle(pdf, library.content_hash[:32])
    # The tag tree is repaired (tagging.py): header scopes, elements cut by page breaks.
    return repair(pdf, open_depths(document))


def write_pages(document: weasyprint.Document, pages: Sequence[int], *, tags: bool) -> bytes:
    """Some pages of a laid-out document as their own PDF."""
    with watch(), lang_tags():
        return document.copy([document.pages[i] for i in pages]).write_pdf(pdf_tags=tags)


def drop_fixed(document: weasyprint.Document, pages: Sequence[int], classes: Sequence[str]) -> None:
    """Remove, from these laid-out pages, the fixed-position elements of these
    classes (marks repeated on every page, like "Translation not yet
    reviewed"). An overlay stamped on an edition page that already draws them
    must not draw them a second time."""
    from weasyprint.layout.absolute import AbsolutePlaceholder

    wanted = set(classes)

    def prune(box: Any) -> None:
        children = getattr(box, "children", None)
        if not children:
            return
        keep = []
        for child in children:
            inner = child._box if isinstance(child, AbsolutePlaceholder) else child
            element = getattr(inner, "element", None)
            names = set((element.get("class") or "").split()) if element is not None else set()
            style = getattr(inner, "style", None)
            if names & wanted and style is not None and style["position"] == "fixed":
                continue
            prune(inner)
            keep.append(child)
        if len(keep) != len(children):
            box.children = type(children)(keep) if isinstance(children, tuple) else keep

    for index in pages:
        prune(_page_box(document.pages[index]))


# -- internals (each covered by tests/test_weasy_adapter.py) --------------------------------

Geometry = tuple[float, float, float, float]  # x, y, width, height of a border box, in CSS px


def _page_box(page: Any) -> Any:
    try:
        return page._page_box
    except AttributeError:  # pragma: no cover - only on an unsupported WeasyPrint
        raise RenderError(
            f"WeasyPrint {version()} no longer exposes page boxes; handoutgen needs "
            "WeasyPrint below 71 for shared editions"
        ) from None


def _walk(box: Any) -> Iterator[Any]:
    """Every box under ``box``, absolutely positioned ones included (WeasyPrint
    keeps those behind an AbsolutePlaceholder)."""
    from weasyprint.layout.absolute import AbsolutePlaceholder

    if isinstance(box, AbsolutePlaceholder):
        box = box._box
    yield box
    for child in getattr(box, "children", ()):
        yield from _walk(child)


def marked_boxes(page: Any, attribute: str) -> list[tuple[int, Geometry]]:
    """Block boxes whose element has ``attribute`` (an integer), first box of each,
    with their border box relative to the page area (the containing block of
    absolutely positioned content)."""
    from weasyprint.formatting_structure import boxes

    root = _page_box(page)
    ox, oy = root.content_box_x(), root.content_box_y()
    found: list[tuple[int, Geometry]] = []
    seen: set[int] = set()
    for box in _walk(root):
        element = box.element
        if element is None or not isinstance(box, boxes.BlockBox):
            continue
        value = element.get(attribute)
        if value is not None and int(value) not in seen:
            seen.add(int(value))
            geometry = (
                box.border_box_x() - ox,
                box.border_box_y() - oy,
                box.width,
                box.border_height(),
            )
            found.append((int(value), geometry))
    return found


def visible_share(document: Any, classes: Sequence[str]) -> list[dict[str, float]]:
    """Per page, for each of ``classes`` (HTML class names), the share of its
    elements' text a reader can see there: laid out, visibility visible, not
    (nearly) transparent by colour or opacity, not too small to read, and inside
    the page and every box that clips it. So a stylesheet cannot hide, in whole
    or in part, what every copy must show."""
    wanted = frozenset(classes)
    total: dict[str, int] = dict.fromkeys(wanted, 0)
    counted: set[int] = set()
    pages: list[dict[str, int]] = []
    for page in document.pages:
        root = _page_box(page)
        seen: dict[str, int] = dict.fromkeys(wanted, 0)
        page_rect = (0.0, 0.0, float(root.margin_width()), float(root.margin_height()))
        _visit(root, 1.0, page_rect, frozenset(), wanted, seen, total, counted)
        pages.append(seen)
    return [
        {name: seen[name] / total[name] if total[name] else 0.0 for name in wanted}
        for seen in pages
    ]


def _letters(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def _visit(
    box: Any,
    opacity: float,
    clip: tuple[float, float, float, float],
    active: frozenset[str],
    wanted: frozenset[str],
    seen: dict[str, int],
    total: dict[str, int],
    counted: set[int],
) -> None:
    from weasyprint.formatting_structure import boxes
    from weasyprint.layout.absolute import AbsolutePlaceholder

    if isinstance(box, AbsolutePlaceholder):
        box = box._box
    style = box.style
    opacity *= float(style["opacity"])
    element = box.element
    if element is not None and not isinstance(box, boxes.TextBox):
        names = set((element.get("class") or "").split()) & wanted
        if names:
            active = active | names
            if id(element) not in counted:  # an element split over pages counts once
                counted.add(id(element))
                for name in names:
                    total[name] += _letters("".join(element.itertext()))
    if style["overflow"] != "visible" and hasattr(box, "padding_box_x"):
        x, y = box.padding_box_x(), box.padding_box_y()
        w, h = box.padding_width(), box.padding_height()
        clip = (max(clip[0], x), max(clip[1], y), min(clip[2], x + w), min(clip[3], y + h))
    if isinstance(box, boxes.TextBox) and active and box.text.strip():
        color = style["color"]
        if (
            style["visibility"] == "visible"
            and float(style["font_size"]) >= 4
            and opacity * float(getattr(color, "alpha", 1)) >= 0.05
            and box.position_x < clip[2]
            and box.position_x + box.width > clip[0]
            and box.position_y < clip[3]
            and box.position_y + box.height > clip[1]
        ):
            for name in active:
                seen[name] += _letters(box.text)
    for child in getattr(box, "children", ()):
        _visit(child, opacity, clip, active, wanted, seen, total, counted)


def first_marks(page: Any, attributes: Sequence[str]) -> dict[str, int]:
    """The first integer value of each attribute found on the page's elements, in
    document order (which recipient and which overlay page a page belongs to)."""
    out: dict[str, int] = {}
    for box in _page_box(page).descendants():
        element = box.element
        if element is None:
            continue
        for name in attributes:
            if name not in out and element.get(name) is not None:
                out[name] = int(element.get(name))
        if len(out) == len(attributes):
            break
    return out


def overflowing_panels(rendered: Any) -> list[str]:
    """Labels of fixed-size panels (class "panel") whose content runs past their box."""
    out: list[str] = []

    def bottom(box) -> float:  # noqa: ANN001
        y = box.position_y + box.margin_height() if hasattr(box, "margin_height") else 0
        for child in getattr(box, "children", []) or []:
            if getattr(child, "style", None) is not None and child.style["position"] == "absolute":
                continue
            y = max(y, bottom(child))
        return y

    def walk(box) -> None:  # noqa: ANN001
        element = getattr(box, "element", None)
        classes = (element.get("class") or "").split() if element is not None else []
        if "panel" in classes and getattr(box, "element_tag", "") == "section":
            limit = box.position_y + box.border_height() + 0.5
            content = max(
                (bottom(c) for c in box.children if c.style["position"] != "absolute"),
                default=0,
            )
            if content > limit:
                out.append((element.get("aria-label") if element is not None else None) or "panel")
            return
        for child in getattr(box, "children", []) or []:
            walk(child)

    for page in rendered.pages:
        walk(_page_box(page))
    return out


def open_depths(document: Any) -> list[int]:
    """For each page but the last, how many nested boxes (below <main>) are
    still open at its foot: the boxes on the page's last-child path whose
    element also has boxes on the next page."""
    untagged = {"html", "body", "main"}

    def elements(page) -> set[int]:  # noqa: ANN001
        found: set[int] = set()

        def walk(box) -> None:  # noqa: ANN001
            element = getattr(box, "element", None)
            if element is not None:
                found.add(id(element))
            for child in getattr(box, "children", None) or []:
                walk(child)

        walk(_page_box(page).children[0])
        return found

    def last_path(page) -> list:  # noqa: ANN001
        path: list = []
        box = _page_box(page).children[0]
        while True:
            kids = [
                c
                for c in getattr(box, "children", None) or []
                if getattr(c, "element", None) is not None and c.style["position"] == "static"
            ]
            if not kids:
                return path
            box = kids[-1]
            path.append(box)

    pages = [p for p in document.pages if _page_box(p).children]
    sets = [elements(p) for p in pages]
    depths = []
    for i in range(len(pages) - 1):
        depths.append(
            sum(
                1
                for box in last_path(pages[i])
                if box.element_tag not in untagged and id(box.element) in sets[i + 1]
            )
        )
    return depths


# -- languages in the tag tree ------------------------------------------------
# Structure elements carry their language (PDF/UA-1 7.2): WeasyPrint (70) writes
# the document's /Lang from <html lang> but none on the elements inside it, so
# its tag builder is wrapped during our own writes: an element with a lang attribute gets /Lang (the
# English half of "Traducción sin revisar / Translation not yet reviewed",
# each tagline). tests/test_languages.py fails loudly if the builder changes.


_LANG_TAGS = threading.RLock()
_lang_tags_on: ContextVar[bool] = ContextVar("handoutgen_lang_tags", default=False)


@contextlib.contextmanager
def lang_tags() -> Iterator[None]:
    """While one of our own writes runs, WeasyPrint's tag builder gives each
    element its language; WeasyPrint is left as it was afterwards. The
    wrapper acts only in the context that installed it, so another caller of
    WeasyPrint in this process (another thread) gets WeasyPrint's own tags."""
    import pydyf
    from weasyprint.pdf import tags

    with _LANG_TAGS:
        original = tags._build_box_tree

        def build(box: Any, parent: Any, *args: Any) -> Any:
            if not _lang_tags_on.get():
                yield from original(box, parent, *args)
                return
            element = getattr(getattr(box, "_box", box), "element", None)
            lang = None
            if element is not None and hasattr(element, "get") and element.tag != "html":
                lang = element.get("lang")
            for made in original(box, parent, *args):
                if lang and "Lang" not in made:
                    made["Lang"] = pydyf.String(lang)
                yield made

        token = _lang_tags_on.set(True)
        tags._build_box_tree = build
        try:
            yield
        finally:
            tags._build_box_tree = original
            _lang_tags_on.reset(token)


def page_holders(document: Any, attributes: Sequence[str]) -> list[set[tuple[int | None, ...]]]:
    """For each page, whose content it draws: for every box on it, boxes
    WeasyPrint continued from an earlier page included (an absolutely
    positioned box too tall for its page goes on over the next), the integer
    values of ``attributes`` its element has or inherits from its nearest
    ancestor having them. Elements with the first attribute themselves are
    containers that may span pages (a recipient's pages) and are left out, as
    is content owned by nobody (the document's own root elements)."""
    if not document.pages:
        return []
    root = next(
        (box.element for box in _page_box(document.pages[0]).children if box.element_tag == "html"),
        None,
    )
    if root is None:  # pragma: no cover - WeasyPrint always lays out the root on page 1
        raise RenderError("the laid-out document has no <html> box")
    # ElementTree has no parent links: what each element inherits, from the root down.
    owner: dict[int, tuple[int | None, ...]] = {}
    stack: list[tuple[Any, tuple[int | None, ...]]] = [(root, (None,) * len(attributes))]
    while stack:
        element, inherited = stack.pop()
        mine = tuple(
            int(element.get(name)) if element.get(name) is not None else inherited[i]
            for i, name in enumerate(attributes)
        )
        owner[id(element)] = mine
        stack.extend((child, mine) for child in element)
    out: list[set[tuple[int | None, ...]]] = []
    for page in document.pages:
        held: set[tuple[int | None, ...]] = set()
        for box in _walk(_page_box(page)):
            element = box.element
            if element is None or element.get(attributes[0]) is not None:
                continue
            values = owner.get(id(element))
            if values is not None and any(v is not None for v in values):
                held.add(values)
        out.append(held)
    return out
