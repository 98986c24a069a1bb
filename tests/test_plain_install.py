"""A clinic's install: the wheel alone, no test extras, in a clean venv, serving
a render over real HTTP from an empty cache.

The suite's own venv has every test tool in it, so a runtime import of one
(pypdf, once, in the web pool: every full render answered 500) passes every
other test. This one builds the package, installs it without extras into a
venv that sees no other site packages (versions from constraints.txt, so pip
takes them from its cache and they are the tested ones), and renders the
brochure (always a full render) through ``handoutgen serve``.

It needs pip to reach the package index (or its cache): without it the test
fails, saying so, rather than skipping.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, pages_text


def _run(cmd: list, timeout: float, what: str, **kwargs) -> str:
    try:
        done = subprocess.run(
            [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} took over {timeout:.0f} s")
    if done.returncode != 0:
        pytest.fail(f"{what} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="session")
def plain_venv(tmp_path_factory) -> Path:
    """A venv with the built wheel installed, no extras; made once per session."""
    base = tmp_path_factory.mktemp("plain-install")
    # Build from a copy: an in-tree build would leave build/ and egg-info behind.
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    wheels = base / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--no-deps", "-q", "-w", wheels, src], 600, "pip wheel")
    (wheel,) = wheels.glob("handoutgen-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", venv], 120, "python -m venv")
    python = venv / "bin" / "python"
    _run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        + ["-c", ROOT / "constraints.txt", wheel],
        900,
        "pip install of the wheel (needs the package index or pip's cache)",
        env=_clean_env(),
    )
    return venv


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what points at the checkout or the suite's venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.mark.timeout(1200)  # the session's venv may be made in this test's set-up
def test_the_plain_venv_has_no_test_tools_and_sees_no_checkout(plain_venv):
    python = plain_venv / "bin" / "python"
    probe = (
        "import importlib.util as u, handoutgen;"
        "print(handoutgen.__file__); print(u.find_spec('pypdf') is None, u.find_spec('pytest') is None)"
    )
    where, missing = _run([python, "-c", probe], 60, "import", env=_clean_env()).splitlines()
    assert str(plain_venv) in where and str(ROOT / "src") not in where
    assert missing == "True True"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(1200)  # the session's venv is made in this test's set-up
def test_a_plain_install_serves_a_full_render_over_http(plain_venv, tmp_ws, tmp_path):
    port = _free_port()
    env = _clean_env(
        HANDOUTGEN_CACHE_DIR=str(tmp_path / "cache"),  # empty: the render is a full one
        HANDOUTGEN_PRIVATE_DIR=str(tmp_path / "private"),
    )
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [plain_venv / "bin" / "handoutgen", "--workspace", tmp_ws, "serve"]
        + ["--port", str(port), "--workers", "1"],
        env=env,
        cwd=tmp_ws,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its render workers are stopped with it
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, f"serve exited: {(tmp_path / 'serve.log').read_text()}"
                assert time.monotonic() < deadline, "serve did not listen within 120 s"
                time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        form = opener.open(f"{base}/documents/spine-brochure", timeout=60).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        options = re.findall(r'name="option" value="([^"]+)" checked', form)
        assert options, "the brochure's form ticks its options"
        body = urllib.parse.urlencode(
            {"document": "spine-brochure", "option": options, "csrf_token": token}, doseq=True
        ).encode()
        try:
            response = opener.open(f"{base}/render", data=body, timeout=300)
        except urllib.error.HTTPError as exc:
            pytest.fail(
                f"POST /render answered {exc.code}; server log:\n"
                + (tmp_path / "serve.log").read_text()
            )
        assert response.status == 200
        assert response.headers["content-type"] == "application/pdf"
        pdf = response.read()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
    assert pdf.startswith(b"%PDF")
    pages = pages_text(pdf)
    assert len(pages) == 2  # the tri-fold's outside and inside
    assert "Back pain" in " ".join(pages)


@pytest.mark.timeout(1200)  # the session's venv may be made in this test's set-up
def test_a_plain_install_starts_every_kind_of_workspace(plain_venv, tmp_path):
    """The wheel carries the starter's files themselves (in the checkout they
    are links to handouts/ and docs/): each kind's workspace is complete."""
    env = _clean_env(
        HANDOUTGEN_CACHE_DIR=str(tmp_path / "cache"),
        HANDOUTGEN_PRIVATE_DIR=str(tmp_path / "private"),
    )
    handoutgen = plain_venv / "bin" / "handoutgen"
    for kind in ("handout", "brochure", "booklet", "letter", "grid"):
        ws = tmp_path / kind
        _run([handoutgen, "init", "--kind", kind, ws], 120, f"init --kind {kind}", env=env)
        for path in ws.rglob("*"):
            assert not path.is_symlink(), path
        assert (ws / "docs" / "templates.md").read_text() == (
            ROOT / "docs" / "templates.md"
        ).read_text()
        assert (ws / "mailing" / "recipients.csv").is_file() == (kind in ("letter", "grid"))
        # Exit 0: no content errors (the tests of init --kind read the summary).
        _run([handoutgen, "--workspace", ws, "check"], 300, f"check ({kind})", env=env)
