"""``handoutgen serve``: the clinicians' web page, over the same library.

Tick the options discussed, type the patient's name and a note, preview the
pages, print or download the PDF. Designers get a preview page per document
that refreshes itself when a file in the workspace changes.

Here: the app factory and its routes, sign-in, and ``serve``. The rest, by
job: ``security`` (the front door every request passes first: security
headers, Host check, body cap, sign-in; and the origin check), ``state``
(options, workspace, render pool, CSRF secret), ``forms`` (the render form,
its checks, the job and the response), ``pages`` (templates, error pages).
Every state-changing or render-triggering endpoint checks a CSRF token tied
to a cookie and refuses cross-site requests. Renders run in worker processes
with a bounded queue (``pool``). Patient data lives only in the request and
its response: nothing personal is written to disk or logged; the audit log
holds who made which document from which content, never for whom.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import socket
import threading
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from handoutgen.content.approval import approval_state
from handoutgen.content.workspace import Workspace
from handoutgen.core import clock
from handoutgen.core.errors import HandoutgenError
from handoutgen.core.version import __version__
from handoutgen.store import audit
from handoutgen.store.audit import AuditLog
from handoutgen.web import auth
from handoutgen.web.forms import RenderForm, _submit, _warm
from handoutgen.web.pages import (
    _STATIC,
    _WEBUI,
    _busy,
    _chrome,
    _csrf_cookie,
    _expired,
    _form_page,
    _library_or_error,
    _page,
    _preview_error,
    _set_csrf,
    _too_many,
    set_workspace_root,
)
from handoutgen.web.pool import Busy, RenderPool, render_job
from handoutgen.web.security import (
    _add_headers,
    _client_key,
    _Front,
    _peer,
    _same_origin,
    _session_cookie,
    allowed_host_names,
)
from handoutgen.web.state import (
    CSRF_COOKIE,
    CSRF_HEADER,
    ServeConfig,
    _job_args,
    _State,
    _user,
)
from handoutgen.web.state import LOOPBACK as LOOPBACK  # the CLI reads it here

log = logging.getLogger("handoutgen")


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str = Field(default="", max_length=64)
    password: str = Field(default="", max_length=1000)
    next: str = Field(default="/", max_length=500)
    csrf_token: str = Field(default="", max_length=200)


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
    set_workspace_root(workspace.root)
    # A trail with a broken chain is evidence: stop, rather than write after it.
    audit.check_intact(workspace)
    state = _State(
        workspace,
        config,
        allowed_host_names(config.host, config.allowed_hosts),
        RenderPool(config.workers, config.queue),
        AuditLog(workspace),
    )
    if config.sign_in:
        state.sessions = auth.Sessions(
            workspace,
            idle=config.idle_minutes * 60,
            lifetime=int(config.session_hours * 3600),
        )
        state.throttle = auth.Throttle(workspace)

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

    @app.exception_handler(RequestValidationError)
    def invalid_form(request: Request, exc: RequestValidationError) -> Response:
        # Never FastAPI's JSON, which echoes what was typed (a patient's name):
        # the form again, with what is wrong in words.
        return _invalid_form(state, request, exc)

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
        approvals = {d.id: approval_state(library, d.id) for d in docs}
        cookie, new = _csrf_cookie(request)
        chrome = _chrome(state, request)
        if chrome["sign_in"]:
            chrome["signout_token"] = state.form_token(cookie)
        response = _page("index.html", 200, docs=docs, approvals=approvals, lang="en", **chrome)
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


# -- a form that does not fit its fields --------------------------------------------------

_LABELS = {
    "patient": "Patient's name",
    "clinician": "Clinician",
    "clinic": "Clinic",
    "note": "Note",
    "visit_date": "Visit date",
    "option": "Options",
    "username": "User name",
    "password": "Password",
}


def _invalid_form(state: _State, request: Request, exc: RequestValidationError) -> Response:
    problems = []
    for err in exc.errors():
        name = str(err["loc"][-1]) if err.get("loc") else "form"
        label = _LABELS.get(name, name.replace("_", " ").capitalize())
        limit = (err.get("ctx") or {}).get("max_length")
        if limit is not None:
            unit = "choices" if name == "option" else "characters"
            problems.append(f"{label} is too long: use at most {limit} {unit}.")
        elif err.get("type") == "missing":
            problems.append(f"{label} is missing.")
        else:
            problems.append(f"{label} is not valid.")
    problems = list(dict.fromkeys(problems))
    body = exc.body if hasattr(exc.body, "getlist") else None
    path = request.url.path
    if path == "/login":
        return _login_page(state, request, "/", " ".join(problems), 422)
    if path in ("/render", "/preview") and body is not None:
        library = _library_or_error(state, request)
        if isinstance(library, Response):
            return library
        document = str(body.get("document") or "")
        if document in library.documents:
            values: dict[str, Any] = {}
            for name, info in RenderForm.model_fields.items():
                limit = next(
                    (m.max_length for m in info.metadata if hasattr(m, "max_length")), None
                )
                if name == "option":
                    values[name] = [str(v)[:100] for v in body.getlist(name)][: limit or 50]
                else:
                    values[name] = str(body.get(name) or "")[: limit or 500]
            return _form_page(state, request, library, document, values, problems, status=422)
    return _page("error.html", 422, title="The form could not be read", message=" ".join(problems))


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
    assert state.throttle is not None
    # Counted before the check, in one step with the limits: a burst of
    # requests cannot all slip past a count none of them has added to yet.
    wait, attempt = state.throttle.begin(fields.username, peer)
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
    ok = False
    try:
        ok = auth.verify(state.workspace, fields.username, fields.password)
    finally:
        state.throttle.finish(attempt, ok)
    if not ok:
        # Never the name typed: it is sometimes the password, typed one field early.
        log.warning("failed sign-in from %s (name %s)", peer, _name_tag(fields.username))
        return _login_page(
            state, request, next_url, "Wrong user name or password.", 401, fields.username
        )
    assert state.sessions is not None
    response = RedirectResponse(next_url, status_code=303)
    response.headers.append(
        "set-cookie", _session_cookie(state, state.sessions.issue(fields.username))
    )
    return response


_TAG_KEY = secrets.token_bytes(16)  # per process: tags cannot be reversed or compared across runs


def _name_tag(name: str) -> str:
    """A short keyed hash of a submitted user name: repeated attempts on one
    name show as one tag in this run's log, and the log never holds the name."""
    return "#" + hmac.new(_TAG_KEY, name.encode("utf-8", "replace"), "sha256").hexdigest()[:8]


def _safe_next(value: str) -> str:
    """Only a path on this server (no //other.example, no scheme)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


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
    import os
    import ssl

    key = keyfile or certfile
    try:
        mode = os.stat(key).st_mode
    except OSError as exc:
        raise HandoutgenError(f"cannot read the key {key}: {exc.strerror}") from None
    if mode & 0o004:
        raise HandoutgenError(
            f"the TLS private key {key} may be read by every user of this machine: "
            f"run `chmod 600 {key}` (or 640 for a group such as ssl-cert)"
        )

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
    if config.port == 0:  # any free port: the one bound, for the address printed
        config.port = sock.getsockname()[1]
    app = create_app(workspace, config=config)
    # No access log: URLs carry no patient data, but nothing personal belongs in logs.
    from handoutgen.web.conn import guarded_protocol

    uv = uvicorn.Config(
        app,
        http=guarded_protocol(config.header_timeout, config.max_per_address),
        access_log=False,
        log_level="warning",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_keep_alive=min(5, max(1, int(config.idle_timeout))),
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
