"""Live preview keeps the last good pages and overlays the error: the CLI's
`preview --watch` PNG pages, and the web designer page (in a real browser)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image


def _top_is_red(png: Path) -> bool:
    image = Image.open(io.BytesIO(png.read_bytes())).convert("RGB")
    w, _ = image.size
    band = image.crop((0, 0, w, 8))
    raw = band.tobytes()
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    red = sum(1 for r, g, b in pixels if r > 140 and g < 80 and b < 80)
    return red > 0.8 * len(pixels)


def test_watch_keeps_the_last_good_pages_with_the_error_on_them(tmp_ws, tmp_path):
    out = tmp_path / "pv"
    cmd = [sys.executable, "-m", "handoutgen.cli", "--workspace", str(tmp_ws)]
    cmd += ["preview", "neck-surgery", "-o", str(out), "--watch", "--dpi", "30"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []

    def wait_for(prefix: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if line:
                lines.append(line)
                if line.startswith(prefix):
                    return line
            elif proc.poll() is not None:
                break
        raise AssertionError(f"no {prefix!r} line; got {lines}")

    try:
        # It says where the pages are, and which files each update rewrote.
        assert f"the pages are {out}/neck-surgery-N.png (N = 1, 2, ...)" in wait_for("Watching")
        updated = wait_for("Updated")
        pages = sorted(out.glob("neck-surgery-*.png"))
        assert updated.rstrip().endswith(f": {pages[0]} to {pages[-1].name}")
        assert len(pages) >= 2
        good = {p: p.read_bytes() for p in pages}
        assert not any(_top_is_red(p) for p in pages)
        doc = tmp_ws / "handouts" / "neck-surgery.yaml"
        text = doc.read_text()
        time.sleep(0.3)
        doc.write_text(text.replace("kind: handout", "kind: handot"))
        assert "handouts/neck-surgery.yaml" in wait_for("Error:")
        wait_for("The last good pages stay")
        # The same pages, each now under a red band with the error.
        assert sorted(out.glob("neck-surgery-*.png")) == pages
        for page in pages:
            assert page.read_bytes() != good[page]
            assert _top_is_red(page)
        assert proc.poll() is None, "the watch must keep running after a broken edit"
        doc.write_text(text)
        wait_for("Updated")
        assert not any(_top_is_red(p) for p in sorted(out.glob("neck-surgery-*.png")))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_designer_page_keeps_the_last_good_pages_under_the_error(tmp_ws, tmp_path):
    import os
    import socket

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "HANDOUTGEN_CACHE_DIR": str(tmp_path / "cache"),
        "HANDOUTGEN_PRIVATE_DIR": str(tmp_path / "private"),
    }
    cmd = [sys.executable, "-m", "handoutgen.cli", "--workspace", str(tmp_ws), "serve"]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("HANDOUTGEN_CHROMIUM", "/usr/bin/chromium"),
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/design/neck-surgery")
                page.wait_for_selector("#pages img", timeout=90_000)
                count = page.locator("#pages img").count()
                assert count >= 2
                doc = tmp_ws / "handouts" / "neck-surgery.yaml"
                text = doc.read_text()
                doc.write_text(text.replace("kind: handout", "kind: handot"))
                overlay = page.wait_for_selector("#preview-error", timeout=90_000)
                assert "handouts/neck-surgery.yaml" in overlay.inner_text()
                assert "Showing the last pages that rendered" in overlay.inner_text()
                assert page.locator("#pages img").count() == count  # still there
                assert "stale" in (page.get_attribute("#pages", "class") or "")
                doc.write_text(text)
                page.wait_for_selector("#preview-error", state="detached", timeout=90_000)
                assert page.locator("#pages img").count() == count
                assert "stale" not in (page.get_attribute("#pages", "class") or "")
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
