"""Preflight: the checks a print shop and an accessibility reviewer make on a
finished PDF, ours or anyone's (``handoutgen preflight``).

Each rule reads the page as printed (engine/pdffacts.py): text that collides,
text outside the trim or too near it, text under the minimum size, fonts not
embedded, the page count a booklet needs, a last page of a few lines, the
PDF/UA-1 basics, for a print-ready file its trim and bleed boxes and crop marks
drawn outside the bleed (not painted over), and for a PDF/X file its output
intent. A finding names the page and says what to change.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Literal

from handoutgen.engine.pdffacts import Box, Char, PageFacts, PdfFacts

Severity = Literal["error", "warning"]

MIN_SIZE = 9.0  # pt: the smallest text a print shop and most style guides accept
LARGE_PRINT_SIZE = 18.0  # pt: large print (APH, RNIB)
SAFE_MARGIN = 9.0  # pt (0.125 in): text this near the trim may be cut
BLEED = 9.0  # pt (0.125 in): the bleed a print shop asks for
SIZE_TOLERANCE = 0.05  # pt: sizes come back as 8.999...
MAX_PER_PAGE = 5  # findings of one rule on one page; the rest are counted
SHORT_LAST_PAGE = 6  # lines: a last page with fewer is a sheet spent on a few lines
# Our own PDFs say what they are (templates/base.html writes these metadata).
LARGE_PRINT_KEY = "handoutgenlargeprint"
KIND_KEY = "handoutgenkind"


@dataclass(frozen=True)
class Issue:
    file: str
    page: int | None  # None: the whole file
    severity: Severity
    rule: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}: page {self.page}" if self.page else self.file
        return f"{where}: {self.severity}: [{self.rule}] {self.message} {self.fix}"


@dataclass
class Report:
    file: str
    pages: int
    large_print: bool
    booklet: bool
    print_ready: bool
    min_size: float
    chars: int = 0
    small_chars: int = 0
    collisions: int = 0
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(i.severity == "error" for i in self.issues)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["errors"] = self.errors
        out["warnings"] = len(self.issues) - self.errors
        return out


def preflight(
    facts: PdfFacts,
    file: str,
    *,
    large_print: bool | None = None,
    booklet: bool | None = None,
    print_ready: bool | None = None,
    min_size: float | None = None,
    safe_margin: float = SAFE_MARGIN,
    pdfx: bool = False,
) -> Report:
    """Judge one PDF. A flag left as None is read from the file: our metadata
    for large print and booklets, trim boxes smaller than the page for print-ready.
    ``pdfx``: the print shop asks for PDF/X (a file that claims it is judged as one)."""
    if large_print is None:
        large_print = facts.info.get(LARGE_PRINT_KEY, "").lower() == "yes"
    if booklet is None:
        booklet = facts.info.get(KIND_KEY, "").lower() == "booklet"
    if print_ready is None:
        print_ready = any(p.trim is not None and p.trim != p.media for p in facts.pages)
    if min_size is None:
        min_size = LARGE_PRINT_SIZE if large_print else MIN_SIZE
    report = Report(file, len(facts.pages), large_print, booklet, print_ready, min_size)

    def add(page: int | None, severity: Severity, rule: str, message: str, fix: str) -> None:
        report.issues.append(Issue(file, page, severity, rule, message, fix))

    letter = facts.info.get(KIND_KEY, "").lower() == "letter"
    for page in facts.pages:
        _collisions(page, report, add)
        _placement(page, safe_margin, add)
        window = _window(page) if letter and large_print and page.number == 1 else None
        _sizes(page, min_size, large_print, report, add, window)
    _fonts(facts, add)
    _page_count(facts, booklet, add)
    if not booklet:  # a booklet's last page is its back cover, short by design
        _short_last_page(facts, add)
    _print_boxes(facts, print_ready, add)
    if print_ready:
        for page in facts.pages:
            _crop_marks(page, add)
    _pdfx(facts, pdfx, add)
    _tags(facts, add)
    return report


# -- text on the page ------------------------------------------------------------------------


def _lines(chars: list[Char]) -> dict[int, list[Char]]:
    lines: dict[int, list[Char]] = defaultdict(list)
    for char in chars:
        lines[char.line].append(char)
    return lines


def _bounds(chars: list[Char]) -> Box:
    return (
        min(c.box[0] for c in chars),
        min(c.box[1] for c in chars),
        max(c.box[2] for c in chars),
        max(c.box[3] for c in chars),
    )


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _text(chars: list[Char], limit: int = 40) -> str:
    text = "".join((" " if c.space else "") + c.text for c in chars)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _collides(a: list[Char], b: list[Char]) -> bool:
    """Glyphs of two lines cover each other: a fifth of the smaller glyph or
    more (an accent that grazes the line above is not a collision)."""
    for x in a:
        for y in b:
            small = min(_area(x.box), _area(y.box))
            if small > 0 and _overlap(x.box, y.box) >= 0.2 * small:
                return True
    return False


def _one_rtl_line(a: list[Char], b: list[Char]) -> bool:
    """Two runs on one baseline with right-to-left letters: pdfium may cut one
    visual line of Arabic in two, whose joined letters touch."""
    rtl = any(unicodedata.bidirectional(c.text[0]) in ("R", "AL") for c in a + b)
    return rtl and abs(a[-1].baseline - b[0].baseline) < 0.2 * max(a[-1].size, b[0].size)


def _collisions(page: PageFacts, report: Report, add) -> None:  # noqa: ANN001
    # A watermark (faint text) lies behind the text by design; a mark (an Arabic
    # vowel, an accent) sits on its letter and may graze the line above.
    chars = [c for c in page.chars if not c.faint and unicodedata.category(c.text[0]) != "Mn"]
    lines = [
        (bounds, chars) for chars in _lines(chars).values() if _area(bounds := _bounds(chars)) > 0
    ]
    found = 0
    for i, (box_a, a) in enumerate(lines):
        for box_b, b in lines[i + 1 :]:
            if _overlap(box_a, box_b) <= 0 or _one_rtl_line(a, b) or not _collides(a, b):
                continue
            found += 1
            if found <= MAX_PER_PAGE:
                add(
                    page.number,
                    "error",
                    "text-collision",
                    f'"{_text(a)}" and "{_text(b)}" overlap.',
                    "Give each its own space: a shorter text (an ellipsis), a wider box or one "
                    "of them moved.",
                )
    report.collisions += found
    if found > MAX_PER_PAGE:
        add(page.number, "error", "text-collision", f"{found - MAX_PER_PAGE} more overlaps.", "")


def _placement(page: PageFacts, margin: float, add) -> None:  # noqa: ANN001
    trim = page.trim or page.media
    safe = (trim[0] + margin, trim[1] + margin, trim[2] - margin, trim[3] - margin)
    tolerance = 0.5
    # A watermark band (faint text) runs across the sheet by design; cut, it loses nothing.
    printed = [c for c in page.chars if not c.faint]
    outside = [c for c in printed if _area(c.box) and not _inside(c.box, trim, tolerance)]
    unsafe = [
        c
        for c in printed
        if _area(c.box) and c not in outside and not _inside(c.box, safe, tolerance)
    ]
    if outside:
        add(
            page.number,
            "error",
            "text-outside-trim",
            f"{len(outside)} characters lie outside the trim: {_quote_lines(page, outside)}.",
            "Move the text inside the page; the print shop cuts at the trim.",
        )
    if unsafe:
        add(
            page.number,
            "warning",
            "text-unsafe-area",
            f"{len(unsafe)} characters lie within {margin / 72:.3g} in of the trim: "
            f"{_quote_lines(page, unsafe)}.",
            "Keep text inside the safe area: a cut a little off would clip it.",
        )


def _quote_lines(page: PageFacts, chars: list[Char]) -> str:
    """The whole lines ``chars`` belong to, quoted, the first few."""
    lines = _lines(page.chars)
    wanted = list(dict.fromkeys(c.line for c in chars))
    quoted = ", ".join(f'"{_text(lines[n])}"' for n in wanted[:MAX_PER_PAGE])
    more = len(wanted) - MAX_PER_PAGE
    return quoted + (f" and {more} more lines" if more > 0 else "")


def _inside(box: Box, area: Box, tolerance: float) -> bool:
    return (
        box[0] >= area[0] - tolerance
        and box[1] >= area[1] - tolerance
        and box[2] <= area[2] + tolerance
        and box[3] <= area[3] + tolerance
    )


# A #10 envelope's recipient window on a letter's first page, from the sheet's
# top-left, in inches (left, top, right, bottom; styles/handout.css).
WINDOW = (0.875, 2.125, 5.375, 3.25)


def _window(page: PageFacts) -> Box:
    # From the trimmed sheet: a print-ready file's media box adds the bleed and marks.
    sheet = page.trim or page.media
    left, top, right, bottom = (v * 72 for v in WINDOW)
    return (sheet[0] + left, sheet[3] - bottom, sheet[0] + right, sheet[3] - top)


def _sizes(
    page: PageFacts,
    minimum: float,
    large_print: bool,
    report: Report,
    add,  # noqa: ANN001
    window: Box | None = None,
) -> None:
    """``window``: a large-print letter's address window, whose text is for the
    post office's machines and is judged by the print minimum, not 18 pt
    (4 lines and a barcode at 18 pt do not fit a #10 window)."""
    report.chars += len(page.chars)

    def least(c: Char) -> float:
        inside = window is not None and _inside(c.box, window, 0.5)
        return MIN_SIZE if inside else minimum

    small = [c for c in page.chars if c.size < least(c) - SIZE_TOLERANCE]
    report.small_chars += len(small)
    if not small:
        return
    samples = []
    for chars in _lines(small).values():
        samples.append(f'"{_text(chars, 30)}" ({min(c.size for c in chars):.3g} pt)')
    shown = ", ".join(samples[:MAX_PER_PAGE])
    more = f" and {len(samples) - MAX_PER_PAGE} more lines" if len(samples) > MAX_PER_PAGE else ""
    kind = "large print" if large_print else "print"
    add(
        page.number,
        "error",
        "text-too-small",
        f"{len(small)} characters under {minimum:.3g} pt, the minimum for {kind}: {shown}{more}.",
        f"Set them at {minimum:.3g} pt or more.",
    )


# -- the file --------------------------------------------------------------------------------


def _fonts(facts: PdfFacts, add) -> None:  # noqa: ANN001
    for font in facts.fonts:
        if not font.embedded:
            add(
                font.pages[0] if font.pages else None,
                "error",
                "font-not-embedded",
                f"The font {font.name} is not embedded (pages "
                f"{', '.join(map(str, font.pages))}); the printer would substitute another.",
                "Embed every font (a PDF export setting; WeasyPrint always embeds).",
            )


def _page_count(facts: PdfFacts, booklet: bool, add) -> None:  # noqa: ANN001
    count = len(facts.pages)
    if booklet and count % 4:
        add(
            None,
            "error",
            "booklet-pages",
            f"A booklet needs a multiple of 4 pages; this has {count}.",
            f"Add {4 - count % 4} pages (notes pages) or cut {count % 4}.",
        )


def _short_last_page(facts: PdfFacts, add) -> None:  # noqa: ANN001
    """A last page that holds only a few lines of text. The running header and
    footer are not counted: words that are, numbers aside, at the same place
    on another page."""
    if len(facts.pages) < 2:
        return
    pages = [
        [(_bounds(chars), "".join(c.text for c in chars)) for chars in _lines(printed).values()]
        for printed in ([c for c in p.chars if not c.faint] for p in facts.pages)
    ]

    def key(box: Box, text: str) -> tuple[str, int]:
        return re.sub(r"\d+", "#", text), round(box[1] / 3)

    where: dict[tuple[str, int], int] = defaultdict(int)
    for lines in pages:
        for k in {key(box, text) for box, text in lines if any(ch.isalpha() for ch in text)}:
            where[k] += 1
    body = sorted(
        (box for box, text in pages[-1] if where[key(box, text)] < 2), key=lambda b: -b[3]
    )
    # Runs of text side by side (a term and its meaning, two columns) make one line.
    count, bottom = 0, float("inf")
    for box in body:
        if box[3] < bottom:
            count, bottom = count + 1, box[1] + 0.5 * (box[3] - box[1])
    if 0 < count < SHORT_LAST_PAGE:
        add(
            facts.pages[-1].number,
            "warning",
            "short-last-page",
            f"short last page: {count} line{'s' if count != 1 else ''}.",
            "Tighten the pages before it, or let the closing text share the page above.",
        )


def _print_boxes(facts: PdfFacts, print_ready: bool, add) -> None:  # noqa: ANN001
    if not print_ready:
        return
    trims = set()
    for page in facts.pages:
        if page.trim is None or page.bleed is None:
            missing = " and ".join(
                n for n, b in (("TrimBox", page.trim), ("BleedBox", page.bleed)) if b is None
            )
            add(
                page.number,
                "error",
                "print-boxes",
                f"No {missing}.",
                "Export with bleed and trim boxes.",
            )
            continue
        trims.add((round(page.trim[2] - page.trim[0], 1), round(page.trim[3] - page.trim[1], 1)))
        bleed = [
            page.trim[0] - page.bleed[0],
            page.trim[1] - page.bleed[1],
            page.bleed[2] - page.trim[2],
            page.bleed[3] - page.trim[3],
        ]
        if not _inside(page.bleed, page.media, 0.01):
            add(
                page.number,
                "error",
                "print-boxes",
                "The BleedBox reaches outside the MediaBox.",
                "Make the page (MediaBox) at least as large as the bleed.",
            )
        if min(bleed) < BLEED - 0.01:
            add(
                page.number,
                "error",
                "print-boxes",
                f"The bleed is {min(bleed) / 72:.3g} in on its narrowest side; a print shop "
                f"asks for {BLEED / 72:.3g} in.",
                f"Extend the bleed to {BLEED / 72:.3g} in on every side.",
            )
        elif max(bleed) - min(bleed) > 0.01:
            add(
                page.number,
                "warning",
                "print-boxes",
                "The bleed differs from side to side.",
                "Use the same bleed on every side.",
            )
    if len(trims) > 1:
        sizes = ", ".join(f"{w:g} x {h:g} pt" for w, h in sorted(trims))
        add(
            None,
            "error",
            "print-boxes",
            f"Pages are trimmed to different sizes ({sizes}).",
            "Use one trim size for the whole file.",
        )


def _crop_marks(page: PageFacts, add) -> None:  # noqa: ANN001
    """Crop marks sit outside the bleed, or the trimmed sheet shows them; and
    colour run into the bleed must not paint over them."""
    if not page.marks:
        return
    inked = [m for m in page.marks if m.ink is not None]
    if not inked:
        add(
            page.number,
            "warning",
            "crop-marks",
            "No crop marks outside the trim.",
            "Add crop marks outside the bleed (CSS: @page { bleed: 0.5in; marks: crop }), "
            "or ask the print shop to add its own.",
        )
        return
    trim, bleed = page.trim, page.bleed or page.trim
    assert trim is not None and bleed is not None  # page.marks is found only with a TrimBox

    def reach(corner: str, axis: str) -> float:
        """How far past the trim the bleed runs where this mark is."""
        if axis == "horizontal":
            return trim[0] - bleed[0] if "left" in corner else bleed[2] - trim[2]
        return bleed[3] - trim[3] if "top" in corner else trim[1] - bleed[1]

    inside = [m for m in inked if m.ink and m.ink[0] < reach(m.corner, m.axis) - 0.5]
    if inside:
        near = min(m.ink[0] for m in inside if m.ink)
        add(
            page.number,
            "error",
            "crop-marks",
            f"The crop marks at the {_corners(inside)} start {near / 72:.3g} in past the trim, "
            f"inside the bleed ({reach(inside[0].corner, inside[0].axis) / 72:.3g} in): they "
            "are printed where the sheet is cut and colour runs over them.",
            "Draw the marks outside the bleed (BleedBox): with WeasyPrint, make the CSS "
            "bleed at least twice the bleed the print shop asks for.",
        )
    missing = [m for m in page.marks if m.ink is None]
    if missing:
        add(
            page.number,
            "error",
            "crop-marks",
            f"No crop mark shows at the {_corners(missing)}, where the other corners have "
            "them: it is missing or painted over (colour run past the bleed covers it).",
            "Stop full-bleed colour at the bleed, short of the marks.",
        )


def _corners(marks: list) -> str:
    names = list(dict.fromkeys(m.corner for m in marks))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _pdfx(facts: PdfFacts, asked: bool, add) -> None:  # noqa: ANN001
    """PDF/X: the claim, an output intent with the press's ICC profile, a TrimBox per page."""
    if not facts.pdfx:
        if asked:
            add(
                None,
                "error",
                "pdfx",
                "The file does not claim PDF/X (XMP pdfxid:GTS_PDFXVersion).",
                "Export as PDF/X-4 (handoutgen: --pdf-variant pdf/x-4).",
            )
        return
    intents = [i for i in facts.output_intents if i.subtype == "GTS_PDFX"]
    if not intents:
        add(
            None,
            "error",
            "pdfx-intent",
            f"It claims {facts.pdfx} but has no PDF/X output intent (/OutputIntents, /S "
            "/GTS_PDFX): the press cannot tell what colour it was made for.",
            "Export with the press's ICC profile as output intent.",
        )
    elif not intents[0].profile.endswith("prtr"):
        found = f"a {intents[0].profile} profile" if intents[0].profile else "no profile"
        add(
            None,
            "error",
            "pdfx-intent",
            f"The output intent '{intents[0].condition}' embeds {found}, not a printer "
            "(output) profile.",
            "Embed the press's CMYK printer profile (DestOutputProfile).",
        )
    untrimmed = [str(p.number) for p in facts.pages if p.trim is None]
    if untrimmed:
        add(
            None,
            "error",
            "pdfx",
            f"PDF/X needs a TrimBox on every page; page {', '.join(untrimmed[:10])} has none.",
            "Export with trim boxes.",
        )


def _tags(facts: PdfFacts, add) -> None:  # noqa: ANN001
    """The PDF/UA-1 basics. A file that claims PDF/UA-1 must meet them (errors);
    any other file is told what it lacks (warnings)."""
    tags = facts.tags
    severity: Severity = "error" if tags.claims_ua else "warning"
    if not tags.tagged:
        add(
            None,
            severity,
            "pdfua-tagged",
            "The PDF is not tagged (no structure tree marked in use).",
            "Export a tagged PDF (PDF/UA-1) so screen readers can read it.",
        )
        return
    problems = []
    # A PDF/X file is for the press: it need not claim PDF/UA as well.
    if not tags.claims_ua and not facts.pdfx:
        problems.append(
            ("pdfua-claim", "It does not claim PDF/UA-1 (XMP pdfuaid:part).", "Export as PDF/UA-1.")
        )
    if not tags.lang:
        problems.append(("pdfua-lang", "No document language (/Lang).", "Set the language."))
    if not tags.title:
        problems.append(("pdfua-title", "No title (dc:title).", "Give the document a title."))
    if not tags.display_doc_title:
        problems.append(
            (
                "pdfua-title",
                "Viewers show the file name, not the title.",
                "Set /ViewerPreferences /DisplayDocTitle true.",
            )
        )
    if tags.headings and tags.headings[0] != 1:
        problems.append(
            (
                "pdfua-headings",
                f"The first heading is H{tags.headings[0]}, not H1.",
                "Start with one H1.",
            )
        )
    skips = [(a, b) for a, b in zip(tags.headings, tags.headings[1:], strict=False) if b > a + 1]
    if skips:
        a, b = skips[0]
        problems.append(
            (
                "pdfua-headings",
                f"A heading level is skipped (H{a} then H{b}).",
                "Nest headings one level at a time.",
            )
        )
    # One part per page is WeasyPrint's cut left unmerged. A mailed letter
    # assembled from an edition has two on purpose: the letter, then the handout.
    if tags.parts > 1 and tags.parts >= len(facts.pages):
        problems.append(
            (
                "pdfua-structure",
                f"The tags are cut into {tags.parts} parts, one per page: "
                "a list or table that crosses a page reads as two.",
                "Merge page-split elements (handoutgen's tagging.repair does).",
            )
        )
    if tags.headers_without_scope:
        problems.append(
            (
                "pdfua-table",
                f"{tags.headers_without_scope} table header cells have no /Scope.",
                "Give every TH a /Scope (Column or Row).",
            )
        )
    if tags.figures_without_alt:
        problems.append(
            (
                "pdfua-figure",
                f"{tags.figures_without_alt} figures have no alternative text.",
                "Give every Figure an /Alt.",
            )
        )
    if tags.wrong_parents:
        problems.append(
            (
                "pdfua-structure",
                f"{tags.wrong_parents} structure elements point at a wrong parent (/P).",
                "Repair the structure tree.",
            )
        )
    for rule, message, fix in problems:
        add(None, severity, rule, message, fix)
