"""Mailing throughput and memory: `handoutgen batch` vs the naive loop.

    .venv/bin/python bench/batch_bench.py [--n 1000] [--naive-sample 40] [--memory 200,1000]

Generates N synthetic recipients for `followup-letter` (3-5 options each),
runs the batch with one worker per core, and times the naive loop (one full
render per recipient, one process) on a sample in the same run. Memory: the
peak RSS of any worker after batches of the given sizes (goal: the largest
within 1.2x of the smallest; workers are replaced every 100 documents).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = [
    "conservative-care",
    "spinal-injections",
    "radiofrequency-ablation",
    "spinal-cord-stimulation",
    "fibrin-injection",
    "regenerative-injections",
]


def recipients(path: Path, n: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    first = ["Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo"]
    last = ["Lopez", "Smith", "Nguyen", "Khan", "Brown", "Garcia", "Kim", "Okafor"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "id",
                "first_name",
                "last_name",
                "address1",
                "city",
                "state",
                "zip",
                "options",
                "clinician",
                "visit_date",
                "note",
            ]
        )
        for i in range(n):
            opts = rng.sample(OPTIONS, rng.randint(3, 5))
            w.writerow(
                [
                    f"R{i:06d}",
                    rng.choice(first),
                    rng.choice(last),
                    f"{i} Main St",
                    "Springfield",
                    "IL",
                    f"{62700 + rng.randint(0, 99)}",
                    ";".join(opts),
                    "Dr. Sam Rivera",
                    "2026-11-20",
                    "Thank you for coming in.\nCall us with questions.",
                ]
            )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--naive-sample", type=int, default=40)
    parser.add_argument("--memory", default="200,1000", help="batch sizes for the RSS check")
    args = parser.parse_args()

    from handoutgen.content.library import load_library
    from handoutgen.content.workspace import Workspace
    from handoutgen.mailing.batch import BatchSettings, run_batch
    from handoutgen.mailing.recipients import load_recipients
    from handoutgen.pipeline import make_request, render

    ws = Workspace.at(ROOT)
    date = dt.date(2026, 11, 22)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        os.environ["HANDOUTGEN_CACHE_DIR"] = str(tmpdir / "cache")
        src = recipients(tmpdir / "r.csv", args.n)

        # Naive: one full render per recipient, in one process, on a sample.
        library = load_library(ws)
        good = load_recipients(src, library, library.documents["followup-letter"]).good
        sample = good[: args.naive_sample]
        render(
            library,
            make_request(**sample[0].request_fields("followup-letter", date)),
            editions=False,
        )
        t = time.perf_counter()
        for rec in sample:
            render(
                library, make_request(**rec.request_fields("followup-letter", date)), editions=False
            )
        naive_rate = len(sample) / (time.perf_counter() - t)

        settings = BatchSettings(
            document="followup-letter", recipients=src, out_dir=tmpdir / "out", letter_date=date
        )
        report = run_batch(ws, settings)
        rate = report.rendered / report.seconds
        print(f"recipients: {args.n}, workers: {os.cpu_count()}, pages: {report.pages}")
        print(f"naive loop (sample of {len(sample)}): {naive_rate:6.2f} documents/s")
        print(
            f"handoutgen batch:              {rate:6.2f} documents/s  ({rate / naive_rate:.2f}x naive)"
        )
        print(f"peak RSS of a worker:          {report.peak_rss_kb / 1024:6.1f} MiB")

        sizes = [int(s) for s in args.memory.split(",") if s.strip()]
        peaks = {}
        for size in sizes:
            sub = recipients(tmpdir / f"m{size}.csv", size, seed=size)
            rep = run_batch(
                ws,
                BatchSettings(
                    document="followup-letter",
                    recipients=sub,
                    out_dir=tmpdir / f"m{size}",
                    letter_date=date,
                ),
            )
            peaks[size] = rep.peak_rss_kb / 1024
            print(f"peak worker RSS after {size:>5} documents: {peaks[size]:6.1f} MiB")
        if len(peaks) >= 2:
            lo, hi = min(sizes), max(sizes)
            ratio = peaks[hi] / peaks[lo]
            print(
                f"memory ratio {hi}/{lo}: {ratio:.2f}x (goal <= 1.2x) -> {'met' if ratio <= 1.2 else 'NOT met'}"
            )


if __name__ == "__main__":
    main()
