"""Editions hold no patient data, by construction: a marker name in every
personal field, in any case, never appears in any file under the cache, not
even inside a compressed PDF stream, whatever the template prints."""

from __future__ import annotations

import io
import subprocess

import pikepdf
import pytest

from conftest import pages_text
from handoutgen.content.library import load_library
from handoutgen.content.workspace import Workspace
from handoutgen.editions import vdp
from handoutgen.pipeline import make_request
from handoutgen.store import cache

MARKER = "Quonzeldrix"
PERSON = dict(
    patient=f"{MARKER} Ivanka",
    first_name=MARKER.upper(),
    last_name=MARKER.lower(),
    address1=f"12 {MARKER} Lane",
    address2=f"Apt {MARKER}",
    city=f"{MARKER}ville",
    state="QZ",
    zip="80Z21X",
    # One paragraph: at 12 pt, two paragraphs and the signature outgrow the
    # note box, and that recipient (rightly) renders in full, with no edition.
    note=f"Dear {MARKER}, keep walking; call us, {MARKER.swapcase()}.",
    clinician=f"Dr. {MARKER}",
    visit_date="1987-06-05",
    letter_date="1987-06-06",
)
# How the values could show up once printed; searched for case-insensitively.
NEEDLES = [
    MARKER,
    "80Z21X",
    "1987-06-05",
    "1987-06-06",
    "June 5, 1987",
    "June 6, 1987",
    "June 1987",
    "06/05/1987",
]


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(folder))
    vdp.clear_caches()
    yield folder
    vdp.clear_caches()


def _pdf_texts(pdf: bytes) -> list[str]:
    """Everything readable in a PDF: each decoded stream, every string object,
    and the text of its pages as poppler extracts it."""
    out = []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for obj in doc.objects:
            if isinstance(obj, pikepdf.Stream):
                try:
                    out.append(obj.read_bytes().decode("latin-1"))
                except pikepdf.PdfError:
                    out.append(obj.read_raw_bytes().decode("latin-1"))
            elif isinstance(obj, (pikepdf.Dictionary, pikepdf.Array)):
                out.append(repr(obj))
        out.append(repr(doc.docinfo))
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    out.append(text)
    return out


def scan_cache(folder) -> str:
    """All the cache holds, as one lower-case text: raw bytes of every file,
    and for entries holding a PDF, its decoded contents too."""
    texts = []
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, "nothing cached: the scan would prove nothing"
    for path in files:
        raw = path.read_bytes()
        texts.append(raw.decode("latin-1"))
        start = raw.find(b"%PDF-")
        if start >= 0:
            texts.extend(_pdf_texts(raw[start:]))
    return "\n".join(texts).lower()


def assert_no_patient_data(folder) -> str:
    everything = scan_cache(folder)
    for needle in NEEDLES:
        assert needle.lower() not in everything, needle
    return everything


def test_editions_of_the_shipped_templates_hold_no_patient_data(library, fresh_cache):
    requests = [
        make_request(document="fusion-alternatives", **PERSON),
        make_request(document="nonsurgical-options", brand="example-clinic", **PERSON),
        make_request(document="followup-letter", **PERSON),
    ]
    outcomes = vdp.render_many(library, requests)
    modes = [o.mode for o in outcomes]
    assert modes == ["edition", "edition", "edition"], [o.reason for o in outcomes]
    authors = []
    for outcome in outcomes:
        # The recipient's own PDF has it all...
        assert MARKER.lower() in " ".join(pages_text(outcome.pdf)).lower()
        with pikepdf.open(io.BytesIO(outcome.pdf)) as pdf:
            authors.append(str(pdf.docinfo["/Author"]))
    # ...and its author is the clinic profile's name (shared, not personal), else
    # the document's producer.
    assert authors[1] == "Example Spine Clinic"
    assert not any(MARKER.lower() in a.lower() for a in authors)
    # ...the cache none of it, and the scan does see the editions' own text.
    everything = assert_no_patient_data(fresh_cache)
    assert "spinal fusion and other choices" in everything
    assert len(list(fresh_cache.glob("editions/*/*.entry"))) == 3
    assert "managing pain without a procedure" in everything  # the letter's option text


def test_a_background_build_like_the_web_apps_holds_no_patient_data(library, fresh_cache):
    request = make_request(
        document="nonsurgical-options", clinic="example-clinic", patient="X Y",
        clinician=PERSON["clinician"],
    )  # fmt: skip
    s = vdp.split(library, request)
    assert s.fallback is None
    edition = vdp.get_edition(library, s)
    with pikepdf.open(io.BytesIO(edition.pdf)) as pdf:
        # The clinic is a profile of the workspace, part of the shared pages.
        assert str(pdf.docinfo["/Author"]) == "Example Spine Clinic"
    assert_no_patient_data(fresh_cache)


LEAKS = [
    ("{{ person.patient|upper }}", "patient"),
    ("{{ person.visit_date }}", "visit date"),
    ("{{ person.visit_date.year if person.visit_date }}", "visit date"),
    ("{{ person.address|last if person.address }}", "zip"),
    ("{{ (person.clinician or '')|length }}", "clinician"),
    ("{{ (person.first_name or '')[:1] }}", "first name"),
    ("{{ person.address|join(' / ') }}", "address1"),
    ("{{ person.letter_date }}", "letter date"),
    ("{% if (person.note or '')|length > 20 %}long note{% endif %}", "note"),
    ("<img alt='{{ person.last_name|title }}' src='data:,'>", "last name"),
]


@pytest.mark.parametrize(("body", "field"), LEAKS, ids=[f for _, f in LEAKS])
def test_a_template_printing_personal_data_outside_slots_renders_in_full(
    tmp_ws, fresh_cache, body, field
):
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}'
        "{% block before_table %}<p>" + body + "</p>{% endblock %}"
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(document="fusion-alternatives", **PERSON)
    outcomes = vdp.render_many(library, [request, request, request])
    for outcome in outcomes:
        assert outcome.mode == "full"
        assert outcome.reason.startswith("personal data (")
        assert field in outcome.reason.split("(")[1].split(")")[0], outcome.reason
        assert outcome.reason.endswith("printed outside the template's marked personal parts")
    assert not list(fresh_cache.glob("editions/*/*.entry"))
    if fresh_cache.exists() and any(p.is_file() for p in fresh_cache.rglob("*")):
        assert_no_patient_data(fresh_cache)


def test_a_template_that_singles_out_one_value_renders_in_full(tmp_ws, fresh_cache):
    """Stand-ins cannot guess every value a template might test for; the
    request's own shared HTML must equal the stand-ins' too."""
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}{% block before_table %}'
        '{% if "quonzel" in person.patient|lower %}<p>VIP</p>{% endif %}{% endblock %}'
    )
    library = load_library(Workspace.at(tmp_ws))
    outcome = vdp.render_many(library, [make_request(document="fusion-alternatives", **PERSON)])[0]
    assert outcome.mode == "full"
    assert outcome.reason.startswith("personal data changes the shared pages")
    assert "VIP" in " ".join(pages_text(outcome.pdf))
    assert not list(fresh_cache.glob("editions/*/*.entry"))


def test_the_check_results_cache_holds_no_patient_data(library, fresh_cache):
    from handoutgen.pipeline import render

    render(library, make_request(document="nonsurgical-options", **PERSON))
    assert list(fresh_cache.glob("checks/*/*.entry"))
    assert_no_patient_data(fresh_cache)
    assert cache.info()["entries"] >= 1
