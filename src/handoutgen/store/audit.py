"""An append-only, hash-chained audit trail of what was handed out, without patient data.

One row per PDF or preview from the web app, per CLI render and per mailing
batch: when (UTC), who (the signed-in user, or the operating-system user at
the command line), which document, options, language, page size, the
content hash of the reviewed YAML it came from, pages and counts. Never the
patient's name, the note or any other field a clinician typed. It answers
"which version of the content did we hand out last March?":
``handoutgen audit --since 2026-03-01``.

SQLite (in the standard library) at ``.handoutgen/audit.sqlite3``, mode 0600;
triggers refuse UPDATE and DELETE. Triggers can be dropped, so each row also
carries the hash of the row before it (``prev``) and its own hash over its
canonical content (``hash``); the first row's ``prev`` comes from a random
genesis made with the file. An anchor beside it (``audit-anchor.json``) holds
the genesis and the chain's head: ``verify`` finds a changed, deleted or
missing row, and a file deleted or made anew.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handoutgen.content.workspace import Workspace, display_path
from handoutgen.core.errors import HandoutgenError
from handoutgen.store import private

FILE = "audit.sqlite3"
ANCHOR = "audit-anchor.json"
LOCK = "audit.lock"
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
    "copies",
    "counts",
    "outcome",
)
INVESTIGATE = (
    "run 'handoutgen audit --verify' to see where; keep the file and its anchor "
    "as they are (copy them for the investigation) and tell whoever looks after "
    "the server's security"
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
    copies INTEGER NOT NULL DEFAULT 1,
    counts TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    prev TEXT,
    hash TEXT
);
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS renders_at ON renders(at);
"""
_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS renders_no_update BEFORE UPDATE ON renders
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS renders_no_delete BEFORE DELETE ON renders
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_update BEFORE UPDATE ON audit_meta
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_delete BEFORE DELETE ON audit_meta
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
# Columns added after the first release: an older file gains them (and its rows a chain).
_ADDED = {
    "copies": "INTEGER NOT NULL DEFAULT 1",
    "counts": "TEXT NOT NULL DEFAULT ''",
    "outcome": "TEXT NOT NULL DEFAULT ''",
    "prev": "TEXT",
    "hash": "TEXT",
}


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
    copies: int = 1
    counts: str = ""
    # An EHR write-back's teach-back result ("verbalized understanding"...); "" otherwise.
    outcome: str = ""


def path_for(workspace: Workspace) -> Path:
    return private.folder(workspace) / FILE


def anchor_path(workspace: Workspace) -> Path:
    return private.folder(workspace) / ANCHOR


def _start(genesis: str) -> str:
    return hashlib.sha256(f"handoutgen-audit-genesis:{genesis}".encode()).hexdigest()


def row_hash(row_id: int, values: tuple[Any, ...], prev: str) -> str:
    """The hash of a row: its id, every column in order, and the previous hash,
    as compact JSON (the canonical form)."""
    canonical = json.dumps([row_id, *values, prev], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _read_anchor(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise HandoutgenError(
            f"the audit anchor {display_path(path)} cannot be read ({exc}); {INVESTIGATE}"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("genesis"), str):
        raise HandoutgenError(f"the audit anchor {display_path(path)} is damaged; {INVESTIGATE}")
    return data


def _write_anchor(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".anchor-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp: mode 0600
            json.dump(data, handle, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class AuditLog:
    """Appends rows; safe to share between threads, and between processes (the
    server, CLI renders and batches write the same file)."""

    def __init__(self, workspace: Workspace) -> None:
        self.path = path_for(workspace)
        self.anchor = anchor_path(workspace)
        self._lock = threading.Lock()
        self._workspace = workspace

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One writer at a time across processes: the row and the anchor move together."""
        with private._locked(self._workspace, LOCK):
            yield

    def _connect(self, anchor: dict[str, Any] | None) -> sqlite3.Connection:
        if not self.path.exists():
            if anchor is not None:
                # Never silently start a new trail where one was.
                raise HandoutgenError(
                    f"the audit log {display_path(self.path)} is missing but its anchor "
                    f"records {anchor.get('rows', '?')} rows; {INVESTIGATE}"
                )
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        con.executescript(_SCHEMA)
        _upgrade(con)
        con.executescript(_TRIGGERS)
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
        copies: int = 1,
        counts: str = "",
        outcome: str = "",
        at: dt.datetime | None = None,
    ) -> None:
        when = (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        values = (
            when,
            user,
            action,
            document,
            ",".join(options),
            language,
            page_size,
            int(large_print),
            content_hash,
            int(pages),
            int(copies),
            counts,
            outcome,
        )
        with self._lock, self._exclusive():
            anchor = _read_anchor(self.anchor)
            con = self._connect(anchor)
            try:
                con.execute("BEGIN IMMEDIATE")
                try:
                    genesis = _genesis(con, anchor, self.path)
                    last = con.execute(
                        "SELECT id, hash FROM renders ORDER BY id DESC LIMIT 1"
                    ).fetchone()
                    if anchor is not None and anchor.get("last_id") is not None:
                        head = con.execute(
                            "SELECT hash FROM renders WHERE id = ?", (anchor["last_id"],)
                        ).fetchone()
                        if head is None or head[0] != anchor.get("head"):
                            raise HandoutgenError(
                                f"the audit log {display_path(self.path)} does not match "
                                f"its anchor (row {anchor['last_id']}); {INVESTIGATE}"
                            )
                    prev = last[1] if last else _start(genesis)
                    row_id = (last[0] if last else 0) + 1
                    # AUTOINCREMENT never reuses an id: take the next one it would give.
                    seq = con.execute(
                        "SELECT seq FROM sqlite_sequence WHERE name = 'renders'"
                    ).fetchone()
                    row_id = max(row_id, (seq[0] + 1) if seq else 1)
                    digest = row_hash(row_id, values, prev)
                    con.execute(
                        f"INSERT INTO renders (id, {', '.join(COLUMNS)}, prev, hash) VALUES "
                        f"({', '.join('?' * (len(COLUMNS) + 3))})",
                        (row_id, *values, prev, digest),
                    )
                    count = con.execute("SELECT count(*) FROM renders").fetchone()[0]
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            finally:
                con.close()
            # After the commit: a crash here leaves the anchor one row behind,
            # which verify reports as such (never a row the file lacks).
            _write_anchor(
                self.anchor, {"genesis": genesis, "rows": count, "last_id": row_id, "head": digest}
            )


def os_user() -> str:
    """Who ran the command, as the operating system knows them."""
    import getpass

    try:
        return getpass.getuser()[:64] or "cli"
    except (KeyError, OSError):  # no name for this uid (some containers)
        return "cli"


def record(workspace: Workspace, **row: Any) -> None:
    """Add a row for a command-line render or batch (the user: the OS user), or
    say clearly why it cannot be: nothing is handed out without its row."""
    log = AuditLog(workspace)
    try:
        log.add(user=os_user(), **row)
    except (sqlite3.Error, OSError) as exc:
        raise HandoutgenError(
            f"cannot write the audit log {display_path(log.path)} ({exc}), so nothing was "
            "handed out; free some disk space, or set HANDOUTGEN_PRIVATE_DIR to a private "
            "folder you can write"
        ) from None


def _genesis(con: sqlite3.Connection, anchor: dict[str, Any] | None, path: Path) -> str:
    found = con.execute("SELECT value FROM audit_meta WHERE key = 'genesis'").fetchone()
    if found is None:
        if con.execute("SELECT 1 FROM renders LIMIT 1").fetchone() or anchor is not None:
            raise HandoutgenError(
                f"the audit log {display_path(path)} has lost its genesis record; {INVESTIGATE}"
            )
        genesis = secrets.token_hex(16)
        con.execute("INSERT INTO audit_meta VALUES ('genesis', ?)", (genesis,))
        return genesis
    if anchor is not None and anchor["genesis"] != found[0]:
        raise HandoutgenError(
            f"the audit log {display_path(path)} is not the one its anchor records "
            f"(it was deleted and made anew); {INVESTIGATE}"
        )
    return str(found[0])


def _upgrade(con: sqlite3.Connection) -> None:
    """An audit log from before the chain: add the columns and chain its rows, once."""
    have = {r[1] for r in con.execute("PRAGMA table_info(renders)")}
    missing = [c for c in _ADDED if c not in have]
    if not missing:
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        for column in missing:
            con.execute(f"ALTER TABLE renders ADD COLUMN {column} {_ADDED[column]}")
        con.execute("DROP TRIGGER IF EXISTS renders_no_update")
        genesis = secrets.token_hex(16)
        con.execute("INSERT OR IGNORE INTO audit_meta VALUES ('genesis', ?)", (genesis,))
        genesis = con.execute("SELECT value FROM audit_meta WHERE key = 'genesis'").fetchone()[0]
        prev = _start(genesis)
        for row in con.execute(f"SELECT id, {', '.join(COLUMNS)} FROM renders ORDER BY id"):
            digest = row_hash(row[0], tuple(row[1:]), prev)
            con.execute(
                "UPDATE renders SET prev = ?, hash = ? WHERE id = ?", (prev, digest, row[0])
            )
            prev = digest
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def read(workspace: Workspace, since: dt.date | None = None) -> list[Entry]:
    """Rows on or after ``since`` (UTC date), oldest first."""
    path = path_for(workspace)
    if not path.exists():
        return []
    try:
        con = _connect_ro(path)
        try:
            have = {r[1] for r in con.execute("PRAGMA table_info(renders)")}
            columns = [c if c in have else "NULL" for c in COLUMNS]
            rows = con.execute(
                f"SELECT {', '.join(columns)} FROM renders WHERE at >= ? ORDER BY id",
                ((since or dt.date.min).isoformat(),),
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise HandoutgenError(f"cannot read the audit log {display_path(path)}: {exc}") from None
    return [
        Entry(
            at=r[0],
            user=r[1],
            action=r[2],
            document=r[3],
            options=r[4],
            language=r[5],
            page_size=r[6],
            large_print=bool(r[7]),
            content_hash=r[8],
            pages=int(r[9]),
            copies=1 if r[10] is None else int(r[10]),
            counts=r[11] or "",
            outcome=r[12] or "",
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: ``ok``, the rows checked, the head, and when not
    ok the first bad row (None when the problem is the file as a whole)."""

    ok: bool
    rows: int
    head: str
    message: str
    bad_row: int | None = None


def verify(workspace: Workspace) -> Verdict:
    """Walk the chain from the genesis and compare its head with the anchor."""
    path, anchor_file = path_for(workspace), anchor_path(workspace)
    anchor = _read_anchor(anchor_file)
    where = display_path(path)
    if not path.exists():
        if anchor is None:
            return Verdict(True, 0, "", "no audit log yet")
        return Verdict(
            False,
            0,
            "",
            f"{where} is missing: its anchor records {anchor.get('rows')} rows up to "
            f"row {anchor.get('last_id')}",
        )
    try:
        con = _connect_ro(path)
        try:
            have = {r[1] for r in con.execute("PRAGMA table_info(renders)")}
            if "hash" not in have:  # written before the chain; the next write chains it
                n = con.execute("SELECT count(*) FROM renders").fetchone()[0]
                return Verdict(True, n, "", f"{n} rows from before the hash chain (not chained)")
            genesis = con.execute("SELECT value FROM audit_meta WHERE key = 'genesis'").fetchone()
            rows = con.execute(
                f"SELECT id, {', '.join(COLUMNS)}, prev, hash FROM renders ORDER BY id"
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return Verdict(False, 0, "", f"cannot read {where}: {exc}")
    if genesis is None:
        if rows or anchor is not None:
            return Verdict(False, 0, "", f"{where} has lost its genesis record")
        return Verdict(True, 0, "", "no rows yet")
    if anchor is None:
        if rows:
            return Verdict(False, 0, "", f"the anchor {display_path(anchor_file)} is missing")
    elif anchor["genesis"] != genesis[0]:
        return Verdict(
            False,
            0,
            "",
            f"{where} is not the file its anchor records: it was deleted and made anew "
            f"(the anchor records {anchor.get('rows')} rows up to row {anchor.get('last_id')})",
        )
    expected = _start(genesis[0])
    previous_id = 0
    for row in rows:
        row_id, values, prev, digest = row[0], tuple(row[1:-2]), row[-2], row[-1]
        if row_id != previous_id + 1 and prev != expected:
            gap = f"row {previous_id + 1}" + (
                f" to {row_id - 1}" if row_id - 1 > previous_id + 1 else ""
            )
            return Verdict(
                False,
                previous_id,
                expected,
                f"{gap} deleted (row {row_id} does not follow row {previous_id})",
                previous_id + 1,
            )
        if prev != expected:
            bad = previous_id or row_id
            return Verdict(
                False,
                previous_id,
                expected,
                f"row {bad} changed (row {row_id} does not follow it)",
                bad,
            )
        if row_hash(row_id, values, prev) != digest:
            return Verdict(False, previous_id, expected, f"row {row_id} changed", row_id)
        expected, previous_id = digest, row_id
    if anchor is not None and anchor.get("last_id") is not None:
        last_id = int(anchor["last_id"])
        found = {r[0]: r[-1] for r in rows}
        if last_id not in found:
            return Verdict(
                False,
                len(rows),
                expected,
                f"row {previous_id + 1} onwards deleted: the anchor records {anchor.get('rows')} "
                f"rows up to row {last_id}, the file ends at row {previous_id}",
                previous_id + 1,
            )
        if found[last_id] != anchor.get("head"):
            return Verdict(
                False,
                len(rows),
                expected,
                f"row {last_id} and rows before it were rewritten (its hash is not the anchor's)",
                last_id,
            )
        if previous_id > last_id:
            return Verdict(
                True,
                len(rows),
                expected,
                f"{len(rows)} rows; the anchor was {previous_id - last_id} row(s) behind "
                "(a write interrupted before its anchor)",
            )
    return Verdict(True, len(rows), expected, f"{len(rows)} rows, chain intact")


def check_intact(workspace: Workspace) -> None:
    """Raise (saying how to investigate) when the trail does not verify."""
    verdict = verify(workspace)
    if not verdict.ok:
        raise HandoutgenError(f"the audit log does not verify: {verdict.message}; {INVESTIGATE}")
