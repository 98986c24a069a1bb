"""Mailings through the real pipeline: recipients in, PDFs + manifest + print file out."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest

import conftest
from conftest import ROOT, pages_text
from handoutgen.content.workspace import Workspace
from handoutgen.mailing.batch import BatchSettings, PrintFile, merge_for_duplex, run_batch

HEADER = "id,first_name,last_name,address1,city,state,zip,options,clinician,visit_date,note"
GOOD = [
    'A-1,Maria,Lopez,12 Oak St,Springfield,IL,62704,conservative-care;radiofrequency-ablation,Dr. Sam Rivera,2026-11-20,"Good to see you.\nStart the exercises."',
    "A-2,Omar,Haddad,5 Elm St,Springfield,IL,62701,,Dr. Sam Rivera,2026-11-19,",
    "A-3,Li,Wang,9 Pine Rd,Chicago,IL,60601,spinal-cord-stimulation,Dr. Ana Ruiz,2026-11-18,See you soon.",
]


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    return conftest.write_csv(path, rows, header)


def batch(run, *args: str):
    return run("batch", "followup-letter", *args, "--letter-date", "2026-11-22")


def read_manifest(path: Path) -> list[dict[str, str]]:
    return conftest.read_manifest(path.parent)


def test_dry_run_lists_every_bad_row_and_renders_nothing(run, tmp_path):
    rows = [
        *GOOD,
        ",No,Id,1 A St,Peoria,IL,61602,,,,",
        "A-1,Dup,Licate,1 A St,Peoria,IL,61602,,,,",
        "../etc/passwd,Bad,Id,1 A St,Peoria,IL,61602,,,,",
        "A-6,Bad,Option,1 A St,Peoria,IL,61602,fusoin;decompression,,,",
        "A-7,Bad,Date,1 A St,Peoria,IL,61602,,,2026-02-30,",
    ]
    src = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    result = batch(run, str(src), "-o", str(out), "--dry-run")
    # 3: some rows are valid, some are not (1 is for "nothing could be done").
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    # Pages come from real sample renders (test_batch_integrity checks them against
    # a real run); time is machine-dependent.
    assert re.fullmatch(
        r"Estimate: about \d+ pages, about \d+ s \(from 3 sample renders\)\.", lines[8]
    )
    lines[8] = "Estimate: ESTIMATE"
    # A-1's note spans two lines but is one spreadsheet row: rows are 2..9.
    assert lines == [
        f"Error: {src}:5: id: missing; every row needs a unique id",
        f"Error: {src}:6 (id A-1): id: duplicate of row 2",
        f"Error: {src}:7: id: not a safe file name: use letters, digits, '.', '_' or '-' (at most 64), starting with a letter or digit",
        f"Error: {src}:8 (id A-6): options: unknown option 'fusoin'; did you mean 'fusion'?",
        f"Error: {src}:9 (id A-7): visit_date: not a date; use YYYY-MM-DD",
        "Rows: 8 read, 3 valid, 5 with problems (listed above).",
        "Columns read: 'id' -> id, 'first_name' -> first_name, 'last_name' -> last_name, "
        "'address1' -> address1, 'city' -> city, 'state' -> state, 'zip' -> zip, "
        "'options' -> options, 'clinician' -> clinician, 'visit_date' -> visit_date, "
        "'note' -> note.",
        "Option sets: 3; 3 recipients rendered in full (no set is shared by 3 or more).",
        "Estimate: ESTIMATE",
        "Error: 5 problems found; nothing rendered; 3 rows are valid",
    ]
    assert not out.exists() or not list(out.iterdir())


def test_dry_run_ok(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", GOOD)
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 0
    lines = result.stderr.splitlines()
    assert lines[0] == "Rows: 3 read, all valid."
    assert lines[-1] == "OK: every row is valid; nothing rendered (--dry-run)."
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """One real batch with a bad row, rendered in one process."""
    tmp = tmp_path_factory.mktemp("batch")
    src = write_csv(tmp / "r.csv", [*GOOD, "A-9,Bad,Option,1 A St,Peoria,IL,61602,nope,,,"])
    settings = BatchSettings(
        document="followup-letter",
        recipients=src,
        out_dir=tmp / "out",
        workers=1,
        merged=tmp / "print.pdf",
        letter_date=__import__("datetime").date(2026, 11, 22),
    )
    report = run_batch(Workspace.at(ROOT), settings)
    return tmp, report


def test_real_run_writes_pdfs_and_an_honest_manifest(local_run):
    tmp, report = local_run
    out = tmp / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "A-1.pdf",
        "A-2.pdf",
        "A-3.pdf",
        "manifest.csv",
    ]
    manifest = read_manifest(out / "manifest.csv")
    assert [(r["id"], r["status"]) for r in manifest] == [
        ("A-1", "ok"),
        ("A-2", "ok"),
        ("A-3", "ok"),
        ("A-9", "invalid"),  # named by its own id, not a row number
    ]
    for row in manifest[:3]:
        data = (out / f"{row['id']}.pdf").read_bytes()
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert int(row["bytes"]) == len(data)
        assert int(row["pages"]) == len(pages_text(data))
    assert manifest[3]["error"] == "row 5: options: unknown option 'nope'"
    # No patient name anywhere in the manifest or file names.
    text = (out / "manifest.csv").read_text()
    for name in ("Maria", "Lopez", "Omar", "Wang"):
        assert name not in text


def test_each_letter_holds_its_recipient_and_options(local_run, library):
    tmp, _ = local_run
    pages = pages_text((tmp / "out" / "A-1.pdf").read_bytes())
    assert "Dear Maria Lopez," in pages[0]
    assert "Good to see you." in pages[0] and "Start the exercises." in pages[0]
    assert "Dr. Sam Rivera" in pages[0]
    assert "November 22, 2026" in pages[0]
    text = " ".join(pages[1:])
    assert "Radiofrequency ablation" in text
    assert "Spinal cord stimulation" not in text
    for page in pages[1:]:
        assert "Maria Lopez" in page
    # Empty options column: the document's defaults.
    a2 = " ".join(pages_text((tmp / "out" / "A-2.pdf").read_bytes()))
    for oid in library.documents["followup-letter"].options:
        assert library.options[oid].title["en"] in a2


def test_address_sits_in_the_envelope_window(local_run):
    tmp, _ = local_run
    doc = pdfium.PdfDocument((tmp / "out" / "A-1.pdf").read_bytes())
    page = doc[0]
    height = page.get_height()
    text = page.get_textpage()
    found = text.search("Maria Lopez", match_case=True).get_next()
    assert found is not None
    index, _count = found
    left, bottom, right, top = text.get_charbox(index)
    doc.close()
    inch = 72
    # #10 double-window envelope: recipient window about 0.875-4.625in from the
    # left and 2.0-3.2in from the top of the tri-folded sheet.
    assert 0.85 * inch <= left <= 1.2 * inch
    assert 2.0 * inch <= height - top <= 3.2 * inch


def test_merged_file_pads_every_recipient_to_a_new_sheet(local_run):
    tmp, report = local_run
    counts = [r.pages for r in report.results if r.status == "ok"]
    with pikepdf.open(tmp / "print.pdf") as pdf:
        assert len(pdf.pages) == sum(c + c % 2 for c in counts)
    pages = pages_text((tmp / "print.pdf").read_bytes())
    start = 0
    for c in counts:
        assert "Dear " in pages[start]  # each letter starts a sheet
        if c % 2:
            assert pages[start + c].strip() == ""  # the blank back page
        start += c + c % 2


def test_merged_file_bytes_do_not_depend_on_the_order_pdfs_arrive(local_run, tmp_path):
    """A batch copies each PDF into the print file as it arrives (workers finish
    out of order); the file is the same bytes as merging them in order."""
    tmp, report = local_run
    paths = [tmp / "out" / f"{r.id}.pdf" for r in report.results if r.status == "ok"]
    assert len(paths) >= 3
    assert merge_for_duplex(paths, tmp_path / "in-order.pdf") > len(paths)
    expected = (tmp_path / "in-order.pdf").read_bytes()
    assert (tmp / "print.pdf").read_bytes() == expected
    for order in (paths[::-1], paths[1:] + paths[:1]):
        print_file = PrintFile()
        for path in order[:-1]:  # the last one is copied when the file is written
            print_file.add(path, path.read_bytes())
        print_file.write(paths, tmp_path / "shuffled.pdf")
        assert (tmp_path / "shuffled.pdf").read_bytes() == expected


def test_exit_codes_and_summary(run, tmp_path, monkeypatch):
    # An empty cache: another test may have built this option set's edition.
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    src = write_csv(tmp_path / "r.csv", GOOD[1:2])
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-3].startswith("1/1 rendered, 0 failed"), result.stderr
    assert lines[-2].startswith("Rendered 1, resumed 0, failed 0; ")
    # One recipient alone does not repay building an edition: rendered in full.
    assert lines[-1] == "0 from shared editions, 1 rendered in full."
    assert "Omar" not in result.stderr
    # Letters written and a row skipped: 3, not the 1 of "nothing could be done";
    # the summary names the print file, its pages and sheets.
    src = write_csv(tmp_path / "bad.csv", [*GOOD[1:2], "X-1,A,B,1 A St,Peoria,IL,61602,nope,,,"])
    merged = tmp_path / "print.pdf"
    args = ("--workers", "1", "--merged", str(merged), "--errors", str(tmp_path / "bad.xlsx"))
    result = batch(run, str(src), "-o", str(tmp_path / "out2"), *args)
    assert result.exit_code == 3, result.stderr
    pages = len(pdfium.PdfDocument(merged))
    lines = result.stderr.splitlines()
    assert f"Print file: {merged}, {pages} pages on {pages // 2} sheets (printed duplex)." in lines
    assert lines[-1] == (
        f"Error: 1 row not mailed (see the manifest and {tmp_path / 'bad.xlsx'}); 1 letter written"
    )
    # Nothing mailable at all: 1.
    src = write_csv(tmp_path / "worse.csv", ["X-1,A,B,1 A St,Peoria,IL,61602,nope,,,"])
    result = batch(run, str(src), "-o", str(tmp_path / "out3"), "--workers", "1")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Error: 1 row not mailed (see the manifest)"


def test_hostile_but_valid_rows_print_literally(run, tmp_path, library):
    long_name = "Ann" + "e" * 297
    note = "<script>alert(1)</script> {{ 7*7 }} " + ("Keep walking every day. " * 210)
    rows = [
        f'H-1,{long_name},Smith,1 A St,Peoria,IL,61602,,,,"{note}"',
        "H-2,=cmd|' /C calc'!A0,@SUM(1+1),1 A St,Peoria,IL,61602,,,,{{ 7*7 }}",
    ]
    src = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    result = batch(run, str(src), "-o", str(out), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    assert len(note) > 5000
    h1 = " ".join(pages_text((out / "H-1.pdf").read_bytes()))
    assert "<script>alert(1)</script> {{ 7*7 }}" in h1
    assert "Anneeeeeeeeee" in h1
    h2 = " ".join(pages_text((out / "H-2.pdf").read_bytes()))
    assert "=cmd|' /C calc'!A0 @SUM(1+1)" in h2
    # 7*7 was not evaluated: no "49" beyond those the content itself prints (a DOI).
    from handoutgen.pipeline import make_request, render

    plain = " ".join(pages_text(render(library, make_request(document="followup-letter"))))
    assert "{{ 7*7 }}" in h2 and h2.count("49") == plain.count("49")
    manifest = (out / "manifest.csv").read_text()
    assert "cmd" not in manifest and "SUM" not in manifest


def test_input_formats(run, tmp_path, library):
    import openpyxl
    import yaml

    addr = {"address1": "1 A St", "city": "Boston", "state": "MA"}
    rows = [
        {
            "id": "F-1",
            "first_name": "Ada",
            "last_name": "King",
            **addr,
            "zip": 2134,
            "options": "fusion",
        },
        {
            "id": "F-2",
            "first_name": "Bo",
            "last_name": "Lee",
            **addr,
            "zip": "02110",
            "visit_date": "2026-11-20",
        },
    ]
    # Excel's "CSV UTF-8": BOM, CRLF, semicolons.
    excel = tmp_path / "excel.csv"
    excel.write_bytes(
        "\ufeffid;first_name;last_name;address1;city;state;zip;options;visit_date\r\n"
        "F-1;Ada;King;1 A St;Boston;MA;2134;fusion;\r\n"
        "F-2;Bo;Lee;1 A St;Boston;MA;02110;;2026-11-20\r\n".encode()
    )
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        [
            "ID",
            "First_Name",
            "last_name",
            "address1",
            "city",
            "state",
            "zip",
            "options",
            "visit_date",
        ]
    )
    ws.append(["F-1", "Ada", "King", "1 A St", "Boston", "MA", 2134, "fusion", None])
    ws.append(
        [
            "F-2",
            "Bo",
            "Lee",
            "1 A St",
            "Boston",
            "MA",
            "02110",
            None,
            __import__("datetime").datetime(2026, 11, 20),
        ]
    )
    wb.save(tmp_path / "list.xlsx")
    (tmp_path / "list.json").write_text(json.dumps(rows))
    (tmp_path / "list.yaml").write_text(yaml.safe_dump({"recipients": rows}))
    from handoutgen.mailing.recipients import load_recipients

    doc = library.documents["followup-letter"]
    seen = []
    for name in ("excel.csv", "list.xlsx", "list.json", "list.yaml"):
        result = load_recipients(tmp_path / name, library, doc)
        assert result.problems == [], name
        # The ZIP stored as a number lost its leading zero: restored, and said so.
        assert [(w.row, w.field) for w in result.warnings] == [
            (2 if name.endswith(("csv", "xlsx")) else 1, "zip")
        ]
        seen.append(
            [
                (r.id, r.fields.get("zip"), r.fields.get("options"), r.fields.get("visit_date"))
                for r in result.good
            ]
        )
    assert all(s == seen[0] for s in seen), seen
    assert seen[0][0] == ("F-1", "02134", ("fusion",), None)
    assert str(seen[0][1][3]) == "2026-11-20"


def test_map_reads_other_headers(run, tmp_path):
    src = write_csv(
        tmp_path / "r.csv",
        ["M-9,Zed,Ray,1 A St,Peoria,IL,61602,,,,"],
        header="Chart Ref,Vorname,Nachname,address1,city,state,zip,options,clinician,visit_date,note",
    )
    result = batch(run, str(src), "-o", str(tmp_path / "o"), "--dry-run")
    assert result.exit_code == 1
    assert "no 'id' column; add one, or map yours with --map COLUMN=id" in result.stderr
    # Common synonyms need no --map: MRN, Given name, Surname...
    assert "Column ignored: 'Chart Ref'." in result.stderr
    result = batch(
        run,
        str(src),
        "-o",
        str(tmp_path / "o"),
        "--dry-run",
        "--map",
        "chart ref=id",
        "--map",
        "Vorname=first_name",
        "--map",
        "NACHNAME=last_name",
    )
    assert result.exit_code == 0, result.stderr
    result = batch(run, str(src), "-o", str(tmp_path / "o"), "--dry-run", "--map", "Chart Ref=ids")
    assert result.exit_code == 1
    assert "--map: 'ids' is not a recipient field; did you mean 'id'?" in result.stderr


def test_names_in_other_scripts_get_a_fallback_font(run, tmp_path, caplog):
    rows = [
        "S-1,王,小明,1 A St,Peoria,IL,61602,,,,",
        "S-2,محمد,العلي,1 A St,Peoria,IL,61602,,,,",
        "S-3,Nguyễn,Thị Hương,1 A St,Peoria,IL,61602,,,,",
        "S-4,Private\ue000Use,Char,1 A St,Peoria,IL,61602,,,,",
    ]
    src = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    result = batch(run, str(src), "-o", str(out), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    fonts = {}
    for rid in ("S-1", "S-2", "S-3"):
        listing = subprocess.run(
            ["pdffonts", str(out / f"{rid}.pdf")], capture_output=True, text=True
        ).stdout
        fonts[rid] = listing
    assert "Noto-Sans-CJK" in fonts["S-1"] or "NotoSansCJK" in fonts["S-1"]
    assert "Noto-Sans-Arabic" in fonts["S-2"]
    assert "Noto" in fonts["S-3"]  # Vietnamese marks the main font lacks
    assert "王小明" in pages_text((out / "S-1.pdf").read_bytes())[0].replace(" ", "")
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert (
        "warning: row 5 (id S-4): no installed font can draw U+E000; they print as empty boxes"
        in warnings
    )
    # WeasyPrint's own glyph warning passes through with the code point only.
    assert "warning: .notdef glyph rendered: no font can draw U+E000" in warnings
    for line in result.stderr.splitlines():
        for secret in ("\ue000", "王", "محمد", "Nguyễn", "Private"):
            assert secret not in line


def test_workers_and_resume_after_kill(tmp_path):
    """Kill -9 a real multi-process run, then --resume: finished files untouched,
    every row done once, the manifest equal to what is on disk."""
    rows = [f"K-{i},Pat,Number{i},1 A St,Peoria,IL,61602,,,," for i in range(1, 17)]
    src = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    exe = [sys.executable, "-m", "handoutgen.cli"]
    cmd = [
        *exe,
        "--workspace",
        str(ROOT),
        "batch",
        "followup-letter",
        str(src),
        "-o",
        str(out),
        "--workers",
        "2",
        "--letter-date",
        "2026-11-22",
        "--chunk-size",
        "2",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("K-*.pdf")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # Finished = written and vouched for by its manifest line. A PDF the kill
    # caught between its rename and its manifest line is not, and is rendered again.
    vouched = {r["id"] for r in read_manifest(out / "manifest.csv") if r["status"] == "ok"}
    before = {
        p.name: (p.stat().st_mtime_ns, p.stat().st_ino)
        for p in out.glob("K-*.pdf")
        if p.stem in vouched
    }
    assert 1 <= len(before) < 16, "the kill should land mid-batch"
    result = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"resumed {len(before)}," in result.stderr
    # kill -9 left the lock file behind; its owner is dead, so it is taken over.
    assert "took over the lock of an earlier batch" in result.stderr
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.glob("K-*.pdf")}
    assert len(after) == 16
    for name, stamp in before.items():
        assert after[name] == stamp, f"{name} was rewritten"
    assert not list(out.glob(".*.part"))
    manifest = read_manifest(out / "manifest.csv")
    assert [r["id"] for r in manifest] == [f"K-{i}" for i in range(1, 17)]
    for row in manifest:
        data = (out / f"{row['id']}.pdf").read_bytes()
        assert row["status"] == "ok"
        assert row["sha256"] == hashlib.sha256(data).hexdigest()


def test_process_pool_matches_single_process(local_run, tmp_path):
    tmp, _ = local_run
    settings = BatchSettings(
        document="followup-letter",
        recipients=tmp / "r.csv",
        out_dir=tmp_path / "out",
        workers=2,
        recycle_after=1,
        letter_date=__import__("datetime").date(2026, 11, 22),
    )
    run_batch(Workspace.at(ROOT), settings)
    for rid in ("A-1", "A-2", "A-3"):
        assert (tmp_path / "out" / f"{rid}.pdf").read_bytes() == (
            tmp / "out" / f"{rid}.pdf"
        ).read_bytes()


def test_dask_cluster_matches_local_run(local_run, tmp_path):
    from dask import distributed  # the [cluster] extra, installed by scripts/setup.sh

    tmp, _ = local_run
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        settings = BatchSettings(
            document="followup-letter",
            recipients=tmp / "r.csv",
            out_dir=tmp_path / "out",
            scheduler=cluster.scheduler_address,
            letter_date=__import__("datetime").date(2026, 11, 22),
        )
        report = run_batch(Workspace.at(ROOT), settings)
    assert report.rendered == 3
    for rid in ("A-1", "A-2", "A-3"):
        assert (tmp_path / "out" / f"{rid}.pdf").read_bytes() == (
            tmp / "out" / f"{rid}.pdf"
        ).read_bytes()
    assert (tmp_path / "out" / "manifest.csv").read_text() == (
        tmp / "out" / "manifest.csv"
    ).read_text()


def test_unreachable_scheduler_is_a_clear_error(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", GOOD[1:2])
    result = batch(run, str(src), "-o", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(
        "Error: cannot reach the dask scheduler at tcp://127.0.0.1:9"
    )


def test_merged_file_bytes_do_not_depend_on_arrival_order_for_equal_objects_stored_differently(
    tmp_path,
):
    """Two PDFs hold the same font, its /Widths indirect in one and direct in the
    other: whichever copy came first must not decide the print file's bytes.
    (Found by review.)"""
    from pikepdf import Array, Dictionary, Name

    def make(indirect: bool, path) -> None:  # noqa: ANN001
        pdf = pikepdf.new()
        pdf.add_blank_page()
        descriptor = pdf.make_indirect(
            Dictionary(Type=Name.FontDescriptor, FontName=Name.Helvetica)
        )
        widths = Array([500, 600, 700])
        font = Dictionary(
            Type=Name.Font,
            Subtype=Name.Type1,
            BaseFont=Name.Helvetica,
            FirstChar=65,
            LastChar=67,
            Widths=pdf.make_indirect(widths) if indirect else widths,
            FontDescriptor=descriptor,
        )
        pdf.pages[0].obj.Resources = Dictionary(Font=Dictionary(F1=pdf.make_indirect(font)))
        pdf.pages[0].obj.Contents = pdf.make_stream(b"BT /F1 12 Tf 72 720 Td (ABC) Tj ET")
        pdf.save(path)

    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    make(True, a)
    make(False, b)
    written = []
    for order in ([a, b], [b, a]):
        print_file = PrintFile()
        for path in order:
            print_file.add(path, path.read_bytes())
        print_file.write([a, b], tmp_path / "print.pdf")
        written.append((tmp_path / "print.pdf").read_bytes())
    assert written[0] == written[1]


def test_batch_clinic_prints_that_profiles_address_and_numbers(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", GOOD[1:2])
    out = tmp_path / "out"
    result = batch(run, str(src), "-o", str(out), "--clinic", "riverside", "--workers", "1")
    assert result.exit_code == 0, result.output
    pages = pages_text((out / "A-2.pdf").read_bytes())
    # The return address window, then the handout's numbers: one clinic throughout.
    assert pages[0].startswith("Riverside Back and Neck Center 40 River Road Riverside, IL 60546")
    text = " ".join(pages)
    assert "Call us soon at (555) 010-0200 if:" in text
    assert "Example Spine Clinic" not in text and "(555) 010-0100" not in text


def test_batch_refuses_a_clinic_without_a_profile_before_any_row(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", GOOD)
    out = tmp_path / "out"
    result = batch(run, str(src), "-o", str(out), "--clinic", "Lakeside Spine Center")
    assert result.exit_code == 1
    assert "no clinic profile 'Lakeside Spine Center'; add handouts/brands/<id>.yaml" in (
        result.output
    )
    assert not out.exists() or not list(out.iterdir())
