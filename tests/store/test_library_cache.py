"""The validated content kept between processes, and the edition index that
lets a cold single render skip the stand-in renders when nothing is built."""

from __future__ import annotations

import pytest

from conftest import pages_text
from handoutgen.content.workspace import Workspace
from handoutgen.editions import splitting, vdp
from handoutgen.pipeline import make_request, render_one, warm_edition
from handoutgen.store import cache, librarycache

DOC = "nonsurgical-options"


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(folder))
    vdp.clear_caches()
    yield folder
    vdp.clear_caches()


def test_unchanged_content_comes_from_the_cache_and_an_edit_loads_afresh(
    tmp_ws, fresh_cache, monkeypatch
):
    ws = Workspace.at(tmp_ws)
    first = librarycache.load(ws)
    assert list((fresh_cache / "library").glob("*")), "the validated content was not kept"

    from handoutgen.content import library as library_module

    def must_not_load(workspace):  # noqa: ANN001, ANN202
        raise AssertionError("loaded again although nothing changed")

    monkeypatch.setattr(librarycache, "load_library", must_not_load)
    again = librarycache.load(ws)
    assert again.content_hash == first.content_hash
    monkeypatch.setattr(librarycache, "load_library", library_module.load_library)

    option = tmp_ws / "handouts" / "options" / "conservative-care.yaml"
    option.write_text(
        option.read_text(encoding="utf-8").replace(
            "Managing pain without a procedure", "Managing pain without a procedure (edited)", 1
        ),
        encoding="utf-8",
    )
    edited = librarycache.load(ws)
    assert edited.content_hash != first.content_hash
    assert "(edited)" in edited.options["conservative-care"].title["en"]


def test_content_with_problems_is_never_kept(tmp_ws, fresh_cache, run):
    (tmp_ws / "handouts" / "options" / "conservative-care.yaml").write_text(
        "id: [", encoding="utf-8"
    )
    for _ in range(2):  # reported every time, not served from a cache
        result = run("validate", workspace=tmp_ws)
        assert result.exit_code == 1
        assert "conservative-care.yaml" in result.output
    assert not (fresh_cache / "library").exists() or not list((fresh_cache / "library").glob("*"))


def test_the_cli_renders_an_edit_made_between_two_runs(tmp_ws, fresh_cache, run):
    out = tmp_ws / "a.pdf"
    assert run("render", DOC, "-o", str(out), workspace=tmp_ws).exit_code == 0
    option = tmp_ws / "handouts" / "options" / "conservative-care.yaml"
    text = option.read_text(encoding="utf-8")
    option.write_text(text.replace("without a procedure", "with no procedure", 1), encoding="utf-8")
    out2 = tmp_ws / "b.pdf"
    assert run("render", DOC, "-o", str(out2), workspace=tmp_ws).exit_code == 0
    assert "with no procedure" in " ".join(pages_text(out2.read_bytes()))
    assert "with no procedure" not in " ".join(pages_text(out.read_bytes()))


def test_a_cold_render_with_nothing_built_skips_the_stand_in_renders(
    library, fresh_cache, monkeypatch
):
    request = make_request(document=DOC, patient="Ana Li")
    calls = []
    real_split = splitting.split

    def counting_split(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return real_split(*args, **kwargs)

    monkeypatch.setattr(vdp, "split", counting_split)
    outcome = render_one(library, request)
    assert outcome.mode == "full" and outcome.reason == "edition not cached"
    assert calls == []
    # Once an edition is built for the document (by `warm`, a batch or the
    # web app), renders look it up again, here and in a new process.
    assert warm_edition(library, make_request(document=DOC, patient="Warm Up"))
    vdp.clear_caches()  # as a new process: only the disk cache remembers
    assert cache.open_cache() is not None
    outcome = render_one(library, request)
    assert calls, "the edition was not looked up after it was built"
    assert outcome.mode == "edition", outcome.reason
