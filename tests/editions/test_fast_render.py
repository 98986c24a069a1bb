"""A cheaper full render (issue 18): no column balancing, one parsed stylesheet
per worker, and `handoutgen warm`. The pages must look and read as before."""

from __future__ import annotations

import html as htmllib
import re
import subprocess

import pytest

from conftest import ROOT
from handoutgen.core.errors import RenderError
from handoutgen.editions import vdp
from handoutgen.engine.readback import page_words
from handoutgen.engine.weasy import layout, write_pdf
from handoutgen.pipeline import make_request, render_one, render_pdf
from handoutgen.render.compose import render_html
from handoutgen.render.fullrender import lay_out

PERSON = dict(patient="Alex Example", visit_date="2026-11-20", clinic="example-clinic")
LETTER = dict(
    document="followup-letter",
    options=["fusion", "decompression", "conservative-care", "spinal-injections"],
    **PERSON,
)


def _words(pdf: bytes) -> list[list[dict]]:
    """Each page's words with their boxes (poppler's pdftotext -bbox), in points."""
    out = subprocess.run(
        ["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    pages = []
    for page in out.split("<page ")[1:]:
        pages.append(
            [
                {"x0": float(a), "top": float(b), "bottom": float(d), "text": htmllib.unescape(t)}
                for a, b, _, d, t in re.findall(
                    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                    r"(.*?)</word>",
                    page,
                )
            ]
        )
    return pages


def _same_line(a: dict, b: dict) -> bool:
    return abs(a["bottom"] - b["bottom"]) < 1


def test_option_pairs_sit_side_by_side(library, assert_no_logs):
    """'What happens' and 'Recovery' head two cells on one line, left then
    right, on every option (a grid now, CSS columns before)."""
    pdf = render_pdf(library, make_request(**LETTER))
    pairs = 0
    for words in _words(pdf):
        for i, w in enumerate(words):
            heading = w["text"] == "What" and words[i + 1]["text"] == "happens"
            # The heading stands alone in its cell ("What happens if I wait" is a question).
            if heading and words[i + 2]["text"] != "if":
                right = [r for r in words if r["text"] == "Recovery" and _same_line(r, w)]
                assert len(right) == 1, "the Recovery cell is not beside What happens"
                assert right[0]["x0"] > w["x0"] + 200  # the right-hand column
                pairs += 1
    assert pairs == len(LETTER["options"])


def _source_markers(pdf: bytes) -> list[tuple[int, float, float]]:
    """(number, x, bottom) of the numbered source list's markers on the page
    that has the Sources heading."""
    for words in _words(pdf):
        heads = [w for w in words if w["text"] == "Sources"]
        if not heads:
            continue
        top = heads[-1]["bottom"]
        # The warning signs' own sources follow in one column: not this list.
        ends = [
            b["top"]
            for a, b in zip(words, words[1:], strict=False)
            if a["text"] == "come" and b["text"] == "from:" and b["top"] > top
        ]
        end = ends[0] if ends else float("inf")
        # A marker is a small number and a dot ("2016." in a citation is not).
        return [
            (int(w["text"][:-1]), w["x0"], w["bottom"])
            for w in words
            if re.fullmatch(r"\d{1,2}\.", w["text"]) and top < w["top"] < end
        ]
    raise AssertionError("no Sources heading")


def test_sources_read_down_two_columns(library, assert_no_logs):
    """Sources fill the left column first, then the right, like CSS columns:
    the first half (rounded up) on the left, the next number at the top right."""
    pdf = render_pdf(library, make_request(document="fusion-alternatives", **PERSON))
    markers = _source_markers(pdf)
    numbers = sorted({n for n, _, _ in markers})
    count = max(numbers)
    assert numbers == list(range(1, count + 1)) and count >= 4
    half = (count + 1) // 2
    x = {n: x for n, x, _ in markers}
    y = {n: b for n, _, b in markers}
    assert all(abs(x[n] - x[1]) < 1 for n in range(1, half + 1))
    assert all(x[n] > x[1] + 200 for n in range(half + 1, count + 1))
    assert abs(y[half + 1] - y[1]) < 1  # the right column starts level with the left
    assert all(y[n] < y[n + 1] for n in range(1, half))  # down the left column


def test_large_print_sources_stay_in_one_column(library, assert_no_logs):
    pdf = render_pdf(
        library, make_request(document="fusion-alternatives", large_print=True, **PERSON)
    )
    markers = _source_markers(pdf)
    assert len({round(x) for _, x, _ in markers}) == 1


def test_shared_stylesheet_gives_the_same_bytes(library, assert_no_logs):
    """The stylesheet parsed once and reused gives byte for byte the PDF that
    the document's own <style> gives, the first time and every time after."""
    request = make_request(**LETTER)
    html = render_html(library, request)
    inline = write_pdf(layout(library, html), library)
    first = write_pdf(lay_out(library, html), library)
    again = write_pdf(lay_out(library, html), library)
    assert inline == first == again
    assert render_pdf(library, request) == inline


def test_strict_sees_stylesheet_warnings_every_time(library):
    """A reused parse would not repeat the stylesheet's warnings, so --strict
    parses each time: the second render fails like the first."""
    request = make_request(**LETTER)
    html = render_html(library, request).replace("</style>", "p { colour: red; }</style>", 1)
    lay_out(library, html)  # parsed and kept for later, non-strict
    for _ in range(2):
        with pytest.raises(RenderError, match="--strict"):
            lay_out(library, html, strict=True)


def test_a_second_style_element_is_not_reordered(library, assert_no_logs):
    """Only a document with exactly one <style> has it lifted out: with two,
    the later one must still win, so the document is laid out as written."""
    request = make_request(**LETTER)
    html = render_html(library, request)
    two = html.replace("</head>", "<style>h1 { font-size: 40pt; }</style></head>", 1)
    assert write_pdf(lay_out(library, two), library) == write_pdf(layout(library, two), library)
    assert write_pdf(lay_out(library, two), library) != write_pdf(lay_out(library, html), library)


def test_warm_builds_the_editions_render_uses(run, tmp_path, monkeypatch):
    """`handoutgen warm DOC` builds the editions a usual single render needs;
    a render with those fields then assembles from one and reads like its full
    render. A brochure says it renders in full; an unknown id is an error."""
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    vdp.clear_caches()
    result = run("warm", "fusion-alternatives", "spine-brochure")
    assert result.exit_code == 0, result.output
    assert "fusion-alternatives: 4 of 4 editions ready" in result.stderr
    assert "spine-brochure: no editions; it renders in full (brochure layout)" in result.stderr
    # Field sets whose shared pages are identical share one edition (same key).
    entries = list((tmp_path / "cache" / "editions").rglob("*.entry"))
    assert entries
    assert not any(b"Warm Up" in p.read_bytes() for p in entries)

    vdp.clear_caches()  # from disk, as a fresh process would
    from handoutgen.content.library import load_library
    from handoutgen.content.workspace import Workspace

    library = load_library(Workspace.at(ROOT))
    request = make_request(
        document="fusion-alternatives",
        patient="Dana Khan",
        visit_date="2026-11-20",
        clinician="Dr. Sam Rivera",
        note="Walk every day.",
    )
    outcome = render_one(library, request)
    assert outcome.mode is vdp.Mode.EDITION, outcome.reason
    assert page_words(outcome.pdf) == page_words(render_pdf(library, request))

    bad = run("warm", "no-such-doc")
    assert bad.exit_code == 1
    assert "unknown document 'no-such-doc'" in bad.stderr


def test_warm_refuses_without_a_cache(run, monkeypatch):
    """With the cache off, warm says so instead of building editions for nothing."""
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", "off")
    result = run("warm", "fusion-alternatives")
    assert result.exit_code == 1
    assert "Error: the cache is off" in result.stderr
    assert "HANDOUTGEN_CACHE_DIR" in result.stderr
