"""`handoutgen serve`: the clinician's web page, through the framework's test client."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, pages_text
from handoutgen.content.workspace import Workspace
from handoutgen.web.app import CSRF_COOKIE, create_app

BASE = "http://127.0.0.1:8765"
NAME = "Maria <b>Núñez</b> & Co"


def client_for(root=ROOT) -> TestClient:
    return TestClient(create_app(Workspace.at(root), warm=False), base_url=BASE)


@pytest.fixture(autouse=True)
def _private_dir(tmp_path, monkeypatch):
    """The audit log and remembered settings go to a temporary folder, not the repo."""
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))


@pytest.fixture
def client() -> TestClient:
    return client_for()


def form_token(client: TestClient, document: str = "fusion-alternatives") -> str:
    page = client.get(f"/documents/{document}")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def fields(token: str, **extra) -> dict:
    return {
        "document": "fusion-alternatives",
        "option": ["fusion", "conservative-care"],
        "patient": NAME,
        "visit_date": "2026-11-20",
        "clinician": "Dr. Ana Ruiz",
        "note": "Walk every day.",
        "page_size": "letter",
        "csrf_token": token,
        **extra,
    }


def test_index_lists_every_document(client, library):
    page = client.get("/")
    assert page.status_code == 200
    for doc in library.documents.values():
        assert f'href="/documents/{doc.id}"' in page.text


def test_form_offers_what_the_document_offers_with_its_own_ticked(client, library):
    page = client.get("/documents/fusion-alternatives")
    assert page.status_code == 200
    doc = library.documents["fusion-alternatives"]
    boxes = re.findall(
        r'<input type="checkbox" name="option" value="([a-z-]+)"( checked)?>', page.text
    )
    # Its own options (ticked), then the others it offers, in its file's order.
    assert [(o, bool(c)) for o, c in boxes] == [(o, o in doc.options) for o in doc.offered]
    assert doc.offers and "cervical-fusion" not in doc.offered  # the neck has its own
    for option_id in doc.offered:
        title = library.options[option_id].title["en"]
        assert title.replace("'", "&#39;") in page.text
    for name in (
        "patient",
        "visit_date",
        "clinician",
        "clinic",
        "note",
        "page_size",
        "large_print",
    ):
        assert f'name="{name}"' in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()


def test_render_returns_the_pdf_with_the_patients_text_as_data(client, library):
    response = client.post("/render", data=fields(form_token(client)))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    # The file name is the document's and the time, never the patient's.
    assert re.fullmatch(
        r'attachment; filename="fusion-alternatives-20\d{6}-\d{4}\.pdf"',
        response.headers["content-disposition"],
    )
    text = " ".join(pages_text(response.content))
    assert f"Prepared for {NAME}" in text  # markup in a name prints literally
    assert "Spinal fusion" in text and "Managing pain without a procedure" in text
    assert "Decompression surgery" not in text  # not ticked
    assert "Walk every day." in text and "Dr. Ana Ruiz" in text
    assert response.headers["cache-control"] == "no-store"


def test_the_clinic_field_is_a_choice_of_clinic_profiles(client):
    page = client.get("/documents/fusion-alternatives").text
    select = re.search(r'<select id="clinic" name="clinic".*?</select>', page, re.S)
    assert select, "the clinic field is not a choice"
    values = re.findall(r'<option value="([^"]*)"', select.group(0))
    assert values == ["", "example-clinic", "riverside"]
    assert "None: a blank line to write the clinic&#39;s phone in" in select.group(0)
    assert "Riverside Back and Neck Center (sample)" in select.group(0)


def test_the_form_prints_the_chosen_clinics_number(client):
    response = client.post("/render", data=fields(form_token(client), clinic="riverside"))
    assert response.status_code == 200, response.text
    text = " ".join(pages_text(response.content))
    assert "Call us soon at (555) 010-0200 if:" in text and "(555) 010-0100" not in text


def test_the_form_refuses_a_clinic_without_a_profile(client):
    response = client.post(
        "/render", data=fields(form_token(client), clinic="Lakeside Spine Center")
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Nothing was rendered" in response.text
    assert "no clinic profile &#39;Lakeside Spine Center&#39;" in response.text
    assert "choose one of: example-clinic, riverside" in response.text
    # The form comes back with the unknown clinic named, none chosen.
    assert "“Lakeside Spine Center” has no clinic profile" in response.text
    assert '<option value="" selected>' in response.text


def test_preview_shows_the_pages_and_keeps_the_form(client):
    response = client.post("/preview", data=fields(form_token(client)))
    assert response.status_code == 200
    images = re.findall(r'<img src="data:image/png;base64,', response.text)
    assert len(images) >= 2
    assert 'value="Maria &lt;b&gt;Núñez&lt;/b&gt; &amp; Co"' in response.text
    assert "<b>Núñez</b>" not in response.text


def test_a_foreign_host_header_is_refused(client):
    for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example:8765"):
        response = client.get("/", headers={"host": host})
        assert response.status_code == 400, host
        assert "answers only to the address it runs on" in response.text
    assert client.get("/", headers={"host": "localhost:8765"}).status_code == 200


def test_a_post_without_the_forms_token_is_refused(client):
    token = form_token(client)
    for data, cookies in [
        (fields(""), None),  # no token
        (fields("0" * 64), None),  # a forged token
        (fields(token), {CSRF_COOKIE: "someone-elses-cookie"}),  # a token for another cookie
    ]:
        if cookies:
            client.cookies.set(CSRF_COOKIE, cookies[CSRF_COOKIE])
        response = client.post("/render", data=data)
        assert response.status_code == 403
        assert "This form has expired or was sent from another site" in response.text
    fresh = client_for()  # no cookie at all
    assert fresh.post("/render", data=fields(token)).status_code == 403


def test_bad_input_is_explained_on_the_page(client):
    token = form_token(client)
    response = client.post("/render", data=fields(token, visit_date="20/11/2026", option=[]))
    assert response.status_code == 422
    assert "Visit date: use the form YYYY-MM-DD." in response.text
    assert "Tick at least one option." in response.text
    response = client.post("/render", data=fields(token, option=["fusoin"]))
    assert response.status_code == 422
    assert "unknown option &#39;fusoin&#39;; did you mean &#39;fusion&#39;?" in response.text
    response = client.post("/render", data=fields(token, page_size="tabloid"))
    assert response.status_code == 422
    assert "page_size" in response.text


def test_an_option_the_document_does_not_offer_is_refused_by_name(client):
    page = client.get("/documents/neck-surgery")
    boxes = re.findall(r'<input type="checkbox" name="option" value="([a-z-]+)"', page.text)
    assert boxes == ["cervical-disc-replacement", "cervical-fusion"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/render",
        data=fields(token, document="neck-surgery", option=["cervical-fusion", "fusion", "fusoin"]),
    )
    assert response.status_code == 422
    assert "unknown option &#39;fusoin&#39;" in response.text
    assert (
        "Not offered with this document: Spinal fusion. Tick only the options listed: "
        "Disc replacement in the neck; Fusion in the neck." in response.text
    )


def test_any_offered_mix_renders_from_the_form(client):
    """The mix that used to be refused with "'nerve block' is used before it is
    explained: add it to glossary" (the glossary was the document's alone)."""
    token = form_token(client)
    response = client.post(
        "/render",
        data=fields(token, option=["spinal-injections", "conservative-care", "fibrin-injection"]),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    text = " ".join(pages_text(response.content))
    assert "before it is explained" not in text
    assert "A numbing shot that shows whether a joint or nerve causes the pain." in text


def test_a_render_error_is_shown_on_the_page_not_as_a_500(tmp_ws):
    (tmp_ws / "templates" / "handout.html").write_text(
        '{% extends "default/handout.html" %}{% block questions %}{{ nope.nothing }}{% endblock %}'
    )
    client = client_for(tmp_ws)
    response = client.post("/render", data=fields(form_token(client)))
    assert response.status_code == 422
    assert "templates/handout.html:1: template error" in response.text
    assert "Nothing was rendered" in response.text


def test_no_patient_data_reaches_disk_or_logs(tmp_ws, caplog, tmp_path_factory):
    caplog.set_level(logging.DEBUG)
    client = client_for(tmp_ws)
    secret = "Zebulon Quixote-Secret"
    token = form_token(client)
    assert client.post("/render", data=fields(token, patient=secret)).status_code == 200
    assert client.post("/preview", data=fields(token, patient=secret)).status_code == 200
    assert secret not in caplog.text
    cache = Path(os.environ["HANDOUTGEN_CACHE_DIR"])
    for folder in (tmp_ws, cache):
        for path in folder.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_designer_preview_follows_the_workspace(tmp_ws):
    client = client_for(tmp_ws)
    page = client.get("/design/nonsurgical-options")
    assert page.status_code == 200 and 'id="design"' in page.text
    token = {"X-Handoutgen-Token": re.search(r'data-token="([^"]+)"', page.text).group(1)}
    before = client.get("/api/version").json()["version"]
    pages = client.get("/design/nonsurgical-options/pages", headers=token)
    assert pages.text.count('<img src="data:image/png;base64,') >= 2
    doc = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    doc.write_text(doc.read_text() + "\nbroken: [\n")
    after = client.get("/api/version").json()["version"]
    assert after != before
    broken = client.get("/design/nonsurgical-options/pages", headers=token)
    assert broken.status_code == 200
    assert "handouts/nonsurgical-options.yaml:" in broken.text and "<img" not in broken.text


def test_a_cached_edition_serves_the_same_text(client):
    """The second render of a visit's handout comes from its edition (built in
    the background after the first) and reads exactly the same."""
    from handoutgen.editions import vdp

    token = form_token(client)
    first = client.post("/render", data=fields(token)).content
    library = client.app.state.hg.library()
    from handoutgen.pipeline import make_request

    request = make_request(
        document="fusion-alternatives",
        options=["fusion", "conservative-care"],
        patient=NAME,
        visit_date="2026-11-20",
        clinician="Dr. Ana Ruiz",
        note="Walk every day.",
        page_size="letter",
    )
    vdp.get_edition(library, vdp.split(library, request))  # what the background thread does
    second = client.post("/render", data=fields(token)).content
    assert pages_text(second) == pages_text(first)


def test_openapi_schema_names_the_form_fields(client):
    schema = client.get("/openapi.json").json()
    assert {"/", "/render", "/preview", "/documents/{document}"} <= set(schema["paths"])
    form = schema["components"]["schemas"]["RenderForm"]["properties"]
    assert {
        "document",
        "option",
        "patient",
        "visit_date",
        "clinician",
        "clinic",
        "note",
        "page_size",
    } <= set(form)
