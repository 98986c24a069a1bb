"""Web app latency: POST /render on a real `handoutgen serve`, edition cold vs cached.

    .venv/bin/python bench/web_bench.py [--runs 20]

Starts the server on a free port with an empty cache, then times, end to end
over HTTP: the first handout for a set of options (a full render; its edition
is then built in the background), and the same handout for other patients
once the edition is cached. The baseline, in the same run, is a full render
in-process (no HTTP). Goal (issue #7): a cached-edition handout in < 300 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    import httpx

    from handoutgen.content import load_library
    from handoutgen.render import make_request, render_pdf
    from handoutgen.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HANDOUTGEN_CACHE_DIR": str(Path(tmp) / "cache")}
        os.environ.update(env)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "handoutgen.cli", "--workspace", str(ROOT), "-q", "serve",
             "--port", str(port)],
            env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            client = httpx.Client(base_url=base, timeout=120)
            page = client.get("/documents/fusion-alternatives")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

            def post(patient: str, options: list[str]) -> float:
                data = {
                    "document": "fusion-alternatives",
                    "option": options,
                    "patient": patient,
                    "visit_date": "2026-11-20",
                    "clinician": "Dr. Ana Ruiz",
                    "note": "Walk every day.",
                    "csrf_token": token,
                }
                t = time.perf_counter()
                response = client.post("/render", data=data)
                elapsed = time.perf_counter() - t
                assert response.status_code == 200, response.text[:500]
                return elapsed

            options = ["fusion", "decompression", "conservative-care"]
            cold = post("Pat Zero", options)
            # The edition is built in the background after the first render.
            time.sleep(1)
            for _ in range(60):
                if len(list((Path(tmp) / "cache").glob("editions/*/*.entry"))) >= 1:
                    break
                time.sleep(0.5)
            time.sleep(2)  # let start-up warm-ups finish too
            warm = [post(f"Patient {i}", options) for i in range(args.runs)]

            library = load_library(Workspace.at(ROOT))
            request = make_request(
                document="fusion-alternatives", options=options, patient="Pat Base",
                visit_date="2026-11-20", clinician="Dr. Ana Ruiz", note="Walk every day.",
            )  # fmt: skip
            render_pdf(library, request)
            full = []
            for _ in range(5):
                t = time.perf_counter()
                render_pdf(library, request)
                full.append(time.perf_counter() - t)
        finally:
            server.terminate()
            server.wait(timeout=20)

    med = statistics.median(warm)
    p90 = sorted(warm)[int(0.9 * (len(warm) - 1))]
    base_full = statistics.median(full)
    print(f"full render in-process (baseline):      {base_full * 1000:7.0f} ms (median of 5)")
    print(f"POST /render, first (no edition yet):   {cold * 1000:7.0f} ms")
    print(
        f"POST /render, edition cached:           {med * 1000:7.0f} ms median,"
        f" {p90 * 1000:.0f} ms p90 of {len(warm)}  ({base_full / med:.1f}x faster than a full render)"
    )
    print(f"goal < 300 ms with a cached edition -> {'met' if med < 0.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
