"""End to end in a real headless Chromium (Debian's, driven by Playwright):
open the page, fill the form, preview, download the PDF and read it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from conftest import ROOT, pages_text
from handoutgen.core import clock

CHROMIUM = os.environ.get("HANDOUTGEN_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery"
DOWNLOAD_NAME = re.compile(r"fusion-alternatives-\d{8}-\d{4}\.pdf")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp_path, *args: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "HANDOUTGEN_CACHE_DIR": str(tmp_path / "cache"),
        "HANDOUTGEN_PRIVATE_DIR": str(tmp_path / "private"),
    }
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
            "--workers",
            "1",
            *args,
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
    return proc, port


def stop_server(proc: subprocess.Popen) -> bytes:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        import signal

        proc.send_signal(signal.SIGABRT)  # with PYTHONFAULTHANDLER=1: where it hung
        _, err = proc.communicate(timeout=30)
        raise AssertionError(err.decode()[-6000:]) from None
    # Nothing personal reaches the server's own output either.
    assert b"Quinn Example" not in err
    return err


@pytest.fixture
def server(tmp_path):
    proc, port = start_server(tmp_path)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture
def clinic_server(tmp_path):
    """Bound to every address (so sign-in is required), reached over loopback."""
    env = {**os.environ, "HANDOUTGEN_PRIVATE_DIR": str(tmp_path / "private")}
    subprocess.run(
        [sys.executable, "-m", "handoutgen.cli", "--workspace", str(ROOT), "users", "add",
         "dr.ruiz", "--password-stdin"],
        input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True,
    )  # fmt: skip
    proc, port = start_server(tmp_path, "--host", "0.0.0.0")
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


def launch(p):  # noqa: ANN001, ANN201
    assert Path(CHROMIUM).exists(), "scripts/setup.sh installs Debian's chromium"
    return p.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    )


def test_fill_preview_download_in_chromium(server, tmp_path):
    with sync_playwright() as p:
        browser = launch(p)
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
            assert DOWNLOAD_NAME.fullmatch(download.suggested_filename)
            target = tmp_path / "handout.pdf"
            download.save_as(target)
        finally:
            browser.close()
    text = " ".join(pages_text(target.read_bytes()))
    assert "Prepared for Quinn Example" in text
    assert "Walk every day." in text and "Call us if the pain spreads." in text
    assert "Spinal fusion" in text and "Decompression surgery" not in text


def test_sign_in_phone_layout_and_keyboard_print_in_chromium(clinic_server, tmp_path):
    """A clinician on the clinic network: signs in, and at phone width (390 px)
    fills the form and prints with the keyboard alone."""
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            # Headless Chromium has no print dialog: record what would be printed.
            page.add_init_script("window.handoutgenPrint = (f) => { window.printed = f.src; };")
            page.goto(clinic_server + "/documents/fusion-alternatives")
            assert "/login" in page.url  # sign-in first, even over loopback
            page.fill("#username", "dr.ruiz")
            page.fill("#password", "wrong password!")
            page.keyboard.press("Enter")
            page.wait_for_selector("text=Wrong user name or password.")
            page.fill("#password", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_selector("form.handout")
            assert page.url.endswith("/documents/fusion-alternatives")
            assert page.is_visible("text=Signed in as dr.ruiz")
            assert page.is_visible("#print")
            assert page.input_value("#visit_date") == clock.today().isoformat()

            bodies: list[bytes] = []

            def keep(route):  # noqa: ANN001 - the PDF as the browser received it
                response = route.fetch()
                bodies.append(response.body())
                route.fulfill(response=response)

            page.route("**/render", keep)
            # Keyboard only, from the name field: type, Tab, type, Tab, Enter.
            keys = 0
            assert page.evaluate("document.activeElement.id") == "patient"  # autofocus
            page.keyboard.type("Quinn Example")
            page.keyboard.press("Tab")
            keys += 1
            assert page.evaluate("document.activeElement.id") == "note"
            page.keyboard.type("Walk every day.")
            page.keyboard.press("Tab")
            keys += 1
            assert page.evaluate("document.activeElement.id") == "print"
            with page.expect_response(lambda r: r.url.endswith("/render")) as info:
                page.keyboard.press("Enter")
                keys += 1
            response = info.value
            assert keys < 10
            assert response.status == 200
            assert response.headers["content-type"] == "application/pdf"
            disposition = response.headers["content-disposition"]
            assert disposition.startswith("inline;")
            assert DOWNLOAD_NAME.search(disposition)
            # The PDF is opened in a frame for the browser's print dialog.
            # (Polled from here: the page's CSP forbids the eval wait_for_function uses.)
            for _ in range(300):
                if page.evaluate("window.printed") is not None:
                    break
                page.wait_for_timeout(100)
            assert page.evaluate("window.printed").startswith("blob:")
            assert page.get_attribute("iframe.print-frame", "src") == page.evaluate(
                "window.printed"
            )
            text = " ".join(pages_text(bodies[-1]))
            assert "Prepared for Quinn Example" in text and "Walk every day." in text

            # Preview at phone width: the pages stack below the form, readable.
            page.click("#preview")
            page.wait_for_selector('section.pages img[alt^="Page 1 of"]', timeout=60_000)
            box = page.eval_on_selector("section.pages", "e => e.getBoundingClientRect().toJSON()")
            assert box["width"] >= 300
            img = page.eval_on_selector(
                'section.pages img[alt^="Page 1 of"]', "e => e.getBoundingClientRect().toJSON()"
            )
            assert img["width"] >= 300 and img["height"] > 300
            assert (
                page.evaluate("document.documentElement.scrollWidth") <= 390
            )  # no sideways scroll
            page.screenshot(path=str(tmp_path / "phone.png"), full_page=False)

            # Sign out: back to the sign-in page; the form is out of reach.
            page.click("text=Sign out")
            page.wait_for_selector("#username")
            page.goto(clinic_server + "/documents/fusion-alternatives")
            assert "/login" in page.url
        finally:
            browser.close()
