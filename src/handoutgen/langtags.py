"""Structure elements carry their language (PDF/UA-1 7.2: a change of
language must be marked): the English half of "Traducción sin revisar /
Translation not yet reviewed", each tagline in its own language.

WeasyPrint (70) writes the document's ``/Lang`` from ``<html lang>`` but no
``/Lang`` on the elements inside it. :func:`install` wraps its tag builder so
that an element whose HTML has a ``lang`` attribute gets it as ``/Lang``.
tests/test_languages.py fails loudly if WeasyPrint's builder changes shape.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    """Wrap weasyprint.pdf.tags._build_box_tree once (idempotent)."""
    import pydyf
    from weasyprint.pdf import tags

    original = tags._build_box_tree
    if getattr(original, "handoutgen_lang", False):
        return

    def build(box: Any, parent: Any, *args: Any) -> Any:
        element = getattr(getattr(box, "_box", box), "element", None)
        lang = None
        if element is not None and hasattr(element, "get") and element.tag != "html":
            lang = element.get("lang")
        for made in original(box, parent, *args):
            if lang and "Lang" not in made:
                made["Lang"] = pydyf.String(lang)
            yield made

    build.handoutgen_lang = True  # type: ignore[attr-defined]
    tags._build_box_tree = build
