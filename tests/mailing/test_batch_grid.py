"""A mailing of the option grid: each recipient's sheet holds their options, on one
sheet, and a row with options the grid cannot hold is an invalid row."""

from __future__ import annotations

import io

import pypdf

import conftest
from conftest import pages_text
from handoutgen.content.models import pick_text

HEADER = "id,first_name,last_name,address1,city,state,zip,options,visit_date"
ROWS = [
    "G-1,Maria,Lopez,12 Oak St,Springfield,IL,62704,conservative-care;radiofrequency-ablation,2026-11-20",
    "G-2,Omar,Haddad,5 Elm St,Springfield,IL,62701,,2026-11-19",
    "G-3,Li,Wang,9 Pine Rd,Chicago,IL,60601,fusion;lumbar-disc-replacement;spinal-injections;spinal-cord-stimulation,2026-11-18",
    "G-4,Bad,Count,1 A St,Peoria,IL,61602,fusion,2026-11-18",
]


def test_a_batch_of_grids_gives_each_recipient_their_options_on_one_sheet(run, tmp_path, library):
    src = conftest.write_csv(tmp_path / "r.csv", ROWS, HEADER)
    out = tmp_path / "out"
    result = run(
        "batch",
        "option-grid",
        str(src),
        "-o",
        str(out),
        "--clinic",
        "example-clinic",
        "--workers",
        "1",
    )
    # 3: some rows are valid, one is not.
    assert result.exit_code == 3, result.output
    manifest = {r["id"]: r for r in conftest.read_manifest(out)}
    assert [manifest[i]["status"] for i in ("G-1", "G-2", "G-3", "G-4")] == [
        "ok",
        "ok",
        "ok",
        "invalid",
    ]
    assert (
        "option-grid is an option grid: it compares 2 to 4 options side by side"
        in (manifest["G-4"]["error"])
    )
    doc = library.documents["option-grid"]
    chosen = {
        "G-1": ["conservative-care", "radiofrequency-ablation"],
        "G-2": list(doc.options),
        "G-3": [
            "fusion",
            "lumbar-disc-replacement",
            "spinal-injections",
            "spinal-cord-stimulation",
        ],
    }
    for row_id, options in chosen.items():
        pdf = (out / f"{row_id}.pdf").read_bytes()
        assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) <= 2, row_id
        assert int(manifest[row_id]["pages"]) <= 2
        pages = pages_text(pdf)
        text = " ".join(pages)
        for option_id in doc.offered:
            title = pick_text(library.options[option_id].title)
            assert (title in pages[0]) == (option_id in options), (row_id, option_id)
        assert "What is it?" in text and "Call us soon at (555) 010-0100 if:" in text
    assert "Prepared for Maria Lopez" in " ".join(pages_text((out / "G-1.pdf").read_bytes()))
