"""``handoutgen serve``: the clinicians' web page, over the same library.

Tick the options discussed, type the patient's name and a note, preview the
pages, print or download the PDF. Designers get a preview page per document
that refreshes itself when a file in the workspace changes.

Safety, in the order a request meets it (``_Front``, a plain ASGI layer):
security headers on every response, errors included; the Host header must
name this server (DNS rebinding; ``--allowed-host`` adds names); the body is
capped before anything parses it (413); sign-in is required whenever the app
listens beyond loopback (or a trusted proxy names the user). Then every
state-changing or render-triggering endpoint checks a CSRF token tied to a
cookie and refuses cross-site requests. Renders run in worker processes with
a bounded queue (``webpool``). Patient data lives only in the request and its
response: nothing personal is written to disk or logged; the audit log holds
who made which document from which content, never for whom.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from handoutgen.content.library import Library, load_library
from handoutgen.content.models import PageSize, pick_text
from handoutgen.content.workspace import PACKAGE_DIR, Workspace
from handoutgen.core import clock
from handoutgen.core.errors import HandoutgenError
from handoutgen.core.version import __version__
from handoutgen.store.audit import AuditLog
from handoutgen.web import auth
from handoutgen.web.pool import Busy, RenderPool, edition_job, render_job

log = logging.getLogger("handoutgen")

CSRF_COOKIE = "handoutgen_csrf"
CSRF_HEADER = "x-handoutgen-token"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
WILDCARD = ("0.0.0.0", "::", "[::]")  # noqa: S104 - names, not a bind
MAX_BODY = 1024 * 1024
LOCAL_USER = "local"  # who renders on a loopback-only server without sign-in

_WEBUI = PACKAGE_DIR / "webui"
_pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_WEBUI)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_pages.filters["tr"] = pick_text  # the form is in English; text fields fall back the same way
_STATIC = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}

# No inline script anywhere: scripts come only from /static. Styles too.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self' blob:; object-src 'self' blob:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),  # pages may hold patient data
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class RenderForm(BaseModel):
    """The form's fields, named like the CLI's flags."""

    model_config = ConfigDict(extra="ignore")

    document: str = Field(max_length=100, examples=["fusion-alternatives"])
    option: list[str] = Field(
        default_factory=list, max_length=50, examples=[["fusion", "conservative-care"]]
    )
    patient: str = Field(default="", max_length=500)
    visit_date: str = Field(default="", max_length=20)
    clinician: str = Field(default="", max_length=300)
    clinic: str = Field(default="", max_length=300)
    note: str = Field(default="", max_length=20_000)
    page_size: str = Field(default="", max_length=20)
    large_print: str = Field(default="", max_length=10)
    language: str = Field(default="", max_length=20, description="es, zh...; empty: the document's")
    inline: str = Field(default="", max_length=5, description="1: open to print, not download")
    csrf_token: str = Field(default="", max_length=200)


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str = Field(default="", max_length=64)
    password: str = Field(default="", max_length=1000)
    next: str = Field(default="/", max_length=500)
    csrf_token: str = Field(default="", max_length=200)


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
    proxy_header: str | None = None
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    require_sign_in: bool | None = None  # default: when not loopback-only or behind a proxy
    warm: bool = True

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
    throttle: auth.Throttle = field(default_factory=auth.Throttle)
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


def create_app(
    workspace: Workspace,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    warm: bool = True,
    config: ServeConfig | None = None,
) -> FastAPI:
    """The ASGI app. Only Host headers naming this server are served."""
    config = config or ServeConfig(host=host, port=port, warm=warm)
    state = _State(
        workspace,
        config,
        allowed_host_names(config.host, config.allowed_hosts),
        RenderPool(config.workers, config.queue),
        AuditLog(workspace),
    )
    if config.sign_in:
        state.sessions = auth.Sessions(workspace, idle=config.idle_minutes * 60)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        state.pool.open()
        yield
        # Here, not after uvicorn returns: it re-raises Ctrl-C/SIGTERM on its way out.
        state.pool.close()

    app = FastAPI(
        lifespan=lifespan,
        title="handoutgen",
        version=__version__,
        description="Personalized patient handouts from reviewed content.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.hg = state

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        # Reached outside the middleware stack, so the headers are added here.
        log.error("unexpected %s in the web app", type(exc).__name__)
        response = _page(
            "error.html",
            500,
            title="Something went wrong",
            message="Nothing was rendered. Try again; if it happens again, tell IT.",
        )
        _add_headers(response)
        return response

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in _STATIC:
            return _page("error.html", 404, title="Not found", message="No such file.")
        return Response((_WEBUI / name).read_bytes(), media_type=_STATIC[name])

    @app.get("/login", response_class=HTMLResponse, summary="Sign-in page")
    def login_page(request: Request, next: str = "/") -> Response:  # noqa: A002
        if not state.config.sign_in:
            return RedirectResponse(_safe_next(next), status_code=303)
        return _login_page(state, request, _safe_next(next))

    @app.post("/login", response_class=HTMLResponse, summary="Sign in")
    def login(request: Request, fields: Annotated[LoginForm, Form()]) -> Response:
        return _login(state, request, fields)

    @app.post("/logout", summary="Sign out")
    def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        if not _same_origin(request) or not state.csrf_ok(
            request.cookies.get(CSRF_COOKIE), csrf_token
        ):
            return _expired()
        if state.sessions is not None:
            state.sessions.revoke(request.cookies.get(auth.SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.headers.append("set-cookie", _session_cookie(state, "", max_age=0))
        return response

    @app.get("/", response_class=HTMLResponse, summary="List the documents")
    def index(request: Request) -> Response:
        library = _library_or_error(state, request)
        if isinstance(library, Response):
            return library
        docs = sorted(library.documents.values(), key=lambda d: d.id)
        cookie, new = _csrf_cookie(request)
        chrome = _chrome(state, request)
        if chrome["sign_in"]:
            chrome["signout_token"] = state.form_token(cookie)
        response = _page("index.html", 200, docs=docs, lang="en", **chrome)
        _set_csrf(state, response, new)
        return response

    @app.get("/documents/{document}", response_class=HTMLResponse, summary="The form")
    def form(request: Request, document: str) -> Response:
        library = _library_or_error(state, request)
        if isinstance(library, Response):
            return library
        if document not in library.documents:
            return _page(
                "error.html",
                404,
                title="Not found",
                message=(f"There is no document '{document}'."),
                **_chrome(state, request),
            )
        doc = library.documents[document]
        values: dict[str, Any] = {
            "option": list(doc.options),
            "page_size": doc.page_size,
            "visit_date": clock.today().isoformat(),
            **auth.remembered(state.workspace, _user(request)),
        }
        return _form_page(state, request, library, document, values)

    @app.post("/preview", response_class=HTMLResponse, summary="Preview the pages")
    def preview(request: Request, fields: Annotated[RenderForm, Form()]) -> Response:
        return _submit(state, request, fields, preview=True)

    @app.post(
        "/render",
        summary="Render the PDF",
        responses={200: {"content": {"application/pdf": {}}}},
        response_class=Response,
    )
    def render_pdf(request: Request, fields: Annotated[RenderForm, Form()]) -> Response:
        return _submit(state, request, fields, preview=False)

    @app.get("/design/{document}", response_class=HTMLResponse, summary="Designer preview")
    def design(request: Request, document: str) -> Response:
        cookie, new = _csrf_cookie(request)
        response = _page(
            "design.html",
            200,
            document=document,
            version=state.version(),
            token=state.form_token(cookie),
            **_chrome(state, request),
        )
        _set_csrf(state, response, new)
        return response

    @app.get("/design/{document}/pages", response_class=HTMLResponse, summary="Preview pages")
    def design_pages(request: Request, document: str) -> Response:
        # Renders, so it needs the page's token (sent as a header by its script):
        # another site cannot make this server render in a loop.
        token = request.headers.get(CSRF_HEADER)
        if not _same_origin(request) or not state.csrf_ok(request.cookies.get(CSRF_COOKIE), token):
            return _expired()
        wait = state.pages_limit.take(_client_key(request))
        if wait:
            return _too_many(wait)
        try:
            library = state.library()
            fields = {"document": document, "allow_draft": True}
            from handoutgen.pipeline import make_request

            make_request(**fields)
            result = state.pool.run(render_job, *_job_args(state, library), fields, True)
        except Busy as exc:
            return _busy(exc)
        except HandoutgenError as exc:
            return _preview_error(exc.format_message())
        if "error" in result:
            return _preview_error(result["error"])
        return _page("fragment_pages.html", 200, images=result["images"])

    @app.get("/api/version", summary="Workspace fingerprint, for auto-refresh")
    def version(request: Request) -> Response:
        wait = state.version_limit.take(_client_key(request))
        if wait:
            return _too_many(wait)
        return JSONResponse({"version": state.version()})

    app.add_middleware(_Front, state=state)
    if config.warm:
        threading.Thread(target=_warm, args=(state,), daemon=True).start()
    return app


# -- the front door: headers, host, body size, sign-in --------------------------------


class _Front:
    """Plain ASGI middleware (so it sees every response and can refuse a body
    before anything parses it)."""

    def __init__(self, app: Any, state: _State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        refresh: list[str] = []

        async def send_secure(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in _HEADER_NAMES
                ]
                headers += SECURITY_HEADERS
                headers += [(b"set-cookie", c.encode("latin-1")) for c in refresh]
                message = {**message, "headers": headers}
            await send(message)

        request = Request(scope)
        if _host_name(request.headers.get("host", "")) not in state.allowed_hosts:
            # DNS rebinding: a page on evil.example resolving to this machine.
            # (The names it does answer to are not listed: no need to tell a stranger.)
            await _page(
                "error.html",
                400,
                title="Refused",
                message=(
                    "This server answers only to the address it runs on and the names it "
                    "was given. Open it by the address IT gave you; IT can add this name "
                    "with --allowed-host NAME."
                ),
            )(scope, receive, send_secure)
            return
        # The body, read whole but never past the cap, before any parsing.
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > state.config.max_body):
            await _too_large(state)(scope, receive, send_secure)
            return
        chunks: list[bytes] = []
        size = 0
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                more = message.get("more_body", False)
                if size > state.config.max_body:
                    await _too_large(state)(scope, receive, send_secure)
                    return
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            user = _authenticate(state, request, refresh)
        except HandoutgenError as exc:  # a damaged settings file: say so, loudly
            await _page(
                "error.html",
                503,
                title="The server's settings are damaged",
                message=exc.format_message(),
            )(scope, replay, send_secure)
            return
        scope.setdefault("state", {})["user"] = user
        path = scope["path"]
        if user is None and not (path in ("/login", "/logout") or path.startswith("/static/")):
            page = not path.startswith("/api/") and not (
                path.startswith("/design/") and path.endswith("/pages")
            )
            if scope["method"] == "GET" and page:
                target = "/login?next=" + quote(path, safe="/")
                await RedirectResponse(target, status_code=303)(scope, replay, send_secure)
                return
            await _page(
                "error.html",
                401,
                title="Please sign in",
                message="Your session has ended. Sign in again, then send the form again.",
            )(scope, replay, send_secure)
            return
        await self.app(scope, replay, send_secure)


_HEADER_NAMES = {k for k, _ in SECURITY_HEADERS}


def _add_headers(response: Response) -> None:
    for k, v in SECURITY_HEADERS:
        response.headers[k.decode()] = v.decode()


def _too_large(state: _State) -> Response:
    return _page(
        "error.html",
        413,
        title="Too much to send",
        message=(
            f"The form sent more than {state.config.max_body // 1024} KB, so nothing was "
            "read. Shorten the note and send it again."
        ),
    )


def _authenticate(state: _State, request: Request, refresh: list[str]) -> str | None:
    """Who is asking: a trusted proxy's header, a session cookie, or (on a
    loopback-only server without sign-in) the local user."""
    config = state.config
    if not config.sign_in:
        return LOCAL_USER
    if config.proxy_header:
        value = request.headers.get(config.proxy_header)
        peer = request.client.host if request.client else ""
        if value is not None:
            if _is_trusted(peer, config.trusted_proxies) and auth.NAME_RE.match(value):
                request.scope.setdefault("state", {})["via_proxy"] = True
                return value
            log.warning(
                "ignored %s from an address that is not a trusted proxy", config.proxy_header
            )
    assert state.sessions is not None
    found = state.sessions.session(request.cookies.get(auth.SESSION_COOKIE))
    if found is None:
        return None
    user, sid = found
    if request.url.path != "/logout":
        # Sliding expiry: each request restarts the idle clock.
        refresh.append(_session_cookie(state, state.sessions.issue(user, sid)))
    return user


def _is_trusted(peer: str, proxies: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for proxy in proxies:
        try:
            if address in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def _session_cookie(state: _State, value: str, max_age: int | None = None) -> str:
    parts = [
        f"{auth.SESSION_COOKIE}={value}",
        "Path=/",
        "HttpOnly",
        "SameSite=Strict",
        f"Max-Age={max_age if max_age is not None else state.config.idle_minutes * 60}",
    ]
    if state.config.https:
        parts.append("Secure")
    return "; ".join(parts)


def _user(request: Request) -> str:
    return request.scope.get("state", {}).get("user") or LOCAL_USER


def _peer(state: _State, request: Request) -> str:
    """The client's address; behind a trusted proxy, the one it forwarded for
    (so one clinician's typos do not lock out everyone behind the proxy)."""
    peer = request.client.host if request.client else "?"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and _is_trusted(peer, state.config.trusted_proxies):
        return forwarded.rsplit(",", 1)[-1].strip()[:64] or peer
    return peer


def _client_key(request: Request) -> str:
    user = request.scope.get("state", {}).get("user")
    if user and user != LOCAL_USER:
        return "user:" + user
    return "ip:" + (request.client.host if request.client else "?")


def _same_origin(request: Request) -> bool:
    """Refuse requests a browser marks as coming from another site (defence in
    depth beside the token: SameSite cookies already keep them out)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = urlsplit(origin).netloc.lower()
        if host != request.headers.get("host", "").lower():
            return False
    return True


# -- sign-in ------------------------------------------------------------------------------


def _login_page(
    state: _State,
    request: Request,
    next_url: str,
    error: str = "",
    status: int = 200,
    username: str = "",
) -> Response:
    cookie, new = _csrf_cookie(request)
    response = _page(
        "login.html",
        status,
        next=next_url,
        error=error,
        username=username,
        token=state.form_token(cookie),
        user=None,
        sign_in=state.config.sign_in,
        signout_token="",
    )
    _set_csrf(state, response, new)
    return response


def _login(state: _State, request: Request, fields: LoginForm) -> Response:
    next_url = _safe_next(fields.next)
    if not state.config.sign_in:
        return RedirectResponse(next_url, status_code=303)
    if not _same_origin(request) or not state.csrf_ok(
        request.cookies.get(CSRF_COOKIE), fields.csrf_token
    ):
        return _login_page(
            state, request, next_url, "This page had expired; please sign in again.", 403
        )
    peer = _peer(state, request)
    keys = ("user:" + fields.username.lower(), "ip:" + peer)
    wait = state.throttle.wait(*keys)
    if wait:
        minutes = max(1, round(wait / 60))
        response = _login_page(
            state,
            request,
            next_url,
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes != 1)}, "
            "or ask IT to reset the password.",
            429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if not auth.verify(state.workspace, fields.username, fields.password):
        state.throttle.failed(*keys)
        log.warning("failed sign-in for %r from %s", fields.username[:64], peer)
        return _login_page(
            state, request, next_url, "Wrong user name or password.", 401, fields.username
        )
    state.throttle.succeeded(keys[0])
    assert state.sessions is not None
    response = RedirectResponse(next_url, status_code=303)
    response.headers.append(
        "set-cookie", _session_cookie(state, state.sessions.issue(fields.username))
    )
    return response


def _safe_next(value: str) -> str:
    """Only a path on this server (no //other.example, no scheme)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# -- rendering ----------------------------------------------------------------------------


def _job_args(state: _State, library: Library) -> tuple[str, str]:
    return str(state.workspace.root), library.content_hash


def ordered_options(library: Library, document: str, chosen: list[str]) -> list[str]:
    """The options in the document's own order, then the others as listed on
    the form: the same handout whatever order the boxes were ticked or sent,
    so it matches the edition built at start-up."""
    doc = library.documents[document]
    chosen = list(dict.fromkeys(chosen))
    own = [o for o in doc.options if o in chosen]
    return own + sorted(o for o in chosen if o not in doc.options)


def _submit(state: _State, request: Request, fields: RenderForm, *, preview: bool) -> Response:
    if not _same_origin(request) or not state.csrf_ok(
        request.cookies.get(CSRF_COOKIE), fields.csrf_token
    ):
        return _expired()
    library = _library_or_error(state, request)
    if isinstance(library, Response):
        return library
    values = fields.model_dump()
    if fields.document not in library.documents:
        return _page(
            "error.html",
            422,
            title="Unknown document",
            message=(f"There is no document '{fields.document}'."),
        )
    from handoutgen.pipeline import make_request, plan

    errors: list[str] = []
    if fields.visit_date:
        try:
            dt.date.fromisoformat(fields.visit_date)
        except ValueError:
            errors.append("Visit date: use the form YYYY-MM-DD.")
    if not fields.option:
        errors.append("Tick at least one option.")
    limit = _option_limit(library, fields.document)
    if limit is not None and len(set(fields.option)) > limit:
        errors.append(
            f"Tick at most {limit} options: the {_layout_name(library, fields.document)} "
            f"holds at most {limit}."
        )
    if errors:
        return _form_page(state, request, library, fields.document, values, errors, status=422)
    job: dict[str, Any] = {
        "document": fields.document,
        "options": ordered_options(library, fields.document, fields.option),
        "patient": fields.patient or None,
        "visit_date": fields.visit_date or None,
        "clinician": fields.clinician or None,
        "clinic": fields.clinic or None,
        "note": fields.note or None,
        "page_size": fields.page_size or None,
        "large_print": fields.large_print in ("on", "true", "1", "yes"),
        "language": fields.language or None,
    }
    try:
        req = make_request(**job)  # checked here, so a bad form never takes a worker
        p = plan(library, req)
        result = state.pool.run(render_job, *_job_args(state, library), job, preview)
    except Busy as exc:
        return _busy(exc)
    except HandoutgenError as exc:
        # Shown on the page with the form, never a bare error status page.
        return _form_page(
            state, request, library, fields.document, values, [exc.format_message()], status=422
        )
    if "error" in result:
        return _form_page(
            state, request, library, fields.document, values, [result["error"]], status=422
        )
    if result["missed"]:
        _schedule_edition(state, library, job)
    user = _user(request)
    action = "preview" if preview else ("print" if fields.inline == "1" else "pdf")
    try:
        state.audit.add(
            user=user,
            action=action,
            document=fields.document,
            options=job["options"],
            language=result["language"],
            page_size=p.page_size,
            large_print=job["large_print"],
            content_hash=library.content_hash,
            pages=result["pages"],
        )
    except (sqlite3.Error, OSError) as exc:
        # No handout without its audit row: a loud failure, not a silent gap.
        log.error("cannot write the audit log %s: %s", state.audit.path, exc)
        return _page(
            "error.html",
            500,
            title="The audit log cannot be written",
            message=(
                "Nothing was handed out, because it could not be recorded. Tell IT: the disk "
                "may be full or the audit log damaged (see the server's output)."
            ),
        )
    try:
        auth.remember(state.workspace, user, fields.clinician, fields.clinic)
    except (HandoutgenError, OSError) as exc:  # remembering is a convenience only
        log.warning("could not remember the clinician for the next form: %s", exc)
    if preview:
        return _form_page(state, request, library, fields.document, values, images=result["images"])
    disposition = "inline" if fields.inline == "1" else "attachment"
    return Response(
        result["pdf"],
        media_type="application/pdf",
        # The document's id and the time: never the patient's name.
        headers={
            "Content-Disposition": f'{disposition}; filename="{download_name(fields.document)}"'
        },
    )


def download_name(document: str, now: dt.datetime | None = None) -> str:
    """``DOCUMENT-YYYYMMDD-HHMM.pdf`` (local time)."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M")
    return f"{re.sub(r'[^A-Za-z0-9._-]', '-', document)}-{stamp}.pdf"


def _schedule_edition(state: _State, library: Library, job: dict[str, Any]) -> None:
    """After a full render, build its edition in an idle worker, so the next
    handout with the same options comes back in a fraction of the time."""
    key = repr(
        sorted((k, str(v is not None and v != "")) for k, v in job.items() if k != "options")
    )
    key += repr((job["document"], job["options"], job["page_size"], job["large_print"]))
    key += repr(job.get("language"))
    state.pool.background(key, edition_job, *_job_args(state, library), job)


def warm_requests(
    library: Library, clinics: list[str] | None = None, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """The jobs a clinician's form sends first: each handout with its own
    options in its own order, today's date, a name, a clinician, with and
    without a note; for each clinic the forms remember (the clinic's name is
    printed on the shared pages) or none."""
    today = today or clock.today()
    jobs = []
    for doc in sorted(library.documents.values(), key=lambda d: d.id):
        if doc.kind != "handout":
            continue
        for clinic in [*(clinics or []), None]:
            base = {
                "document": doc.id,
                "options": list(doc.options),
                "patient": "Warm Up",
                "visit_date": today.isoformat(),
                "clinician": "Clinician",
                "clinic": clinic,
                "page_size": doc.page_size,
                "large_print": False,
            }
            jobs.append({**base, "note": "Note."})
            jobs.append({**base, "note": None})
    return jobs


def _warm(state: _State) -> None:
    """Start the workers, then build the editions the form will ask for first,
    one at a time, so clinicians always have a free worker."""
    state.pool.start()
    try:
        library = state.library()
    except Exception:  # noqa: BLE001 - the page reports a broken workspace
        return
    try:
        clinics = auth.clinics(state.workspace)
    except HandoutgenError:
        clinics = []
    for job in warm_requests(library, clinics):
        while True:
            try:
                state.pool.run(edition_job, *_job_args(state, library), job)
                break
            except Busy:
                time.sleep(2)
            except Exception:  # noqa: BLE001 - a warm-up must never take the server down
                log.debug("warm-up failed", exc_info=True)
                break


# -- pages --------------------------------------------------------------------------------


def _chrome(state: _State, request: Request) -> dict[str, Any]:
    """What the layout's header needs: who is signed in and a sign-out token."""
    if not state.config.sign_in:
        return {"user": None, "sign_in": False, "signout_token": ""}
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    via_proxy = bool(request.scope.get("state", {}).get("via_proxy"))
    return {
        "user": _user(request),
        "sign_in": not via_proxy,  # signing out is the single sign-on's business
        "signout_token": state.form_token(cookie) if cookie else "",
    }


def _csrf_cookie(request: Request) -> tuple[str, str | None]:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or len(cookie) > 100:
        cookie = secrets.token_urlsafe(32)
        return cookie, cookie
    return cookie, None


def _set_csrf(state: _State, response: Response, new: str | None) -> None:
    if new:
        response.set_cookie(
            CSRF_COOKIE, new, httponly=True, samesite="strict", secure=state.config.https
        )


def _preview_error(message: str) -> Response:
    """The designer page's error: its script keeps the last good pages on screen
    and shows this over them (the header tells it apart from pages)."""
    response = _page("fragment_error.html", 200, message=message)
    response.headers["X-Handoutgen-Preview"] = "error"
    return response


def _option_limit(library: Library, document: str) -> int | None:
    """How many options a fixed-size document holds (measured, see fit.py), or None."""
    from handoutgen.quality.fit import form_limit

    return form_limit(library, document)


def _layout_name(library: Library, document: str) -> str:
    from handoutgen.quality.fit import layout_name

    return layout_name(library.documents[document])


def _form_page(
    state: _State,
    request: Request,
    library: Library,
    document: str,
    values: dict[str, Any],
    errors: list[str] | None = None,
    images: list[str] | None = None,
    status: int = 200,
) -> Response:
    cookie, new = _csrf_cookie(request)
    doc = library.documents[document]
    rank = {o: i for i, o in enumerate(doc.options)}
    options = sorted(
        library.options.values(), key=lambda o: (o.id not in rank, rank.get(o.id, 0), o.id)
    )
    chrome = _chrome(state, request)
    if new and chrome["sign_in"]:
        chrome["signout_token"] = state.form_token(cookie)
    response = _page(
        "form.html",
        status,
        doc=doc,
        options=options,
        option_limit=_option_limit(library, document),
        layout_name=_layout_name(library, document),
        values=values,
        errors=errors or [],
        images=images or [],
        page_sizes=list(get_args(PageSize)),
        languages=_languages(library, document),
        token=state.form_token(cookie),
        **chrome,
    )
    _set_csrf(state, response, new)
    return response


def _languages(library: Library, document: str) -> list[tuple[str, str]]:
    """(code, "Español (Spanish)") for each language the document has in full."""
    from handoutgen.content.i18n import language_name
    from handoutgen.render.context import document_languages

    out = []
    for code in document_languages(library, document):
        native, english = language_name(code), language_name(code, "en")
        out.append((code, native if native == english else f"{native} ({english})"))
    return out


def _expired() -> Response:
    return _page(
        "error.html",
        403,
        title="Please reload the form",
        message=(
            "This form has expired or was sent from another site, so nothing was rendered. "
            "Go back, reload the page and send it again."
        ),
    )


def _busy(exc: Busy) -> Response:
    response = _page(
        "error.html",
        503,
        title="Busy, try again in a moment",
        message=(
            f"{exc} Nothing was rendered. Wait a few seconds and send the form again "
            "(your browser's Back button keeps what you typed)."
        ),
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _too_many(wait: float) -> Response:
    response = _page("fragment_error.html", 429, message="Too many refreshes; waiting a moment.")
    response.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    return response


def _library_or_error(state: _State, request: Request | None = None) -> Library | Response:
    try:
        return state.library()
    except HandoutgenError as exc:  # ValidationFailed lists every problem
        message = exc.format_message()
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:
        # A hostile file (a YAML bomb, absurd nesting) must not take the server down.
        message = (
            f"the workspace could not be loaded ({type(exc).__name__}); run 'handoutgen validate'"
        )
    chrome = _chrome(state, request) if request is not None else {}
    return _page("error.html", 503, title="The content has errors", message=message, **chrome)


def _page(name: str, status: int, **context: Any) -> HTMLResponse:
    context.setdefault("user", None)
    context.setdefault("sign_in", False)
    context.setdefault("signout_token", "")
    return HTMLResponse(_pages.get_template(name).render(**context), status_code=status)


# -- hosts and addresses ----------------------------------------------------------------


def allowed_host_names(host: str, extra: tuple[str, ...] = ()) -> set[str]:
    """The Host header names this server answers to."""
    allowed = {_host_name(host)} | {_host_name(h) for h in extra}
    if host in LOOPBACK or host in WILDCARD:
        allowed |= set(LOOPBACK)
    if host in WILDCARD:
        allowed |= machine_names()
    if ":" in host and not host.startswith("["):
        allowed.add(f"[{host.lower()}]")
    return {a for a in allowed if a}


def machine_names() -> set[str]:
    """This machine's names and addresses (every interface), as Host headers carry them."""
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    addresses: set[str] = set()
    try:
        import psutil

        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family in (socket.AF_INET, socket.AF_INET6):
                    addresses.add(a.address.split("%")[0])
    except Exception:  # noqa: BLE001 - fall back to what the resolver knows
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            addresses.add(str(info[4][0]).split("%")[0])
    except OSError:
        pass
    for a in addresses:
        names.add(f"[{a.lower()}]" if ":" in a else a)
    return {n for n in names if n}


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8765
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a clear error (port in use, no such address)."""
    import errno

    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise HandoutgenError(f"cannot listen on {host}: {exc.strerror or exc}") from None
    # IPv4 first: "localhost" may list ::1 before 127.0.0.1, and browsers try both.
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host.strip("[]") == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise HandoutgenError(f"port {port} is in use; pick another with --port") from None
        if exc.errno == errno.EACCES:
            raise HandoutgenError(
                f"not allowed to listen on port {port}; pick one above 1023 with --port"
            ) from None
        raise HandoutgenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def check_tls(certfile: str, keyfile: str | None) -> None:
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as exc:
        raise HandoutgenError(
            f"cannot use the certificate {certfile} with the key {keyfile or certfile}: "
            f"{getattr(exc, 'strerror', None) or exc}"
        ) from None


def serve(
    workspace: Workspace,
    config: ServeConfig,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    on_ready: Any = None,
) -> None:
    """Bind (failing clearly if the port is taken), then serve until Ctrl-C."""
    import uvicorn

    if certfile:
        check_tls(certfile, keyfile)
    sock = bind(config.host, config.port)
    app = create_app(workspace, config=config)
    # No access log: URLs carry no patient data, but nothing personal belongs in logs.
    uv = uvicorn.Config(
        app,
        access_log=False,
        log_level="warning",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
        h11_max_incomplete_event_size=64 * 1024,
    )
    if on_ready:
        on_ready()
    import signal

    def stopped(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    # uvicorn shuts down gracefully, then re-raises SIGTERM to the handler it
    # found: this one ends the process normally, so exit handlers still run
    # (the worker pool's queues are released: no "leaked semaphore" warnings).
    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        uvicorn.Server(uv).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C, re-raised by uvicorn after its shutdown
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        app.state.hg.pool.close()
        sock.close()
