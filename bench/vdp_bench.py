"""Variable-data mailing: editions + stamped personal layers vs the naive loop (and Typst).

    .venv/bin/python bench/vdp_bench.py [--n 1000] [--naive-sample 30] [--typst-sample 200]
    .venv/bin/python bench/vdp_bench.py --unique [--n 1000]   # issue 18: every set different

1,000 synthetic recipients of `followup-letter`, 3-5 options each, drawn from
10 option sets (so at most 10 editions). In one run it measures:

- the naive loop: one full WeasyPrint render per recipient, one process (sample);
- `handoutgen batch` with editions, one worker per core, from an empty cache
  (the edition builds and their self-checks are included), then again warm;
- the merged print file's size against the summed size of the single PDFs;
- Typst compiling an equivalent template (same letter, table and option text)
  per recipient, one process per core, if the `typst` package is installed.

Goals (issue #4): >= 15x the naive loop; merged <= 0.15x summed; Typst ratio printed.
With ``--unique`` every recipient has an option set of its own (3-5 options,
seeded); goals (issue #18): >= 8x the naive loop with an empty cache, >= 12x
cached.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTION_POOL = [
    "conservative-care",
    "spinal-injections",
    "radiofrequency-ablation",
    "spinal-cord-stimulation",
    "fibrin-injection",
    "regenerative-injections",
    "decompression",
    "fusion",
]
FIRST = ["Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo"]
LAST = ["Lopez", "Smith", "Nguyen", "Khan", "Brown", "Garcia", "Kim", "Okafor"]


def option_sets(seed: int = 10) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.sample(OPTION_POOL, rng.randint(3, 5)) for _ in range(10)]


def unique_sets(n: int, seed: int = 18) -> list[list[str]]:
    """n different option sets of 3 to 5 options (order matters: it is the page order)."""
    rng = random.Random(seed)
    seen: set[tuple[str, ...]] = set()
    out: list[list[str]] = []
    while len(out) < n:
        s = tuple(rng.sample(OPTION_POOL, rng.randint(3, 5)))
        if s not in seen:
            seen.add(s)
            out.append(list(s))
    return out


def recipients(path: Path, n: int, seed: int = 4, unique: bool = False) -> Path:
    rng = random.Random(seed)
    sets = option_sets()
    own = unique_sets(n) if unique else None
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            "id first_name last_name address1 city state zip options clinician visit_date note".split()
        )
        for i in range(n):
            w.writerow(
                [
                    f"V{i:06d}",
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    f"{i} Main St",
                    "Springfield",
                    "IL",
                    f"{62700 + rng.randint(0, 99)}",
                    ";".join(own[i] if own else rng.choice(sets)),
                    "Dr. Sam Rivera",
                    "2026-11-20",
                    "Thank you for coming in.\nCall us with questions.",
                ]
            )
    return path


# -- Typst: the same letter and handout text, compiled per recipient ------------------


def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def typst_source(library, fields: dict) -> str:  # noqa: ANN001
    doc = library.documents["followup-letter"]
    options = [library.options[i] for i in fields["options"]]
    en = lambda t: t.get("en") if isinstance(t, dict) else t  # noqa: E731
    name = f"{fields['first_name']} {fields['last_name']}"
    out = [
        '#set page(paper: "us-letter", margin: (x: 0.6in, top: 0.6in, bottom: 0.9in),',
        f"  header: context if counter(page).get().first() > 1 [#text(10pt)[Prepared for #{_q(name)}] #h(1fr) #text(10pt)[#{_q(en(doc.title))}]],",
        "  footer: context [#text(9pt)[#"
        + _q(en(doc.disclaimers[0]))
        + "] #h(1fr) Page #counter(page).display() of #counter(page).final().first()])",
        '#set text(font: "Atkinson Hyperlegible", size: 11pt)',
        "#v(1.65in)",
        f"#{_q(name)} \\ #{_q(fields['address1'])} \\ #{_q(fields['city'] + ', IL ' + fields['zip'])}",
        "#v(0.5in)",
        f"Dear #{_q(name)}, \\ #{_q(en(doc.letter.opening))}",
        "",
        f"#{_q(fields['note'])}",
        "",
        f"#{_q(en(doc.letter.closing))}",
        "#pagebreak()",
        f'#text(22pt, weight: "bold")[#{_q(en(doc.title))}]',
        "",
        f'#block(fill: luma(240), inset: 8pt)[#text(weight: "bold")[#{_q(en(doc.main_message))}]]',
        f"== The decision\n#{_q(en(doc.decision))}",
        "== The options side by side",
        f"#table(columns: {len(options) + 1}, [Question],"
        + ",".join(f"[#{_q(en(o.title))}]" for o in options)
        + ","
        + ",".join(
            f"[#{_q(en(f.question))}],"
            + ",".join(f"[#{_q(en(o.facts.get(f.id, '')))}]" for o in options)
            for f in doc.factors
        )
        + ")",
        "== Each option in more detail",
    ]
    for o in options:
        out.append(f"=== #{_q(en(o.title))}")
        for part in (o.summary, o.how_it_works, o.recovery, o.suits, o.not_for):
            out.append(f"#{_q(en(part))}\n")
        out.append("- " + "\n- ".join(f"#{_q(en(b))}" for b in o.benefits))
        out.append("- " + "\n- ".join(f"#{_q(en(r))}" for r in o.risks))
    return "\n".join(out)


_TYPST_LIB = None


def _typst_compile(fields: dict) -> int:
    global _TYPST_LIB
    import typst

    from handoutgen.content.fonts import font_dir
    from handoutgen.content.library import load_library
    from handoutgen.content.workspace import Workspace

    if _TYPST_LIB is None:
        _TYPST_LIB = load_library(Workspace.at(ROOT))
    src = typst_source(_TYPST_LIB, fields)
    with tempfile.NamedTemporaryFile("w", suffix=".typ", delete=False) as fh:
        fh.write(src)
    try:
        pdf = typst.compile(fh.name, font_paths=[str(font_dir())])
    finally:
        os.unlink(fh.name)
    return len(pdf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--naive-sample", type=int, default=30)
    parser.add_argument("--typst-sample", type=int, default=200)
    parser.add_argument("--unique", action="store_true", help="every recipient its own option set")
    args = parser.parse_args()
    goal_cold, goal_warm = (8, 12) if args.unique else (15, None)

    from handoutgen.content.library import load_library
    from handoutgen.content.workspace import Workspace
    from handoutgen.mailing.batch import BatchSettings, run_batch
    from handoutgen.mailing.recipients import load_recipients
    from handoutgen.pipeline import make_request, render_pdf

    ws = Workspace.at(ROOT)
    date = dt.date(2026, 11, 22)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        os.environ["HANDOUTGEN_CACHE_DIR"] = str(tmpdir / "cache")
        src = recipients(tmpdir / "r.csv", args.n, unique=args.unique)
        library = load_library(ws)
        good = load_recipients(src, library, library.documents["followup-letter"]).good

        # Naive: one full render per recipient, in one process, on a sample.
        sample = good[: args.naive_sample]
        render_pdf(library, make_request(**sample[0].request_fields("followup-letter", date)))
        t = time.perf_counter()
        for rec in sample:
            render_pdf(library, make_request(**rec.request_fields("followup-letter", date)))
        naive = len(sample) / (time.perf_counter() - t)
        n_sets = args.n if args.unique else 10
        print(f"recipients: {args.n}, option sets: {n_sets}, cores: {cores}")
        print(f"naive loop, 1 process (sample of {len(sample)}):   {naive:7.2f} documents/s")

        def batch(out: str, merged: bool):  # noqa: ANN202
            settings = BatchSettings(
                document="followup-letter",
                recipients=src,
                out_dir=tmpdir / out,
                letter_date=date,
                merged=tmpdir / f"{out}.pdf" if merged else None,
            )
            return run_batch(ws, settings)

        cold = batch("cold", merged=True)
        cold_rate = cold.rendered / cold.seconds
        editions = len(list((tmpdir / "cache").glob("editions/*/*.entry")))
        full = cold.rendered - cold.from_editions
        print(
            f"editions, {cores} workers, empty cache:        {cold_rate:7.2f} documents/s"
            f"  ({cold_rate / naive:.1f}x naive; {editions} editions built;"
            f" {cold.from_editions} rows from editions, {full} rendered in full;"
            " includes the merged file)"
        )
        warm = batch("warm", merged=False)
        warm_rate = warm.rendered / warm.seconds
        print(
            f"editions, {cores} workers, editions cached:    {warm_rate:7.2f} documents/s"
            f"  ({warm_rate / naive:.1f}x naive)"
        )
        goal = cold_rate / naive >= goal_cold
        print(f"goal >= {goal_cold}x naive (empty cache): {'met' if goal else 'NOT met'}")
        if goal_warm:
            goal = warm_rate / naive >= goal_warm
            print(f"goal >= {goal_warm}x naive (cached): {'met' if goal else 'NOT met'}")

        singles = sum(p.stat().st_size for p in (tmpdir / "cold").glob("*.pdf"))
        merged = (tmpdir / "cold.pdf").stat().st_size
        ratio = merged / singles
        print(
            f"merged print file: {merged / 2**20:.1f} MiB vs {singles / 2**20:.1f} MiB summed"
            f" = {ratio:.3f}x (goal <= 0.15x) -> {'met' if ratio <= 0.15 else 'NOT met'}"
        )

        try:
            import typst  # noqa: F401
        except ImportError:
            print("typst: not installed (pip install typst) - ratio not measured")
            return
        fields = [
            {**r.request_fields("followup-letter", date), "options": list(r.fields["options"])}
            for r in good[: args.typst_sample]
        ]
        with ProcessPoolExecutor(cores) as pool:
            list(pool.map(_typst_compile, fields[:cores]))  # warm up each process
            t = time.perf_counter()
            list(pool.map(_typst_compile, fields, chunksize=8))
            typst_rate = len(fields) / (time.perf_counter() - t)
        ratio = typst_rate / warm_rate
        print(
            f"typst compile, {cores} processes (sample of {len(fields)}):"
            f"    {typst_rate:7.2f} documents/s"
        )
        print(
            f"typst / handoutgen (editions cached): {ratio:.2f}x"
            f" (moonshot: within 2x) -> {'met' if ratio <= 2 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
