"""Every WeasyPrint internal the adapter reads, checked on a real layout.

If a WeasyPrint release renames or reshapes one of them (page boxes, the
placeholder of an absolutely positioned box, box geometry), these fail with
the adapter's name on them rather than editions quietly going wrong."""

from __future__ import annotations

import logging

import pytest

from handoutgen.core.errors import RenderError
from handoutgen.engine import weasy

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


@pytest.fixture
def cli_logging(capsys):
    """The CLI's own logging set-up (WeasyPrint's records to stderr), undone after."""
    from handoutgen.cli.base import _setup_logging

    kept = {
        name: (lg.handlers[:], lg.level, lg.propagate)
        for name in ("weasyprint", "handoutgen")
        for lg in [logging.getLogger(name)]
    }
    _setup_logging(0, False)
    yield lambda: capsys.readouterr().err
    for name, (handlers, level, propagate) in kept.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


# Records shaped as WeasyPrint logs them: 68/69 formatted the missing-glyph
# message itself (the character inside); 70 passes format string and args.
GLYPH_SHAPES = [
    pytest.param(
        "weasyprint",
        '.notdef glyph rendered for Unicode string unsupported by fonts: "\u0141"',
        (),
        ".notdef glyph rendered: no font can draw U+0141",
        id="68-preformatted",
    ),
    pytest.param(
        "weasyprint",
        '.notdef glyph rendered for Unicode string unsupported by fonts: "\u0141" (U+0141)',
        (),
        ".notdef glyph rendered: no font can draw U+0141",
        id="69-preformatted-with-code-point",
    ),
    pytest.param(
        "weasyprint",
        '.notdef glyph rendered for Unicode string unsupported by fonts: "%s" (U+%04X)',
        ("\u0141", 0x141),
        ".notdef glyph rendered: no font can draw U+0141",
        id="70-args",
    ),
    pytest.param(
        "weasyprint",
        "Glyphs missing for \u0141ukasz Nowak",
        (),
        "Glyphs missing for U+0141ukasz Nowak",
        id="unquoted-preformatted",
    ),
    pytest.param(
        "weasyprint",
        "Anchor defined twice: %r",
        ("\u0141ukasz",),
        "Anchor defined twice: '...'",
        id="a-name-as-argument",
    ),
    pytest.param(
        "weasyprint.progress",
        "Step 4 - Drawing %s",
        ("\u0141ukasz",),
        "Step 4 - Drawing ...",
        id="a-child-logger",
    ),
]


@pytest.mark.parametrize(("logger", "msg", "args", "expected"), GLYPH_SHAPES)
def test_weasyprint_records_reach_the_logs_without_document_text(
    cli_logging, logger, msg, args, expected
):
    with weasy.watch() as seen:
        logging.getLogger(logger).warning(msg, *args)
    stderr = cli_logging()
    assert seen.messages == [expected]
    assert stderr == f"warning: {expected}\n"
    assert "\u0141" not in stderr and "ukasz" not in stderr.replace("U+0141ukasz", "")


def test_a_weasyprint_traceback_never_reaches_the_logs(cli_logging):
    try:
        raise ValueError("cannot shape \u0141ukasz")
    except ValueError:
        logging.getLogger("weasyprint").error("Layout failed: %s", "x" * 3, exc_info=True)
    stderr = cli_logging()
    assert stderr == "error: Layout failed: ...\n"


def test_what_a_designer_needs_from_weasyprint_is_kept(cli_logging):
    """Image URLs and paths, CSS source (in backticks), numbers."""
    wp = logging.getLogger("weasyprint")
    wp.error(
        "Failed to load image at %r: %s",
        "file:///ws/assets/logo.png",
        FileNotFoundError(2, "No such file or directory", "/ws/assets/logo.png"),
    )
    wp.warning("Ignored `%s: %s` at %d:%d, %s.", "colour", "red", 3, 5, "unknown property")
    assert cli_logging().splitlines() == [
        "error: Failed to load image at 'file:///ws/assets/logo.png': "
        "[Errno 2] No such file or directory: '/ws/assets/logo.png'",
        "warning: Ignored `colour: red` at 3:5, ....",
    ]


@pytest.mark.parametrize("character", ["\ue000", "\U000f0041"])
def test_a_render_with_a_character_no_font_draws_logs_its_code_point_only(run, tmp_path, character):
    out = tmp_path / "out.pdf"
    result = run(
        "render", "nonsurgical-options", "--patient", f"Pat{character}Example", "-o", str(out)
    )
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF")
    point = f"U+{ord(character):04X}"
    assert f"warning: .notdef glyph rendered: no font can draw {point}" in result.stderr
    assert character not in result.stderr and "Example" not in result.stderr


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
