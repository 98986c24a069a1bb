"""The running header's "Prepared for ... · Visit of ..." fits its box for a long
name: it never runs into the "Continued: ..." cue beside it, and it stops after
two lines with an ellipsis (page 1 prints the name whole)."""

from __future__ import annotations

import pypdfium2 as pdfium

LONG = "Maximiliana Alexandrina Wolfeschlegelsteinhausenbergerdorff-Vanderbilt"
FULL = f"Prepared for {LONG} · Visit of November 20, 2026"


def _header_run(text) -> list[tuple[str, float, float, float]]:  # noqa: ANN001
    """(char, left, right, bottom) of the header's text, from "Prepared for" to its
    ellipsis (the text of one margin box is one run in the page's text)."""
    found = text.search("Prepared for", match_case=True).get_next()
    assert found is not None
    out = []
    for i in range(found[0], min(found[0] + len(FULL) + 4, text.count_chars())):
        char = text.get_text_range(i, 1)
        left, bottom, right, _ = text.get_charbox(i)
        out.append((char, left, right, bottom))
        if char == "…":
            return out
    raise AssertionError(f"no ellipsis in the header: {''.join(c[0] for c in out)!r}")


def test_a_long_name_stays_in_its_box_beside_the_continued_cue(run, tmp_path):
    out = tmp_path / "long.pdf"
    result = run(
        "render",
        "fusion-alternatives",
        "--patient",
        LONG,
        "--visit-date",
        "2026-11-20",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    doc = pdfium.PdfDocument(str(out))
    try:
        first = " ".join(doc[0].get_textpage().get_text_range().split())
        assert LONG in first.replace("- ", "-")  # whole on page 1
        checked = 0
        for n in range(1, len(doc)):
            page = doc[n]
            text = page.get_textpage()
            run_ = [c for c in _header_run(text) if c[0].strip()]
            # Lines: glyph bottoms (descenders vary by 1-3 pt) grouped by gaps over 5 pt.
            bottoms = sorted(c[3] for c in run_)
            lines = 1 + sum(1 for a, b in zip(bottoms, bottoms[1:], strict=False) if b - a > 5)
            assert lines <= 2, f"page {n + 1}: {lines} header lines"
            right = max(c[2] for c in run_)
            assert right <= 0.42 * page.get_width() + 0.6 * 72 + 1  # inside its 42% box
            cue = text.search("Continued:", match_case=True).get_next()
            if cue is not None:
                # Line by line, the name ends before the cue begins.
                cue_chars = []
                for i in range(cue[0], min(cue[0] + 80, text.count_chars())):
                    char = text.get_text_range(i, 1)
                    left, bottom, right_, _ = text.get_charbox(i)
                    if char.strip():
                        cue_chars.append((left, bottom))
                    if char == "…" or (char == "\n" and len(cue_chars) > 60):
                        break
                for _, _, name_right, name_bottom in run_:
                    beside = [left for left, bottom in cue_chars if abs(bottom - name_bottom) < 5]
                    if beside:
                        assert name_right < min(beside) - 2, f"page {n + 1}: runs into the cue"
                        checked += 1
        assert checked, "no page with a Continued cue: the test proves nothing"
    finally:
        doc.close()
