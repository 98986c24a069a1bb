"""`handoutgen preview DOC --serve`: serve's self-reloading designer page on its
own, as a real process on loopback, that follows an edit to the content."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest


def _start(tmp_ws, tmp_path, *args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "HANDOUTGEN_CACHE_DIR": str(tmp_path / "cache"),
        "HANDOUTGEN_PRIVATE_DIR": str(tmp_path / "private"),
    }
    cmd = [sys.executable, "-m", "handoutgen.cli", "--workspace", str(tmp_ws), "preview", *args]
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its render worker is stopped with it
    )


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _printed_url(proc: subprocess.Popen, timeout: float = 90) -> str:
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        found = re.search(r"http://127\.0\.0\.1:\d+/\S*", line)
        if found:
            return found.group(0)
    raise AssertionError(f"no address printed; got {lines}")


@pytest.mark.timeout(300)
def test_preview_serve_prints_a_loopback_address_and_the_page_follows_an_edit(tmp_ws, tmp_path):
    proc = _start(tmp_ws, tmp_path, "neck-surgery", "--serve", "--port", "0")
    try:
        url = _printed_url(proc)
        port = int(url.split(":")[2].split("/")[0])
        assert url == f"http://127.0.0.1:{port}/design/neck-surgery"
        # Listening on loopback only: no other machine can reach it.
        server = psutil.Process(proc.pid)
        connections = getattr(server, "net_connections", server.connections)  # psutil < 6
        listening = [c.laddr for c in connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert listening and {a.ip for a in listening} == {"127.0.0.1"}
        assert {a.port for a in listening} == {port}

        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = opener.open(url, timeout=60).read().decode()
        assert "Live preview: neck-surgery" in page
        token = re.search(r'data-token="([^"]+)"', page).group(1)
        base = url.rsplit("/design/", 1)[0]

        def pages() -> str:
            request = urllib.request.Request(url + "/pages", headers={"X-Handoutgen-Token": token})
            return opener.open(request, timeout=120).read().decode()

        def version() -> str:
            return json.loads(opener.open(base + "/api/version", timeout=30).read())["version"]

        before, seen = pages(), version()
        assert before.count('<img src="data:image/png;base64,') >= 2
        doc = tmp_ws / "handouts" / "neck-surgery.yaml"
        time.sleep(0.05)  # a new modification time even on a coarse clock
        doc.write_text(
            doc.read_text().replace(
                "title: Surgery for a worn disc in the neck",
                "title: Surgery for a worn disc in the neck, made much longer to wrap",
            )
        )
        # The version the page polls changes, and the pages it then fetches are new.
        assert version() != seen
        after = pages()
        assert after.count('<img src="data:image/png;base64,') >= 2
        assert after != before
    finally:
        _stop(proc)


def test_preview_serve_refuses_png_options_and_a_missing_document(run, tmp_ws):
    result = run("preview", "neck-surgery", "--serve", "-o", "out", workspace=tmp_ws)
    assert result.exit_code == 2
    assert "--serve shows the document as it is" in result.stderr
    assert "leave out -o" in result.stderr
    result = run("preview", "neck-surgery", workspace=tmp_ws)
    assert result.exit_code == 2
    assert "give -o DIR for the PNG pages, or --serve for a browser page" in result.stderr
    result = run("preview", "neck-surgry", "--serve", workspace=tmp_ws)
    assert result.exit_code == 1
    assert "no document 'neck-surgry' in handouts; the documents are:" in result.stderr
    assert not (tmp_ws / "out").exists()
