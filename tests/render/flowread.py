"""Reading a rendered handout back as a reader does, for the flow tests: the
lines of each page (running headers and footers left out), the sources'
numbers in reading order, and the headings and glossary terms the HTML has.

Independent of the code under test: positions come from the PDF (pdfium,
through engine/pdffacts.py), what to look for from the HTML of the same render.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser

from handoutgen.engine.pdffacts import PdfFacts


@dataclass(frozen=True)
class Line:
    page: int  # from 1
    text: str
    box: tuple[float, float, float, float]  # left, bottom, right, top (pt)
    baseline: float
    bold: bool  # every letter in a bold face, as headings and defined terms are


def _key(text: str) -> str:
    """Letters and digits only, lower case: spacing and punctuation vary with
    the direction of the text and with how pdfium cuts a line."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def page_lines(facts: PdfFacts) -> list[list[Line]]:
    """Each page's printed lines (watermarks left out), with the running header
    and footer removed: a line of words that is, numbers aside, at the same
    place on another page."""
    pages: list[list[Line]] = []
    for page in facts.pages:
        groups: dict[int, list] = defaultdict(list)
        for c in page.chars:
            if not c.faint:
                groups[c.line].append(c)
        lines = []
        for chars in groups.values():
            text = "".join((" " if c.space else "") + c.text for c in chars)
            box = (
                min(c.box[0] for c in chars),
                min(c.box[1] for c in chars),
                max(c.box[2] for c in chars),
                max(c.box[3] for c in chars),
            )
            bold = all("bold" in c.font.lower() for c in chars if c.text.isalnum())
            lines.append(Line(page.number, text, box, chars[0].baseline, bold))
        pages.append(lines)
    where: dict[tuple[str, int], set[int]] = defaultdict(set)
    for lines in pages:
        for line in lines:
            where[_running_key(line)].add(line.page)
    if len(pages) < 2:
        return pages
    return [[ln for ln in lines if not _running(ln, where)] for lines in pages]


def _running(line: Line, where: dict[tuple[str, int], set[int]]) -> bool:
    # A list's number ("3.") may well sit where another page has one.
    return any(ch.isalpha() for ch in line.text) and len(where[_running_key(line)]) > 1


def _running_key(line: Line) -> tuple[str, int]:
    return re.sub(r"\d+", "#", line.text), round(line.box[1] / 3)


def last_line(lines: list[Line]) -> Line | None:
    """The lowest line of a page, where a reader turns over: every run of text
    beside the lowest one (a term and its meaning are drawn apart), joined."""
    if not lines:
        return None
    lowest = min(lines, key=lambda ln: ln.box[1])
    row = sorted((ln for ln in lines if _side_by_side(ln, lowest)), key=lambda ln: ln.box[0])
    return Line(
        lowest.page,
        " ".join(ln.text for ln in row),
        (row[0].box[0], lowest.box[1], row[-1].box[2], lowest.box[3]),
        lowest.baseline,
        all(ln.bold for ln in row),
    )


class _Html(HTMLParser):
    """The texts of the sources' list items, headings and defined terms."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.headings: list[str] = []
        self.terms: list[str] = []
        self._stack: list[tuple[str, str]] = []  # (tag, what its text is for)
        self._text: list[str] = []
        self._in_sources = 0
        self._in_dl = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "ol" and "sources" in classes:
            self._in_sources += 1
        if tag == "dl":
            self._in_dl += 1
        what = ""
        if tag == "li" and self._in_sources:
            what = "source"
        elif tag in ("h1", "h2", "h3", "h4"):
            what = "heading"
        elif tag == "dt" and self._in_dl:
            what = "term"
        if what:
            self._stack.append((tag, what))
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "ol" and self._in_sources:
            self._in_sources -= 1
        if tag == "dl" and self._in_dl:
            self._in_dl -= 1
        if self._stack and self._stack[-1][0] == tag:
            _, what = self._stack.pop()
            text = " ".join("".join(self._text).split())
            {"source": self.sources, "heading": self.headings, "term": self.terms}[what].append(
                text
            )

    def handle_data(self, data: str) -> None:
        if self._stack:
            self._text.append(data)


def html_parts(html: str) -> _Html:
    parser = _Html()
    parser.feed(html)
    return parser


@dataclass(frozen=True)
class Placed:
    number: int
    line: Line
    column: int  # 0 is the column read first (the left one; the right one right to left)


def sources_in_reading_order(
    facts: PdfFacts, html: str, *, rtl: bool = False
) -> tuple[list[Placed], list[str]]:
    """Where each source of the list is printed (its first line, with its
    number beside it), and what is wrong: a source not found, or printed
    without its own number."""
    citations = html_parts(html).sources
    pages = page_lines(facts)
    placed: list[Placed] = []
    problems: list[str] = []
    for n, citation in enumerate(citations, start=1):
        start = _key(citation)[:10]
        # Two sources may start alike: the one printed with this number is it.
        found = [ln for lines in pages for ln in lines if start and start in _key(ln.text)]
        if not found:  # right to left, pdfium may cut a line of mixed text word by word
            found = [r for lines in pages for r in _rows(lines) if start in _key(r.text)]
        numbered = [ln for ln in found if _numbered(ln, n, pages[ln.page - 1])]
        if not numbered:
            where = "printed without its number" if found else "not printed"
            problems.append(f"source {n} ({citation[:30]}...) is {where}")
            continue
        line = numbered[0]
        width = facts.pages[line.page - 1].media[2]
        if line.box[2] - line.box[0] > width / 2:  # a line across the page: one column
            column = 0
        else:
            middle = (line.box[0] + line.box[2]) / 2
            column = int(middle < width / 2) if rtl else int(middle > width / 2)
        placed.append(Placed(n, line, column))
    return placed, problems


def _numbered(line: Line, n: int, lines: list[Line]) -> bool:
    """The number "n." (".n" drawn right to left) starts or ends the line, or is
    drawn on its own beside it."""
    mark = rf"(?:{n}\.|\.{n})"
    text = line.text.strip()
    if re.match(rf"{mark}(?:\s|$)", text) or re.search(rf"(?:^|\s){mark}$", text):
        return True
    return any(
        re.fullmatch(mark, other.text.strip()) and _side_by_side(line, other)
        for other in lines
        if other is not line
    )


def _rows(lines: list[Line]) -> list[Line]:
    """The page's lines joined into rows, left to right: the runs of text that
    share a line to the eye."""
    rows: list[Line] = []
    left = sorted(lines, key=lambda ln: -ln.box[3])
    while left:
        first = left.pop(0)
        row = [first] + [ln for ln in left if _side_by_side(first, ln)]
        left = [ln for ln in left if ln not in row]
        row.sort(key=lambda ln: ln.box[0])
        box = (
            min(ln.box[0] for ln in row),
            min(ln.box[1] for ln in row),
            max(ln.box[2] for ln in row),
            max(ln.box[3] for ln in row),
        )
        text = " ".join(ln.text for ln in row)
        rows.append(Line(first.page, text, box, first.baseline, all(ln.bold for ln in row)))
    return rows


def _side_by_side(a: Line, b: Line) -> bool:
    """Two lines share most of their height: one line to the eye."""
    overlap = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    return overlap > 0.6 * min(a.box[3] - a.box[1], b.box[3] - b.box[1])


def out_of_order(placed: list[Placed]) -> list[str]:
    """Each source that a reader meets out of turn: reading column by column,
    page by page, source n+1 comes after n: on a later page, lower in the same
    column, at the top of the next column, or below in a list that follows."""
    where = {p.number: p for p in placed}
    wrong = []
    for n in sorted(where):
        if n + 1 not in where:
            continue
        a, b = where[n], where[n + 1]
        if b.line.page > a.line.page:
            continue
        lower = b.line.box[3] < a.line.box[3]
        if b.line.page < a.line.page or (b.column <= a.column and not lower):
            wrong.append(
                f"source {n + 1} (page {b.line.page}, column {b.column + 1}) is read before "
                f"source {n} (page {a.line.page}, column {a.column + 1})"
            )
    return wrong


def is_heading_or_term(line: Line, html: str) -> str | None:
    """The heading or defined term ``line`` is (or ends), if any: a bold line
    with its words."""
    parts = html_parts(html)
    text = _key(line.text)
    if not text or not line.bold:
        return None
    for heading in parts.headings + parts.terms:
        key = _key(heading)
        if key and (key == text or (len(text) >= 8 and key.endswith(text))):
            return heading
    return None
