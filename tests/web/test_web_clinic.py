"""`handoutgen serve` for a whole clinic: sign-in, the clinic network, request
hygiene, the bounded render queue, the audit log, the form's conveniences.

Through the framework's test client (no socket, no network), and the CLI
in-process. The end-to-end browser test is in test_web_browser.py."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import sqlite3
import ssl
import stat
import time

import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, pages_text
from handoutgen.content.workspace import Workspace
from handoutgen.core import clock
from handoutgen.store import private
from handoutgen.store.audit import COLUMNS, read
from handoutgen.web import auth
from handoutgen.web.app import ServeConfig, allowed_host_names, create_app
from handoutgen.web.forms import ordered_options, warm_requests
from handoutgen.web.state import _Bucket

LAN = "handouts.clinic.example"  # a name only: the test client opens no socket
PASSWORD = "correct horse battery"
SECRET_PATIENT = "Zebulon Quixote-Secret"
SECRET_NOTE = "Private note about Zebulon's pain"


@pytest.fixture(autouse=True)
def _private_dir(tmp_path, monkeypatch):
    """Users, the audit log and remembered settings live in a temporary folder."""
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))


def lan_client(root=ROOT, **config) -> TestClient:
    """A server bound to every address (sign-in required) reached by a LAN name."""
    ws = Workspace.at(root)
    if not auth.users(ws):
        auth.add_user(ws, "alice", PASSWORD)
        auth.add_user(ws, "bob", PASSWORD)
    cfg = ServeConfig(host="0.0.0.0", allowed_hosts=(LAN,), warm=False, **config)
    return TestClient(create_app(ws, config=cfg), base_url=f"http://{LAN}:8765")


def local_client(**config) -> TestClient:
    cfg = ServeConfig(warm=False, **config)
    return TestClient(create_app(Workspace.at(ROOT), config=cfg), base_url="http://127.0.0.1:8765")


def token_from(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def sign_in(client: TestClient, user: str = "alice", password: str = PASSWORD):
    page = client.get("/login")
    assert page.status_code == 200
    return client.post(
        "/login",
        data={
            "username": user,
            "password": password,
            "next": "/",
            "csrf_token": token_from(page.text),
        },
        follow_redirects=False,
    )


def form_fields(client: TestClient, **extra) -> dict:
    page = client.get("/documents/fusion-alternatives")
    assert page.status_code == 200, page.text
    return {
        "document": "fusion-alternatives",
        "option": ["fusion", "conservative-care"],
        "patient": SECRET_PATIENT,
        "visit_date": "2026-11-20",
        "clinician": "Dr. Ana Ruiz",
        "clinic": "example-clinic",
        "note": SECRET_NOTE,
        "page_size": "letter",
        "csrf_token": token_from(page.text),
        **extra,
    }


# -- sign-in ---------------------------------------------------------------------------------


def test_a_lan_server_asks_everyone_to_sign_in_even_as_localhost():
    client = lan_client()
    for host in (f"{LAN}:8765", "localhost:8765", "127.0.0.1:8765"):
        page = client.get(
            "/documents/fusion-alternatives", headers={"host": host}, follow_redirects=False
        )
        assert page.status_code == 303, host
        assert page.headers["location"] == "/login?next=/documents/fusion-alternatives"
    # Endpoints that render or answer scripts say 401, never render.
    assert client.post("/render", data={"document": "x"}).status_code == 401
    assert client.post("/preview", data={"document": "x"}).status_code == 401
    assert client.get("/design/fusion-alternatives/pages").status_code == 401
    assert client.get("/api/version").status_code == 401
    # The sign-in page and its stylesheet need no session.
    assert client.get("/login").status_code == 200
    assert client.get("/static/app.css").status_code == 200


def test_sign_in_sets_a_strict_http_only_cookie_and_lets_the_user_in():
    client = lan_client()
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{auth.SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=1800" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    page = client.get("/")
    assert page.status_code == 200 and "Signed in as alice" in page.text
    # Each request restarts the idle clock: a fresh cookie comes back.
    assert auth.SESSION_COOKIE in page.headers.get("set-cookie", "")


def test_a_wrong_password_or_unknown_user_is_refused_alike():
    client = lan_client()
    for user, password in (("alice", "wrong password!"), ("mallory", PASSWORD)):
        response = sign_in(client, user, password)
        assert response.status_code == 401
        assert "Wrong user name or password." in response.text
        assert auth.SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_is_throttled_after_repeated_failures():
    client = lan_client()
    for _ in range(5):
        assert sign_in(client, "alice", "wrong password!").status_code == 401
    # Even the right password is refused for a while now.
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_session_expires_when_left_idle():
    client = lan_client()
    sessions = client.app.state.hg.sessions
    now = [1_800_000_000.0]
    sessions.clock = lambda: now[0]
    assert sign_in(client).status_code == 303
    now[0] += sessions.idle - 5  # used just before the idle limit: still signed in
    assert client.get("/").status_code == 200
    now[0] += sessions.idle - 5  # each use starts the idle time again
    assert client.get("/").status_code == 200
    now[0] += sessions.idle + 1  # then left idle past it
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_even_for_a_copied_cookie():
    client = lan_client()
    sign_in(client)
    page = client.get("/")
    stolen = client.cookies.get(auth.SESSION_COOKIE)
    response = client.post(
        "/logout", data={"csrf_token": token_from(page.text)}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.set(auth.SESSION_COOKIE, stolen)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_new_password_or_removal_ends_existing_sessions():
    client = lan_client()
    ws = client.app.state.hg.workspace
    sign_in(client)
    assert client.get("/").status_code == 200
    auth.set_password(ws, "alice", "another long password")
    assert client.get("/", follow_redirects=False).status_code == 303
    sign_in(client, "bob")
    assert client.get("/").status_code == 200
    auth.remove_user(ws, "bob")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_damaged_settings_file_is_reported_not_a_crash():
    client = lan_client()
    sign_in(client)
    private.settings_path(client.app.state.hg.workspace).write_text("{ not json")
    page = client.get("/")
    assert page.status_code == 503
    assert "settings are damaged" in page.text and "settings.json:1: not valid JSON" in page.text
    assert "content-security-policy" in page.headers


def test_a_forged_session_cookie_is_refused():
    client = lan_client()
    client.cookies.set(auth.SESSION_COOKIE, "eyJ1IjoiYWxpY2UifQ.Zz.forged")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_only_redirects_to_this_server():
    client = lan_client()
    page = client.get("/login")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        response = client.post(
            "/login",
            data={
                "username": "alice",
                "password": PASSWORD,
                "next": target,
                "csrf_token": token_from(page.text),
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/", target


def test_a_trusted_proxy_header_is_honoured_only_from_the_proxy():
    ws = Workspace.at(ROOT)
    cfg = ServeConfig(
        host="127.0.0.1",
        proxy_header="X-Forwarded-User",
        trusted_proxies=("10.9.8.7",),
        warm=False,
    )
    app = create_app(ws, config=cfg)
    # The test client's peer address is "testclient": not the proxy.
    untrusted = TestClient(app, base_url="http://127.0.0.1:8765")
    response = untrusted.get("/", headers={"X-Forwarded-User": "alice"}, follow_redirects=False)
    assert response.status_code == 303
    trusted = TestClient(app, base_url="http://127.0.0.1:8765", client=("10.9.8.7", 50000))
    page = trusted.get("/", headers={"X-Forwarded-User": "carol"})
    assert page.status_code == 200 and "Signed in as carol" in page.text
    assert "Sign out" not in page.text  # the single sign-on signs people out
    # A header that is not a plain user name is ignored.
    bad = trusted.get("/", headers={"X-Forwarded-User": "<script>"}, follow_redirects=False)
    assert bad.status_code == 303


def test_a_loopback_server_given_another_name_asks_for_sign_in():
    """--allowed-host on a loopback bind means a reverse proxy forwards the
    clinic network to it: sign-in is on."""
    ws = Workspace.at(ROOT)
    auth.add_user(ws, "alice", PASSWORD)
    cfg = ServeConfig(host="127.0.0.1", allowed_hosts=(LAN,), warm=False)
    client = TestClient(create_app(ws, config=cfg), base_url=f"https://{LAN}")
    assert client.get("/", follow_redirects=False).status_code == 303
    # Throttling counts the address the proxy (on loopback here) forwarded for.
    proxied = TestClient(client.app, base_url=f"https://{LAN}", client=("127.0.0.1", 40000))
    for _ in range(5):
        page = proxied.get("/login")
        proxied.post(
            "/login",
            data={"username": "alice", "password": "wrong password!", "next": "/",
                  "csrf_token": token_from(page.text)},
            headers={"x-forwarded-for": "10.1.1.1"},
        )  # fmt: skip
    page = proxied.get("/login")
    other = proxied.post(
        "/login",
        data={"username": "alice", "password": "wrong password!", "next": "/",
              "csrf_token": token_from(page.text)},
        headers={"x-forwarded-for": "10.1.1.2"},
    )  # fmt: skip
    assert other.status_code == 401  # checked: another address is not locked out
    page = proxied.get("/login")
    same = proxied.post(
        "/login",
        data={"username": "alice", "password": "wrong password!", "next": "/",
              "csrf_token": token_from(page.text)},
        headers={"x-forwarded-for": "10.1.1.1"},
    )  # fmt: skip
    assert same.status_code == 429  # the address that failed five times is


def test_serve_with_an_allowed_host_needs_users_first(run):
    result = run("serve", "--allowed-host", LAN, "--port", "1")
    assert result.exit_code == 1
    assert f"--allowed-host {LAN} lets other machines reach this page" in result.stderr


def test_a_loopback_server_needs_no_sign_in():
    client = local_client()
    page = client.get("/")
    assert page.status_code == 200 and "Sign out" not in page.text


# -- the clinic network ---------------------------------------------------------------------


def test_lan_names_are_served_and_foreign_names_refused():
    client = lan_client()
    sign_in(client)
    machine = socket.gethostname().lower()
    for host in (f"{LAN}:8765", LAN, f"{machine}:8765", "localhost:8765"):
        assert client.get("/", headers={"host": host}).status_code == 200, host
    for host in ("evil.example", f"{LAN}.evil.example:8765", "10.0.0.1.evil.example"):
        response = client.get("/", headers={"host": host})
        assert response.status_code == 400, host
        assert "--allowed-host" in response.text


def test_a_wildcard_bind_answers_to_the_machines_own_names_and_addresses():
    names = allowed_host_names("0.0.0.0", ("Handouts.Clinic.Example",))
    assert {"localhost", "127.0.0.1", socket.gethostname().lower(), LAN} <= names
    import psutil

    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET:
                assert a.address in names
    # Bound to one address: that address and --allowed-host, not loopback names.
    one = allowed_host_names("192.0.2.10")
    assert one == {"192.0.2.10"}


# -- request hygiene ---------------------------------------------------------------------------


def test_a_large_body_is_refused_before_it_is_parsed():
    client = local_client()
    big = form_fields(client, note="x" * (1024 * 1024 + 10))
    response = client.post("/render", data=big)
    assert response.status_code == 413
    assert "more than 1024 KB" in response.text
    assert "content-security-policy" in response.headers

    # Without a Content-Length (chunked), the cap still holds.
    def chunks():
        for _ in range(40):
            yield b"note=" + b"y" * 65536

    response = client.post(
        "/render", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    # A body just under the cap is read as usual (and refused for its token).
    small = client.post("/render", data={"note": "x" * 1000, "document": "fusion-alternatives"})
    assert small.status_code == 403


def test_every_render_endpoint_needs_the_token_and_the_same_origin():
    client = local_client()
    fields = form_fields(client)
    good = fields["csrf_token"]
    for path in ("/render", "/preview"):
        assert client.post(path, data={**fields, "csrf_token": ""}).status_code == 403
        assert client.post(path, data={**fields, "csrf_token": "0" * 64}).status_code == 403
        cross = client.post(path, data=fields, headers={"origin": "https://evil.example"})
        assert cross.status_code == 403, path
        site = client.post(path, data=fields, headers={"sec-fetch-site": "cross-site"})
        assert site.status_code == 403, path
    # The designer's pages render too: a token in a header, from the design page.
    pages = "/design/nonsurgical-options/pages"
    assert client.get(pages).status_code == 403
    assert client.get(pages, headers={"x-handoutgen-token": "0" * 64}).status_code == 403
    design = client.get("/design/nonsurgical-options")
    token = re.search(r'data-token="([^"]+)"', design.text).group(1)
    assert client.get(pages, headers={"x-handoutgen-token": token}).status_code == 200
    cross = client.get(pages, headers={"x-handoutgen-token": token, "sec-fetch-site": "cross-site"})
    assert cross.status_code == 403
    # Sign-in and sign-out are checked the same way.
    lan = lan_client()
    assert lan.post("/login", data={"username": "alice", "password": PASSWORD}).status_code == 403
    sign_in(lan)
    assert lan.post("/logout", data={"csrf_token": "0" * 64}).status_code == 403
    assert lan.get("/").status_code == 200  # still signed in
    assert good  # the good token was accepted above by /design's sibling endpoints


def test_designer_refresh_is_rate_limited():
    client = local_client()
    hg = client.app.state.hg
    hg.version_limit = _Bucket(rate=0.001, burst=3)
    codes = [client.get("/api/version").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    limited = client.get("/api/version")
    assert int(limited.headers["retry-after"]) >= 1
    hg.pages_limit = _Bucket(rate=0.001, burst=1)
    design = client.get("/design/nonsurgical-options")
    headers = {"x-handoutgen-token": re.search(r'data-token="([^"]+)"', design.text).group(1)}
    assert client.get("/design/nonsurgical-options/pages", headers=headers).status_code == 200
    again = client.get("/design/nonsurgical-options/pages", headers=headers)
    assert again.status_code == 429 and "<img" not in again.text


def test_security_headers_on_every_response_including_errors(monkeypatch):
    client = local_client()
    responses = {
        "ok": client.get("/"),
        "static": client.get("/static/app.js"),
        "not found": client.get("/documents/nope"),
        "no route": client.get("/no/such/page"),
        "foreign host": client.get("/", headers={"host": "evil.example"}),
        "too large": client.post("/render", content=b"x" * (2 << 20)),
        "csrf": client.post("/render", data={"document": "fusion-alternatives"}),
    }
    from handoutgen.web import app as web

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(web, "_chrome", boom)
    crash = TestClient(client.app, base_url="http://127.0.0.1:8765", raise_server_exceptions=False)
    responses["crash"] = crash.get("/")
    assert responses["crash"].status_code == 500
    assert "a bug" not in responses["crash"].text
    for name, r in responses.items():
        csp = r.headers.get("content-security-policy", "")
        script_src = re.search(r"script-src ([^;]+)", csp).group(1)
        assert script_src.strip() == "'self'", name
        assert "unsafe-inline" not in csp, name
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.headers["x-frame-options"] == "DENY", name
        assert r.headers["cache-control"] == "no-store", name
        assert r.headers["referrer-policy"] == "no-referrer", name


def test_no_page_has_inline_script_or_style():
    client = local_client()
    pages = [
        client.get("/").text,
        client.get("/documents/fusion-alternatives").text,
        client.get("/design/fusion-alternatives").text,
        lan_client().get("/login").text,
    ]
    for text in pages:
        assert re.findall(r"<script(?![^>]*\bsrc=)", text) == []
        assert " style=" not in text and "<style" not in text
        assert re.search(r"<[^>]+\son[a-z]+=", text) is None  # no onclick= handlers


# -- many clinicians at once -------------------------------------------------------------------


def test_a_full_queue_answers_busy_with_retry_after():
    client = local_client(workers=0, queue=0)  # room for exactly one render
    pool = client.app.state.hg.pool
    fields = form_fields(client)
    assert pool.try_acquire()  # someone else's render is running
    try:
        response = client.post("/render", data=fields)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
        assert "Busy, try again in a moment" in response.text
        assert "content-security-policy" in response.headers
    finally:
        pool.release()
    assert client.post("/render", data=fields).status_code == 200


def test_edition_builds_wait_for_an_idle_worker_and_never_take_a_place():
    import threading

    from handoutgen.web.pool import RenderPool

    pool = RenderPool(workers=0, queue=0)  # one place
    ran = threading.Event()
    try:
        assert pool.try_acquire()  # a clinician's render is running
        assert pool.background("edition-a", ran.set)
        assert not pool.background("edition-a", ran.set)  # not twice
        assert not ran.wait(0.3)  # it waits...
        pool.release()
        assert ran.wait(10)  # ...and runs once the worker is free
        deadline = time.monotonic() + 10
        while pool.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.in_flight == 0
    finally:
        pool.close()


def test_renders_run_in_worker_processes(tmp_path):
    """One real process pool: the PDF comes back whole and correct."""
    client = local_client(workers=1, queue=2)
    try:
        response = client.post("/render", data=form_fields(client, note="Walk every day."))
        assert response.status_code == 200, response.text[:500]
        text = " ".join(pages_text(response.content))
        assert f"Prepared for {SECRET_PATIENT}" in text and "Walk every day." in text
        pids = {p.pid for p in client.app.state.hg.pool.processes()}
        assert pids and os.getpid() not in pids
    finally:
        client.app.state.hg.pool.close()


def test_a_worker_that_dies_is_replaced():
    """A worker killed mid-shift (out of memory, say): the next clinician gets
    at worst a 'busy, try again' page, and the one after a PDF."""
    import signal

    client = local_client(workers=1, queue=2)
    try:
        fields = form_fields(client)
        assert client.post("/render", data=fields).status_code == 200
        for proc in client.app.state.hg.pool.processes():
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(timeout=10)
        after = client.post("/render", data=fields)
        assert after.status_code in (200, 503)
        if after.status_code == 503:
            assert "try again" in after.text and int(after.headers["retry-after"]) > 0
        again = client.post("/render", data=fields)
        assert again.status_code == 200 and again.content.startswith(b"%PDF")
    finally:
        client.app.state.hg.pool.close()


def test_options_follow_the_documents_order_whatever_the_form_sends(library):
    doc = library.documents["fusion-alternatives"]
    shuffled = sorted(doc.options, reverse=True)
    assert ordered_options(library, doc.id, shuffled) == list(doc.options)
    extra = [o for o in library.options if o not in doc.options][:1]
    assert ordered_options(library, doc.id, extra + shuffled) == list(doc.options) + extra


def test_the_warm_up_builds_the_edition_the_form_asks_for(library):
    """The form's first submission (defaults ticked, today's date, the clinic
    the user's form remembers) shares an edition the server builds at start-up."""
    from handoutgen.editions import vdp
    from handoutgen.pipeline import make_request

    client = lan_client()
    sign_in(client)
    ws = client.app.state.hg.workspace
    auth.remember(ws, "alice", "Dr. Alice Able", "riverside")
    page = client.get("/documents/fusion-alternatives").text
    ticked = re.findall(r'name="option" value="([^"]+)" checked', page)
    today = re.search(r'id="visit_date" name="visit_date" value="([^"]*)"', page).group(1)
    clinic = re.search(r'<option value="([^"]+)" selected>Riverside', page).group(1)
    assert today == clock.today().isoformat() and clinic == "riverside"
    warm = warm_requests(library, auth.clinics(ws))
    keys = {vdp.split(library, make_request(**j)).key for j in warm}
    for note in ("A different note.", None):
        sent = {
            "document": "fusion-alternatives",
            # The old form sent them alphabetically: the server puts them in order.
            "options": ordered_options(library, "fusion-alternatives", sorted(ticked)),
            "patient": "Another Patient",
            "visit_date": today,
            "clinician": "Dr. Someone Else",
            "clinic": clinic,
            "note": note,
            "page_size": re.search(
                r'id="page_size".*?<option value="(\w+)" selected', page, re.S
            ).group(1),
            "large_print": False,
        }
        assert vdp.split(library, make_request(**sent)).key in keys, note
    unordered = {**sent, "options": sorted(ticked, reverse=True)}
    assert vdp.split(library, make_request(**unordered)).key not in keys  # why order matters


# -- audit -------------------------------------------------------------------------------------


def test_the_audit_log_records_who_made_what_without_patient_data(run):
    client = lan_client()
    sign_in(client)
    assert client.post("/render", data=form_fields(client)).status_code == 200
    assert client.post("/preview", data=form_fields(client)).status_code == 200
    ws = client.app.state.hg.workspace
    library = client.app.state.hg.library()
    entries = read(ws)
    assert [(e.user, e.action, e.document) for e in entries] == [
        ("alice", "pdf", "fusion-alternatives"),
        ("alice", "preview", "fusion-alternatives"),
    ]
    first = entries[0]
    assert first.options == "fusion,conservative-care"
    assert first.content_hash == library.content_hash and first.language == "en"
    assert first.page_size == "letter" and first.pages >= 2
    # No personal field exists in the log, and no personal text is in its file.
    assert not {"patient", "note", "name", "clinician", "clinic"} & set(COLUMNS)
    raw = b"".join(p.read_bytes() for p in private.folder(ws).glob("audit*"))
    for secret in (SECRET_PATIENT, SECRET_NOTE, "Zebulon"):
        assert secret.encode() not in raw
    assert stat.S_IMODE(os.stat(private.folder(ws) / "audit.sqlite3").st_mode) == 0o600
    # Append-only.
    con = sqlite3.connect(private.folder(ws) / "audit.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM renders")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE renders SET user = 'x'")
    con.close()
    # The CLI prints it.
    out = run("audit", "--since", dt.date.today().isoformat())
    assert out.exit_code == 0
    assert "alice" in out.stdout and "fusion-alternatives" in out.stdout
    assert library.content_hash[:12] in out.stdout and SECRET_PATIENT not in out.stdout
    later = run("audit", "--since", (dt.date.today() + dt.timedelta(days=2)).isoformat())
    assert later.exit_code == 0 and later.stdout == ""
    bad = run("audit", "--since", "March")
    assert bad.exit_code == 2
    assert "Invalid value for '--since': 'March' does not match the format '%Y-%m-%d'" in bad.stderr


def test_no_handout_without_its_audit_row(monkeypatch):
    client = local_client()
    fields = form_fields(client)

    def broken(**row):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(client.app.state.hg.audit, "add", broken)
    response = client.post("/render", data=fields)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Nothing was handed out" in response.text


# -- the form ----------------------------------------------------------------------------------


def test_the_form_offers_print_skip_link_labels_and_todays_date():
    client = local_client()
    page = client.get("/documents/fusion-alternatives").text
    assert 'class="skip" href="#patient"' in page
    assert 'id="print"' in page and ">Print</button>" in page
    assert f'name="visit_date" value="{clock.today().isoformat()}"' in page
    # Every control has a label: by for=, or by wrapping it.
    for control in re.findall(r'<(?:input|textarea|select)[^>]*\bid="([^"]+)"', page):
        assert f'for="{control}"' in page, control
    for wrapped in re.findall(r'<label class="check"><input', page):
        assert wrapped
    # The name field comes first, then the note, then the Print button.
    order = [page.index(s) for s in ('id="patient"', 'id="note"', 'id="print"', 'name="option"')]
    assert order == sorted(order)


def test_print_opens_the_pdf_inline_and_downloads_are_dated():
    client = local_client()
    fields = form_fields(client)
    printed = client.post("/render", data={**fields, "inline": "1"})
    assert printed.status_code == 200 and printed.headers["content-type"] == "application/pdf"
    name = re.fullmatch(
        r'inline; filename="(fusion-alternatives-\d{8}-\d{4}\.pdf)"',
        printed.headers["content-disposition"],
    )
    assert name
    stamp = dt.datetime.strptime(name.group(1)[-17:-4], "%Y%m%d-%H%M")
    assert abs((stamp - dt.datetime.now()).total_seconds()) < 3600
    downloaded = client.post("/render", data=fields)
    assert downloaded.headers["content-disposition"].startswith('attachment; filename="fusion-')
    assert "Zebulon" not in downloaded.headers["content-disposition"]


def test_clinician_and_clinic_are_remembered_per_user_never_the_patient():
    client = lan_client()
    sign_in(client)
    fields = form_fields(client, clinician="Dr. Alice Able", clinic="riverside")
    assert client.post("/render", data=fields).status_code == 200
    again = client.get("/documents/fusion-alternatives").text
    assert 'value="Dr. Alice Able"' in again and '<option value="riverside" selected>' in again
    assert SECRET_PATIENT not in again and SECRET_NOTE not in again
    other = lan_client()
    sign_in(other, "bob")
    theirs = other.get("/documents/fusion-alternatives").text
    assert "Dr. Alice Able" not in theirs
    settings = private.settings_path(client.app.state.hg.workspace)
    assert SECRET_PATIENT.encode() not in settings.read_bytes()
    assert SECRET_NOTE.encode() not in settings.read_bytes()


# -- a broken workspace ------------------------------------------------------------------------


BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title: [unclosed\n", "handouts/options/fusion.yaml:"),
        (BOMB, "aliases expand to more than 100,000 values"),
        ("a: &a [1, *a]\n", "handouts/options/fusion.yaml:1:"),
    ],
    ids=["syntax", "yaml-bomb", "recursive-alias"],
)
def test_a_broken_workspace_is_reported_and_the_server_keeps_serving(tmp_ws, text, expected):
    cfg = ServeConfig(warm=False)
    client = TestClient(
        create_app(Workspace.at(tmp_ws), config=cfg), base_url="http://127.0.0.1:8765"
    )
    assert client.get("/").status_code == 200
    target = tmp_ws / "handouts" / "options" / "fusion.yaml"
    good = target.read_text()
    target.write_text(text)
    for path in ("/", "/documents/fusion-alternatives"):
        page = client.get(path)
        assert page.status_code == 503
        assert "The content has errors" in page.text and expected in page.text
    target.write_text(good)
    assert client.get("/documents/fusion-alternatives").status_code == 200


# -- the CLI -----------------------------------------------------------------------------------


def test_users_add_list_passwd_remove(run, tmp_path):
    from click.testing import CliRunner

    from handoutgen.cli import cli

    def invoke(*args, stdin=None):
        return CliRunner().invoke(cli, ["--workspace", str(ROOT), *args], input=stdin)

    assert (
        invoke("users", "add", "dr.lee", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 0
    )
    ws = Workspace.at(ROOT)
    path = private.settings_path(ws)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert "$argon2id$" in text and PASSWORD not in text
    assert invoke("users", "list").stdout.split("\t")[0] == "dr.lee"
    dup = invoke("users", "add", "dr.lee", "--password-stdin", stdin=PASSWORD + "\n")
    assert dup.exit_code == 1 and "already exists" in dup.output
    short = invoke("users", "add", "nurse", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad = invoke("users", "add", "../etc", "--password-stdin", stdin=PASSWORD + "\n")
    assert bad.exit_code == 1 and "user name" in bad.output
    new = "a brand new password"
    assert invoke("users", "passwd", "dr.lee", "--password-stdin", stdin=new + "\n").exit_code == 0
    assert auth.verify(ws, "dr.lee", new) and not auth.verify(ws, "dr.lee", PASSWORD)
    # Typed twice at a prompt when not piped.
    prompted = invoke("users", "add", "nurse.kim", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0 and auth.verify(ws, "nurse.kim", PASSWORD)
    assert invoke("users", "remove", "dr.lee").exit_code == 0
    assert invoke("users", "list").stdout.startswith("nurse.kim")
    gone = invoke("users", "remove", "dr.lee")
    assert gone.exit_code == 1 and "no user 'dr.lee'" in gone.output


def test_serve_on_a_busy_port_says_so(run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: port {port} is in use; pick another with --port"
    )
    assert "Serving" not in result.stderr


def test_serve_beyond_loopback_needs_users_first(run):
    result = run("serve", "--host", "0.0.0.0", "--port", "1")
    assert result.exit_code == 1
    assert "add a user first with 'handoutgen users add NAME'" in result.stderr


def test_serve_checks_its_tls_and_proxy_options(run, tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    key.chmod(0o600)  # a key others may read is refused before it is read
    result = run("serve", "--keyfile", str(key))
    assert result.exit_code == 1 and "--keyfile needs --certfile" in result.stderr
    result = run("serve", "--certfile", str(key), "--keyfile", str(key), "--port", "1")
    assert result.exit_code == 1 and "cannot use the certificate" in result.stderr
    result = run("serve", "--trusted-proxy-header", "X-Forwarded-User", "--trusted-proxy", "proxy!")
    assert result.exit_code == 1 and "is not an address or network" in result.stderr


def test_https_with_a_certificate_and_secure_cookies(tmp_path):
    """A real server on loopback with --certfile/--keyfile, bound to every
    address (so sign-in is on): the page comes over TLS and the session
    cookie is marked Secure."""
    import shutil
    import subprocess
    import sys

    import httpx

    # openssl is Debian's (scripts/setup.sh installs it): a throwaway self-signed pair.
    assert shutil.which("openssl"), "scripts/setup.sh installs openssl"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {**os.environ, "HANDOUTGEN_CACHE_DIR": str(tmp_path / "cache")}
    auth.add_user(Workspace.at(ROOT), "alice", PASSWORD)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "handoutgen.cli", "--workspace", str(ROOT), "serve",
         "--host", "0.0.0.0", "--port", str(port), "--workers", "1",
         "--certfile", str(cert), "--keyfile", str(key)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.2)
        with httpx.Client(
            base_url=f"https://127.0.0.1:{port}",
            verify=ssl.create_default_context(cafile=str(cert)),
            timeout=60,
        ) as c:
            page = c.get("/login")
            assert page.status_code == 200 and "Sign in" in page.text
            assert "Secure" in page.headers["set-cookie"]  # the CSRF cookie
            response = c.post(
                "/login",
                data={"username": "alice", "password": PASSWORD, "next": "/",
                      "csrf_token": token_from(page.text)},
                follow_redirects=False,
            )  # fmt: skip
            assert response.status_code == 303
            session = response.headers["set-cookie"]
            assert "Secure" in session and "HttpOnly" in session and "SameSite=Strict" in session
            assert c.get("/").status_code == 200
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            with pytest.raises(httpx.HTTPError):  # no plain HTTP on a TLS port
                http.get("/login")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"at https://0.0.0.0:{port}/".encode() in err
