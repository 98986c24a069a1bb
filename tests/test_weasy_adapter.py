"""Every WeasyPrint internal the adapter reads, checked on a real layout.

If a WeasyPrint release renames or reshapes one of them (page boxes, the
placeholder of an absolutely positioned box, box geometry), these fail with
the adapter's name on them rather than editions quietly going wrong."""

from __future__ import annotations

import logging

import pytest

from handoutgen import weasy
from handoutgen.errors import RenderError

PAGE = """<html><head><style>
@page { size: 400px 300px; margin: 20px 30px; }
body { margin: 0; font-size: 10px; }
.abs { position: absolute; left: 50px; top: 60px; width: 70px; height: 15px; }
.panel { height: 40px; overflow: hidden; }
</style></head><body>
<div data-r="7"><div data-slot="0" style="height: 25px">flow</div>
<div class="abs" data-slot="1">absolute</div>
<section class="panel" aria-label="small">{panel}</section>
<div data-p="3">marker</div></div>
</body></html>"""


@pytest.fixture
def laid_out(library):
    def make(panel: str = "short"):
        return weasy.layout(library, PAGE.replace("{panel}", panel))

    return make


def test_marked_boxes_finds_flow_and_absolute_boxes_relative_to_the_page_area(laid_out):
    page = laid_out().pages[0]
    found = dict(weasy.marked_boxes(page, "data-slot"))
    assert set(found) == {0, 1}
    x, y, w, h = found[0]
    assert (x, y, h) == (0, 0, 25) and w == pytest.approx(340)  # 400 - 2 * 30
    assert found[1] == pytest.approx((50, 60, 70, 15))  # behind an AbsolutePlaceholder


def test_first_marks_reads_attributes_in_document_order(laid_out):
    page = laid_out().pages[0]
    assert weasy.first_marks(page, ("data-r", "data-p")) == {"data-r": 7, "data-p": 3}
    assert weasy.first_marks(page, ("data-nowhere",)) == {}


def test_overflowing_panels_sees_text_run_past_its_box(laid_out):
    assert weasy.overflowing_panels(laid_out("short")) == []
    long = " ".join(["Many words that will wrap onto many lines."] * 30)
    assert weasy.overflowing_panels(laid_out(long)) == ["small"]


def test_missing_glyph_warnings_never_carry_the_character(library, caplog):
    caplog.set_level(logging.WARNING, logger="weasyprint")
    document = weasy.layout(library, '<html lang="en"><p>Name: A\ue000B</p></html>')
    with weasy.watch() as seen:
        weasy.write_pdf(document, library)
    assert seen.messages == [".notdef glyph rendered: no font can draw U+E000"]
    assert all("\ue000" not in r.getMessage() for r in caplog.records)


def test_strict_turns_a_warning_into_an_error(library):
    document = weasy.layout(library, '<html lang="en"><p>A\ue000B</p></html>')
    with pytest.raises(
        RenderError, match=r"--strict\): .notdef glyph rendered: no font can draw U\+E000"
    ):
        weasy.write_pdf(document, library, strict=True)


def test_write_pages_writes_the_pages_asked_for(library):
    import io

    import pypdf

    html = "".join(f'<p style="break-after: page">page {n}</p>' for n in range(1, 4))
    document = weasy.layout(library, html)
    pdf = weasy.write_pages(document, [0, 2], tags=False)
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    assert [p.extract_text().strip() for p in pages] == ["page 1", "page 3"]


def _element_langs(pdf: bytes) -> set[str]:
    import io

    import pikepdf

    found: set[str] = set()
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        stack = [doc.Root.StructTreeRoot]
        while stack:
            node = stack.pop()
            if isinstance(node, pikepdf.Dictionary):
                if "/Lang" in node and "/S" in node:
                    found.add(str(node.Lang))
                kids = node.get("/K")
                if kids is not None:
                    stack.extend(kids if isinstance(kids, pikepdf.Array) else [kids])
    return found


def test_element_languages_are_added_to_our_writes_only(library):
    """The tag builder is wrapped while handoutgen writes, never for good: a
    WeasyPrint caller in the same process gets WeasyPrint's own tags."""
    from weasyprint import HTML
    from weasyprint.pdf import tags

    original = tags._build_box_tree
    html = '<html lang="es"><body><p>Hola</p><p lang="en">Hello</p></body></html>'
    ours = weasy.write_pdf(weasy.layout(library, html), library)
    assert "en" in _element_langs(ours)
    assert tags._build_box_tree is original
    theirs = HTML(string=html).write_pdf(pdf_tags=True)
    assert "en" not in _element_langs(theirs)
