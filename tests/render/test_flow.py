"""Flow that reads right (issue #27 item 3), read back from real renders: the
sources numbered in reading order (column by column, page by page, right to
left in Arabic), no page ending on a heading or a defined term, no empty boxes,
no short last page, and page budgets. tests/render/test_preflight_matrix.py
runs the same reading checks over every document, language and mode.
"""

from __future__ import annotations

import datetime as dt
import functools

import pytest
from flowread import (
    is_heading_or_term,
    last_line,
    out_of_order,
    page_lines,
    sources_in_reading_order,
)

from conftest import pages_text
from handoutgen.engine.pdffacts import read
from handoutgen.pipeline import make_request, render, render_html
from handoutgen.quality.preflight import preflight

# (document, language, paper, large print): the four-option handout, the neck
# handout, the booklet, large print, and Arabic (a right-to-left grid).
FLOWS = [
    ("fusion-alternatives", "en", "letter", False),
    ("neck-surgery", "en", "letter", False),
    ("spine-booklet", "en", "letter", False),
    ("neck-surgery", "en", "letter", True),
    ("nonsurgical-options", "ar", "a4", False),
]


@pytest.fixture(scope="module")
def rendered(library):
    @functools.cache
    def get(doc: str, lang: str, paper: str, large: bool) -> tuple[bytes, str]:
        request = make_request(
            document=doc,
            patient="Ana Li",
            visit_date=dt.date(2026, 11, 20),
            page_size=paper,
            large_print=large,
            language=None if lang == "en" else lang,
            allow_draft=lang != "en",
        )
        return render(library, request), render_html(library, request)

    return get


def flow_id(combo: tuple) -> str:
    return "-".join(str(c) for c in combo)


@pytest.mark.parametrize("combo", FLOWS, ids=flow_id)
def test_sources_are_numbered_in_reading_order(rendered, combo):
    pdf, html = rendered(*combo)
    placed, problems = sources_in_reading_order(read(pdf), html, rtl=combo[1] == "ar")
    assert problems == []
    assert len(placed) >= 9
    assert out_of_order(placed) == []


def test_right_to_left_sources_start_in_the_right_hand_column(rendered):
    pdf, html = rendered("nonsurgical-options", "ar", "a4", False)
    placed, _ = sources_in_reading_order(read(pdf), html, rtl=True)
    first, second = placed[0].line, placed[-1].line
    # Source 1 heads the right-hand column of the two.
    assert first.box[0] > read(pdf).pages[first.page - 1].media[2] / 2
    assert second.page >= first.page


@pytest.mark.parametrize("combo", FLOWS, ids=flow_id)
def test_no_page_ends_on_a_heading_or_a_defined_term(rendered, combo):
    pdf, html = rendered(*combo)
    pages = page_lines(read(pdf))
    ends = []
    for lines in pages[:-1]:
        line = last_line(lines)
        if line is not None and (what := is_heading_or_term(line, html)):
            ends.append(f"page {line.page} ends on {what!r}")
    assert ends == []


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(pages_text(pdf)).split())


@pytest.mark.parametrize("note", [None, "   \n  "])
def test_no_note_no_care_team_box(library, note):
    """A clinician's name without a note (or a blank one) prints no empty box."""
    request = make_request(
        document="neck-surgery", patient="Ana Li", clinician="Dr. Ana Ruiz", note=note
    )
    html = render_html(library, request)
    assert '<section class="personal-note"' not in html
    assert "A note from your care team" not in _text(render(library, request))


def test_a_note_gets_its_box(library):
    request = make_request(document="neck-surgery", patient="Ana Li", note="Rest for a week.")
    text = _text(render(library, request))
    assert "A note from your care team" in text
    assert "Rest for a week." in text


def _pdf(body: str) -> bytes:
    import weasyprint

    css = "@page { size: letter; margin: 1in; @bottom-right { content: 'Page ' counter(page) } }"
    return weasyprint.HTML(string=f"<style>{css}</style>{body}").write_pdf()


def test_preflight_warns_of_a_short_last_page():
    full = '<div style="height: 8.9in">A page full of text.</div>'
    report = preflight(read(_pdf(full + "<p>One more line.</p><p>And a last.</p>")), "x.pdf")
    short = [i for i in report.issues if i.rule == "short-last-page"]
    assert [(i.page, i.severity, i.message) for i in short] == [
        (2, "warning", "short last page: 2 lines.")
    ]
    many = full + "".join(f"<p>More {i}.</p>" for i in range(12))
    assert not [
        i for i in preflight(read(_pdf(many)), "y.pdf").issues if i.rule == "short-last-page"
    ]


@pytest.mark.parametrize(
    "combo", [*FLOWS[:4], ("nonsurgical-options", "en", "letter", False)], ids=flow_id
)
def test_shipped_handouts_have_no_short_last_page(rendered, combo):
    report = preflight(read(rendered(*combo)[0]), combo[0])
    assert [str(i) for i in report.issues if i.rule == "short-last-page"] == []


def test_right_to_left_pairs_read_right_cell_first(rendered):
    """In Arabic, "What happens" (the pair's first cell) is on the right of
    "Recovery", where a right-to-left reader starts."""
    pdf, _ = rendered("nonsurgical-options", "ar", "a4", False)
    firsts, seconds = [], []
    for lines in page_lines(read(pdf)):
        for line in lines:
            if line.text.strip() == "ماذا يحدث":
                firsts.append(line)
            elif line.text.strip() == "التعافي":
                seconds.append(line)
    assert firsts and len(firsts) == len(seconds)
    for a, b in zip(firsts, seconds, strict=True):
        assert a.page == b.page and a.box[0] > b.box[2], (a, b)
