"""End to end in a real headless Chromium (Debian's, driven by Playwright):
open the page, fill the form, preview, download the PDF and read it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from conftest import ROOT, pages_text

CHROMIUM = os.environ.get("HANDOUTGEN_CHROMIUM", "/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {**os.environ, "HANDOUTGEN_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "handoutgen.cli",
            "--workspace",
            str(ROOT),
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()) from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    # Nothing personal reaches the server's own output either.
    assert b"Quinn Example" not in err


def test_fill_preview_download_in_chromium(server, tmp_path):
    assert Path(CHROMIUM).exists(), "scripts/setup.sh installs Debian's chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(server + "/")
            page.click("text=Spinal fusion and other choices for back pain")
            page.wait_for_selector("form.handout")
            # Untick the defaults, then tick two options.
            for box in page.query_selector_all('input[name="option"]:checked'):
                box.uncheck()
            page.check('input[value="fusion"]')
            page.check('input[value="conservative-care"]')
            page.fill("#patient", "Quinn Example")
            page.fill("#visit_date", "2026-11-20")
            page.fill("#clinician", "Dr. Ana Ruiz")
            page.fill("#note", "Walk every day.\nCall us if the pain spreads.")
            page.click("text=Preview")
            page.wait_for_selector('section.pages img[alt^="Page 1 of"]', timeout=60_000)
            assert page.input_value("#patient") == "Quinn Example"  # the form is kept
            assert len(page.query_selector_all("section.pages img")) >= 2
            with page.expect_download(timeout=60_000) as info:
                page.click("text=Download PDF")
            download = info.value
            assert download.suggested_filename == "fusion-alternatives.pdf"
            target = tmp_path / "handout.pdf"
            download.save_as(target)
        finally:
            browser.close()
    text = " ".join(pages_text(target.read_bytes()))
    assert "Prepared for Quinn Example" in text
    assert "Walk every day." in text and "Call us if the pain spreads." in text
    assert "Spinal fusion" in text and "Decompression surgery" not in text
