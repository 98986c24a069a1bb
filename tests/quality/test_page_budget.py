"""Page budgets (issue #27 item 3): a document's max_pages: (a booklet's pages:)
is checked in every language it has, each laid out for real."""

from __future__ import annotations

import re
from pathlib import Path

from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.quality.fit import pages_in
from handoutgen.render.context import document_languages


def _budget(ws: Path, doc: str, value: int) -> int:
    """Set the budget; the line it is on."""
    path = ws / "handouts" / f"{doc}.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^max_pages: \d+$", f"max_pages: {value}", text, flags=re.M)
    path.write_text(text, encoding="utf-8")
    return text.splitlines().index(f"max_pages: {value}") + 1


def test_a_budget_is_checked_in_every_language(tmp_ws_translated, run):
    library = load_library(Workspace.at(tmp_ws_translated))
    doc = library.documents["neck-surgery"]
    counts = {lang: pages_in(library, doc, lang) for lang in document_languages(library, doc.id)}
    assert set(counts) == {"en", "es"}
    assert counts["en"] <= doc.max_pages and counts["es"] <= doc.max_pages
    line = _budget(tmp_ws_translated, "neck-surgery", counts["es"] - 1)
    result = run("check", "neck-surgery", workspace=tmp_ws_translated)
    assert result.exit_code == 1
    for lang, count in counts.items():
        if count > counts["es"] - 1:
            message = f"neck-surgery in {lang} is {count} pages; its budget is {counts['es'] - 1}"
            assert f"neck-surgery.yaml:{line}" in result.output
            assert message in result.output, result.output


def test_shipped_documents_keep_their_budgets(library):
    """Measured in every language: today's counts (letter) are the budgets."""
    for doc in library.documents.values():
        if doc.max_pages is None:
            continue
        for lang in document_languages(library, doc.id):
            assert pages_in(library, doc, lang) <= doc.max_pages, (doc.id, lang)
