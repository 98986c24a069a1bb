"""Fixed-size documents (tri-fold, booklet) fit their options or fail loudly.

The limit N is read from a real layout (the failing render's own message), then
proved both ways: N options render to the document's page count; N+1 fail
from render, check, a batch dry run and the web form. The shipped tri-fold
offers only its own three options (they all fit), so these tests use a copy
of the workspace whose tri-fold offers three more."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pypdf
import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, pages_text, write_csv
from handoutgen.content.workspace import Workspace
from handoutgen.web.app import create_app

# The brochure's own three options first, then others the form lists after them.
SIX = [
    "conservative-care",
    "decompression",
    "fusion",
    "spinal-injections",
    "fibrin-injection",
    "spinal-cord-stimulation",
]
TOO_MANY = re.compile(
    r"^Error: spine-brochure: the tri-fold holds at most (\d+) options?; 6 were chosen", re.M
)


def opts(ids: list[str]) -> list[str]:
    return [a for i in ids for a in ("--option", i)]


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> Path:
    """The shipped English workspace, its tri-fold offering all of SIX."""
    root = tmp_path_factory.mktemp("wide")
    shutil.copytree(
        ROOT / "handouts",
        root / "handouts",
        ignore=lambda folder, names: ["translations"] if Path(folder).name == "handouts" else [],
    )
    shutil.copytree(ROOT / "assets", root / "assets")
    for name in ("templates", "styles"):
        (root / name).mkdir()
    doc = root / "handouts" / "spine-brochure.yaml"
    text = doc.read_text()
    assert "\nmain_message:" in text
    offers = "".join(f"  - {o}\n" for o in SIX[3:])
    doc.write_text(text.replace("\nmain_message:", f"\noffers:\n{offers}main_message:", 1))
    return root


@pytest.fixture
def run(run, wide):
    """The CLI, in the wide workspace."""
    return lambda *args: run(*args, workspace=wide)


@pytest.fixture(scope="module")
def limit(wide) -> int:
    """N, from a render of six options, which must fail and write nothing."""
    from click.testing import CliRunner

    from handoutgen.cli import cli

    out = wide / "six.pdf"
    result = CliRunner().invoke(
        cli, ["--workspace", str(wide), "render", "spine-brochure", *opts(SIX), "-o", str(out)]
    )
    assert result.exit_code == 1
    m = TOO_MANY.search(result.output)
    assert m, result.output
    assert not out.exists()
    n = int(m.group(1))
    assert 1 <= n < 6
    return n


def test_n_options_fit_two_sides_and_n_plus_one_fail(run, tmp_path, limit, library):
    ok = tmp_path / "n.pdf"
    result = run("render", "spine-brochure", *opts(SIX[:limit]), "-o", str(ok))
    assert result.exit_code == 0, result.output
    reader = pypdf.PdfReader(ok)
    assert len(reader.pages) == 2  # the two sides of the tri-fold
    # Every chosen option is printed on the inside (side 2).
    inside = pages_text(ok.read_bytes())[1]
    for option_id in SIX[:limit]:
        assert library.options[option_id].title["en"] in inside
    over = tmp_path / "over.pdf"
    result = run("render", "spine-brochure", *opts(SIX[: limit + 1]), "-o", str(over))
    assert result.exit_code == 1
    assert (
        f"Error: spine-brochure: the tri-fold holds at most {limit} options; "
        f"{limit + 1} were chosen" in result.output
    )
    assert not over.exists()


def test_a_draft_does_not_excuse_a_cut_brochure(run, tmp_path, limit):
    out = tmp_path / "draft.pdf"
    result = run("render", "spine-brochure", *opts(SIX), "--allow-draft", "-o", str(out))
    assert result.exit_code == 1
    assert TOO_MANY.search(result.output)
    assert not out.exists()


def test_check_reports_the_fit_at_the_options_line(run, limit):
    result = run("check", "spine-brochure", *opts(SIX))
    assert result.exit_code == 1
    assert re.search(
        rf"handouts/spine-brochure\.yaml:\d+:\d+: error: \[fit\] the tri-fold holds at most "
        rf"{limit} options; 6 were chosen",
        result.output,
    )
    assert run("check", "spine-brochure", *opts(SIX[:limit])).exit_code == 0


def test_batch_dry_run_names_the_row_that_does_not_fit(run, tmp_path, limit):
    header = "id,first_name,last_name,address1,city,state,zip,options"
    rows = [
        f"B-1,Ann,Lee,1 A St,Peoria,IL,61602,{';'.join(SIX[:limit])}",
        f"B-2,Bo,Kim,1 A St,Peoria,IL,61602,{';'.join(SIX)}",
    ]
    src = write_csv(tmp_path / "r.csv", rows, header)
    result = run("batch", "spine-brochure", str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 3  # B-1 is valid
    assert (
        f"Error: {src}:3 (id B-2): options: the tri-fold holds at most {limit} options; 6 were chosen"
        in result.stderr
    )
    assert "1 valid, 1 with problems" in result.stderr
    assert not (tmp_path / "out").exists()


def test_web_form_offers_at_most_what_fits(tmp_path, monkeypatch, limit, wide):
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))
    client = TestClient(create_app(Workspace.at(wide), warm=False), base_url="http://127.0.0.1")
    page = client.get("/documents/spine-brochure")
    assert page.status_code == 200
    assert f'data-max="{limit}"' in page.text
    assert f"The tri-fold holds at most {limit} options." in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    sent = client.post(
        "/render",
        data={"document": "spine-brochure", "option": SIX[: limit + 1], "csrf_token": token},
    )
    assert sent.status_code == 422
    assert f"Tick at most {limit} options: the tri-fold holds at most {limit}." in sent.text
    # A handout has no fixed page count: no limit.
    assert "data-max" not in client.get("/documents/fusion-alternatives").text
