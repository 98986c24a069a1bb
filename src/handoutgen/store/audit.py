"""An append-only audit trail of what the web app handed out (and what the CLI
wrote back to an EHR), without patient data.

One row per PDF, preview or EHR write-back: when (UTC), who (the signed-in user), which
document, options, language, page size, the content hash of the reviewed YAML
it came from, the page count, and a write-back's teach-back outcome. Never the patient's name, the note, or any
other field a clinician typed. It answers "which version of the content did we
hand out last March?": ``handoutgen audit --since 2026-03-01``.

SQLite (in the standard library) at ``.handoutgen/audit.sqlite3``, mode 0600;
triggers refuse UPDATE and DELETE so rows are only ever added.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from handoutgen.content.workspace import Workspace, display_path
from handoutgen.core.errors import HandoutgenError
from handoutgen.store import private

FILE = "audit.sqlite3"
# The columns, all of them: nothing here can hold what a patient or clinician typed.
COLUMNS = (
    "at",
    "user",
    "action",
    "document",
    "options",
    "language",
    "page_size",
    "large_print",
    "content_hash",
    "pages",
    "outcome",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS renders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    document TEXT NOT NULL,
    options TEXT NOT NULL,
    language TEXT NOT NULL,
    page_size TEXT NOT NULL,
    large_print INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    pages INTEGER NOT NULL,
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS renders_at ON renders(at);
CREATE TRIGGER IF NOT EXISTS renders_no_update BEFORE UPDATE ON renders
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS renders_no_delete BEFORE DELETE ON renders
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True)
class Entry:
    at: str
    user: str
    action: str
    document: str
    options: str
    language: str
    page_size: str
    large_print: bool
    content_hash: str
    pages: int
    # An EHR write-back's teach-back result ("verbalized understanding"...); "" otherwise.
    outcome: str = ""


def path_for(workspace: Workspace) -> Path:
    return private.folder(workspace) / FILE


class AuditLog:
    """Appends rows; safe to share between threads of one process."""

    def __init__(self, workspace: Workspace) -> None:
        self.path = path_for(workspace)
        self._lock = threading.Lock()
        self._workspace = workspace

    def _connect(self) -> sqlite3.Connection:
        private._ensure_folder(self._workspace)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        con = sqlite3.connect(self.path, timeout=10)
        con.executescript(_SCHEMA)
        if "outcome" not in {row[1] for row in con.execute("PRAGMA table_info(renders)")}:
            # A log from before the column: added in place, the old rows keep "".
            con.execute("ALTER TABLE renders ADD COLUMN outcome TEXT NOT NULL DEFAULT ''")
        return con

    def add(
        self,
        *,
        user: str,
        action: str,
        document: str,
        options: list[str],
        language: str,
        page_size: str,
        large_print: bool,
        content_hash: str,
        pages: int,
        outcome: str = "",
        at: dt.datetime | None = None,
    ) -> None:
        when = (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        row = (
            when,
            user,
            action,
            document,
            ",".join(options),
            language,
            page_size,
            int(large_print),
            content_hash,
            pages,
            outcome,
        )
        with self._lock:
            con = self._connect()
            try:
                with con:
                    con.execute(
                        f"INSERT INTO renders ({', '.join(COLUMNS)}) VALUES "
                        f"({', '.join('?' * len(COLUMNS))})",
                        row,
                    )
            finally:
                con.close()


def read(workspace: Workspace, since: dt.date | None = None) -> list[Entry]:
    """Rows on or after ``since`` (UTC date), oldest first."""
    path = path_for(workspace)
    if not path.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            have = {row[1] for row in con.execute("PRAGMA table_info(renders)")}
            # A log written before a column existed reads it as "" (read-only: not migrated here).
            columns = ", ".join(c if c in have else f"'' AS {c}" for c in COLUMNS)
            rows = con.execute(
                f"SELECT {columns} FROM renders WHERE at >= ? ORDER BY id",
                ((since or dt.date.min).isoformat(),),
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise HandoutgenError(f"cannot read the audit log {display_path(path)}: {exc}") from None
    return [
        Entry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], int(r[9]), r[10])
        for r in rows
    ]
