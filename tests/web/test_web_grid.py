"""The option grid in the clinician's web form, through the framework's test client."""

from __future__ import annotations

import io
import re

import pypdf
import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, pages_text
from handoutgen.content.models import pick_text
from handoutgen.content.workspace import Workspace
from handoutgen.web.app import create_app

DOC = "option-grid"


def client_for(root=ROOT) -> TestClient:
    return TestClient(create_app(Workspace.at(root), warm=False), base_url="http://127.0.0.1:8765")


def form_token(client: TestClient, document: str = DOC) -> str:
    page = client.get(f"/documents/{document}")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


@pytest.fixture(autouse=True)
def _private_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))


def grid_fields(token: str, **extra) -> dict:
    return {
        "document": DOC,
        "option": ["fusion", "spinal-cord-stimulation", "conservative-care"],
        "patient": "Ana Li",
        "visit_date": "2026-11-20",
        "clinic": "example-clinic",
        "page_size": "a4",
        "csrf_token": token,
        **extra,
    }


def test_the_form_lists_the_grid_with_its_options_and_its_limit(library):
    client = client_for()
    assert f'href="/documents/{DOC}"' in client.get("/").text
    page = client.get(f"/documents/{DOC}").text
    doc = library.documents[DOC]
    boxes = re.findall(r'<input type="checkbox" name="option" value="([a-z-]+)"( checked)?>', page)
    assert [(o, bool(c)) for o, c in boxes] == [(o, o in doc.options) for o in doc.offered]
    assert "The option grid holds at most 4 options." in page


def test_the_form_renders_the_grid_with_the_ticked_options(library):
    client = client_for()
    response = client.post("/render", data=grid_fields(form_token(client, DOC)))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert len(pypdf.PdfReader(io.BytesIO(response.content)).pages) <= 2
    pages = pages_text(response.content)
    text = " ".join(pages)
    assert "Prepared for Ana Li" in pages[0]
    assert "What is it?" in text and "Will insurance pay?" in text
    for option_id in ("fusion", "spinal-cord-stimulation", "conservative-care"):
        assert pick_text(library.options[option_id].title) in pages[0]
    # Not ticked, so not printed.
    assert pick_text(library.options["decompression"].title) not in text
    assert "Call us soon at (555) 010-0100 if:" in text


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["fusion"], "Tick at least 2 options: the option grid compares them side by side."),
        (
            [
                "fusion",
                "decompression",
                "spinal-injections",
                "conservative-care",
                "fibrin-injection",
            ],
            "Tick at most 4 options: the option grid holds at most 4.",
        ),
    ],
)
def test_the_form_explains_too_few_or_too_many_options(options, said):
    client = client_for()
    response = client.post("/render", data=grid_fields(form_token(client, DOC), option=options))
    assert response.status_code == 422
    assert said in response.text
