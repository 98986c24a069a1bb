"""The web app's state: how the server was started, the workspace (reloaded
when its files change), the render pool, sign-in, and the CSRF secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from fastapi import Request

from handoutgen.content.library import Library, load_library
from handoutgen.content.workspace import Workspace
from handoutgen.store.audit import AuditLog
from handoutgen.web import auth
from handoutgen.web.pool import RenderPool

CSRF_COOKIE = "handoutgen_csrf"
CSRF_HEADER = "x-handoutgen-token"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
WILDCARD = ("0.0.0.0", "::", "[::]")  # noqa: S104 - names, not a bind
MAX_BODY = 1024 * 1024
LOCAL_USER = "local"  # who renders on a loopback-only server without sign-in


@dataclass
class ServeConfig:
    """How the server was started (``handoutgen serve``'s options)."""

    host: str = "127.0.0.1"
    port: int = 8765
    allowed_hosts: tuple[str, ...] = ()
    workers: int = 0  # 0: render in a thread of this process (tests)
    queue: int = 8
    max_body: int = MAX_BODY
    https: bool = False
    idle_minutes: int = 30
    session_hours: float = 12  # a session ends this long after sign-in, however used
    proxy_header: str | None = None
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    require_sign_in: bool | None = None  # default: when not loopback-only or behind a proxy
    warm: bool = True
    # Slow clients (conn.py): seconds for a request's headers, seconds a
    # connection or a request body may sit idle, connections per address.
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_per_address: int = 32

    @property
    def sign_in(self) -> bool:
        """Sign-in is needed whenever other machines can reach the app: bound
        beyond loopback, behind a proxy that names users, or given another name
        with --allowed-host (a reverse proxy forwarding to loopback)."""
        if self.require_sign_in is not None:
            return self.require_sign_in
        return self.host not in LOOPBACK or bool(self.proxy_header) or bool(self.allowed_hosts)


@dataclass
class _Bucket:
    """Token buckets per key: ``burst`` requests at once, then ``rate`` per second."""

    rate: float
    burst: float
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> float:
        """0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._state[key] = (tokens - 1, now)
                return 0.0
            self._state[key] = (tokens, now)
            if len(self._state) > 10_000:
                self._state.clear()
            return (1 - tokens) / self.rate


@dataclass
class _State:
    """The workspace (reloaded when its files change), the render pool, sign-in."""

    workspace: Workspace
    config: ServeConfig
    allowed_hosts: set[str]
    pool: RenderPool
    audit: AuditLog
    sessions: auth.Sessions | None = None
    throttle: auth.Throttle | None = None
    version_limit: _Bucket = field(default_factory=lambda: _Bucket(rate=2, burst=10))
    pages_limit: _Bucket = field(default_factory=lambda: _Bucket(rate=0.5, burst=4))
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lock: threading.RLock = field(default_factory=threading.RLock)
    _library: Library | None = None
    _stamp: tuple = ()

    def stamp(self) -> tuple:
        """A cheap fingerprint of the content manifest: path, size and mtime."""
        return self.workspace.content_stamp()

    def library(self) -> Library:
        stamp = self.stamp()
        with self.lock:
            if self._library is None or stamp != self._stamp:
                self._library = None  # a broken workspace must not serve stale content
                self._library = load_library(self.workspace)
                self._stamp = stamp
            return self._library

    def version(self) -> str:
        return hashlib.sha256(repr(self.stamp()).encode()).hexdigest()[:16]

    # CSRF: a random token in an HttpOnly, SameSite=Strict cookie, echoed in
    # each form; the form's copy is an HMAC of it, so a page on another site
    # can neither read nor forge it.
    def form_token(self, cookie: str) -> str:
        return hmac.new(self.secret, cookie.encode(), "sha256").hexdigest()

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token:
            return False
        return hmac.compare_digest(self.form_token(cookie), token)


def _user(request: Request) -> str:
    return request.scope.get("state", {}).get("user") or LOCAL_USER


def _job_args(state: _State, library: Library) -> tuple[str, str]:
    return str(state.workspace.root), library.content_hash
