"""A mailing can never send the wrong letter, drop a recipient or merge patients
into one file. Each test is one way it used to go wrong, through the real CLI
with real files."""

from __future__ import annotations

import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import conftest
from conftest import ROOT, pages_text

HEADER = "id,first_name,last_name,address1,city,state,zip,options"
ROWS = [
    "P-1,Maria,Lopez,12 Oak St,Springfield,IL,62704,conservative-care",
    "P-2,Omar,Haddad,5 Elm St,Springfield,IL,62701,conservative-care",
    "P-3,Li,Wang,9 Pine Rd,Chicago,IL,60601,spinal-cord-stimulation",
]


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    return conftest.write_csv(path, rows, header)


def batch(run, *args: str):
    return run("batch", "followup-letter", *args, "--letter-date", "2026-11-22", "--workers", "1")


def manifest(out: Path) -> list[dict[str, str]]:
    return conftest.read_manifest(out)


def batch_cmd(src: Path, out: Path, *args: str) -> list[str]:
    """The batch command as a separate process (for locks, kills and races)."""
    return [
        sys.executable,
        "-m",
        "handoutgen.cli",
        "--workspace",
        str(ROOT),
        "batch",
        "followup-letter",
        str(src),
        "-o",
        str(out),
        "--letter-date",
        "2026-11-22",
        *args,
    ]


def stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_ino


def first_page(path: Path) -> str:
    return pages_text(path.read_bytes())[0]


# -- resume is safe by construction ------------------------------------------------


def test_resume_renders_a_changed_row_again_and_keeps_the_rest(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    out = tmp_path / "out"
    assert batch(run, str(src), "-o", str(out)).exit_code == 0
    assert "Dear Maria Lopez," in first_page(out / "P-1.pdf")
    kept = {rid: stamp(out / f"{rid}.pdf") for rid in ("P-2", "P-3")}
    # The list is edited: row P-1 is now another person with other options.
    changed = [
        "P-1,Grace,Hopper,7 Navy Way,Arlington,VA,22201,spinal-cord-stimulation",
        *ROWS[1:],
    ]
    write_csv(src, changed)
    result = batch(run, str(src), "-o", str(out), "--resume")
    assert result.exit_code == 0, result.stderr
    assert "Rendered 1, resumed 2, failed 0; " in result.stderr
    assert (
        "Resume: kept 2 finished PDFs; 1 row had changed since its PDF and was rendered again."
        in result.stderr
    )
    page1 = first_page(out / "P-1.pdf")
    assert "Dear Grace Hopper," in page1 and "Maria" not in page1
    assert "Spinal cord stimulation" in " ".join(pages_text((out / "P-1.pdf").read_bytes()))
    for rid, before in kept.items():
        assert stamp(out / f"{rid}.pdf") == before, f"{rid} was rewritten"
    rows = {r["id"]: r for r in manifest(out)}
    assert rows["P-1"]["status"] == "ok" and rows["P-1"]["fingerprint"] != ""


def test_resume_never_trusts_a_pdf_no_manifest_vouches_for(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    out = tmp_path / "out"
    out.mkdir()
    # Someone else's letter sitting where P-2's will go, and no manifest.
    shutil.copy(ROOT / "docs" / "handout-page1.png", out / "P-2.pdf")
    (out / "P-1.pdf").write_bytes(b"%PDF-1.7\n% not really\n")
    result = batch(run, str(src), "-o", str(out), "--resume")
    assert result.exit_code == 0, result.stderr
    assert "Rendered 3, resumed 0, failed 0; " in result.stderr
    assert "Dear Omar Haddad," in first_page(out / "P-2.pdf")


def test_resume_renders_again_a_vouched_pdf_that_was_damaged(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    out = tmp_path / "out"
    assert batch(run, str(src), "-o", str(out)).exit_code == 0
    data = (out / "P-3.pdf").read_bytes()
    (out / "P-3.pdf").write_bytes(data[: len(data) // 2])  # torn by a full disk
    result = batch(run, str(src), "-o", str(out), "--resume")
    assert result.exit_code == 0, result.stderr
    assert "Rendered 1, resumed 2, failed 0; " in result.stderr
    assert "Dear Li Wang," in first_page(out / "P-3.pdf")


def test_resume_keeps_the_render_column_and_counts_only_new_pages(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    out = tmp_path / "out"
    assert batch(run, str(src), "-o", str(out)).exit_code == 0
    first = {r["id"]: r["render"] for r in manifest(out)}
    assert first["P-1"] == "edition" or first["P-1"].startswith("full")
    (out / "P-3.pdf").unlink()
    result = batch(run, str(src), "-o", str(out), "--resume")
    assert result.exit_code == 0, result.stderr
    pages = len(pages_text((out / "P-3.pdf").read_bytes()))
    assert f"Rendered 1, resumed 2, failed 0; {pages} pages in " in result.stderr
    assert {r["id"]: r["render"] for r in manifest(out)} == first


# -- outputs cannot collide ------------------------------------------------------------


@pytest.mark.parametrize(
    "merged, message",
    [
        ("out/P-1.pdf", "inside the output folder"),
        ("out/manifest.csv", "inside the output folder"),
        ("out/sub/print.pdf", "inside the output folder"),
        ("r.csv", "that is the recipient file"),
    ],
)
def test_merged_file_may_not_overwrite_an_output_or_the_input(run, tmp_path, merged, message):
    src = write_csv(tmp_path / "r.csv", ROWS)
    before = src.read_bytes()
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--merged", str(tmp_path / merged))
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.startswith("Error: --merged ")
    assert not (tmp_path / "out").exists(), "refused before anything was written"
    assert src.read_bytes() == before


def test_recipient_file_inside_the_output_folder_is_never_overwritten(run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    src = write_csv(out / "manifest.csv", ROWS)
    result = batch(run, str(src), "-o", str(out))
    assert result.exit_code == 1
    assert "would overwrite its own recipient file" in result.stderr
    assert src.read_text().startswith(HEADER)


def test_a_folder_from_another_run_needs_resume_or_overwrite(run, tmp_path):
    out = tmp_path / "out"
    first = write_csv(tmp_path / "first.csv", ROWS)
    assert batch(run, str(first), "-o", str(out)).exit_code == 0
    other = write_csv(
        tmp_path / "other.csv",
        [
            "P-1,Grace,Hopper,7 Navy Way,Arlington,VA,22201,conservative-care",
            "Q-9,Alan,Turing,1 Bletchley Rd,Princeton,NJ,08540,conservative-care",
        ],
    )
    before = {p.name: stamp(p) for p in out.glob("*.pdf")}
    result = batch(run, str(other), "-o", str(out))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: {out} already holds 1 PDF that this run did not make (from another recipient "
        "list, changed rows or other settings; no manifest line of this run vouches for them). "
        "Add --resume to keep the PDFs that still match and render the rest, or --overwrite to "
        "replace them all, or pick an empty folder"
    )
    assert {p.name: stamp(p) for p in out.glob("*.pdf")} == before
    # The same list again is the same run: allowed.
    assert batch(run, str(first), "-o", str(out)).exit_code == 0
    result = batch(run, str(other), "-o", str(out), "--overwrite")
    assert result.exit_code == 0, result.stderr
    # The earlier run's letters for people not in this list are gone with it.
    assert sorted(p.name for p in out.glob("*.pdf")) == ["P-1.pdf", "Q-9.pdf"]
    assert "Dear Grace Hopper," in first_page(out / "P-1.pdf")
    assert [r["id"] for r in manifest(out)] == ["P-1", "Q-9"]


def test_resume_and_overwrite_together_is_refused(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--resume", "--overwrite")
    assert result.exit_code == 1
    assert "pick one" in result.stderr


# -- one batch per folder --------------------------------------------------------------


def test_a_second_batch_into_the_same_folder_is_refused_naming_the_pid(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from handoutgen.store.lock import FolderLock\n"
            "with FolderLock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
            str(out / ".handoutgen.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = batch(run, str(src), "-o", str(out))
        assert result.exit_code == 1
        assert result.stderr.splitlines()[-1] == (
            f"Error: another batch is writing to {out} (pid {holder.pid}); wait for it to "
            "finish, or stop it, then run this again"
        )
        assert not list(out.glob("*.pdf"))
    finally:
        holder.kill()
        holder.wait()
    # Its owner is dead: the lock is stale and the next run takes it over.
    result = batch(run, str(src), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert f"took over the lock of an earlier batch (pid {holder.pid})" in result.stderr
    assert not (out / ".handoutgen.lock").exists()


def test_a_lock_planted_as_a_symlink_is_never_followed(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("do not truncate me")
    (out / ".handoutgen.lock").symlink_to(target)
    result = batch(run, str(src), "-o", str(out))
    assert result.exit_code == 1
    assert "is a symbolic link; a lock file must be a plain file" in result.stderr
    assert target.read_text() == "do not truncate me"


def test_two_concurrent_batches_never_mix_their_manifests(tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    out = tmp_path / "out"
    cmd = batch_cmd(src, out, "--workers", "1")
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "another batch is writing to" in loser
    assert [r["id"] for r in manifest(out)] == ["P-1", "P-2", "P-3"]


# -- no orphans, no leftovers ----------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_exit_when_the_parent_is_killed(tmp_path):
    rows = [f"K-{i},Pat,Number{i},1 A St,Peoria,IL,61602," for i in range(1, 41)]
    src = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        batch_cmd(src, out, "--workers", "2", "--chunk-size", "1", "--full-render"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2:
        # spawn's resource tracker is a child too; workers are the ones running our code
        workers = [
            c
            for c in _children(proc.pid)
            if b"multiprocessing" in Path(f"/proc/{c}/cmdline").read_bytes()
            and b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()
        ]
        time.sleep(0.1)
    assert len(workers) >= 2, "the batch should have started its workers"
    while time.monotonic() < deadline and not list(out.glob("K-*.pdf")):
        time.sleep(0.1)  # mid-render
    proc.send_signal(signal.SIGKILL)  # the parent only, as an OOM killer would
    proc.wait()
    gone_by = time.monotonic() + 5
    while time.monotonic() < gone_by and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "orphaned workers kept rendering"


def test_resume_removes_a_torn_merged_file(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    out = tmp_path / "out"
    merged = tmp_path / "print.pdf"
    assert batch(run, str(src), "-o", str(out), "--merged", str(merged)).exit_code == 0
    # What a kill during the merge leaves: every patient's pages in a temp file.
    torn = tmp_path / ".print.pdf.abc123.part"
    torn.write_bytes(merged.read_bytes()[:1000])
    result = batch(run, str(src), "-o", str(out), "--merged", str(merged), "--resume")
    assert result.exit_code == 0, result.stderr
    assert not torn.exists()
    assert not list(tmp_path.glob(".*.part"))


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    from handoutgen.core.output import write_atomic

    with pytest.raises(TypeError):
        write_atomic(tmp_path / "x.pdf", object())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_outputs_are_private(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ROWS)
    out = tmp_path / "new" / "out"
    merged = tmp_path / "print" / "all.pdf"
    assert batch(run, str(src), "-o", str(out), "--merged", str(merged)).exit_code == 0
    for path in [*out.glob("*.pdf"), out / "manifest.csv", merged]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (tmp_path / "new", out, merged.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_single_render_is_private_too(run, tmp_path):
    target = tmp_path / "handout.pdf"
    result = run("render", "nonsurgical-options", "--patient", "Alex Example", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# -- every recipient is read or reported ---------------------------------------------


def _stale_dimension_xlsx(path: Path, rows: int) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "first_name", "last_name", "address1", "city", "state", "zip"])
    for i in range(1, rows + 1):
        ws.append([f"X-{i}", "Pat", f"Number{i}", f"{i} Main St", "Boston", "MA", 2100 + i])
    wb.save(path)
    # Rewrite the stored sheet size to claim one data row, as some exporters do.
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:D2"', data)
                assert n == 1
            zout.writestr(item, data)
    tmp.replace(path)


def test_xlsx_with_a_stale_dimension_reads_every_row(run, tmp_path):
    src = tmp_path / "list.xlsx"
    _stale_dimension_xlsx(src, 10)
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "Rows: 10 read, all valid." in result.stderr
    # ZIP codes stored as numbers lost their leading zero; each is restored and
    # said so, in one line naming the rows (not ten lines).
    warned = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert warned == [
        f"warning: {src}: 10 ZIPs restored: rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 (zip: had 4 "
        "digits; restored the leading zero a spreadsheet drops when it stores ZIP codes as "
        "numbers (format the column as text to keep them))"
    ]


def test_restored_zip_is_printed_in_the_envelope_window(run, tmp_path):
    src = tmp_path / "list.xlsx"
    _stale_dimension_xlsx(src, 1)
    out = tmp_path / "out"
    result = batch(run, str(src), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "BOSTON, MA 02101" in first_page(out / "X-1.pdf")


def test_excel_headers_map_without_help_and_the_dry_run_shows_how(run, tmp_path):
    src = write_csv(
        tmp_path / "export.csv",
        ["12345,Maria,Lopez,12 Oak St,Apt 2,Springfield,IL,62704,blue,x"],
        header="MRN,First Name,Last Name,Address 1,Address 2,City,State,Zip Code,Favorite Color,Adress 3",
    )
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert (
        "Columns read: 'MRN' -> id, 'First Name' -> first_name, 'Last Name' -> last_name, "
        "'Address 1' -> address1, 'Address 2' -> address2, 'City' -> city, 'State' -> state, "
        "'Zip Code' -> zip." in lines
    )
    assert "Column ignored: 'Favorite Color'." in lines
    assert (
        "Column ignored: 'Adress 3' (did you mean 'address1'? it is read from 'Address 1')"
    ) in lines
    estimate = next(ln for ln in lines if ln.startswith("Estimate: "))
    out = tmp_path / "out"
    assert batch(run, str(src), "-o", str(out)).exit_code == 0
    # One row, so its sample render is the real thing: the estimate is exact.
    pages = sum(int(r["pages"]) for r in manifest(out))
    assert estimate.startswith(f"Estimate: about {pages} pages, about ")
    page1 = first_page(out / "12345.pdf")
    assert "Dear Maria Lopez," in page1
    # In USPS Publication 28 form (--address-style usps, the default).
    assert "12 OAK ST" in page1 and "APT 2" in page1 and "SPRINGFIELD, IL 62704" in page1


def test_a_letter_without_a_full_address_is_a_row_error(run, tmp_path):
    rows = [
        "A-1,Maria,Lopez,,Springfield,IL,62704,",  # no street
        "A-2,,,5 Elm St,Springfield,IL,62701,",  # no name
        "A-3,Li,Wang,9 Pine Rd,Chicago,IL,SW1A 1AA,",  # a UK postcode
        "A-4,Ann,Lee,1 A St,Chicago,Ontario,60601,",
        "A-5,Bo,Kim,1 A St,Chicago,il,60601-1234,",  # fine: state code in any case, ZIP+4
    ]
    src = write_csv(tmp_path / "r.csv", rows)
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 3  # A-5 is valid
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error: ")]
    assert errors == [
        f"Error: {src}:2 (id A-1): address1: missing; a letter needs a full mailing address",
        f"Error: {src}:3 (id A-2): name: missing; a letter needs the recipient's name",
        f"Error: {src}:4 (id A-3): zip: not a US ZIP code; use 12345 or 12345-6789",
        f"Error: {src}:5 (id A-4): state: not a US state; use its two-letter code, like 'IL'",
        "Error: 4 problems found; nothing rendered; 1 row is valid",
    ]


def test_a_letter_list_without_address_columns_is_refused_up_front(run, tmp_path):
    src = write_csv(tmp_path / "r.csv", ["A-1,Maria,Lopez"], header="id,First Name,Surname")
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 1
    assert (
        f"Error: {src}:1: columns: a letter needs address1, city, state, zip; no column reads "
        "as them (map yours with --map COLUMN=FIELD)"
    ) in result.stderr


def test_options_with_commas_and_long_values_are_reported_briefly(run, tmp_path):
    secret = "x" * 100
    rows = [
        'A-1,Maria,Lopez,12 Oak St,Springfield,IL,62704,"fusion, decompression"',
        f"A-2,Omar,Haddad,5 Elm St,Springfield,IL,62701,{secret}",
    ]
    src = write_csv(tmp_path / "r.csv", rows)
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 1
    assert (
        f"{src}:2 (id A-1): options: separate options with ';', like 'fusion;decompression'"
    ) in result.stderr
    assert f"{src}:3 (id A-2): options: unknown option '{'x' * 39}…'" in result.stderr
    assert "x" * 41 not in result.stderr


def test_ids_that_differ_only_in_case_collide(run, tmp_path):
    rows = [ROWS[0], "p-1,Omar,Haddad,5 Elm St,Springfield,IL,62701,"]
    src = write_csv(tmp_path / "r.csv", rows)
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 3  # row 2 is valid
    assert (
        f"Error: {src}:3 (id p-1): id: same as row 2's id but for upper/lower case; the two files would "
        "overwrite each other on macOS and Windows"
    ) in result.stderr


def test_two_columns_for_one_field_is_a_clear_error(run, tmp_path):
    src = write_csv(
        tmp_path / "r.csv",
        ["A-1,Maria,Lopez,12 Oak St,Springfield,IL,62704,62704"],
        header="id,first_name,last_name,address1,city,state,Zip,Postal Code",
    )
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 1
    assert (
        "columns: columns 'Zip' and 'Postal Code' both read as 'zip'; remove one, or say "
        "which with --map"
    ) in result.stderr


def test_cp1252_csv_needs_its_encoding_named(run, tmp_path):
    src = tmp_path / "old-excel.csv"
    src.write_bytes(
        (HEADER + "\r\nE-1,José,Muñoz,12 Oak St,Springfield,IL,62704,\r\n").encode("cp1252")
    )
    out = tmp_path / "out"
    result = batch(run, str(src), "-o", str(out), "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: {src}:2: not utf-8-sig text; export it as 'CSV UTF-8', or name its encoding "
        "with --encoding (older Excel writes cp1252)"
    )
    result = batch(run, str(src), "-o", str(out), "--encoding", "cp1252")
    assert result.exit_code == 0, result.stderr
    assert "Dear José Muñoz," in first_page(out / "E-1.pdf")


# -- input limits ------------------------------------------------------------------------


def test_a_recipient_file_over_the_size_cap_is_refused_at_once(run, tmp_path):
    big = tmp_path / "huge.json"
    with open(big, "wb") as fh:  # 1 GB, sparse: costs no disk
        fh.truncate(1024**3)
    t0 = time.monotonic()
    result = batch(run, str(big), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: {big}: 1.1 GB is over the 200 MB limit for a recipient file; split it, or "
        "raise the limit with --max-input-size"
    )
    assert time.monotonic() - t0 < 30
    src = write_csv(tmp_path / "r.csv", ROWS * 30)
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--max-input-size", "1KB")
    assert result.exit_code == 1
    assert "KB is over the 1 KB limit for a recipient file" in result.stderr


def test_an_xlsx_that_unpacks_beyond_the_cap_is_refused_before_parsing(run, tmp_path):
    src = tmp_path / "bomb.xlsx"
    _stale_dimension_xlsx(src, 1)
    with zipfile.ZipFile(src, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/padding.xml", b"<a>" + b" " * (30 * 1024 * 1024) + b"</a>")
    assert src.stat().st_size < 1024 * 1024
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--max-input-size", "20MB")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: {src}: unpacks to 31 MB, over the 20 MB limit; split it, or raise the limit "
        "with --max-input-size"
    )


# -- honest reporting and bidi safety ------------------------------------------------


def test_a_right_to_left_override_in_a_name_cannot_reorder_the_letter(run, tmp_path):
    rows = [
        "B-1,Eve\u202eLIVE,Smith,1 A St,Peoria,IL,61602,",
        # A stray "pop isolate" must not let the override break out either.
        "B-2,Eve\u2069\u202eLIVE,Jones,1 A St,Peoria,IL,61602,",
    ]
    src = write_csv(
        tmp_path / "r.csv",
        [r + ",2026-11-20" for r in rows],
        header=HEADER + ",visit_date",
    )
    out = tmp_path / "out"
    assert batch(run, str(src), "-o", str(out)).exit_code == 0
    for rid in ("B-1", "B-2"):
        pages = pages_text((out / f"{rid}.pdf").read_bytes())
        assert "Visit of November 20, 2026" in pages[1], rid
        assert "6202 ,02 rebmevoN" not in " ".join(pages)
        assert "Your follow-up from the spine clinic" in " ".join(pages)


def test_a_fallback_names_its_real_cause(run, tmp_path):
    """A short name drawn with a CJK or Arabic fallback font changes its box's
    line height; that is the reason given, not "too long for its box"."""
    # Three readers of one set get an edition.
    rows = [
        "C-1,王,小明,1 A St,Peoria,IL,61602,,2026-11-20",
        "C-2,Ann,Lee,1 A St,Peoria,IL,61602,,2026-11-20",
        "C-3,Bo,Kim,1 A St,Peoria,IL,61602,,2026-11-20",
    ]
    src = write_csv(tmp_path / "r.csv", rows, header=HEADER + ",visit_date")
    out = tmp_path / "out"
    result = batch(run, str(src), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    render = {r["id"]: r["render"] for r in manifest(out)}
    assert render == {
        "C-1": "full: the prepared for text uses a fallback font, which changes the size of its box",
        "C-2": "edition",
        "C-3": "edition",
    }
    assert "  row 2 (id C-1): the prepared for text uses a fallback font" in result.stderr


def test_an_xlsx_with_an_xml_entity_bomb_is_refused(run, tmp_path):
    src = tmp_path / "laughs.xlsx"
    _stale_dimension_xlsx(src, 1)
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'.encode()
            for i in range(1, 10)
        )
        + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row><c t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    )
    tmp = src.with_suffix(".tmp")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            zout.writestr(item, bomb if item.filename == "xl/worksheets/sheet1.xml" else data)
    tmp.replace(src)
    t0 = time.monotonic()
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: {src}: refused: its XML declares entities, which spreadsheets never need "
        "(the shape of an entity-expansion attack); save it again from Excel"
    )
    assert time.monotonic() - t0 < 20
