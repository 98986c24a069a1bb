"""The web app's sign-in state on disk: session records and sign-in attempts.

SQLite at ``.handoutgen/sessions.sqlite3`` (mode 0600, in the private
folder), so that signing out, a new password, a removed user or a new signing
key end sessions for good (a restart brings none back), and so that the
sign-in throttle checks and counts in one transaction however many requests
arrive at once, from any number of threads or processes. No patient data:
user names, client addresses and times only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from handoutgen.content.workspace import Workspace
from handoutgen.store import private

FILE = "sessions.sqlite3"
_SEEN_EVERY = 5  # seconds: how stale a session's last-seen time may get before it is written

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    sid TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    created REAL NOT NULL,
    seen REAL NOT NULL,
    ended REAL,
    why TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    address TEXT NOT NULL,
    at REAL NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_user ON attempts(user, at);
CREATE INDEX IF NOT EXISTS attempts_address ON attempts(address, at);
"""


@dataclass(frozen=True)
class Limits:
    """Password checks allowed within ``window`` seconds: per user name from one
    address, per user name from anywhere, and per address for any names."""

    pair: int = 5
    user: int = 50
    address: int = 50
    window: float = 15 * 60


class SignInStore:
    """Session records and sign-in attempts; one connection per call, so any
    thread (or process) may use it."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.path = private.folder(workspace) / FILE

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: the write lock is taken first, so a check and the
        write it leads to are one step for every reader and writer."""
        private._ensure_folder(self.workspace)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            con.executescript(_SCHEMA)
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    # -- sessions -------------------------------------------------------------------------

    def start(self, user: str, now: float, lifetime: float) -> str:
        sid = secrets.token_urlsafe(24)
        with self._transaction() as con:
            # Records past any lifetime can no longer be used: keep the file small.
            con.execute("DELETE FROM sessions WHERE created < ?", (now - max(lifetime, 86400),))
            con.execute(
                "INSERT INTO sessions (sid, user, created, seen) VALUES (?, ?, ?, ?)",
                (sid, user, now, now),
            )
        return sid

    def touch(self, sid: str, user: str, now: float, idle: float, lifetime: float) -> bool:
        """Whether session ``sid`` of ``user`` is live; if so its idle time starts
        again (written at most every few seconds: most requests only read)."""
        if not self.path.exists():
            return False
        con = sqlite3.connect(self.path, timeout=30)
        try:
            row = con.execute(
                "SELECT user, created, seen, ended FROM sessions WHERE sid = ?", (sid,)
            ).fetchone()
        except sqlite3.OperationalError:  # no table yet: no sessions
            return False
        finally:
            con.close()
        if row is None or row[0] != user or row[3] is not None:
            return False
        why = "lifetime" if now - row[1] >= lifetime else "idle" if now - row[2] >= idle else None
        if why:
            self.end(sid, now, why)
            return False
        if now - row[2] >= _SEEN_EVERY:
            with self._transaction() as con:
                con.execute(
                    "UPDATE sessions SET seen = max(seen, ?) WHERE sid = ? AND ended IS NULL",
                    (now, sid),
                )
        return True

    def end(self, sid: str, now: float, why: str) -> None:
        with self._transaction() as con:
            con.execute(
                "UPDATE sessions SET ended = ?, why = ? WHERE sid = ? AND ended IS NULL",
                (now, why, sid),
            )

    def end_user(self, user: str, now: float, why: str) -> int:
        with self._transaction() as con:
            return con.execute(
                "UPDATE sessions SET ended = ?, why = ? WHERE user = ? AND ended IS NULL",
                (now, why, user),
            ).rowcount

    def end_all(self, now: float, why: str) -> int:
        with self._transaction() as con:
            return con.execute(
                "UPDATE sessions SET ended = ?, why = ? WHERE ended IS NULL", (now, why)
            ).rowcount

    # -- the sign-in throttle -----------------------------------------------------------

    def reserve(self, user: str, address: str, now: float, limits: Limits) -> tuple[int, int]:
        """Check the limits and, if they allow it, count this attempt, in one
        transaction. Returns (seconds to wait, 0) when refused, else (0, the
        attempt's id) to settle once the password is checked."""
        since = now - limits.window
        with self._transaction() as con:
            con.execute("DELETE FROM attempts WHERE at <= ?", (since,))
            scopes = (
                ("user = ? AND address = ?", (user, address), limits.pair),
                ("user = ?", (user,), limits.user),
                ("address = ?", (address,), limits.address),
            )
            wait = 0
            for where, args, limit in scopes:
                count = con.execute(
                    f"SELECT count(*) FROM attempts WHERE {where} AND at > ?", (*args, since)
                ).fetchone()[0]
                if count >= limit:
                    # Wait until enough of them leave the window for one more.
                    oldest = con.execute(
                        f"SELECT at FROM attempts WHERE {where} AND at > ? "
                        "ORDER BY at LIMIT 1 OFFSET ?",
                        (*args, since, count - limit),
                    ).fetchone()[0]
                    wait = max(wait, int(oldest + limits.window - now) + 1)
            if wait:
                return wait, 0
            cursor = con.execute(
                "INSERT INTO attempts (user, address, at, outcome) VALUES (?, ?, ?, 'pending')",
                (user, address, now),
            )
            return 0, int(cursor.lastrowid or 0)

    def settle(self, attempt: int, ok: bool) -> None:
        """A right password forgives this user's failures from this address (their
        own typos), never those from elsewhere; a wrong one stays counted."""
        with self._transaction() as con:
            if not ok:
                con.execute("UPDATE attempts SET outcome = 'failed' WHERE id = ?", (attempt,))
                return
            row = con.execute(
                "SELECT user, address FROM attempts WHERE id = ?", (attempt,)
            ).fetchone()
            con.execute("DELETE FROM attempts WHERE id = ?", (attempt,))
            if row:
                con.execute(
                    "DELETE FROM attempts WHERE user = ? AND address = ? AND outcome = 'failed'",
                    row,
                )

    def attempts(self, user: str) -> int:
        """Password checks counted for ``user`` (for ``users`` commands and tests)."""
        if not self.path.exists():
            return 0
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return int(
                con.execute("SELECT count(*) FROM attempts WHERE user = ?", (user,)).fetchone()[0]
            )
        finally:
            con.close()
