"""Time `handoutgen render fusion-alternatives` against a naive WeasyPrint script.

Both render the same HTML (our standalone export), so the ratio is our own
overhead: loading and validating YAML, Jinja, the safe fetcher, metadata.

    .venv/bin/python bench/render_bench.py [--runs 5]

Goal (core issue): cold render within 1.2x of the naive script. Goal (issue
18): with the editions warmed (`handoutgen warm`), at most 0.5x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOC = "fusion-alternatives"
PERSON = ["--patient", "Alex Example", "--visit-date", "2026-11-20", "--clinic", "example-clinic"]

NAIVE = """
import sys, weasyprint
weasyprint.HTML(filename=sys.argv[1]).write_pdf(sys.argv[2])
"""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    handoutgen = str(BIN / "handoutgen")

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        # Our own cache folder: the first render fills it, as a user's first render would.
        os.environ["HANDOUTGEN_CACHE_DIR"] = str(tmpdir / "cache")
        html = tmpdir / "doc.html"
        subprocess.run(
            [handoutgen, "-q", "render", DOC, *PERSON, "--format", "html", "-o", str(html)],
            check=True,
            cwd=ROOT,
        )
        naive_script = tmpdir / "naive.py"
        naive_script.write_text(NAIVE)

        # Warm-up both (page cache, .pyc files), then alternate runs so drift hits both.
        timed([sys.executable, str(naive_script), str(html), str(tmpdir / "n.pdf")])
        timed([handoutgen, "-q", "render", DOC, *PERSON, "-o", str(tmpdir / "h.pdf")])
        naive, ours = [], []
        for _ in range(args.runs):
            naive.append(
                timed([sys.executable, str(naive_script), str(html), str(tmpdir / "n.pdf")])
            )
            ours.append(
                timed([handoutgen, "-q", "render", DOC, *PERSON, "-o", str(tmpdir / "h.pdf")])
            )

        # Cold with an empty content-check cache (the first render after an edit).
        uncached = []
        for i in range(args.runs):
            env = {**os.environ, "HANDOUTGEN_CACHE_DIR": str(tmpdir / f"empty-{i}")}
            uncached.append(
                timed([handoutgen, "-q", "render", DOC, *PERSON, "-o", str(tmpdir / "h.pdf")], env)
            )

        # Warm: in one process, after the first render.
        import weasyprint

        from handoutgen.content.library import load_library
        from handoutgen.content.workspace import Workspace
        from handoutgen.pipeline import make_request, render

        library = load_library(Workspace.at(ROOT))
        request = make_request(
            document=DOC, patient="Alex Example", visit_date="2026-11-20", clinic="example-clinic"
        )
        html_text = html.read_text()
        render(library, request)
        weasyprint.HTML(string=html_text).write_pdf()
        warm_ours, warm_naive = [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            weasyprint.HTML(string=html_text).write_pdf()
            warm_naive.append(time.perf_counter() - t)
            t = time.perf_counter()
            render(library, request)
            warm_ours.append(time.perf_counter() - t)

        # Cold with the editions warmed (issue 18): `handoutgen warm` first,
        # then each render in a new process assembles from a cached edition
        # (after the in-process rows, which stay full renders).
        subprocess.run(
            [handoutgen, "-q", "warm", DOC, "--clinic", "example-clinic"],
            check=True,
            cwd=ROOT,
        )
        assembled = []
        for _ in range(args.runs):
            assembled.append(
                timed([handoutgen, "-q", "render", DOC, *PERSON, "-o", str(tmpdir / "h.pdf")])
            )

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    pages = len(weasyprint.HTML(string=html_text).render().pages)
    print(f"document: {DOC} ({pages} pages), {args.runs} runs each, median seconds")
    print(f"{'':28}{'naive':>10}{'handoutgen':>12}{'ratio':>8}")
    print(
        f"{'cold (new process)':28}{med(naive):>10.3f}{med(ours):>12.3f}{med(ours) / med(naive):>8.2f}x"
    )
    print(
        f"{'cold, first after an edit':28}{med(naive):>10.3f}{med(uncached):>12.3f}"
        f"{med(uncached) / med(naive):>8.2f}x"
    )
    print(
        f"{'warm (in process)':28}{med(warm_naive):>10.3f}{med(warm_ours):>12.3f}"
        f"{med(warm_ours) / med(warm_naive):>8.2f}x"
    )
    print(
        f"{'cold, editions warmed':28}{med(naive):>10.3f}{med(assembled):>12.3f}"
        f"{med(assembled) / med(naive):>8.2f}x"
    )
    goal = med(ours) / med(naive) <= 1.2
    print(f"goal: cold within 1.2x of naive -> {'met' if goal else 'NOT met'}")
    goal = med(assembled) / med(naive) <= 0.5
    print(
        f"goal (issue 18): cold with editions warmed at most 0.5x naive -> {'met' if goal else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
