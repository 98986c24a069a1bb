"""Variable-data rendering: a PDF assembled from a cached edition reads exactly
like a full render, and anything that could break that falls back to one."""

from __future__ import annotations

import csv
import io
import logging
import random
import re
import subprocess

import pikepdf
import pytest
from pypdf import PdfReader

from conftest import ROOT
from handoutgen.content.library import load_library
from handoutgen.content.models import RenderRequest
from handoutgen.content.workspace import Workspace
from handoutgen.editions import vdp
from handoutgen.engine.readback import page_words
from handoutgen.pipeline import make_request, render, render_many, render_pdf

LETTER_OPTIONS = [
    "conservative-care",
    "radiofrequency-ablation",
    "spinal-cord-stimulation",
    "spinal-injections",
    "decompression",
    "fusion",
]
FIRST = ["Ana", "Omar", "Li", "Maria José", "Nguyen", "Pat", "Fatima", "Jean-Luc"]
LAST = ["Diaz", "Haddad", "Wang", "Ñúñez-O'Brien", "Tran", "Smith", "Okafor", "Lefèvre"]


@pytest.fixture(autouse=True)
def editions_for_every_set(monkeypatch):
    """These tests are about editions: even a lone recipient gets one (in use,
    a batch renders a set shared by fewer than 3 in full)."""
    monkeypatch.setattr(vdp, "SHARED_MIN", 1)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty edition cache, on disk and in memory."""
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    vdp.clear_caches()
    yield tmp_path / "cache"
    vdp.clear_caches()


def poppler_pages(pdf: bytes) -> list[str]:
    """Each page's text in reading order, as poppler lays it out."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    return [" ".join(page.split()) for page in out.split("\f")[:-1]]


def random_letter(rng: random.Random, i: int) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    fields = dict(
        document="followup-letter",
        patient=f"{first} {last}",
        first_name=first,
        last_name=last,
        address1=f"{rng.randint(1, 9999)} {rng.choice(['Oak', 'Elm', 'Main'])} St",
        address2=rng.choice([None, f"Apt {rng.randint(1, 40)}"]),
        city=rng.choice(["Springfield", "Chicago", "Peoria"]),
        state="IL",
        zip=f"6{rng.randint(1000, 2999)}",
        options=rng.sample(LETTER_OPTIONS, rng.randint(3, 5)),
        visit_date=f"2026-11-{rng.randint(10, 20)}",
        letter_date="2026-11-22",
        clinician=rng.choice(["Dr. Sam Rivera", "Dr. Ana Ruiz"]),
        note=rng.choice([None, "Start the exercises.", "Good to see you.\nCall if it gets worse."]),
    )
    return fields


def test_assembled_pdfs_read_exactly_like_full_renders(library, fresh_cache):
    rng = random.Random(20261122)
    requests = [make_request(**random_letter(rng, i)) for i in range(6)]
    # Two recipients share each option set, so editions are reused within the run.
    requests += [
        r.model_copy(update={"patient": "Kim Lee", "first_name": "Kim"}) for r in requests[:2]
    ]
    outcomes = vdp.render_many(library, requests)
    assert [o.mode for o in outcomes] == ["edition"] * len(requests), [o.reason for o in outcomes]
    for request, outcome in zip(requests, outcomes, strict=True):
        assembled, full = poppler_pages(outcome.pdf), poppler_pages(render_pdf(library, request))
        assert assembled == full
        assert len(assembled) == outcome.pages
        for number, text in enumerate(assembled, 1):
            assert f"Page {number} of {len(assembled)}" in text
            if number > 1:
                assert request.patient in text, f"name missing on page {number}"


def test_assembled_pdf_is_tagged_with_fonts_embedded(library, fresh_cache, tmp_path):
    request = make_request(**random_letter(random.Random(7), 0))
    outcome = vdp.render_many(library, [request])[0]
    assert outcome.mode == "edition"
    path = tmp_path / "a.pdf"
    path.write_bytes(outcome.pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    assert "Tagged:          yes" in info
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(row.split()[-5] == "yes" for row in rows), fonts  # emb column
    with pikepdf.open(path) as pdf:
        assert str(pdf.Root.Lang) == "en"
        pages = {p.obj.objgen: i for i, p in enumerate(pdf.pages)}
        root = pdf.Root.StructTreeRoot
        document = root.K[0]
        # The letter's tags come first and point at page 1; every tag points at a real page.
        first_pages = [pages[kid.Pg.objgen] for kid in document.K]
        assert first_pages[0] == 0 and first_pages == sorted(first_pages)
        # The edition's tags are one part (tagging.py merges WeasyPrint's
        # page-by-page parts); every page is still reached from the tree.
        seen, todo = set(), list(document.K)
        while todo:
            node = todo.pop()
            if isinstance(node, pikepdf.Dictionary) and "/S" in node:
                if "/Pg" in node:
                    seen.add(pages[node.Pg.objgen])
                kids = node.get("/K")
                if isinstance(kids, pikepdf.Array):
                    todo.extend(kids)
                elif kids is not None:
                    todo.append(kids)
        assert seen == set(range(len(pdf.pages)))
        nums = root.ParentTree.Nums
        keys = {int(nums[i]) for i in range(0, len(nums), 2)}
        for page in pdf.pages:
            assert int(page.obj.StructParents) in keys
        # The personal layer is an artifact, not content screen readers read twice.
        for page in pdf.pages[1:]:
            assert b"/Artifact BMC" in page.obj.Contents[-1].read_bytes()
    # The print-shop and accessibility preflight passes the assembled letter: its
    # two parts (the letter, then the handout) are not WeasyPrint's page cuts.
    from handoutgen.engine.pdffacts import read
    from handoutgen.quality.preflight import preflight

    report = preflight(read(outcome.pdf), "letter")
    assert [i for i in report.issues if i.severity == "error"] == []


def test_each_recipient_gets_its_own_running_name_laid_out_once(library, fresh_cache):
    """Recipients stamped in one chunk: each page shows that recipient's own
    name and page number (as its full render does), the name is one form used
    on every page after the letter, and the page numbers are shared forms."""
    rng = random.Random(11)
    base = make_request(**random_letter(rng, 0))
    names = ["Ana Diaz", "Omar Haddad", "Li Wang"]
    requests = [
        base.model_copy(
            update={"patient": n, "first_name": n.split()[0], "last_name": n.split()[1]}
        )
        for n in names
    ]
    outcomes = vdp.render_many(library, requests)
    assert [o.mode for o in outcomes] == ["edition"] * 3, [o.reason for o in outcomes]
    for name, request, outcome in zip(names, requests, outcomes, strict=True):
        pages = poppler_pages(outcome.pdf)
        assert pages == poppler_pages(render_pdf(library, request))
        others = [n for n in names if n != name]
        assert not any(o in page for page in pages for o in others)
        with pikepdf.open(io.BytesIO(outcome.pdf)) as pdf:
            used = []  # the forms stamped on each page after the letter
            for page in pdf.pages[1:]:
                content = b"".join(c.read_bytes() for c in page.obj.Contents)
                xobjects = page.obj.Resources.XObject
                used.append(
                    {
                        xobjects[n].objgen
                        for n in xobjects
                        if n.startswith("/HgVdp") and f"{n} Do".encode() in content
                    }
                )
            shared = set.intersection(*used[1:])
            assert len(shared) == 1  # the running name, one object on every page that shows it
            assert all(len(forms) == 2 for forms in used[1:])  # plus its own page number


def test_batch_output_matches_full_render_and_names_fallbacks(run, tmp_path, library):
    header = "id,first_name,last_name,address1,city,state,zip,options,clinician,visit_date,note"
    long_note = " ".join(["Please keep a diary of your pain every morning and evening."] * 6)
    rows = [
        "B-1,Ana,Diaz,1 Oak St,Springfield,IL,62704,fusion;decompression;conservative-care,Dr. Sam Rivera,2026-11-20,",
        "B-2,Omar,Haddad,2 Elm St,Springfield,IL,62701,fusion;decompression;conservative-care,Dr. Sam Rivera,2026-11-20,See you.",
        f'B-3,Li,Wang,3 Pine Rd,Chicago,IL,60601,fusion;decompression;conservative-care,Dr. Ana Ruiz,2026-11-18,"{long_note}"',
    ]
    src = tmp_path / "r.csv"
    src.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run("batch", "fusion-alternatives", str(src), "-o", str(out), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-2:] == [
        "2 from shared editions, 1 rendered in full; 1 of them could not use an edition:",
        "  row 4 (id B-3): the note body text is too long for its box",
    ]
    with open(out / "manifest.csv", newline="") as f:
        manifest = {r["id"]: r["render"] for r in csv.DictReader(f)}
    assert manifest == {
        "B-1": "edition",
        "B-2": "edition",
        "B-3": "full: the note body text is too long for its box",
    }
    for rid, first in (("B-1", "Ana"), ("B-2", "Omar"), ("B-3", "Li")):
        request = make_request(
            document="fusion-alternatives",
            patient=f"{first} " + {"B-1": "Diaz", "B-2": "Haddad", "B-3": "Wang"}[rid],
            first_name=first,
            last_name={"B-1": "Diaz", "B-2": "Haddad", "B-3": "Wang"}[rid],
            address1={"B-1": "1 Oak St", "B-2": "2 Elm St", "B-3": "3 Pine Rd"}[rid],
            city={"B-1": "Springfield", "B-2": "Springfield", "B-3": "Chicago"}[rid],
            state="IL",
            zip={"B-1": "62704", "B-2": "62701", "B-3": "60601"}[rid],
            options=["fusion", "decompression", "conservative-care"],
            clinician={"B-3": "Dr. Ana Ruiz"}.get(rid, "Dr. Sam Rivera"),
            visit_date={"B-3": "2026-11-18"}.get(rid, "2026-11-20"),
            note={"B-2": "See you.", "B-3": long_note}.get(rid),
        )
        full = render_pdf(library, request)
        assert poppler_pages((out / f"{rid}.pdf").read_bytes()) == poppler_pages(full), rid


def test_merged_print_file_stores_each_edition_once(run, tmp_path):
    header = "id,first_name,last_name,address1,city,state,zip,options"
    rows = [
        f"M-{i},Pat,Number{i},{i} Oak St,Springfield,IL,62704,fusion;decompression;conservative-care"
        for i in range(12)
    ]
    src = tmp_path / "r.csv"
    src.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    out, merged = tmp_path / "out", tmp_path / "print.pdf"
    result = run(
        "batch",
        "followup-letter",
        str(src),
        "-o",
        str(out),
        "--merged",
        str(merged),
        "--workers",
        "1",
    )
    assert result.exit_code == 0, result.stderr
    singles = [out / f"M-{i}.pdf" for i in range(12)]
    summed = sum(p.stat().st_size for p in singles)
    # 12 recipients of one edition: the edition once plus 12 thin personal layers.
    # (At 1,000 recipients bench/vdp_bench.py measures well under the 0.15x goal.)
    assert merged.stat().st_size <= 0.25 * summed, (merged.stat().st_size, summed)
    with pikepdf.open(merged) as pdf:
        per_recipient = len(pdf.pages) // 12
        # The edition's page 2 content is one object shared by every recipient.
        second_pages = {pdf.pages[i * per_recipient + 1].obj.Contents.objgen for i in range(12)}
        assert len(second_pages) == 1
        # The edition's fonts are stored once too. (Each letter keeps fonts of
        # its own: a subset of one recipient's characters, never another's.)
        edition_fonts = {
            frozenset(
                f.objgen
                for _, f in pdf.pages[i * per_recipient + 1]
                .obj.Resources.get("/Font", pikepdf.Dictionary())
                .items()  # pikepdf 9.0 (the floor) has no .values()
            )
            for i in range(12)
        }
        assert len(edition_fonts) == 1 and len(next(iter(edition_fonts))) >= 1
    texts = poppler_pages(merged.read_bytes())
    for i in range(12):
        start = i * per_recipient
        single = poppler_pages(singles[i].read_bytes())
        assert f"Pat Number{i}" in texts[start]
        # Each letter starts on a front side: an odd count gets a blank back.
        assert per_recipient == len(single) + len(single) % 2
        assert texts[start + 1 : start + len(single)] == single[1:]


def test_edition_cache_is_keyed_by_content_templates_styles_and_version(
    tmp_ws, fresh_cache, monkeypatch
):
    request = make_request(document="fusion-alternatives", patient="Pat Doe", note="Rest.")

    def key() -> str:
        return vdp.split(load_library(Workspace.at(tmp_ws)), request).key

    base = key()
    assert key() == base  # stable
    option = tmp_ws / "handouts" / "options" / "fusion.yaml"
    original = option.read_text()
    option.write_text(original.replace("Spinal fusion", "Spinal fusion surgery", 1))
    assert key() != base
    option.write_text(original)
    assert key() == base
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}{% block questions %}<p>Ask us.</p>{% endblock %}'
    )
    assert key() != base
    (tmp_ws / "templates" / "handout.html").unlink()
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text() + "\nh2 { letter-spacing: 0.5pt; }"
    )
    assert key() != base
    (tmp_ws / "styles" / "handout.css").unlink()
    assert key() == base
    import handoutgen.content.library

    monkeypatch.setattr(handoutgen.content.library, "__version__", "99.0")
    assert key() != base


def test_a_changed_style_builds_a_new_edition(tmp_ws, fresh_cache):
    request = make_request(document="fusion-alternatives", patient="Pat Doe", note="Rest.")
    library = load_library(Workspace.at(tmp_ws))
    first = vdp.render_many(library, [request])[0]
    assert first.mode == "edition"
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text() + "\nh2 { color: #7a0000; }"
    )
    library = load_library(Workspace.at(tmp_ws))
    key = vdp.split(library, request).key
    assert vdp.cached_edition(key) is None
    second = vdp.render_many(library, [request])[0]
    assert second.mode == "edition" and vdp.cached_edition(key) is not None
    assert len(list(fresh_cache.glob("editions/*/*.entry"))) == 2


def test_a_corrupt_cache_entry_is_detected_and_rebuilt(library, fresh_cache, caplog):
    from handoutgen.store.cache import open_cache

    request = make_request(document="fusion-alternatives", patient="Pat Doe", note="Rest.")
    good = vdp.render_many(library, [request])[0]
    key = vdp.split(library, request).key
    entry = open_cache().path("editions", key)
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2])  # a torn write
    vdp.clear_caches()
    caplog.set_level(logging.WARNING, logger="handoutgen")
    again = vdp.render_many(library, [request])[0]
    assert f"editions entry {key[:12]} in the cache failed its integrity check" in caplog.text
    assert again.mode == "edition" and again.pdf == good.pdf
    assert entry.read_bytes() == data
    entry.write_bytes(data.replace(b'"pages": ', b'"pages": 1'))  # a changed meta field
    vdp.clear_caches()
    assert vdp.cached_edition(key) is None
    assert not entry.exists()  # deleted, to be built again


def test_a_template_that_breaks_the_conventions_fails_its_self_check(tmp_ws, fresh_cache):
    """A footer the overlay cannot reproduce: the edition is refused, every
    recipient is rendered in full, and the reason says why."""
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text()
        + '\n@page { @bottom-right { content: "p. " counter(page) " / " counter(pages); } }'
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(document="fusion-alternatives", patient="Pat Doe", note="Rest.")
    outcome = vdp.render_many(library, [request])[0]
    assert outcome.mode == "full"
    assert outcome.reason == "self-check: the assembled pages differ from a full render"
    pages = poppler_pages(outcome.pdf)
    assert f"p. 1 / {len(pages)}" in pages[0]


def test_personal_text_outside_the_marked_parts_falls_back(tmp_ws, fresh_cache):
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}'
        "{% block before_table %}<p>Dear {{ person.patient }}, read on.</p>{% endblock %}"
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(document="fusion-alternatives", patient="Pat Doe")
    outcome = vdp.render_many(library, [request])[0]
    assert (outcome.mode, outcome.reason) == (
        "full",
        "personal data (patient) printed outside the template's marked personal parts",
    )
    # The block sits before the comparison table (after the help box and
    # "Words to know", so not necessarily on page 1).
    assert any("Dear Pat Doe, read on." in page for page in poppler_pages(outcome.pdf))


def test_single_render_uses_a_cached_edition_but_never_builds_one(library, fresh_cache):
    request = make_request(document="fusion-alternatives", patient="Pat Doe", note="Rest.")
    cold = render(library, request)
    assert not list(fresh_cache.glob("editions/*/*.entry"))
    vdp.render_many(library, [request])  # a batch, say, builds it
    warm = render(library, request)
    assert warm != cold  # assembled, not the full render...
    assert poppler_pages(warm) == poppler_pages(cold)  # ...and reads the same


def test_outputs_that_cannot_use_an_edition_say_why(library):
    for fields, reason in [
        (dict(document="spine-brochure"), "brochure layout"),
        (dict(document="fusion-alternatives", print_ready=True), "print-ready output"),
        (dict(document="fusion-alternatives", pdf_variant="pdf/a-3u"), "pdf/a-3u output"),
        (dict(document="fusion-alternatives", pdf_variant="pdf/x-4"), "pdf/x-4 output"),
        (dict(document="fusion-alternatives", format="png"), "png output"),
    ]:
        assert vdp.ineligible(library, make_request(**fields)) == reason


def test_cache_can_be_turned_off(library, monkeypatch, tmp_path):
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    vdp.clear_caches()
    request = make_request(document="fusion-alternatives", patient="Pat Doe")
    outcome = vdp.render_many(library, [request])[0]
    assert outcome.mode == "edition"  # built in memory, for this process only
    assert list(tmp_path.iterdir()) == []
    vdp.clear_caches()


@pytest.mark.parametrize("order", ["BCA", "ABC"])
def test_an_overflowing_letter_never_lands_on_another_recipients_pdf(library, fresh_cache, order):
    """Recipients with no running name (no patient name or visit date) have no
    overlay of their own after their letter. A letter whose body runs past its
    page (an absolutely positioned box WeasyPrint continues on the next page)
    must not be drawn on the next recipient's letter or on the shared
    "Page X of Y" page that every recipient of the chunk stamps. (Found by review.)"""
    fields = random_letter(random.Random(11), 0)
    fields.update(patient=None, visit_date=None)
    base = make_request(**fields)
    long_note = "\n\n".join(f"Paragraph {i}: SECRETNOTE of Alice." for i in range(40))
    people = {
        "A": base.model_copy(
            update={"first_name": "Alice", "last_name": "Secret", "note": long_note}
        ),
        "B": base.model_copy(update={"first_name": "Bob", "last_name": "Other", "note": "Rest."}),
        "C": base.model_copy(update={"first_name": "Carl", "last_name": "Third", "note": "Walk."}),
    }
    outcomes = vdp.render_many(library, [people[c] for c in order])
    for who, outcome in zip(order, outcomes, strict=True):
        pages = poppler_pages(outcome.pdf)
        full = poppler_pages(render_pdf(library, people[who]))
        if who == "A":
            # Alice's own letter is either whole (a full render) or not used.
            assert outcome.mode == "full" and pages == full, outcome.reason
            assert outcome.reason == "a personal page overflowed"
            continue
        assert not any("SECRETNOTE" in page for page in pages), f"Alice's letter on {who}'s PDF"
        assert pages == full, (who, outcome.mode, outcome.reason)


def test_a_note_too_long_for_its_box_never_lands_on_the_shared_page_numbers(library, fresh_cache):
    """The last recipient of a chunk whose note slot overflows (it renders in
    full) must not leave the rest of its note on the shared "Page 2 of N"
    overlay that the other recipients stamp. (Found by review.)"""
    long_note = "\n\n".join(f"Paragraph {i}: SECRETNOTE of Alice." for i in range(40))
    b = make_request(document="fusion-alternatives", note="Rest.", clinician="Dr. B")
    c = b.model_copy(update={"note": "Walk daily."})
    a = b.model_copy(update={"note": long_note, "clinician": "Dr. A"})
    outcomes = vdp.render_many(library, [b, c, a])
    assert outcomes[2].mode == "full"  # its note does not fit its box
    assert outcomes[2].reason == "the note body text is too long for its box"
    for request, outcome in zip([b, c], outcomes[:2], strict=True):
        pages = poppler_pages(outcome.pdf)
        assert not any("SECRETNOTE" in page for page in pages), outcome.mode
        assert pages == poppler_pages(render_pdf(library, request))


def test_a_recipients_pdf_does_not_depend_on_who_else_is_in_its_chunk(library, fresh_cache):
    """Recipients are laid out many per document, but each one's pages are
    written apart: its fonts hold only its own characters (never those of
    another patient's name) and its bytes are the same alone or in company.
    (Found by review: a shared write put "Łukasz Øberg"'s letters in Ana's fonts.)"""
    base = make_request(**random_letter(random.Random(3), 0))

    def person(first: str, last: str) -> RenderRequest:
        return base.model_copy(
            update={"patient": f"{first} {last}", "first_name": first, "last_name": last}
        )

    ana = person("Ana", "Diaz")
    alone = vdp.render_many(library, [ana])[0]
    together = vdp.render_many(library, [person("Łukasz", "Øberg"), ana, person("Ğül", "Şahin")])
    assert [o.mode for o in [alone, *together]] == ["edition"] * 4
    assert together[1].pdf == alone.pdf
    with pikepdf.open(io.BytesIO(alone.pdf)) as pdf:
        cmaps = b"".join(
            font.ToUnicode.read_bytes()
            for page in pdf.pages
            for _, xobject in page.obj.Resources.get("/XObject", {}).items()
            for _, font in xobject.get("/Resources", {}).get("/Font", {}).items()
            if "/ToUnicode" in font
        )
    # Ł (U+0141), Ø (U+00D8), Ğ (U+011E), Ş (U+015E) are in no font Ana's PDF stamps.
    for code in (b"0141", b"00D8", b"011E", b"015E"):
        assert code not in cmaps.upper()


def test_a_letter_is_never_longer_than_its_options_in_one_flow(library, fresh_cache, tmp_ws):
    """Issue 24: the follow-up letter prints its options in the handout's one
    flow. A letter from an edition has as many pages as its full render, with
    the same words on each, and as many as the same YAML with any
    `option_pages: true` line dropped (the retired option pages started each
    option on a page of its own: a page more for most option sets, postage)."""
    path = tmp_ws / "handouts" / "followup-letter.yaml"
    path.write_text(re.sub(r"(?m)^option_pages:.*\n", "", path.read_text(encoding="utf-8")))
    one_flow = load_library(Workspace.at(tmp_ws))
    rng = random.Random(24)
    for _ in range(4):
        fields = random_letter(rng, 0)
        fields["options"] = rng.sample(LETTER_OPTIONS, rng.randint(2, 4))
        request = make_request(**fields)
        outcome = render_many(library, [request])[0]
        full = render_pdf(library, request)
        flow = render_pdf(one_flow, request)
        counts = [len(PdfReader(io.BytesIO(pdf)).pages) for pdf in (outcome.pdf, full, flow)]
        assert counts == [counts[2]] * 3, (fields["options"], counts)
        assert outcome.mode == "edition", outcome.reason
        assert page_words(outcome.pdf) == page_words(full), fields["options"]


def count_resolutions(monkeypatch) -> list[str]:
    """Every time a request is resolved into its plan (render/context.py plan)."""
    from handoutgen.render import context

    seen: list[str] = []
    real = context.resolve_clinic

    def spy(library, request):  # noqa: ANN001, ANN202
        seen.append(request.document)
        return real(library, request)

    monkeypatch.setattr(context, "resolve_clinic", spy)
    return seen


def test_warming_an_edition_resolves_the_request_once(library, fresh_cache, monkeypatch):
    """The plan is made once and passed down: the gate, the split, the
    stand-ins and the self-check's probe all take it (the issue: three
    look-ups of the document and a request carried through ten modules)."""
    from handoutgen.pipeline import gate, warm_edition

    request = make_request(document="neck-surgery", patient="Ana Li", visit_date="2026-11-20")
    gate(library, request)  # the content checks' own renders, cached before counting
    seen = count_resolutions(monkeypatch)
    assert warm_edition(library, request)  # built, self-checked and usable
    assert seen == ["neck-surgery"]


def test_a_render_resolves_its_request_once(library, fresh_cache, monkeypatch):
    from handoutgen.pipeline import gate

    request = make_request(document="neck-surgery", patient="Ana Li", clinic="example-clinic")
    gate(library, request)  # the content checks' own renders, cached before counting
    seen = count_resolutions(monkeypatch)
    assert render(library, request).startswith(b"%PDF")
    assert seen == ["neck-surgery"]
