"""The clinic server hardened (issue 25), through real `serve` processes on
loopback: hostile templates, credentials in the log, slow and greedy clients,
stuck workers, TLS, form errors and server paths."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT
from handoutgen.content.workspace import Workspace
from handoutgen.web import auth

PASSWORD = "correct horse battery"
SESSION_KEY = "k" * 20 + "SESSION-KEY-SECRET" + "k" * 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`handoutgen serve` in its own process; its log is read from a file."""

    def __init__(self, workspace: Path, tmp: Path, *args: str, env: dict | None = None):
        self.port = _free_port()
        self.log_path = tmp / f"serve-{self.port}.log"
        self.env = {
            **os.environ,
            "HANDOUTGEN_CACHE_DIR": str(tmp / "cache"),
            "PYTHONPATH": os.pathsep.join(sys.path),
            **(env or {}),
        }
        self.args = ["--port", str(self.port), "--workers", "1", *args]
        self.workspace = workspace
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "handoutgen.cli", "--workspace", str(self.workspace), "serve",
             *self.args],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self.log,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                assert self.proc.poll() is None, self.text()
                time.sleep(0.2)
        raise AssertionError("the server did not start: " + self.text())

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=90)


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _form(c: httpx.Client, document: str = "nonsurgical-options", **extra) -> dict:
    page = c.get(f"/documents/{document}")
    assert page.status_code == 200, page.text
    return {
        "document": document,
        "option": re.findall(r'name="option" value="([^"]+)" checked', page.text)
        or ["conservative-care"],
        "patient": "Pat Doe",
        "csrf_token": _token(page.text),
        **extra,
    }


def _use_template(ws: Path, body: str) -> None:
    (ws / "templates" / "evil.html").write_text(
        '{% extends "handout.html" %}\n{% block before_table %}\n' + body + "\n{% endblock %}\n"
    )
    path = ws / "handouts" / "nonsurgical-options.yaml"
    path.write_text(path.read_text().replace("template: handout.html", "template: evil.html"))


# -- 1. templates see content only ----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["{{ asset('.handoutgen/settings.json') }}", '<img src=".handoutgen/settings.json" alt="">'],
    ids=["asset", "img"],
)
def test_the_sign_in_key_never_reaches_a_served_handout(tmp_ws, tmp_path, monkeypatch, body):
    monkeypatch.delenv("HANDOUTGEN_PRIVATE_DIR", raising=False)
    private = tmp_ws / ".handoutgen"
    private.mkdir(mode=0o700)
    (private / "settings.json").write_text(json.dumps({"session_key": SESSION_KEY}))
    _use_template(tmp_ws, body)
    env = {"HANDOUTGEN_PRIVATE_DIR": ""}
    with Server(tmp_ws, tmp_path, env=env) as server, server.client() as c:
        for path in ("/render", "/preview"):
            response = c.post(path, data=_form(c))
            assert response.status_code == 422, response.text[:300]
            assert "templates/evil.html:3" in response.text
            assert "private folder" in response.text
            for secret in (SESSION_KEY, base64.b64encode(SESSION_KEY.encode()).decode()[:20]):
                assert secret not in response.text
            assert str(tmp_ws) not in response.text  # no absolute server path


# -- 2. credentials never reach the log ----------------------------------------------------


def test_a_password_typed_as_the_user_name_is_not_logged(tmp_path, monkeypatch):
    private = tmp_path / "private"
    env = {"HANDOUTGEN_PRIVATE_DIR": str(private)}
    # monkeypatch, not del: the session's own private folder must come back.
    with monkeypatch.context() as patch:
        patch.setenv("HANDOUTGEN_PRIVATE_DIR", str(private))
        auth.add_user(Workspace.at(ROOT), "alice", PASSWORD)
    typed = "Tr0ub4dor&3-my-real-password"
    with Server(ROOT, tmp_path, "--allowed-host", "localhost", env=env) as server:
        with server.client() as c:
            page = c.get("/login")
            for name, password in ((typed, "whatever"), ("alice", typed)):
                response = c.post(
                    "/login",
                    data={"username": name, "password": password, "next": "/",
                          "csrf_token": _token(page.text)},
                )  # fmt: skip
                assert response.status_code == 401
                assert typed not in response.text.replace(f'value="{typed}"', "")
        time.sleep(0.5)
        log = server.text()
    assert "failed sign-in from 127.0.0.1" in log, log
    assert typed not in log and "alice" not in log and "whatever" not in log


# -- 4. hostile templates ------------------------------------------------------------------


def test_a_template_that_loops_for_ever_fails_fast_in_serve(tmp_ws, tmp_path):
    _use_template(
        tmp_ws,
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    )
    env = {"HANDOUTGEN_TEMPLATE_SECONDS": "2"}
    with Server(tmp_ws, tmp_path, env=env) as server, server.client() as c:
        start = time.monotonic()
        response = c.post("/render", data=_form(c))
        assert time.monotonic() - start < 30
        assert response.status_code == 422
        assert "the template ran too long at templates/evil.html:3" in response.text


def test_a_stuck_render_is_stopped_and_the_server_goes_on(tmp_ws, tmp_path):
    """A render over HANDOUTGEN_RENDER_TIMEOUT: its worker is stopped, the
    client hears 'too long', and the next render works in a fresh worker.
    (Only one patient's handout hangs, so the start-up warm-up does not.)"""
    _use_template(
        tmp_ws,
        "{% if person.patient == 'Stuck' %}"
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
        "{% endif %}",
    )
    env = {"HANDOUTGEN_TEMPLATE_SECONDS": "600", "HANDOUTGEN_RENDER_TIMEOUT": "20"}
    with Server(tmp_ws, tmp_path, env=env) as server, server.client() as c:
        start = time.monotonic()
        response = c.post("/render", data=_form(c, patient="Stuck"))
        assert 19 < time.monotonic() - start < 60
        assert response.status_code == 503, response.text
        assert "taking too long" in response.text
        ok = c.post("/render", data=_form(c, patient="Pat Doe"))
        assert ok.status_code == 200, re.sub(r"(?s).*<pre[^>]*>|</pre>.*", "", ok.text)
        assert ok.content.startswith(b"%PDF")
        assert "a render ran over 20 seconds; stopping its worker" in server.text()


# -- 5. slow clients -----------------------------------------------------------------------


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_connection_that_never_sends_its_headers_is_closed(tmp_path):
    env = {"HANDOUTGEN_HEADER_TIMEOUT": "1"}
    with Server(ROOT, tmp_path, env=env) as server:
        silent = socket.create_connection(("127.0.0.1", server.port))
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        start = time.monotonic()
        with silent, slow:
            assert _closed_within(silent, 10) and _closed_within(slow, 10)
        assert time.monotonic() - start < 8
        with server.client() as c:  # a real client is still served
            assert c.get("/").status_code == 200


def test_one_address_may_hold_only_so_many_connections(tmp_path):
    env = {"HANDOUTGEN_MAX_CONNECTIONS": "3", "HANDOUTGEN_HEADER_TIMEOUT": "30"}
    with Server(ROOT, tmp_path, env=env) as server:
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
        time.sleep(0.5)
        with contextlib.ExitStack() as stack:
            for s in held:
                stack.enter_context(s)
            extra = stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            assert _closed_within(extra, 5)
        time.sleep(0.5)  # the held ones closed: room again
        with server.client() as c:
            assert c.get("/").status_code == 200
        assert "holds 3 connections" in server.text()


# -- 6. the small ones ---------------------------------------------------------------------


def _cert(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def test_https_sends_hsts_and_a_readable_key_is_refused(tmp_path, run):
    import ssl

    cert, key = _cert(tmp_path)
    key.chmod(0o644)
    result = run("serve", "--certfile", str(cert), "--keyfile", str(key), "--port", "1")
    assert result.exit_code == 1
    assert "may be read by every user of this machine: run `chmod 600" in result.stderr
    key.chmod(0o600)
    with Server(ROOT, tmp_path, "--certfile", str(cert), "--keyfile", str(key)) as server:
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=f"https://127.0.0.1:{server.port}", verify=context) as c:
            page = c.get("/")
            assert page.status_code == 200
            assert page.headers["strict-transport-security"].startswith("max-age=")
    with Server(ROOT, tmp_path) as server, server.client() as c:  # plain HTTP: never
        assert "strict-transport-security" not in c.get("/").headers


def test_an_over_long_name_returns_the_form_with_a_clear_error(tmp_path):
    long_name = "Zebulon " * 100  # 800 characters: over the field's 500
    with Server(ROOT, tmp_path) as server, server.client() as c:
        response = c.post("/render", data=_form(c, patient=long_name))
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("text/html")
        assert "Patient&#39;s name is too long: use at most 500 characters." in response.text
        assert "<form" in response.text and long_name not in response.text
        assert "string_too_long" not in response.text  # no raw validation JSON


def test_error_pages_show_no_absolute_server_path(tmp_ws, tmp_path):
    """The server runs away from the workspace, so paths would show whole."""
    path = tmp_ws / "handouts" / "nonsurgical-options.yaml"
    path.write_text(path.read_text().replace("template: handout.html", "template: nope.html"))
    with Server(tmp_ws, tmp_path) as server, server.client() as c:
        response = c.get("/")
        assert response.status_code == 503
        assert "template &#39;nope.html&#39; not found; looked in templates, " in response.text
        assert "(handoutgen)/templates" in response.text
        assert str(tmp_ws) not in response.text and "/src/handoutgen" not in response.text


def test_killed_workers_leave_no_temporary_folders(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    stale = tmp / "handoutgen-workers-999999-old"  # a server killed outright, long gone
    (stale / "w" / "weasyprint-abc").mkdir(parents=True)
    with Server(ROOT, tmp_path, env={"TMPDIR": str(tmp)}) as server, server.client() as c:
        assert c.post("/render", data=_form(c, "fusion-alternatives")).status_code == 200
        assert not stale.exists()
        ours = list(tmp.glob("handoutgen-workers-*"))
        assert len(ours) == 1 and str(server.proc.pid) in ours[0].name
    assert list(tmp.iterdir()) == []
