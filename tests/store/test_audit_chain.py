"""The audit trail proves itself (issue 25): a hash chain over its rows and an
anchor beside it, so a row changed or deleted with the triggers dropped, or
the whole file deleted and made anew, is found by ``handoutgen audit
--verify``, and ``serve`` will not start on it. CLI renders and mailing
batches are recorded too, without patient data."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import sqlite3
import subprocess
import sys

import pytest

from conftest import ROOT, write_csv
from handoutgen.content.workspace import Workspace
from handoutgen.mailing.batch import BatchSettings, run_batch
from handoutgen.store import audit, private

PATIENT = "Zebulon Quixote-Secret"


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.setenv("HANDOUTGEN_PRIVATE_DIR", str(tmp_path / "private"))
    return Workspace.at(ROOT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_rows(ws: Workspace, n: int) -> None:
    log = audit.AuditLog(ws)
    for i in range(n):
        log.add(
            user=f"user{i}",
            action="pdf",
            document="fusion-alternatives",
            options=["fusion"],
            language="en",
            page_size="letter",
            large_print=False,
            content_hash="c" * 64,
            pages=2,
        )


def tamper(ws: Workspace, *sql: str) -> None:
    """What someone with the file does: drop the triggers, then change it."""
    con = sqlite3.connect(audit.path_for(ws))
    con.execute("DROP TRIGGER renders_no_update")
    con.execute("DROP TRIGGER renders_no_delete")
    for statement in sql:
        con.execute(statement)
    con.commit()
    con.close()


def test_an_intact_trail_verifies(ws, run):
    add_rows(ws, 4)
    result = run("audit", "--verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 4 rows, chain intact; head ")


def test_a_changed_row_is_named(ws, run):
    add_rows(ws, 5)
    tamper(ws, "UPDATE renders SET document = 'other-document' WHERE id = 3")
    result = run("audit", "--verify")
    assert result.exit_code == 1
    assert "the audit log does not verify: row 3 changed" in result.stderr


def test_a_changed_row_with_its_hash_recomputed_is_still_found(ws, run):
    add_rows(ws, 5)
    con = sqlite3.connect(audit.path_for(ws))
    row = con.execute(
        f"SELECT id, {', '.join(audit.COLUMNS)}, prev FROM renders WHERE id = 2"
    ).fetchone()
    values = list(row[1:-1])
    values[1] = "mallory"
    digest = audit.row_hash(2, tuple(values), row[-1])
    con.close()
    tamper(ws, f"UPDATE renders SET user = 'mallory', hash = '{digest}' WHERE id = 2")
    result = run("audit", "--verify")
    assert result.exit_code == 1
    assert "row 2 changed (row 3 does not follow it)" in result.stderr


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("id = 2", "row 2 deleted (row 3 does not follow row 1)"),
        ("id = 1", "row 1 deleted (row 2 does not follow row 0)"),
        ("id >= 4", "row 4 onwards deleted: the anchor records 5 rows up to row 5"),
    ],
)
def test_a_deleted_row_is_named(ws, run, where, expected):
    add_rows(ws, 5)
    tamper(ws, f"DELETE FROM renders WHERE {where}")
    result = run("audit", "--verify")
    assert result.exit_code == 1
    assert expected in result.stderr


def test_a_deleted_file_is_found_and_never_silently_made_anew(ws, run):
    add_rows(ws, 3)
    audit.path_for(ws).unlink()
    result = run("audit", "--verify")
    assert result.exit_code == 1
    assert "audit.sqlite3 is missing: its anchor records 3 rows up to row 3" in result.stderr
    # The next write refuses rather than start a fresh trail.
    with pytest.raises(Exception, match="is missing but its anchor records 3 rows"):
        add_rows(ws, 1)
    assert not audit.path_for(ws).exists()


def test_a_file_deleted_and_made_anew_is_found(ws, run, tmp_path):
    add_rows(ws, 3)
    anchor = audit.anchor_path(ws)
    kept = tmp_path / "anchor.json"
    shutil.copy(anchor, kept)
    # Someone deletes the trail (and its anchor), lets new rows be written,
    # and puts the old anchor back to hide it.
    audit.path_for(ws).unlink()
    anchor.unlink()
    add_rows(ws, 3)
    shutil.copy(kept, anchor)
    result = run("audit", "--verify")
    assert result.exit_code == 1
    assert "it was deleted and made anew" in result.stderr


def test_serve_refuses_to_start_on_a_broken_trail(ws, tmp_path):
    add_rows(ws, 3)
    tamper(ws, "UPDATE renders SET pages = 1 WHERE id = 2")
    env = {**os.environ, "HANDOUTGEN_PRIVATE_DIR": str(private.folder(ws))}
    cmd = [sys.executable, "-m", "handoutgen.cli", "--workspace", str(ROOT), "serve"]
    done = subprocess.run(
        [*cmd, "--port", str(free_port()), "--workers", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "the audit log does not verify: row 2 changed" in done.stderr
    assert "run 'handoutgen audit --verify' to see where" in done.stderr


def test_an_old_trail_is_chained_on_its_next_write(ws, run):
    """A file written before the chain (no prev/hash columns) gains them."""
    folder = private._ensure_folder(ws)
    con = sqlite3.connect(folder / audit.FILE)
    con.executescript(
        "CREATE TABLE renders (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, "
        "user TEXT NOT NULL, action TEXT NOT NULL, document TEXT NOT NULL, options TEXT NOT NULL, "
        "language TEXT NOT NULL, page_size TEXT NOT NULL, large_print INTEGER NOT NULL, "
        "content_hash TEXT NOT NULL, pages INTEGER NOT NULL);"
        "INSERT INTO renders VALUES (NULL, '2026-01-02T03:04:05Z', 'alice', 'pdf', 'd', '', "
        "'en', 'letter', 0, 'h', 2);"
    )
    con.commit()
    con.close()
    add_rows(ws, 1)
    assert [e.user for e in audit.read(ws)] == ["alice", "user0"]
    result = run("audit", "--verify")
    assert result.exit_code == 0 and "2 rows, chain intact" in result.stdout


def test_a_cli_render_adds_a_row_without_patient_data(ws, run, tmp_path):
    out = tmp_path / "x.pdf"
    result = run("render", "neck-surgery", "--patient", PATIENT, "-o", str(out))
    assert result.exit_code == 0, result.output
    (entry,) = audit.read(ws)
    assert entry.action == "cli-pdf" and entry.document == "neck-surgery"
    assert entry.language == "en" and entry.pages >= 1 and entry.user
    assert PATIENT.encode() not in audit.path_for(ws).read_bytes()
    assert run("audit", "--verify").exit_code == 0


def test_a_batch_adds_a_row_with_its_counts(ws, tmp_path, run):
    src = write_csv(
        tmp_path / "r.csv",
        [
            "A-1,Zebulon,Quixote-Secret,12 Oak St,Springfield,IL,62704,,Dr. Sam Rivera,2026-11-20,",
            "A-2,Omar,Haddad,5 Elm St,Springfield,IL,62701,nope,Dr. Sam Rivera,2026-11-19,",
        ],
        "id,first_name,last_name,address1,city,state,zip,options,clinician,visit_date,note",
    )
    settings = BatchSettings(
        document="followup-letter",
        recipients=src,
        out_dir=tmp_path / "out",
        workers=1,
        letter_date=dt.date(2026, 11, 22),
    )
    report = run_batch(ws, settings)
    assert report.rendered == 1
    (entry,) = audit.read(ws)
    assert (entry.action, entry.document, entry.copies) == ("batch", "followup-letter", 1)
    assert entry.counts == "rendered=1 resumed=0 invalid=1 option_sets=1"
    assert entry.pages >= 1 and entry.language == "en"
    raw = audit.path_for(ws).read_bytes()
    for secret in (b"Zebulon", b"Quixote", b"Oak St", b"62704"):
        assert secret not in raw
    assert run("audit", "--verify").exit_code == 0


def test_the_server_hands_nothing_out_once_its_trail_is_deleted(ws):
    import re

    from fastapi.testclient import TestClient

    from handoutgen.web.app import ServeConfig, create_app

    client = TestClient(
        create_app(ws, config=ServeConfig(warm=False)), base_url="http://127.0.0.1:8765"
    )
    page = client.get("/documents/fusion-alternatives")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    fields = {
        "document": "fusion-alternatives",
        "option": ["fusion", "conservative-care"],
        "patient": PATIENT,
        "visit_date": "2026-11-20",
        "clinic": "example-clinic",
        "page_size": "letter",
        "csrf_token": token,
    }
    assert client.post("/render", data=fields).status_code == 200
    audit.path_for(ws).unlink()
    refused = client.post("/render", data=fields)
    assert refused.status_code == 500
    assert "The audit log cannot be written" in refused.text
    assert not audit.path_for(ws).exists()
