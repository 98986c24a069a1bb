"""Composable editions (parts.py): a letter whose option set no one else has
is assembled from each option's cached pages and a flow laid out for that
reader, and reads exactly like its full render: same words on each page in
reading order, same tag tree, same outline, PDF/UA-1, same bytes every time,
and no patient data in any cached part."""

from __future__ import annotations

import io
import random
import subprocess

import page
import pikepdf
import pytest
from pdfua.model import Severity
from pdfua.validator import Validator

from conftest import ROOT, pages_text, read_manifest, write_csv
from handoutgen import parts, vdp
from handoutgen.content import load_library
from handoutgen.errors import RenderError
from handoutgen.render import make_request, render, render_many, render_pdf, warm_parts
from handoutgen.workspace import Workspace

FIRST = ["Ana", "Omar", "Li", "Maria José", "Nguyen", "Fatima", "Jean-Luc"]
LAST = ["Diaz", "Haddad", "Wang", "Ñúñez-O'Brien", "Tran", "Okafor", "Lefèvre"]


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache, on disk and in memory."""
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    vdp.clear_caches()
    parts.clear_caches()
    yield tmp_path / "cache"
    vdp.clear_caches()
    parts.clear_caches()


def letter(rng: random.Random, options: list[str], i: int) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return dict(
        document="followup-letter",
        options=options,
        patient=f"{first} {last}",
        first_name=first,
        last_name=last,
        address1=f"{10 + i} Elm Street",
        city="Springfield",
        state="IL",
        zip="62701",
        note=rng.choice(["Rest and walk daily.", "Call us if the pain gets worse.", None]),
    )


def unique_sets(rng: random.Random, n: int) -> list[list[str]]:
    ids = sorted(load_library(Workspace.at(ROOT)).options)
    seen: set[tuple[str, ...]] = set()
    while len(seen) < n:
        seen.add(tuple(rng.sample(ids, rng.randint(3, 5))))
    return [list(s) for s in sorted(seen)]


def poppler_pages(pdf: bytes) -> list[str]:
    """Each page's text as poppler lays it out (by position, not drawing order)."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    return out.split("\f")[:-1]


def structure(pdf: bytes) -> list[tuple]:
    """The tag tree as (depth, type, page, marked-content count), depth first."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        pages = {p.obj.objgen: i for i, p in enumerate(doc.pages)}
        out: list[tuple] = []

        def walk(node, depth: int) -> None:
            kids = node.get("/K")
            items = (
                [] if kids is None else list(kids) if isinstance(kids, pikepdf.Array) else [kids]
            )
            elements = [k for k in items if isinstance(k, pikepdf.Dictionary) and "/S" in k]
            page_of = pages.get(node.Pg.objgen, "dangling") if "/Pg" in node else None
            out.append((depth, str(node.S), page_of, len(items) - len(elements)))
            for kid in elements:
                walk(kid, depth + 1)

        root = doc.Root.StructTreeRoot.K
        for node in list(root) if isinstance(root, pikepdf.Array) else [root]:
            walk(node, 0)
        return out


def outline(pdf: bytes) -> list[tuple]:
    """The bookmarks as (depth, title, page, x, y)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        pages = {p.obj.objgen: i for i, p in enumerate(doc.pages)}
        out: list[tuple] = []
        with doc.open_outline() as tree:

            def walk(items, depth: int) -> None:
                for item in items:
                    dest = item.destination
                    where = pages.get(dest[0].objgen, "dangling")
                    out.append((depth, item.title, where, *(round(float(v), 2) for v in dest[2:4])))
                    walk(item.children, depth + 1)

            walk(tree.root, 0)
        return out


def test_composed_letters_read_exactly_like_full_renders(library, fresh_cache):
    """A seeded sample of option sets, each its own: composed, and equal to the full render."""
    rng = random.Random(18)
    requests = [
        make_request(**letter(rng, options, i)) for i, options in enumerate(unique_sets(rng, 6))
    ]
    outcomes = render_many(library, requests)
    assert [o.mode for o in outcomes] == ["parts"] * len(requests), [o.reason for o in outcomes]
    for request, outcome in zip(requests, outcomes, strict=True):
        full = render_pdf(library, request)
        assert vdp.page_words(outcome.pdf) == vdp.page_words(full)
        assert poppler_pages(outcome.pdf) == poppler_pages(full)
        assert structure(outcome.pdf) == structure(full)
        assert outline(outcome.pdf) == outline(full)
        text = pages_text(outcome.pdf)
        assert len(text) == outcome.pages
        for number, page_text in enumerate(text, 1):
            assert f"Page {number} of {len(text)}" in page_text
            if number > 1:
                assert f"Prepared for {request.patient}" in page_text, number
        with pikepdf.open(io.BytesIO(outcome.pdf)) as pdf:
            assert str(pdf.Root.Lang) == "en"
            assert str(pdf.docinfo["/Title"]) == "Your follow-up from the spine clinic"
    # Each option's pages were laid out once, whatever set they were in.
    chosen = {o for r in requests for o in r.options}
    assert len(list(fresh_cache.glob("parts/*/*.entry"))) == len(chosen)


def test_a_composed_letter_passes_pdf_ua(library, fresh_cache, tmp_path):
    request = make_request(**letter(random.Random(3), ["fusion", "spinal-injections"], 0))
    outcome = render_many(library, [request])[0]
    assert outcome.mode == "parts", outcome.reason
    report = page.validate_pdf_bytes(outcome.pdf, profile="ua1")
    assert [f"{f.rule_id}: {f.message}" for f in report.failures] == []
    path = tmp_path / "composed.pdf"
    path.write_bytes(outcome.pdf)
    findings = [
        f"{f.rule_id}: {f.message}"
        for o in Validator().validate(str(path)).outcomes
        for f in o.findings
        if f.severity in (Severity.ERROR, Severity.WARNING)
    ]
    assert findings == []


def test_composing_is_deterministic(library, fresh_cache, tmp_path, monkeypatch):
    request = make_request(**letter(random.Random(4), ["decompression", "conservative-care"], 0))
    first = render_many(library, [request])[0]
    parts.clear_caches()  # the second from the disk cache
    second = render_many(library, [request])[0]
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "other"))
    parts.clear_caches()  # the third from parts built again
    third = render_many(library, [request])[0]
    assert first.mode == second.mode == third.mode == "parts"
    assert first.pdf == second.pdf == third.pdf


def test_cached_parts_hold_no_patient_data(library, fresh_cache):
    request = make_request(**letter(random.Random(5), ["fusion", "fibrin-injection"], 0))
    request = request.model_copy(update={"patient": "Zelda Quixotic", "note": "Secret note."})
    outcome = render_many(library, [request])[0]
    assert outcome.mode == "parts"
    assert "Zelda Quixotic" in " ".join(pages_text(outcome.pdf))
    entries = list(fresh_cache.glob("parts/*/*.entry"))
    assert len(entries) == 2
    for entry in entries:
        data = entry.read_bytes()
        pdf = data[data.index(b"%PDF-") :]
        text = " ".join(pages_text(pdf))
        assert "Spinal fusion" in text or "Fibrin" in text  # the scan reads the part...
        for needle in ("Zelda", "Quixotic", "Secret note", "Elm Street"):  # ...and finds none
            assert needle not in text and needle.encode() not in data


def test_personal_data_in_an_option_page_is_never_cached(tmp_ws, fresh_cache):
    """A workspace template prints the patient's name inside each option: the
    reader is rendered in full, says why, and no part is cached."""
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}{% block option_pages %}'
        "{% for option in options %}{% call vdp.part(option.id) %}"
        '<article class="option option-page"><h2>{{ option.title | t }}</h2>'
        "<p>Chosen for {{ person.patient }}.</p></article>"
        "{% endcall %}{% endfor %}{% endblock %}"
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(**letter(random.Random(6), ["fusion", "decompression"], 0))
    outcome = render_many(library, [request])[0]
    # The edition's check sees it first; composing refuses it on its own too.
    assert (outcome.mode, outcome.reason) == (
        "full",
        "personal data (patient) printed outside the template's marked personal parts",
    )
    assert parts.plan(library, request).reason == "personal data printed in the option pages"
    assert f"Chosen for {request.patient}." in " ".join(pages_text(outcome.pdf))
    assert not list(fresh_cache.glob("parts/*/*.entry"))


def test_a_stylesheet_that_keeps_options_in_the_flow_fails_the_check(tmp_ws, fresh_cache):
    """Options that do not start a page cannot be laid out apart: the check
    finds it, the parts are never used, and every reader gets a full render."""
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text()
        + "\n.option-page { break-before: auto; }\n"
    )
    library = load_library(Workspace.at(tmp_ws))
    rng = random.Random(7)
    requests = [
        make_request(**letter(rng, ["fusion", "decompression"], 0)),
        make_request(**letter(rng, ["decompression", "fusion", "conservative-care"], 1)),
    ]
    outcomes = render_many(library, requests)
    assert [o.mode for o in outcomes] == ["full", "full"]
    assert outcomes[0].reason == outcomes[1].reason
    assert outcomes[0].reason.startswith("option pages: ")
    for request, outcome in zip(requests, outcomes, strict=True):
        assert poppler_pages(outcome.pdf) == poppler_pages(render_pdf(library, request))


@pytest.mark.logs_expected
def test_a_damaged_part_is_reported_and_built_again(library, fresh_cache, caplog):
    request = make_request(**letter(random.Random(8), ["conservative-care", "fusion"], 0))
    good = render_many(library, [request])[0]
    entries = list(fresh_cache.glob("parts/*/*.entry"))
    for entry in entries:
        data = bytearray(entry.read_bytes())
        data[-40] ^= 0xFF
        entry.write_bytes(bytes(data))
    parts.clear_caches()
    again = render_many(library, [request])[0]
    assert "in the cache failed its integrity check" in caplog.text
    assert again.mode == "parts" and again.pdf == good.pdf


def test_a_single_render_composes_from_cached_parts_but_never_builds_them(library, fresh_cache):
    request = make_request(**letter(random.Random(9), ["radiofrequency-ablation", "fusion"], 0))
    cold = render(library, request)
    assert not list(fresh_cache.glob("parts/*/*.entry"))
    assert warm_parts(library, make_request(document="followup-letter", options=request.options))
    warm = render(library, request)
    assert warm != cold  # composed, not the full render...
    assert poppler_pages(warm) == poppler_pages(cold)  # ...and reads the same


def test_unreviewed_translations_are_rendered_in_full_with_the_reason(
    tmp_ws_translated, fresh_cache
):
    """The "not yet reviewed" mark repeats on every page, so an overlay would draw it twice."""
    library = load_library(Workspace.at(tmp_ws_translated))
    fields = letter(random.Random(10), ["conservative-care", "spinal-injections"], 0)
    outcome = render_many(library, [make_request(**fields, language="es")])[0]
    assert (outcome.mode, outcome.reason) == (
        "full",
        "option pages: a mark printed on every page (draft or translation not reviewed)",
    )


def test_a_batch_of_unique_sets_composes_and_says_so(run, tmp_path, library, fresh_cache):
    header = "id,first_name,last_name,address1,city,state,zip,options"
    sets = unique_sets(random.Random(12), 4)
    rows = [
        f"U-{i},Pat,Number{i},{i} Oak St,Springfield,IL,62704,{';'.join(s)}"
        for i, s in enumerate(sets)
    ]
    src = write_csv(tmp_path / "r.csv", rows, header)
    out = tmp_path / "out"
    result = run("batch", "followup-letter", str(src), "-o", str(out), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "0 from shared editions, 4 composed from option pages, 0 rendered in full."
    )
    assert [r["render"] for r in read_manifest(out)] == ["parts"] * 4
    full = tmp_path / "full"
    result = run("batch", "followup-letter", str(src), "-o", str(full), "--full-render")
    assert result.exit_code == 0, result.stderr
    for i in range(len(sets)):
        composed = (out / f"U-{i}.pdf").read_bytes()
        assert poppler_pages(composed) == poppler_pages((full / f"U-{i}.pdf").read_bytes())


@pytest.mark.parametrize(
    "rule",
    [
        "@page :left { margin-left: 1in; }",
        "h2 { counter-increment: section; }",
        "body { counter-reset: section 0; }",
        ".option-page { break-before: right; }",
    ],
)
def test_styles_that_follow_page_position_are_rendered_in_full(tmp_ws, fresh_cache, rule):
    """Left and right pages or section counters carry into an option's pages
    from the pages before it, which differ from one option set to the next."""
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text() + "\n" + rule + "\n"
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(**letter(random.Random(13), ["fusion", "decompression"], 0))
    outcome = render_many(library, [request])[0]
    assert (outcome.mode, outcome.reason) == (
        "full",
        "option pages: the stylesheet styles or numbers pages by their position "
        "(left and right pages, counters)",
    )
    assert not list(fresh_cache.glob("parts/*/*.entry"))


def test_the_page_counter_alone_still_composes(tmp_ws, fresh_cache):
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text()
        + "\n@page { counter-increment: page; }\n"
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(**letter(random.Random(14), ["fusion", "decompression"], 0))
    outcome = render_many(library, [request])[0]
    assert outcome.mode == "parts", outcome.reason


def test_warm_builds_every_options_pages(run, tmp_path, monkeypatch, library):
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    vdp.clear_caches()
    parts.clear_caches()
    result = run("warm", "followup-letter")
    assert result.exit_code == 0, result.stderr
    n = len(library.options)
    assert f"followup-letter: 4 of 4 editions ready, {n} of {n} options' pages ready" in (
        result.stderr
    )
    assert len(list((tmp_path / "cache" / "parts").rglob("*.entry"))) == n
    # Then a set no one asked for is composed in a fresh process's first render.
    parts.clear_caches()
    request = make_request(**letter(random.Random(15), ["nucleus-replacement", "fusion"], 0))
    assert vdp.render_many(library, [request], build=False)[0].mode == "parts"


def test_a_help_block_hidden_for_some_option_sets_fails_a_composed_letter(tmp_ws, fresh_cache):
    """The "When to get help" block is in the reader's own pages. A template that
    hides it only for some option sets passes each option's check (made with
    other sets), so the composed letter checks it itself, as a full render does."""
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}{% block get_help %}'
        '{% if options | length > 1 %}<div style="display: none">{{ super() }}</div>'
        "{% else %}{{ super() }}{% endif %}{% endblock %}"
    )
    library = load_library(Workspace.at(tmp_ws))
    for option in ("fusion", "decompression"):
        assert warm_parts(library, make_request(document="followup-letter", options=[option]))
    request = make_request(**letter(random.Random(16), ["fusion", "decompression"], 0))
    p = parts.plan(library, request)
    found = parts.get_parts(library, p, build=False)
    assert found is not None and all(part.usable for part in found)
    with pytest.raises(RenderError, match="'When to get help' block is hidden"):
        parts.compose_one(library, p, found)
    outcome = render_many(library, [request])[0]
    assert outcome.pdf is None and "'When to get help' block is hidden" in str(outcome.error)


def test_a_long_name_reads_the_same_on_composed_option_pages(library, fresh_cache):
    """The running name is clamped to two lines with an ellipsis. WeasyPrint
    adds the ellipsis while drawing, so a page drawn twice (the flow, then its
    overlays) would show it twice on every option page."""
    fields = letter(random.Random(19), ["fusion", "decompression"], 0)
    request = make_request(**{**fields, "patient": "Maximiliana " * 40})
    outcome = render_many(library, [request])[0]
    assert outcome.mode == "parts", outcome.reason
    full = render_pdf(library, request)
    assert "……" not in " ".join(pages_text(outcome.pdf))
    assert vdp.page_words(outcome.pdf) == vdp.page_words(full)


def test_personal_data_before_main_is_never_drawn_from_a_stand_in(tmp_ws, fresh_cache):
    """A workspace base.html prints the name in the running title (before
    <main>): a part laid out with the stand-in's head would print the stand-in's
    name on a real reader's option pages. A batch chunk composes without the
    edition's check first (share=False), so composing must refuse it itself."""
    base = (ROOT / "templates" / "base.html").read_text()
    title = '<div class="running-title">{{ doc.title | t }}</div>'
    assert title in base
    (tmp_ws / "templates" / "base.html").write_text(
        base.replace(
            title,
            '<div class="running-title">{{ doc.title | t }}'
            "{% if person.patient %}, for {{ person.patient }}{% endif %}</div>",
        )
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(**letter(random.Random(20), ["fusion", "decompression"], 0))
    outcome = render_many(library, [request], share=False)[0]
    text = " ".join(pages_text(outcome.pdf))
    assert "Standin" not in text
    assert (outcome.mode, outcome.reason) == (
        "full",
        "option pages: personal data printed before <main> (on every page)",
    )
    assert not list(fresh_cache.glob("parts/*/*.entry"))


def test_a_check_that_could_not_run_is_not_cached_as_a_difference(
    library, fresh_cache, monkeypatch
):
    """An error while checking new parts (a full disk, a killed helper) is not
    a verdict: the parts are not used now, but not cached as failed either, so
    the next run checks them again instead of rendering every reader in full."""
    request = make_request(**letter(random.Random(21), ["fusion", "decompression"], 0))

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    with monkeypatch.context() as m:
        m.setattr(parts, "render_pdf", broken)
        first = render_many(library, [request], share=False)[0]
    assert first.mode == "full"
    assert not list(fresh_cache.glob("parts/*/*.entry"))
    parts.clear_caches()
    again = render_many(library, [request], share=False)[0]
    assert again.mode == "parts", again.reason


def test_a_letter_that_runs_onto_a_second_page_says_why_it_is_rendered_in_full(
    library, fresh_cache
):
    """A long note pushes the letter onto a second page, whose tags stay cut at
    the page break: composing refuses it with a reason a person can act on."""
    fields = letter(random.Random(22), ["fusion", "decompression"], 0)
    fields["note"] = "Please rest and walk a little every day.\n" * 25
    request = make_request(**fields)
    outcome = render_many(library, [request], share=False)[0]
    assert (outcome.mode, outcome.reason) == (
        "full",
        "option pages: the reader's tags are cut at page breaks",
    )
    assert outcome.pdf is not None


def test_warm_counts_each_options_pages_once_whatever_the_clinics(library, monkeypatch):
    """An option's pages never carry the clinic (a personal field): warming for
    two clinics builds them once and reports "N of N", not "3N of 3N"."""
    from handoutgen import render as render_module

    calls = []

    def fake_warm_options(library, doc_id, clinic=None):
        calls.append(clinic)
        return len(library.options), len(library.options), set()

    monkeypatch.setattr(render_module, "warm_options", fake_warm_options)
    monkeypatch.setattr(render_module, "warm_edition", lambda library, request: True)
    results = render_module.warm(library, ["followup-letter"], ["North Clinic", "South Clinic"])
    n = len(library.options)
    assert calls == [None]
    assert (results["followup-letter"].options_made, results["followup-letter"].options_tried) == (
        n,
        n,
    )


@pytest.mark.parametrize(
    "rule",
    [
        '.option-page:first-of-type > .option-title::before { content: "Your options: "; }',
        '.option-page + .option-page .option-title::before { content: "Also: "; }',
    ],
)
def test_styles_that_follow_an_options_siblings_are_rendered_in_full(tmp_ws, fresh_cache, rule):
    """An option laid out on its own is the first (and only) article of its
    document: each option warmed alone passed its check, then a reader with
    both options got "Your options:" over the second option too, unlike its
    full render, with no reason given."""
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text() + "\n" + rule + "\n"
    )
    library = load_library(Workspace.at(tmp_ws))
    for option in ("fusion", "decompression"):
        warm_parts(library, make_request(document="followup-letter", options=[option]))
    request = make_request(**letter(random.Random(23), ["decompression", "fusion"], 0))
    outcome = render_many(library, [request], share=False)[0]
    assert (outcome.mode, outcome.reason) == (
        "full",
        "option pages: the stylesheet styles an option by its place among its siblings "
        "(:first-of-type, :nth-child, + or ~), which differs on pages of its own",
    )
    assert not list(fresh_cache.glob("parts/*/*.entry"))


def test_sibling_selectors_inside_an_option_or_a_list_still_compose(tmp_ws):
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text()
        + "\nli + li { margin-top: 1pt; }\ntr:nth-child(even) td { background: #eee; }\n"
        + ".option-page h3 + p { margin-top: 0; }\n"
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(**letter(random.Random(24), ["decompression", "fusion"], 0))
    assert parts.plan(library, request).reason == ""


def test_new_parts_are_stored_before_their_build_lock_is_released(
    library, fresh_cache, monkeypatch
):
    """Another worker waiting for a part's lock must find it cached, not build
    it again (the parts used to be stored only after every lock was let go)."""
    import contextlib

    events: list[tuple[str, str]] = []
    real_lock, real_store = parts._build_lock, parts._store

    @contextlib.contextmanager
    def lock(key):
        with real_lock(key):
            events.append(("lock", key))
            yield
            events.append(("unlock", key))

    def store(part):
        events.append(("store", part.key))
        real_store(part)

    monkeypatch.setattr(parts, "_build_lock", lock)
    monkeypatch.setattr(parts, "_store", store)
    request = make_request(**letter(random.Random(25), ["fusion", "decompression"], 0))
    assert render_many(library, [request], share=False)[0].mode == "parts"
    keys = {key for _, key in events}
    assert len(keys) == 2
    for key in keys:
        order = [what for what, k in events if k == key]
        assert order == ["lock", "store", "unlock"], order


def test_a_failed_check_says_what_it_found_and_spares_the_other_options(tmp_ws, fresh_cache):
    """A fixed decoration repeats on every page, so an overlay would draw it
    twice: the reader is rendered in full with that reason (not "differ"), and
    an option first seen beside a failed one is not failed with it for good."""
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text()
        + '\nbody::after { content: "Keep this letter"; position: fixed; bottom: 0; left: 0; }\n'
    )
    library = load_library(Workspace.at(tmp_ws))
    first = make_request(**letter(random.Random(26), ["fusion"], 0))
    outcome = render_many(library, [first], share=False)[0]
    assert (outcome.mode, outcome.reason) == (
        "full",
        "option pages: something the stylesheet repeats on every page",
    )
    second = make_request(**letter(random.Random(27), ["fusion", "decompression"], 1))
    assert render_many(library, [second], share=False)[0].mode == "full"
    # decompression was not judged beside the failed fusion: not cached as failed.
    entries = list(fresh_cache.glob("parts/*/*.entry"))
    assert len(entries) == 1


def test_something_printed_after_the_option_pages_is_rendered_in_full(tmp_ws, fresh_cache):
    """The overlays go at the end of the reader's pages. A notice printed after
    the option pages for some readers only (here by ZIP code, so the stand-in
    never shows it and the one-time check passes) came before the options in
    the composed letter and after them in its full render."""
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}{% block option_pages %}{{ super() }}'
        '{% if person.address and "95014" in person.address[-1] %}'
        '<section class="notice"><h2>A notice for California</h2><p>Read this.</p></section>'
        "{% endif %}{% endblock %}"
    )
    library = load_library(Workspace.at(tmp_ws))
    fields = {**letter(random.Random(28), ["fusion", "decompression"], 0), "zip": "95014"}
    request = make_request(**fields)
    outcome = render_many(library, [request], share=False)[0]
    assert (outcome.mode, outcome.reason) == (
        "full",
        "option pages: the template prints something after the option pages",
    )
    assert "A notice for California" in pages_text(outcome.pdf)[-1]


def test_a_new_handoutgen_version_never_reuses_older_parts(library, monkeypatch):
    import handoutgen

    request = make_request(**letter(random.Random(29), ["fusion"], 0))
    before = [s.key for s in parts.plan(library, request).parts]
    monkeypatch.setattr(handoutgen, "__version__", "99.0.0")
    assert [s.key for s in parts.plan(library, request).parts] != before


def test_margin_boxes_sized_by_their_neighbours_are_rendered_in_full(tmp_ws, fresh_cache):
    """With auto widths the name box on an overlay page (its neighbours left
    out) took the whole width: a long name ran on one line over the part's
    running title, unlike its full render; the check's stand-in name is short."""
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text()
        + "\n@page { @top-left { width: auto; } @top-center { width: auto; }"
        " @top-right { width: auto; } }\n"
    )
    library = load_library(Workspace.at(tmp_ws))
    fields = letter(random.Random(30), ["fusion", "decompression"], 0)
    request = make_request(
        **{**fields, "patient": "Bartholomew Alexander Montgomery-Fitzwilliam the Third"}
    )
    outcome = render_many(library, [request], share=False)[0]
    assert outcome.mode == "full"
    assert outcome.reason == (
        "option pages: the running name or page number would move on the option pages "
        "(page-margin boxes without a fixed width)"
    )
    assert vdp.page_words(outcome.pdf) == vdp.page_words(render_pdf(library, request))


def test_a_stylesheet_inside_main_is_rendered_in_full(tmp_ws, fresh_cache):
    """A <style> in the body styles the whole document; the option pages are
    laid out with the head's styles only. Colours are not words: the check
    would not see the option titles turn red in the full render only."""
    (tmp_ws / "templates" / "letter.html").write_text(
        '{% extends "default/letter.html" %}{% block after_about %}{{ super() }}'
        "<style>.option-title { color: #a00; }</style>{% endblock %}"
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(**letter(random.Random(31), ["fusion", "decompression"], 0))
    assert parts.plan(library, request).reason == "a stylesheet inside <main>"


def test_a_batch_single_without_option_pages_is_not_split_for_nothing(library, monkeypatch):
    """share=False builds no edition: splitting a document without option
    pages (three HTML renders) was thrown away, and a split error failed a row
    that renders in full."""

    def no_split(*args, **kwargs):
        raise AssertionError("split for a chunk that builds no edition")

    monkeypatch.setattr(vdp, "split", no_split)
    request = make_request(document="nonsurgical-options", patient="Ana Diaz")
    outcome = render_many(library, [request], share=False)[0]
    assert outcome.error is None and outcome.mode == "full" and outcome.pdf


def test_two_digit_page_numbers_still_compose(library, fresh_cache):
    """ "Page 9 of 10" and "Page 10 of 10" differ in width: the page number keeps
    its right edge, so the letter is composed (and reads like its full render)."""
    options = ["spinal-cord-stimulation", "decompression", "regenerative-injections", "fusion"]
    request = make_request(**letter(random.Random(32), [*options, "spinal-injections"], 0))
    outcome = render_many(library, [request])[0]
    assert outcome.mode == "parts", outcome.reason
    assert outcome.pages >= 10
    assert vdp.page_words(outcome.pdf) == vdp.page_words(render_pdf(library, request))


def test_a_decoration_fixed_on_every_page_is_rendered_in_full(tmp_ws, fresh_cache):
    """A coloured bar (no text) fixed on every page would be drawn twice on each
    option page (by the part, then by its overlay)."""
    (tmp_ws / "styles" / "handout.css").write_text(
        (ROOT / "src/handoutgen/styles/handout.css").read_text()
        + '\nmain::before { content: ""; position: fixed; top: 0; left: 0; width: 100%;'
        " height: 4pt; background: #c00; }\n"
    )
    library = load_library(Workspace.at(tmp_ws))
    request = make_request(**letter(random.Random(33), ["fusion", "decompression"], 0))
    outcome = render_many(library, [request])[0]
    assert outcome.mode == "full"
    assert "something the stylesheet repeats on every page" in outcome.reason


def test_a_batch_says_which_rows_could_not_be_composed(run, tmp_path, fresh_cache):
    header = "id,first_name,last_name,address1,city,state,zip,options,note"
    note = "Please rest and walk a little every day.\n" * 25  # runs onto a second page
    rows = [f'L-1,Pat,Long,1 Oak St,Springfield,IL,62704,fusion;decompression,"{note}"']
    src = write_csv(tmp_path / "r.csv", rows, header)
    result = run("batch", "followup-letter", str(src), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-2:] == [
        "0 from shared editions, 1 rendered in full; "
        "1 of them could not use an edition or option pages:",
        "  row 2 (id L-1): option pages: the reader's tags are cut at page breaks",
    ]


def test_an_option_that_runs_onto_a_second_page_says_continued(library, fresh_cache):
    """The option's own sub-headings do not clear the "Continued: ..." cue."""
    request = make_request(**letter(random.Random(34), ["conservative-care", "fusion"], 0))
    outcome = render_many(library, [request])[0]
    assert outcome.mode == "parts", outcome.reason
    pages = poppler_pages(outcome.pdf)
    continued = [i for i, text in enumerate(pages) if "Continued: Spinal" in text]  # wraps
    assert continued and "Spinal fusion" in pages[continued[0] - 1]
    assert pages == poppler_pages(render_pdf(library, request))
