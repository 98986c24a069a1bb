"""Sign-in for the web app: users, argon2 password hashes (a bounded pool),
signed session cookies over server-side session records, and an atomic
throttle of password checks.

Users live in the workspace's private settings (``private.py``); passwords are
only ever stored as argon2id hashes. A session cookie carries the user's name,
a fingerprint of their current hash and the id of a session record
(``store/sessions.py``), signed with itsdangerous. The record ends after
``idle`` seconds unused or ``lifetime`` seconds in all, and on sign-out, a new
password, removal or a new signing key, durably (a restart brings none back).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from handoutgen.content.workspace import Workspace
from handoutgen.core import clock
from handoutgen.core.errors import HandoutgenError
from handoutgen.store import private
from handoutgen.store.sessions import Limits, SignInStore

SESSION_COOKIE = "handoutgen_session"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12


def _hasher():  # noqa: ANN202 - argon2 is imported only when needed
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current defaults


# The audit log's name for the loopback user (state.LOCAL_USER): a user of that
# name would make their renders look like someone's at the server itself.
RESERVED_NAMES = frozenset({"local"})
# Passwords every guesser tries first (and their like); compared without case,
# spaces and digits at the end.
TRIVIAL = frozenset(
    {
        "password", "passwords", "passw0rd", "qwerty", "qwertyuiop", "letmein", "welcome",
        "admin", "administrator", "changeme", "iloveyou", "abc123", "abcdef", "abcdefgh",
        "handoutgen", "handouts", "clinic", "hospital", "doctor", "nurse", "patient",
        "summer", "winter", "spring", "autumn", "monkey", "dragon", "football", "baseball",
        "trustno1", "sunshine", "princess", "master", "secret", "login",
    }
)  # fmt: skip


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise HandoutgenError(
            f"user name {name!r}: use 1-64 letters, digits, dots, dashes, underscores or @, "
            "starting with a letter or digit"
        )
    if name.lower() in RESERVED_NAMES:
        raise HandoutgenError(
            f"user name {name!r} is reserved: the audit log names renders made at the "
            "server itself so; choose another name"
        )
    return name


def check_password(password: str, name: str = "") -> None:
    """The password policy: long enough, not blank, not a password every
    guesser tries first, not the user name."""
    if not password.strip():
        raise HandoutgenError("the password is blank: type one of at least 12 characters")
    if len(password) < MIN_PASSWORD:
        raise HandoutgenError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    core = "".join(password.split()).lower().rstrip("0123456789!.")
    if (
        core in TRIVIAL
        or len(set(password)) < 4
        or core in "0123456789" * 2
        or core in "abcdefghijklmnopqrstuvwxyz"
        or (name and name.lower() in password.lower())
    ):
        raise HandoutgenError(
            "the password is too easy to guess: use a few unrelated words, or let a "
            "password manager make one"
        )


def users(workspace: Workspace) -> dict[str, dict[str, Any]]:
    data = private.load(workspace).get("users", {})
    return data if isinstance(data, dict) else {}


def add_user(workspace: Workspace, name: str, password: str) -> None:
    check_name(name)
    check_password(password, name)
    with HASHING.slot():
        hashed = _hasher().hash(password)

    def change(data: dict[str, Any]) -> None:
        table = data.setdefault("users", {})
        if name in table:
            raise HandoutgenError(
                f"user {name!r} already exists; change the password with "
                f"'handoutgen users passwd {name}'"
            )
        table[name] = {
            "hash": hashed,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    private.update(workspace, change)


def set_password(workspace: Workspace, name: str, password: str) -> None:
    check_password(password, name)
    with HASHING.slot():
        hashed = _hasher().hash(password)

    def change(data: dict[str, Any]) -> None:
        table = data.get("users", {})
        if name not in table:
            raise HandoutgenError(f"no user {name!r}; see 'handoutgen users list'")
        table[name]["hash"] = hashed

    private.update(workspace, change)
    SignInStore(workspace).end_user(name, clock.now(), "new password")


def remove_user(workspace: Workspace, name: str) -> None:
    def change(data: dict[str, Any]) -> None:
        table = data.get("users", {})
        if name not in table:
            raise HandoutgenError(f"no user {name!r}; see 'handoutgen users list'")
        del table[name]

    private.update(workspace, change)
    SignInStore(workspace).end_user(name, clock.now(), "user removed")


def verify(workspace: Workspace, name: str, password: str) -> bool:
    """Whether the password is right. Takes argon2's time even for an unknown
    user, so a wrong name and a wrong password look the same from outside."""
    from argon2.exceptions import InvalidHashError, VerificationError

    entry = users(workspace).get(name)
    hashed = entry.get("hash") if isinstance(entry, dict) else None
    hasher = _hasher()
    with HASHING.slot():
        try:
            if not hashed:
                hasher.hash(password)  # same cost as a real check
                return False
            return hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False


def fingerprint(workspace: Workspace, name: str) -> str | None:
    """A short digest of the user's hash: changes when the password does."""
    entry = users(workspace).get(name)
    if not isinstance(entry, dict) or not entry.get("hash"):
        return None
    return hashlib.sha256(entry["hash"].encode()).hexdigest()[:16]


def remembered(workspace: Workspace, user: str) -> dict[str, str]:
    """Clinician and clinic for a user's form: theirs, else the settings' defaults."""
    data = private.load(workspace)
    out = {k: str(data.get(k) or "") for k in ("clinician", "clinic")}
    prefs = data.get("form", {}).get(user, {}) if isinstance(data.get("form"), dict) else {}
    for key in ("clinician", "clinic"):
        if isinstance(prefs, dict) and prefs.get(key):
            out[key] = str(prefs[key])[:300]
    return out


def clinics(workspace: Workspace, limit: int = 4) -> list[str]:
    """The clinic names forms will send (the settings' default, then the ones
    users' forms remember, most common first): the clinic is printed in the
    shared pages, so each one is its own edition."""
    from collections import Counter

    data = private.load(workspace)
    seen: Counter[str] = Counter()
    form = data.get("form")
    if not isinstance(form, dict):
        form = {}
    for prefs in form.values():
        if isinstance(prefs, dict) and prefs.get("clinic"):
            seen[str(prefs["clinic"])[:300]] += 1
    default = str(data.get("clinic") or "")
    names = ([default] if default else []) + [c for c, _ in seen.most_common() if c != default]
    return names[:limit]


def remember(workspace: Workspace, user: str, clinician: str, clinic: str) -> None:
    """Keep a user's clinician and clinic for their next form (only if changed)."""
    wanted = {"clinician": clinician[:300], "clinic": clinic[:300]}
    data = private.load(workspace)
    current = data.get("form", {}).get(user) if isinstance(data.get("form"), dict) else None
    if current == wanted:
        return

    def change(d: dict[str, Any]) -> None:
        if not isinstance(d.get("form"), dict):
            d["form"] = {}
        d["form"][user] = wanted

    private.update(workspace, change)


class HashPool:
    """Argon2 runs at most ``size`` at a time (each takes its memory cost, 64 MiB
    by default): more sign-ins at once queue here instead of multiplying memory.
    ``peak`` and ``checks`` say what it did (tests assert on them)."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self.active = self.peak = self.checks = 0

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            with self._lock:
                self.active += 1
                self.checks += 1
                self.peak = max(self.peak, self.active)
            try:
                yield
            finally:
                with self._lock:
                    self.active -= 1


HASHING = HashPool(2)


@dataclass
class Sessions:
    """Sign and read session cookies; each names a server-side record
    (``store/sessions.py``) that ends on sign-out, idle time, the absolute
    lifetime, a new password, removal or a new signing key, for good."""

    workspace: Workspace
    idle: int = 30 * 60
    lifetime: int = 12 * 60 * 60
    # Seconds since the epoch; tests inject a clock instead of sleeping.
    clock: Callable[[], float] = clock.now
    _serializers: dict[bytes, Any] = field(default_factory=dict)
    store: SignInStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = SignInStore(self.workspace)

    def _serializer(self) -> Any:
        """The signer for the current key (re-read: 'users rotate-key' changes it
        under a running server)."""
        from itsdangerous import TimestampSigner, URLSafeTimedSerializer

        key = private.signing_key(self.workspace)
        if key not in self._serializers:
            sessions = self

            class _Signer(TimestampSigner):
                def get_timestamp(self) -> int:
                    return int(sessions.clock())

            self._serializers = {
                key: URLSafeTimedSerializer(key, salt="handoutgen-session", signer=_Signer)
            }
        return self._serializers[key]

    def issue(self, user: str, sid: str | None = None) -> str:
        """A cookie for a new session (or a fresh cookie for session ``sid``)."""
        if sid is None:
            sid = self.store.start(user, self.clock(), self.lifetime)
        payload = {"u": user, "f": fingerprint(self.workspace, user), "s": sid}
        return self._serializer().dumps(payload)

    def revoke(self, cookie: str | None) -> None:
        """Sign-out: this session's cookie stops working at once, even if copied,
        and after a restart too."""
        data = self._load(cookie)
        if data is not None:
            self.store.end(str(data.get("s")), self.clock(), "signed out")

    def _load(self, cookie: str | None) -> dict[str, Any] | None:
        from itsdangerous import BadSignature

        if not cookie or len(cookie) > 500:
            return None
        try:
            data = self._serializer().loads(cookie, max_age=self.lifetime)
        except BadSignature:  # SignatureExpired is a BadSignature
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str):
            return None
        return data

    def session(self, cookie: str | None) -> tuple[str, str] | None:
        """(user, session id) of a valid cookie, or None (no cookie, forged, idle
        too long, past its lifetime, signed out, or the user was removed or
        given a new password, or the key was rotated)."""
        data = self._load(cookie)
        if data is None or data.get("f") != fingerprint(self.workspace, data["u"]):
            return None
        sid = str(data.get("s"))
        if not self.store.touch(sid, data["u"], self.clock(), self.idle, self.lifetime):
            return None
        return data["u"], sid

    def user(self, cookie: str | None) -> str | None:
        found = self.session(cookie)
        return found[0] if found else None


def rotate_key(workspace: Workspace) -> int:
    """A new cookie-signing key; every session ends. Returns how many were live."""

    def change(data: dict[str, Any]) -> None:
        data["session_key"] = secrets.token_urlsafe(48)

    private.update(workspace, change)
    return SignInStore(workspace).end_all(clock.now(), "key rotated")


@dataclass
class Throttle:
    """Password checks, counted before they run, in one transaction with the
    check of the limits (``store/sessions.py``): at most ``limits.pair`` per
    user name from one address within the window, however many requests
    arrive at once; a higher ceiling per name from all addresses and per
    address for all names. The owner at an address that has not failed is
    not locked out by someone else's guesses elsewhere."""

    workspace: Workspace
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = clock.now

    def begin(self, user: str, address: str) -> tuple[int, int]:
        """(seconds to wait, 0) if refused, else (0, attempt) to pass to ``finish``."""
        return SignInStore(self.workspace).reserve(user.lower(), address, self.clock(), self.limits)

    def finish(self, attempt: int, ok: bool) -> None:
        SignInStore(self.workspace).settle(attempt, ok)
