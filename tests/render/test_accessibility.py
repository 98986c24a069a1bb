"""Verified accessibility: every shipped document and an assembled edition pass
PDF/UA-1 in `page-validation` and show no errors in `pdfua`; header cells carry
/Scope; an element that crosses a page stays one structure element."""

from __future__ import annotations

import io
import random

import pikepdf
import pytest

from conftest import pdf_ua_problems as _validate
from handoutgen.editions import vdp
from handoutgen.engine.pdffacts import read
from handoutgen.engine.pdffacts import struct_children as _elements
from handoutgen.engine.pdffacts import struct_elements as _walk
from handoutgen.pipeline import make_request, render
from handoutgen.quality.preflight import preflight

SHIPPED = [
    "fusion-alternatives",
    "nonsurgical-options",
    "newer-options",
    "neck-surgery",
    "spine-brochure",
    "spine-booklet",
    "followup-letter",
    "option-grid",
]


@pytest.mark.parametrize("doc_id", SHIPPED)
def test_shipped_documents_pass_pdf_ua(library, doc_id, tmp_path):
    pdf = render(library, make_request(document=doc_id, patient="Ana Li"))
    failures, findings = _validate(pdf, tmp_path)
    assert failures == []
    assert findings == []
    # The same basics, and print's, as `handoutgen preflight` judges them.
    # (Less the tri-fold's 8.5 pt disclaimer, left to the brochure work: see
    # test_preflight_matrix.py.)
    issues = preflight(read(pdf), doc_id).issues
    known = "text-too-small" if doc_id == "spine-brochure" else None
    assert [str(i) for i in issues if i.rule != known] == []


def test_an_assembled_edition_passes_pdf_ua(library, tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(vdp, "SHARED_MIN", 1)  # two readers of one set share an edition
    vdp.clear_caches()
    rng = random.Random(5)
    options = rng.sample(["conservative-care", "spinal-injections", "fusion", "decompression"], 3)
    base = dict(document="followup-letter", options=options, address1="1 Oak St", city="Peoria")
    requests = [make_request(patient=name, first_name=name, **base) for name in ("Ana", "Bo")]
    outcomes = vdp.render_many(library, requests)
    vdp.clear_caches()
    assert [o.mode for o in outcomes] == ["edition", "edition"], [o.reason for o in outcomes]
    failures, findings = _validate(outcomes[1].pdf, tmp_path)
    assert failures == []
    assert findings == []


def test_table_header_cells_carry_scope(library):
    pdf = render(library, make_request(document="nonsurgical-options"))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        headers = [n for n in _walk(doc.Root.StructTreeRoot) if str(n.S) == "/TH"]
        scopes = []
        for th in headers:
            attrs = th.A if isinstance(th.A, pikepdf.Array) else [th.A]
            scopes += [str(a.Scope) for a in attrs if "/Scope" in a]
    assert len(scopes) == len(headers) > 10
    # Options across the top (columns), questions down the side (rows).
    assert scopes.count("/Column") >= 5 and scopes.count("/Row") >= 5


def test_elements_that_cross_a_page_stay_one_structure_element(library):
    doc_def = library.documents["fusion-alternatives"]
    pdf = render(library, make_request(document=doc_def.id))
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) > 3
        nodes = list(_walk(doc.Root.StructTreeRoot))
        # One part for the whole document, not one per page.
        assert len([n for n in nodes if str(n.S) == "/Part"]) == 1
        articles = [n for n in nodes if str(n.S) == "/Art"]
        # Each option is one article, though several run across pages.
        assert len(articles) == len(doc_def.options)
        pages = {p.objgen: i for i, p in enumerate(doc.pages)}

        def pages_of(node) -> set[int]:
            found = {pages[node.Pg.objgen]} if "/Pg" in node else set()
            for kid in _walk(node):
                if "/Pg" in kid:
                    found.add(pages[kid.Pg.objgen])
            return found

        assert any(len(pages_of(a)) > 1 for a in articles), "no option crosses a page"
        # Every structure element's /P points at its real parent.
        for node in nodes:
            for kid in _elements(node):
                assert kid.P.objgen == node.objgen


def test_a_table_that_crosses_a_page_is_one_table(library):
    doc_def = library.documents["fusion-alternatives"]
    questions = [f.question["en"] for f in doc_def.factors]
    from conftest import pages_text

    for lines in range(4, 60, 4):
        note = "\n".join(f"Line {i} of a long note." for i in range(lines))
        pdf = render(library, make_request(document=doc_def.id, note=note))
        if sum(any(q in p for q in questions) for p in pages_text(pdf)) >= 2:
            break
    else:
        pytest.fail("could not push the table across a page")
    with pikepdf.open(io.BytesIO(render(library, make_request(document=doc_def.id)))) as doc:
        # The comparison, then the worksheet's values table.
        whole = [n for n in _walk(doc.Root.StructTreeRoot) if str(n.S) == "/Table"]
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        nodes = list(_walk(doc.Root.StructTreeRoot))
        tables = [n for n in nodes if str(n.S) == "/Table"]
        assert len(tables) == len(whole)  # crossing a page does not make it two tables
        heads = [k for k in _elements(tables[0]) if str(k.S) == "/THead"]
        rows = [n for n in _walk(tables[0]) if str(n.S) == "/TR"]
        assert len(heads) == 1  # the header repeated on the next page is not read twice
        assert len(rows) == 1 + len(doc_def.factors)


def test_repaired_pdfs_are_deterministic(library):
    a = render(library, make_request(document="neck-surgery", patient="Ana Li"))
    b = render(library, make_request(document="neck-surgery", patient="Ana Li"))
    assert a == b
