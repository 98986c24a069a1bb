"""Web app latency: POST /render on a real `handoutgen serve`: edition cold vs
cached, and many clinicians at once.

    .venv/bin/python bench/web_bench.py [--runs 20] [--clinicians 10] [--workers N]

Starts the server on a free port with an empty cache, then times, end to end
over HTTP: the first handout for a set of options (a full render; its edition
is then built in the background), and the same handout for other patients
once the edition is cached. The baseline, in the same run, is a full render
in-process (no HTTP). Goal (issue #7): a cached-edition handout in < 300 ms.

Then --clinicians threads, each with its own session and a different option
set, post at the same moment (twice: before their editions exist, and again
once they do); time-to-PDF p95 is compared with one uncontended POST /render
of an option set nobody asked for before, measured in the same run. Goal
(issue #15): p95 at most 3x that single render, 0 failures. Busy answers (503)
count as failures here: the queue (--queue) is sized to hold them all.
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
    parser.add_argument("--clinicians", type=int, default=10)
    parser.add_argument("--workers", type=int, default=0, help="default: serve's (the cores)")
    args = parser.parse_args()
    import httpx

    from handoutgen.content.library import load_library
    from handoutgen.content.workspace import Workspace
    from handoutgen.pipeline import make_request, render_pdf

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HANDOUTGEN_CACHE_DIR": str(Path(tmp) / "cache")}
        os.environ.update(env)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env["HANDOUTGEN_PRIVATE_DIR"] = str(Path(tmp) / "private")
        extra = ["--workers", str(args.workers)] if args.workers else []
        server = subprocess.Popen(
            [sys.executable, "-m", "handoutgen.cli", "--workspace", str(ROOT), "-q", "serve",
             "--port", str(port), "--queue", str(args.clinicians), *extra],
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

            crowd = clinicians(base, args.clinicians, cache=Path(tmp) / "cache")

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
    single, rounds = crowd
    print(f"\nPOST /render, one uncontended (new option set): {single * 1000:7.0f} ms")
    for label, (times, failures) in rounds.items():
        p95 = percentile(times, 0.95) if times else float("nan")
        print(
            f"{args.clinicians} clinicians at once, {label}: p95 {p95 * 1000:7.0f} ms"
            f" ({p95 / single:.1f}x the single render), median"
            f" {statistics.median(times) * 1000 if times else float('nan'):.0f} ms,"
            f" {failures} failed"
        )
    first = rounds["editions not built yet"]
    ratio = percentile(first[0], 0.95) / single if first[0] else float("inf")
    verdict = "met" if ratio <= 3 and first[1] == 0 else "NOT met"
    print(f"goal p95 <= 3x a single render, 0 failures (cold editions) -> {verdict}")
    cores = os.cpu_count() or 1
    # A render is one CPU-bound thread: N equal renders on C cores end, at
    # best, after ceil(N / C) render times, whatever the pool does.
    bound = -(-args.clinicians // cores)
    print(
        f"cores on this machine: {cores}; the best any scheduler can do here is p95 about"
        f" {bound}x ({args.clinicians} equal renders on {cores} cores), so the 3x goal needs"
        f" at least {-(-args.clinicians // 3)} cores"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


OPTION_SETS = [
    ["fusion", "decompression"],
    ["fusion", "conservative-care"],
    ["decompression", "conservative-care"],
    ["fusion", "lumbar-disc-replacement"],
    ["lumbar-disc-replacement", "conservative-care"],
    ["fusion", "decompression", "conservative-care"],
    ["decompression", "lumbar-disc-replacement"],
    # Sets the content gate accepts for this document (with spinal injections
    # or radiofrequency ablation, its term rules refuse it: that is a 422,
    # not a capacity failure).
    ["conservative-care", "lumbar-disc-replacement", "fusion"],
    ["decompression", "fusion", "lumbar-disc-replacement"],
    ["conservative-care", "decompression", "lumbar-disc-replacement"],
    ["lumbar-disc-replacement", "fusion"],
    ["conservative-care", "fusion", "decompression"],
]


def editions(cache: Path) -> int:
    return len(list(cache.glob("editions/*/*/meta.json")))


def clinicians(base: str, n: int, cache: Path) -> tuple[float, dict]:
    """One uncontended render, then ``n`` clinicians at once, twice."""
    import threading

    import httpx

    def session() -> tuple[httpx.Client, str]:
        client = httpx.Client(base_url=base, timeout=300)
        page = client.get("/documents/fusion-alternatives")
        return client, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    def post(client: httpx.Client, token: str, options: list[str], i: int) -> tuple[float, bool]:
        data = {
            "document": "fusion-alternatives",
            "option": options,
            "patient": f"Crowd Patient {i}",
            "visit_date": "2026-11-21",
            "clinician": f"Dr. Number {i}",
            "clinic": "Example Spine Clinic",
            "note": "Walk every day.",
            "csrf_token": token,
        }
        t = time.perf_counter()
        response = client.post("/render", data=data)
        ok = response.status_code == 200 and response.content.startswith(b"%PDF")
        return time.perf_counter() - t, ok

    client, token = session()
    single, ok = post(client, token, ["fusion", "total-joint-replacement"], 0)
    assert ok, "the uncontended render failed"
    sets = [OPTION_SETS[i % len(OPTION_SETS)] for i in range(n)]
    sessions = [session() for _ in range(n)]
    time.sleep(5)  # the single render's edition build is under way: let it finish
    before = editions(cache)
    rounds = {}
    for label in ("editions not built yet", "editions cached"):
        results: list[tuple[float, bool]] = [(0.0, False)] * n
        start = threading.Barrier(n)

        def run(i: int, start: threading.Barrier, results: list) -> None:
            start.wait()
            results[i] = post(*sessions[i], sets[i], i + 1)

        threads = [threading.Thread(target=run, args=(i, start, results)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rounds[label] = ([t for t, ok in results if ok], sum(not ok for _, ok in results))
        if label == "editions cached":
            break
        # Let the background edition builds finish before the second round.
        target = before + len(set(map(tuple, sets)))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and editions(cache) < target:
            time.sleep(1)
    return single, rounds


if __name__ == "__main__":
    main()
