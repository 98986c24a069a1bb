"""Mailings straight from a practice-system export (issue #28): a workbook as
the operator sees it, import profiles, errors people can act on, USPS
addresses, and a print file owned by one batch."""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

import pytest

import conftest
from handoutgen.mailing.batch import merged_lock
from handoutgen.store.lock import FolderLock

HEADER = [
    "MRN",
    "Patient Last Name",
    "Patient First Name",
    "Address 1",
    "City",
    "State",
    "Zip",
    "Preferred Language",
    "Options",
    "Rendering Provider",
    "Visit Date",
]


def _row(mrn, last, first, street, city, state, zip_code, lang, options=None, provider=None):
    return [
        mrn,
        last,
        first,
        street,
        city,
        state,
        zip_code,
        lang,
        options,
        provider or "RIVERA, SAM MD",
        dt.datetime(2026, 11, 20),
    ]


# Row numbers in the sheet: title rows 1-2, blank 3, header 4, data from 5.
ROWS = {
    5: _row(100231, "LOPEZ", "MARIA", "12 Oak Street Apt 4", "Springfield", "IL", 62704, "Spanish"),
    6: _row(100232, "HADDAD", "OMAR", "5 Elm St", "Springfield", "IL", 62701, "English"),
    7: _row(100233, "WANG", "LI", "9 Pine Rd", "Chicago", "IL", 60601, "english"),
    8: _row(100234, "KING", "ADA", None, "Peoria", "IL", 61602, "English"),  # no street
    9: _row(
        100235, "O'BRIEN", "SEAN", "3 Main St", "Springfield", "Massachusetts", 62701, "English"
    ),
    10: _row(100236, "LEE", "ANN", "4 Lake Ave", "Peoria", "IL", 61602, "English", "fusoin"),
    11: _row(100231, "LOPEZ", "MARIA", "12 Oak St", "Springfield", "IL", 62704, "SPA"),  # dup MRN
    12: _row(100238, "HIDDEN", "HAL", "8 Hill St", "Peoria", "IL", 61602, "English"),  # hidden
    13: _row(
        100239, "KIM", "BO", "2 Bay Rd", "Chicago", "IL", 60601, "English"
    ),  # options: formula
    14: _row(
        100240, "SILVA", "ANA", "7 Rose Ln", "Boston", "MA", 2134, "español"
    ),  # ZIP lost its 0
}
FORMULA_ROW = 13
HIDDEN_ROW = 12


def export_workbook(path: Path, rows: dict[int, list] = ROWS, old_sheet: bool = True) -> Path:
    """A practice system's monthly export: last month's list first, this
    month's active; title rows above the header; a hidden (filtered) row; an
    options cell whose formula was never calculated (openpyxl saves none)."""
    import openpyxl

    wb = openpyxl.Workbook()
    old = wb.active
    old.title = "October"
    old.append(["Patient Recall List - October 2026"])
    old.append([])
    old.append([])
    old.append(HEADER)
    old.append(_row(900001, "OLD", "ROW", "1 A St", "Peoria", "IL", 61602, "English"))
    ws = wb.create_sheet("November")
    ws.append(["Patient Recall List - November 2026"])
    ws.append(["Run 2026-11-21 by FRONT DESK"])
    ws.append([])
    ws.append(HEADER)
    for number, values in rows.items():
        for column, value in enumerate(values, start=1):
            ws.cell(row=number, column=column, value=value)
    if HIDDEN_ROW in rows:
        ws.row_dimensions[HIDDEN_ROW].hidden = True
    if FORMULA_ROW in rows:
        ws[f"I{FORMULA_ROW}"] = f'=IF(H{FORMULA_ROW}="English","conservative-care","")'
    wb.active = 1
    if not old_sheet:
        del wb["October"]
        wb.active = 0
    wb.save(path)
    return path


@pytest.fixture(scope="module")
def reviewed_clinic(tmp_path_factory) -> Path:
    """The shipped workspace after a qualified translator reviewed its Spanish:
    unreviewed machine translations are drafts no patient is mailed (issue #26),
    and these exports have Spanish-speaking patients."""
    from click.testing import CliRunner

    from handoutgen.cli import cli

    ws = conftest.copy_workspace(tmp_path_factory.mktemp("clinic"), translations=True)
    for path in sorted((ws / "handouts" / "translations" / "es").rglob("*.yaml")):
        result = CliRunner().invoke(
            cli,
            [
                "--workspace",
                str(ws),
                "translations",
                "review",
                str(path),
                "--by",
                "Ana Example, CHI",
            ],
        )
        assert result.exit_code == 0, result.output
    return ws


@pytest.fixture
def run(reviewed_clinic):
    """conftest's ``run``, in the reviewed workspace."""
    from click.testing import CliRunner

    from handoutgen.cli import cli

    def _run(*args: str, workspace: Path = reviewed_clinic):
        return CliRunner().invoke(
            cli, ["--workspace", str(workspace), *args], catch_exceptions=False
        )

    return _run


def batch(run, *args: str, **kw):
    return run("batch", "followup-letter", *args, "--letter-date", "2026-11-22", **kw)


PROFILE_FLAGS = (
    "--map",
    "Rendering Provider=clinician",
    "--names",
    "title",
)


def test_dry_run_reads_the_active_sheet_below_its_title_rows(run, tmp_path):
    src = export_workbook(tmp_path / "export.xlsx")
    errors = tmp_path / "not-mailed.csv"
    result = batch(
        run, str(src), "-o", str(tmp_path / "out"), "--dry-run", "--errors", str(errors),
        *PROFILE_FLAGS,
    )  # fmt: skip
    assert result.exit_code == 3, result.stderr  # valid rows and bad ones
    lines = result.stderr.splitlines()
    errs = [ln for ln in lines if ln.startswith("Error: ")]
    assert errs == [
        f"Error: {src}:8 (MRN 100234): address1: missing; a letter needs a full mailing address",
        f"Error: {src}:9 (MRN 100235): state: state MA does not match ZIP 62701 (IL); fix one",
        f"Error: {src}:10 (MRN 100236): options: unknown option 'fusoin'; did you mean 'fusion'?",
        f"Error: {src}:11 (MRN 100231): id: duplicate of row 5",
        f"Error: {src}:{FORMULA_ROW} (MRN 100239): options: cell I{FORMULA_ROW} is a formula "
        "with no saved value: open and save the workbook in Excel, or type the value",
        "Error: 5 problems found; nothing rendered; 4 rows are valid",
    ]
    # The sheet read, and the one not read; the header found below the title rows.
    assert "Sheet read: 'November' (not read: 'October')." in lines
    assert "Header: row 4 (the rows above it were skipped)." in lines
    assert "Hidden rows left out: 1 (row 12); --include-hidden reads them." in lines
    # Language names and codes read as codes, and said so.
    values = next(ln for ln in lines if ln.startswith("Values read as: "))
    assert "language 'Spanish' -> es (1 row)" in values
    assert "language 'SPA' -> es (1 row)" in values
    assert "language 'español' -> es (1 row)" in values
    assert "language 'English' -> en" in values
    assert "'Rendering Provider' -> clinician" in next(
        ln for ln in lines if ln.startswith("Columns read: ")
    )
    assert "Rows: 9 read, 4 valid, 5 with problems (listed above)." in lines
    # Last month's rows were not read.
    assert "900001" not in result.stderr
    # No patient data in the messages: row numbers and MRNs only.
    for name in ("LOPEZ", "Lopez", "MARIA", "Oak", "OAK", "HIDDEN"):
        assert name not in result.stderr
    # The rows not mailed, with their original columns and a problem column.
    assert oct(errors.stat().st_mode & 0o777) == "0o600"
    with open(errors, newline="", encoding="utf-8-sig") as fh:
        bad = list(csv.DictReader(fh))
    assert [r["MRN"] for r in bad] == ["100234", "100235", "100236", "100231", "100239"]
    assert list(bad[0]) == [*HEADER, "problem"]
    assert bad[1]["State"] == "Massachusetts" and bad[1]["Patient Last Name"] == "O'BRIEN"
    assert bad[1]["problem"] == "row 9: state: state MA does not match ZIP 62701 (IL); fix one"
    assert bad[3]["Preferred Language"] == "SPA"  # as it was read, not as mapped


def test_the_first_sheet_is_read_only_when_named(run, tmp_path):
    src = export_workbook(tmp_path / "export.xlsx")
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run", "--sheet", "october")
    assert result.exit_code == 0, result.stderr
    assert "Sheet read: 'October' (not read: 'November')." in result.stderr
    assert "Rows: 1 read, all valid." in result.stderr
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run", "--sheet", "Novmber")
    assert result.exit_code == 1
    assert (
        f"Error: --sheet: {src} has no sheet 'Novmber'; did you mean 'November'?; its sheets: "
        "'October', 'November'"
    ) in result.stderr


def test_include_hidden_reads_the_filtered_row(run, tmp_path):
    src = export_workbook(tmp_path / "export.xlsx")
    result = batch(
        run, str(src), "-o", str(tmp_path / "out"), "--dry-run", "--include-hidden", *PROFILE_FLAGS
    )
    assert "Hidden rows left out" not in result.stderr
    assert "Rows: 10 read, 5 valid" in result.stderr  # the hidden row is a good one


def test_header_row_without_title_rows_gives_a_hint(run, tmp_path):
    """A report whose title rows hide the header entirely: say where to look."""
    src = conftest.write_csv(
        tmp_path / "r.csv",
        ["Recall list,,", ",,", "Chart,Nom,Prenom", "100231,Lopez,Maria"],
        header="Clinic report,,",
    )
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 1
    assert "if it is lower down (below a report's title rows), name it with --header-row N" in (
        result.stderr
    )
    result = batch(
        run, str(src), "-o", str(tmp_path / "out"), "--dry-run", "--header-row", "4",
        "--map", "Chart=id",
    )  # fmt: skip
    assert f"Error: {src}:4: columns: a letter needs first_name/last_name, address1" in (
        result.stderr
    )


def test_unknown_columns_get_a_did_you_mean(run, tmp_path):
    src = export_workbook(tmp_path / "export.xlsx")
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert (
        "Column ignored: 'Rendering Provider' (did you mean 'clinician'? read it with --map "
        "'Rendering Provider=clinician')"
    ) not in result.stderr  # "Rendering Provider" is a known name now
    assert "'Rendering Provider' -> clinician" in result.stderr
    src = conftest.write_csv(
        tmp_path / "r.csv",
        ["A-1,Maria,Lopez,12 Oak St,Springfield,IL,62704,Dr. Ruiz"],
        header="id,first_name,last_name,address1,city,state,zip,Referring Provdr",
    )
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert (
        "Column ignored: 'Referring Provdr' (did you mean 'clinician'? read it with --map "
        "'Referring Provdr=clinician')"
    ) in result.stderr.splitlines()


def test_a_saved_profile_reads_the_next_export_the_same_way(run, tmp_path):
    src = export_workbook(tmp_path / "export.xlsx", {n: r for n, r in ROWS.items() if n in (5, 6)})
    profile = tmp_path / "practice.yaml"
    result = batch(
        run, str(src), "-o", str(tmp_path / "out"), "--dry-run", "--save-profile", str(profile),
        "--map", "Rendering Provider=clinician", "--names", "title", "--header-row", "4",
        "--value", "language:Castilian=es", "--default-options", "conservative-care",
        "--sheet", "November",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"Profile saved: {profile} (use it with --profile)." in result.stderr
    from handoutgen.mailing.importprofile import load_profile

    saved = load_profile(profile)
    assert saved.columns == {"Rendering Provider": "clinician"}
    assert saved.values == {"language": {"Castilian": "es"}}
    assert (saved.sheet, saved.header_row, saved.names, saved.options) == (
        "November", 4, "title", "conservative-care"
    )  # fmt: skip
    assert oct(profile.stat().st_mode & 0o777) == "0o600"
    # Next month: the profile alone; the real run prints what the profile says.
    rows = {
        5: _row(100300, "GARCIA", "ROSA", "1 Oak Street", "Springfield", "IL", 62704, "Castilian")
    }
    nxt = export_workbook(tmp_path / "december.xlsx", rows, old_sheet=False)
    out = tmp_path / "out"
    result = batch(run, str(nxt), "-o", str(out), "--profile", str(profile), "--workers", "1")
    assert result.exit_code == 0, result.stderr
    page1 = conftest.pages_text((out / "100300.pdf").read_bytes())[0]
    assert "Rosa Garcia" in page1  # names: title
    assert "1 OAK ST" in page1 and "SPRINGFIELD, IL 62704" in page1  # USPS form
    assert "Sam Rivera, MD" in page1  # "RIVERA, SAM MD" from the provider list


def test_a_profile_with_a_typo_is_a_located_error(run, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("sheet: November\ncolums:\n  MRN: id\n", encoding="utf-8")
    src = export_workbook(tmp_path / "export.xlsx")
    result = batch(
        run, str(src), "-o", str(tmp_path / "out"), "--dry-run", "--profile", str(profile)
    )
    assert result.exit_code == 1
    assert f"Error: {profile}:2: unknown key 'colums'; did you mean 'columns'?" in result.stderr
    profile.write_text("columns:\n  Rendering Provider: clinican\n", encoding="utf-8")
    result = batch(
        run, str(src), "-o", str(tmp_path / "out"), "--dry-run", "--profile", str(profile)
    )
    assert (
        f"Error: {profile}:2: 'clinican' is not a recipient field; did you mean 'clinician'?"
    ) in result.stderr


def test_a_real_run_from_the_export(run, tmp_path, monkeypatch):
    """A small real run: letters for the good rows, exit 3 for the rest, the
    bad rows in an XLSX named by MRN, the print file named with its sheets."""
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    keep = (5, 6, 8, 12, 14)
    src = export_workbook(tmp_path / "export.xlsx", {n: r for n, r in ROWS.items() if n in keep})
    out, merged, errors = tmp_path / "out", tmp_path / "print.pdf", tmp_path / "bad.xlsx"
    result = batch(
        run, str(src), "-o", str(out), "--merged", str(merged), "--errors", str(errors),
        "--workers", "1", *PROFILE_FLAGS,
    )  # fmt: skip
    assert result.exit_code == 3, result.stderr
    assert sorted(p.name for p in out.glob("*.pdf")) == ["100231.pdf", "100232.pdf", "100240.pdf"]
    manifest = conftest.read_manifest(out)
    assert [(r["id"], r["status"]) for r in manifest][-1] == ("100234", "invalid")
    assert "Hidden rows left out: 1 (row 12)" in result.stderr
    assert f"{src}: 1 ZIPs restored" not in result.stderr  # one is shown as itself
    assert f"warning: {src}:14 (MRN 100240): zip: had 4 digits" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"Error: 1 row not mailed (see the manifest and {errors}); 3 letters written"
    )
    assert f"Print file: {merged}, " in result.stderr
    import openpyxl

    sheet = openpyxl.load_workbook(errors).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (*HEADER, "problem")
    assert rows[1][0] == 100234 and rows[1][-1].startswith("row 8: address1: missing")
    assert oct(errors.stat().st_mode & 0o777) == "0o600"
    spanish = " ".join(conftest.pages_text((out / "100231.pdf").read_bytes()))
    assert "Maria Lopez" in spanish and "12 OAK ST" in spanish and "APT 4" in spanish
    boston = conftest.pages_text((out / "100240.pdf").read_bytes())[0]
    assert "BOSTON, MA 02134" in boston


def test_a_second_batch_naming_the_same_print_file_is_refused(run, tmp_path):
    src = conftest.write_csv(
        tmp_path / "r.csv",
        ["A-1,Maria,Lopez,12 Oak St,Springfield,IL,62704"],
        header="id,first_name,last_name,address1,city,state,zip",
    )
    merged = tmp_path / "print.pdf"
    first_out = tmp_path / "first"
    # The first batch is mid-run: it holds the print file's lock.
    with FolderLock(
        merged_lock(merged),
        what="batch",
        target=f"the print file {merged}",
        note=f"output folder {first_out}",
    ):
        result = batch(run, str(src), "-o", str(tmp_path / "second"), "--merged", str(merged))
    assert result.exit_code == 1
    assert (
        f"Error: another batch is writing to the print file {merged} (pid {os.getpid()}, "
        f"output folder {first_out}); wait for it to finish"
    ) in result.stderr
    assert not merged.exists()
    assert not list((tmp_path / "second").glob("*.pdf"))


@pytest.mark.parametrize("value", ["Klingon", "xx1"])
def test_an_unknown_language_says_how_to_map_it(run, tmp_path, value):
    src = conftest.write_csv(
        tmp_path / "r.csv",
        [f"A-1,Maria,Lopez,12 Oak St,Springfield,IL,62704,{value}"],
        header="id,first_name,last_name,address1,city,state,zip,Preferred Language",
    )
    result = batch(run, str(src), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 1
    assert (
        f"language: '{value}' is not a language name or code like 'es' or 'Spanish'; map it "
        f"with --value 'language:{value}=CODE'"
    ) in result.stderr


def test_as_given_addresses_are_printed_as_typed(run, tmp_path):
    src = conftest.write_csv(
        tmp_path / "r.csv",
        ["A-1,Maria,Lopez,12 Oak Street,Springfield,IL,62704"],
        header="id,first_name,last_name,address1,city,state,zip",
    )
    out = tmp_path / "out"
    result = batch(run, str(src), "-o", str(out), "--address-style", "as-given", "--workers", "1")
    assert result.exit_code == 0, result.stderr
    page1 = conftest.pages_text((out / "A-1.pdf").read_bytes())[0]
    assert "12 Oak Street" in page1 and "Springfield, IL 62704" in page1


def test_ctrl_c_says_what_was_written_and_how_to_go_on(tmp_path):
    """Ctrl-C reaches the whole process group (workers too): one message from
    the batch, no traceback from each worker, no leaked-semaphore noise."""
    import signal
    import subprocess
    import sys
    import time

    rows = [f"K-{i},Pat,Number{i},1 A St,Peoria,IL,61602" for i in range(1, 17)]
    src = conftest.write_csv(
        tmp_path / "r.csv", rows, header="id,first_name,last_name,address1,city,state,zip"
    )
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "handoutgen.cli", "--workspace", str(conftest.ROOT), "batch",
        "followup-letter", str(src), "-o", str(out), "--workers", "2", "--chunk-size", "2",
        "--letter-date", "2026-11-22", "--full-render",
    ]  # fmt: skip
    env = {**os.environ, "HANDOUTGEN_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("K-*.pdf")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    vouched = [r for r in conftest.read_manifest(out) if r["status"] == "ok"]
    assert 1 <= len(vouched) < 16, "the interrupt should land mid-batch"
    assert (
        f"Interrupted: {len(vouched)} letter{'s' if len(vouched) != 1 else ''} written and kept "
        "(the manifest vouches for them)"
    ) in stderr
    assert "Run the same command again with --resume to finish." in stderr
    assert "Traceback" not in stderr and "leaked semaphore" not in stderr
    assert "Aborted!" not in stderr


def test_a_dask_cluster_without_workers_is_given_up_with_a_message(tmp_path):
    """The last worker died: the batch says so and stops instead of waiting forever."""
    from dask import distributed  # the [cluster] extra, installed by scripts/setup.sh

    from handoutgen.content.workspace import Workspace
    from handoutgen.core.errors import DataError
    from handoutgen.mailing.batch import BatchSettings, run_batch

    src = conftest.write_csv(
        tmp_path / "r.csv",
        ["A-1,Maria,Lopez,12 Oak St,Springfield,IL,62704"],
        header="id,first_name,last_name,address1,city,state,zip",
    )
    with distributed.LocalCluster(n_workers=0, dashboard_address=None) as cluster:
        settings = BatchSettings(
            document="followup-letter",
            recipients=src,
            out_dir=tmp_path / "out",
            scheduler=cluster.scheduler_address,
            letter_date=dt.date(2026, 11, 22),
            dask_idle_limit=3,
        )
        with pytest.raises(DataError) as caught:
            run_batch(Workspace.at(conftest.ROOT), settings)
    assert caught.value.message == (
        f"the dask cluster at {cluster.scheduler_address} has had no workers for 3 s; 1 row "
        "was not rendered. Start workers (or check why they died), then run the same command "
        "again with --resume"
    )


def test_spanish_rows_share_an_edition(run, tmp_path, monkeypatch):
    """The unreviewed-translation mark is drawn once, by the edition: the
    overlays leave it out, so Spanish letters pass the self-check instead of
    falling back to a full render ("the assembled pages differ")."""
    monkeypatch.setenv("HANDOUTGEN_CACHE_DIR", str(tmp_path / "cache"))
    rows = [f"S-{i},Ana,Paz{i},1 A St,Peoria,IL,61602,Spanish" for i in range(1, 4)]
    src = conftest.write_csv(
        tmp_path / "r.csv", rows, header="id,first_name,last_name,address1,city,state,zip,language"
    )
    out = tmp_path / "out"
    # The shipped (unreviewed) Spanish, printed marked as a draft.
    result = batch(
        run, str(src), "-o", str(out), "--workers", "1", "--allow-draft", workspace=conftest.ROOT
    )
    assert result.exit_code == 0, result.stderr
    assert [r["render"] for r in conftest.read_manifest(out)] == ["edition"] * 3
    pages = conftest.pages_text((out / "S-2.pdf").read_bytes())
    assert pages[1].count("Machine translation, not reviewed") == 1
    assert "Ana Paz2" in pages[1]


def test_a_mapped_column_the_export_lacks_is_named(run, tmp_path):
    src = export_workbook(tmp_path / "export.xlsx")
    result = batch(
        run,
        str(src),
        "-o",
        str(tmp_path / "out"),
        "--dry-run",
        "--map",
        "Rendring Provider=clinician",
    )
    assert result.exit_code == 1
    assert (
        f"Error: {src}:4: columns: no column 'Rendring Provider' to read as clinician; did you "
        "mean 'Rendering Provider'? (the profile or --map names it)"
    ) in result.stderr
