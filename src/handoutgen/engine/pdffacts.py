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


@dataclass(frozen=True)
class MarkLine:
    """Where a crop mark should be: a trim edge carried on outside the trim, at
    one corner. ``ink`` is the stretch of it (distances from the trim, pt) drawn
    as a thin dark line; None where nothing thin is drawn there (no mark, or one
    painted over)."""

    corner: str  # "top left", ...
    axis: str  # "horizontal" (carries a top or bottom edge) or "vertical"
    ink: tuple[float, float] | None


@dataclass
class PageFacts:
    number: int  # from 1
    media: Box
    trim: Box | None
    bleed: Box | None
    chars: list[Char] = field(default_factory=list)
    marks: list[MarkLine] = field(default_factory=list)  # pages trimmed smaller than the sheet


@dataclass(frozen=True)
class OutputIntent:
    subtype: str  # "GTS_PDFX", "GTS_PDFA1"...
    condition: str  # OutputConditionIdentifier
    profile: str  # the embedded ICC profile: "CMYK prtr", "" when none is embedded


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
    pdfx: str = ""  # the PDF/X version the file claims (XMP or info), "" for none
    output_intents: list[OutputIntent] = field(default_factory=list)


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
        pdfx, intents = _pdfx(pdf, info)
    for page, chars in zip(pages, _chars(data), strict=True):
        page.chars = chars
    _crop_marks(data, pages)
    return PdfFacts(pages, fonts, info, tags, pdfx, intents)


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


def _pdfx(pdf: object, info: dict[str, str]) -> tuple[str, list[OutputIntent]]:
    import pikepdf

    try:
        meta = pdf.open_metadata()  # type: ignore[attr-defined]
        claim = str(meta.get("pdfxid:GTS_PDFXVersion", "") or "")
    except Exception:  # noqa: BLE001 - unreadable XMP: judged as absent
        claim = ""
    claim = claim or info.get("GTS_PDFXVersion", "")
    intents = []
    found = pdf.Root.get("/OutputIntents")  # type: ignore[attr-defined]
    for intent in found if isinstance(found, pikepdf.Array) else []:
        if not isinstance(intent, pikepdf.Dictionary):
            continue
        profile = ""
        stream = intent.get("/DestOutputProfile")
        if isinstance(stream, pikepdf.Stream):
            try:
                head = stream.read_bytes()[:20]
                # ICC header: device class at bytes 12-15, colour space at 16-19.
                profile = f"{head[16:20].decode('ascii').strip()} {head[12:16].decode('ascii')}"
            except (pikepdf.PdfError, UnicodeDecodeError):
                profile = "unreadable"
        intents.append(
            OutputIntent(
                str(intent.get("/S", "")).lstrip("/"),
                str(intent.get("/OutputConditionIdentifier", "") or ""),
                profile,
            )
        )
    return claim, intents


# Crop marks are found on the printed page: pdfium draws each sheet trimmed
# smaller than itself, and each trim edge is followed outwards from a corner.
MARK_DPI = 144
MARK_DARK = 110  # a mark's darkest pixel on its line is darker than this (0-255)
MARK_LIGHT = 200  # ...and the paper 3 pt to each side of it lighter than this
MARK_SIDE = 3.0  # pt


def _crop_marks(data: bytes, pages: list[PageFacts]) -> None:
    import pypdfium2 as pdfium

    todo = [p for p in pages if p.trim is not None and _larger(p.media, p.trim)]
    if not todo:
        return
    doc = pdfium.PdfDocument(data)
    try:
        for page in todo:
            image = doc[page.number - 1].render(scale=MARK_DPI / 72).to_pil().convert("L")
            page.marks = _mark_lines(image, page.media, page.trim)  # type: ignore[arg-type]
    finally:
        doc.close()


def _larger(media: Box, trim: Box) -> bool:
    return min(trim[0] - media[0], trim[1] - media[1], media[2] - trim[2], media[3] - trim[3]) > 1


def _mark_lines(image: object, media: Box, trim: Box) -> list[MarkLine]:
    scale = MARK_DPI / 72
    width, height = image.size  # type: ignore[attr-defined]

    def pixel(x: float, y: float) -> int:
        # PDF points (y up, from the MediaBox) to the image's pixels (y down).
        px = min(width - 1, max(0, int((x - media[0]) * scale)))
        py = min(height - 1, max(0, int((media[3] - y) * scale)))
        return image.getpixel((px, py))  # type: ignore[attr-defined]

    def thin(x: float, y: float, horizontal: bool) -> bool:
        step = 1 / scale
        if horizontal:
            line = min(pixel(x, y + d * step) for d in (-1, 0, 1))
            sides = (pixel(x, y + MARK_SIDE), pixel(x, y - MARK_SIDE))
        else:
            line = min(pixel(x + d * step, y) for d in (-1, 0, 1))
            sides = (pixel(x + MARK_SIDE, y), pixel(x - MARK_SIDE, y))
        return line < MARK_DARK and min(sides) > MARK_LIGHT

    out = []
    left, bottom, right, top = trim
    corners = {
        "top left": (left, top, -1, 1),
        "top right": (right, top, 1, 1),
        "bottom left": (left, bottom, -1, -1),
        "bottom right": (right, bottom, 1, -1),
    }
    for corner, (cx, cy, sx, sy) in corners.items():
        for axis in ("horizontal", "vertical"):
            # Along the trim edge through the corner, outwards: a horizontal
            # mark carries the top or bottom edge out to the side.
            room = (
                (cx - media[0] if sx < 0 else media[2] - cx)
                if axis == "horizontal"
                else (media[3] - cy if sy > 0 else cy - media[1])
            )
            hits = []
            d = 1.0
            while d < room - 0.5:
                x, y = (cx + sx * d, cy) if axis == "horizontal" else (cx, cy + sy * d)
                if thin(x, y, axis == "horizontal"):
                    hits.append(d)
                d += 0.5
            out.append(MarkLine(corner, axis, (hits[0], hits[-1]) if hits else None))
    return out
