"""The running header's "Prepared for ... · Visit of ..." fits its box for a long
name: one line, cut with an ellipsis (page 1 prints the name whole), on a row of
its own above the "Continued: ..." cue, so the two never touch."""

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


def test_a_long_name_stays_in_its_box_above_the_continued_cue(run, tmp_path):
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
            assert lines == 1, f"page {n + 1}: {lines} header lines"
            right = max(c[2] for c in run_)
            assert right <= 0.48 * (page.get_width() - 1.2 * 72) + 0.6 * 72 + 1  # its 48% box
            cue = text.search("Continued:", match_case=True).get_next()
            if cue is not None:
                # The cue's row is below the name's: its tops under the name's bottoms.
                cue_tops = []
                for i in range(cue[0], min(cue[0] + 80, text.count_chars())):
                    char = text.get_text_range(i, 1)
                    if char.strip():
                        cue_tops.append(text.get_charbox(i)[3])
                    if char == "…" or char == "\n":
                        break
                name_bottom = min(c[3] for c in run_)
                assert max(cue_tops) < name_bottom, f"page {n + 1}: the cue reaches the name"
                checked += 1
        assert checked, "no page with a Continued cue: the test proves nothing"
    finally:
        doc.close()
