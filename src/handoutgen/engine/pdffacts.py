"""What a finished PDF shows, read back for preflight (quality/preflight.py):
each printed character's box, size and line, the page boxes, the fonts and
whether they are embedded, the document info, and the structure tree's basics.

Any PDF can be read, not only ours. Characters come from pdfium (the size a
reader sees: the font size times the scale of the text and page matrices);
page boxes, fonts and tags from pikepdf.
"""

from __future__ import annotations

import ctypes
import io
import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

Box = tuple[float, float, float, float]  # left, bottom, right, top, in pt


@dataclass(frozen=True)
class Char:
    text: str
    box: Box  # the glyph's tight box
    size: float  # effective size in pt
    font: str
    line: int  # the text line on its page, counted in drawing order
    faint: bool  # fill mostly transparent: a watermark behind the text
    space: bool = False  # a space comes before it on its line
    baseline: float = 0.0  # the y of its origin


@dataclass
class PageFacts:
    number: int  # from 1
    media: Box
    trim: Box | None
    bleed: Box | None
    chars: list[Char] = field(default_factory=list)


@dataclass(frozen=True)
class FontFacts:
    name: str
    embedded: bool
    pages: tuple[int, ...]


@dataclass
class TagFacts:
    """The PDF/UA-1 basics handoutgen's own tests check (tests/render/test_accessibility.py)."""

    claims_ua: bool  # XMP pdfuaid:part is 1
    tagged: bool  # a structure tree and /MarkInfo /Marked true
    lang: str
    display_doc_title: bool
    title: str
    parts: int  # /Part elements (one per page means WeasyPrint's cuts were not merged)
    headings: list[int]  # H1..H6 levels in reading order
    headers_without_scope: int
    figures_without_alt: int
    wrong_parents: int  # elements whose /P is not the element above them


@dataclass
class PdfFacts:
    pages: list[PageFacts]
    fonts: list[FontFacts]
    info: dict[str, str]
    tags: TagFacts


def struct_children(node: object) -> list:
    """The structure elements directly below ``node``."""
    import pikepdf

    if not isinstance(node, pikepdf.Dictionary):
        return []
    kids = node.get("/K")
    if kids is None:
        return []
    items = list(kids) if isinstance(kids, pikepdf.Array) else [kids]
    return [k for k in items if isinstance(k, pikepdf.Dictionary) and "/S" in k]


def struct_elements(node: object) -> Iterator:
    """Every structure element below ``node``, depth first."""
    for kid in struct_children(node):
        yield kid
        yield from struct_elements(kid)


def read(data: bytes) -> PdfFacts:
    """Read ``data`` (a PDF's bytes); a damaged file raises the reader's error."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        pages = [
            PageFacts(n + 1, _box(p.obj.get("/MediaBox")) or (0, 0, 0, 0), *_print_boxes(p.obj))
            for n, p in enumerate(pdf.pages)
        ]
        fonts = _fonts(pdf)
        info = {str(k).lstrip("/"): str(v) for k, v in pdf.docinfo.items()}
        tags = _tags(pdf)
    for page, chars in zip(pages, _chars(data), strict=True):
        page.chars = chars
    return PdfFacts(pages, fonts, info, tags)


def _box(value: object) -> Box | None:
    if value is None:
        return None
    x0, y0, x1, y1 = (float(v) for v in value)  # type: ignore[attr-defined]  # a pikepdf Array
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _print_boxes(page: object) -> tuple[Box | None, Box | None]:
    return _box(page.get("/TrimBox")), _box(page.get("/BleedBox"))  # type: ignore[attr-defined]


def _chars(data: bytes) -> Iterator[list[Char]]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    doc = pdfium.PdfDocument(data)
    name = ctypes.create_string_buffer(256)
    flags = ctypes.c_int()
    matrix = raw.FS_MATRIX()
    rgba = [ctypes.c_uint() for _ in range(4)]
    x, y = ctypes.c_double(), ctypes.c_double()
    try:
        for page in doc:
            text = page.get_textpage()
            out: list[Char] = []
            line = 0
            last: tuple[float, float, float] | None = None  # left, baseline, size
            rtl = False  # the line has right-to-left letters: it may run leftwards
            space = False
            for i in range(text.count_chars()):
                char = text.get_text_range(i, 1)
                if raw.FPDFText_IsGenerated(text.raw, i) == 1 and char in "\r\n":
                    line, last, space, rtl = line + 1, None, False, False
                    continue
                if not char.strip():
                    space = True
                    continue
                raw.FPDFText_GetMatrix(text.raw, i, ctypes.byref(matrix))
                scale = math.sqrt(abs(matrix.a * matrix.d - matrix.b * matrix.c))
                size = raw.FPDFText_GetFontSize(text.raw, i) * scale
                raw.FPDFText_GetFontInfo(text.raw, i, name, len(name), ctypes.byref(flags))
                raw.FPDFText_GetFillColor(text.raw, i, *(ctypes.byref(c) for c in rgba))
                box = text.get_charbox(i)
                raw.FPDFText_GetCharOrigin(text.raw, i, ctypes.byref(x), ctypes.byref(y))
                # A new line where the baseline moves or the text jumps back
                # left by more than a character: pdfium joins runs it finds on
                # one baseline, even two boxes' texts that touch.
                here = (box[0], y.value, size)
                mark = unicodedata.category(char[0]) == "Mn"  # sits on its letter
                if (
                    last is not None
                    and not mark
                    and (
                        abs(here[1] - last[1]) > 0.5 * max(size, last[2])
                        or here[0] < last[0] - 1.5 * max(size, last[2])
                        and not rtl
                    )
                ):
                    line, space, rtl = line + 1, False, False
                rtl = rtl or unicodedata.bidirectional(char[0]) in ("R", "AL")
                if not mark:
                    last = here
                out.append(
                    Char(
                        char,
                        (box[0], box[1], box[2], box[3]),
                        round(size, 2),
                        name.value.decode("utf-8", "replace").split("+", 1)[-1],
                        line,
                        rgba[3].value < 128,
                        space and bool(out) and out[-1].line == line,
                        y.value,
                    )
                )
                space = False
            yield out
    finally:
        doc.close()


def _fonts(pdf: object) -> list[FontFacts]:
    """Every font the pages use (forms included), embedded or not."""
    import pikepdf

    seen: dict[tuple, tuple[str, bool, set[int]]] = {}

    def visit(resources: object, page: int, depth: int = 0) -> None:
        if not isinstance(resources, pikepdf.Dictionary) or depth > 8:
            return
        fonts = resources.get("/Font")
        if isinstance(fonts, pikepdf.Dictionary):
            for _, font in fonts.items():
                key = font.objgen if font.is_indirect else (id(font), 0)
                if key not in seen:
                    seen[key] = (_font_name(font), _embedded(font), set())
                seen[key][2].add(page)
        xobjects = resources.get("/XObject")
        if isinstance(xobjects, pikepdf.Dictionary):
            for _, xobject in xobjects.items():
                if xobject.get("/Subtype") == pikepdf.Name.Form:
                    visit(xobject.get("/Resources"), page, depth + 1)

    for n, page in enumerate(pdf.pages):  # type: ignore[attr-defined]
        visit(page.obj.get("/Resources"), n + 1)
    return sorted(
        (
            FontFacts(name, embedded, tuple(sorted(pages)))
            for name, embedded, pages in seen.values()
        ),
        key=lambda f: (f.name, f.pages),
    )


def _font_name(font: object) -> str:
    name = str(font.get("/BaseFont", "") or "")  # type: ignore[attr-defined]
    return name.lstrip("/").split("+", 1)[-1] or "(unnamed Type 3 font)"


def _embedded(font: object) -> bool:
    """Type 3 fonts carry their glyphs; the others need a font file in their descriptor."""
    subtype = str(font.get("/Subtype"))  # type: ignore[attr-defined]
    if subtype == "/Type3":
        return True
    if subtype == "/Type0":
        descendants = font.get("/DescendantFonts") or []  # type: ignore[attr-defined]
        return bool(descendants) and all(_embedded(d) for d in descendants)
    descriptor = font.get("/FontDescriptor")  # type: ignore[attr-defined]
    return descriptor is not None and any(
        k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
    )


def _tags(pdf: object) -> TagFacts:
    import pikepdf

    root = pdf.Root  # type: ignore[attr-defined]
    try:
        meta = pdf.open_metadata()  # type: ignore[attr-defined]
        claims_ua = str(meta.get("pdfuaid:part", "")) == "1"
        xmp_title = str(meta.get("dc:title", "") or "")
    except Exception:  # noqa: BLE001 - unreadable XMP: judged as absent
        claims_ua, xmp_title = False, ""
    marked = bool(root.get("/MarkInfo", {}).get("/Marked", False))
    tree = root.get("/StructTreeRoot")
    nodes = list(struct_elements(tree)) if tree is not None else []
    headings = [
        int(str(n.S)[2:]) for n in nodes if str(n.S) in ("/H1", "/H2", "/H3", "/H4", "/H5", "/H6")
    ]
    without_scope = 0
    for node in nodes:
        if str(node.S) != "/TH":
            continue
        attrs = node.get("/A")
        items = list(attrs) if isinstance(attrs, pikepdf.Array) else [attrs]
        if not any(isinstance(a, pikepdf.Dictionary) and "/Scope" in a for a in items):
            without_scope += 1
    wrong = 0
    for node in [tree, *nodes] if tree is not None else []:
        for kid in struct_children(node):
            parent = kid.get("/P")
            if parent is None or parent.objgen != node.objgen:
                wrong += 1
    prefs = root.get("/ViewerPreferences", {})
    return TagFacts(
        claims_ua=claims_ua,
        tagged=tree is not None and marked,
        lang=str(root.get("/Lang", "") or ""),
        display_doc_title=bool(prefs.get("/DisplayDocTitle", False)),
        title=xmp_title or str(pdf.docinfo.get("/Title", "") or ""),  # type: ignore[attr-defined]
        parts=sum(str(n.S) == "/Part" for n in nodes),
        headings=headings,
        headers_without_scope=without_scope,
        figures_without_alt=sum(
            str(n.S) == "/Figure" and not str(n.get("/Alt", "") or "").strip() for n in nodes
        ),
        wrong_parents=wrong,
    )
