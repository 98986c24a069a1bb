"""``handoutgen serve``: a local web page for clinicians, over the same library.

Tick the options discussed, type the patient's name and a note, preview the
pages, download or print the PDF. Designers get a preview page per document
that refreshes itself when a file in the workspace changes.

Privacy and safety: it binds to loopback by default; a request whose Host
header is not this server's name is refused (DNS rebinding); every form post
carries a CSRF token tied to a cookie; patient data lives only in the request
and its response: nothing is written to disk and nothing personal is logged.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

import jinja2
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from .content import Library, load_library
from .errors import HandoutgenError
from .models import PageSize
from .workspace import PACKAGE_DIR, Workspace

log = logging.getLogger("handoutgen")

CSRF_COOKIE = "handoutgen_csrf"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

_pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(PACKAGE_DIR / "webui")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_pages.filters["tr"] = lambda v: (
    (v.get("en") or next(iter(v.values()), "")) if isinstance(v, dict) else (v or "")
)


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
    csrf_token: str = Field(default="", max_length=200)


@dataclass
class _State:
    """The workspace, reloaded when its files change, and one render at a time."""

    workspace: Workspace
    allowed_hosts: set[str]
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lock: threading.RLock = field(default_factory=threading.RLock)
    _library: Library | None = None
    _stamp: tuple = ()
    warming: set[str] = field(default_factory=set)

    def stamp(self) -> tuple:
        """A cheap fingerprint of the workspace: every file's path, size and mtime."""
        from .preview import watch_paths

        entries = []
        for folder in watch_paths(self.workspace):
            if folder.is_dir():
                for path in sorted(folder.rglob("*")):
                    if path.is_file():
                        st = path.stat()
                        entries.append((str(path), st.st_size, st.st_mtime_ns))
        return tuple(entries)

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
    workspace: Workspace, host: str = "127.0.0.1", port: int = 8765, *, warm: bool = True
) -> FastAPI:
    """The ASGI app. ``host``/``port`` are what the server binds to; only Host
    headers naming them (or loopback names, when bound to loopback) are served."""
    allowed = {host.lower()}
    if host in LOOPBACK or host == "0.0.0.0":  # noqa: S104 - the user asked for it
        allowed |= set(LOOPBACK)
    state = _State(workspace, allowed)
    app = FastAPI(
        title="handoutgen",
        version=_version(),
        description="Personalized patient handouts from reviewed content.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.hg = state

    @app.middleware("http")
    async def check_host(request: Request, call_next):  # noqa: ANN001, ANN202
        name = _host_name(request.headers.get("host", ""))
        if name not in state.allowed_hosts:
            # DNS rebinding: a page on evil.example resolving to 127.0.0.1.
            return _page(
                "error.html",
                400,
                title="Refused",
                message=(
                    "This server answers only to the address it runs on. Open it at "
                    f"http://{host}:{port}/ instead."
                ),
            )
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"  # pages may hold patient data
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        )
        return response

    @app.get("/", response_class=HTMLResponse, summary="List the documents")
    def index(request: Request) -> Response:
        library = _library_or_error(state)
        if isinstance(library, Response):
            return library
        docs = sorted(library.documents.values(), key=lambda d: d.id)
        return _page("index.html", 200, docs=docs, lang="en")

    @app.get("/documents/{document}", response_class=HTMLResponse, summary="The form")
    def form(request: Request, document: str) -> Response:
        library = _library_or_error(state)
        if isinstance(library, Response):
            return library
        if document not in library.documents:
            return _page(
                "error.html",
                404,
                title="Not found",
                message=(f"There is no document '{document}'."),
            )
        doc = library.documents[document]
        values = {"option": list(doc.options), "page_size": doc.page_size}
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
    def design(document: str) -> Response:
        return _page("design.html", 200, document=document, version=state.version())

    @app.get("/design/{document}/pages", response_class=HTMLResponse, summary="Preview pages")
    def design_pages(document: str) -> Response:
        try:
            library = state.library()
            from .render import make_request

            request = make_request(document=document, allow_draft=True)
            with state.lock:
                images = _png_pages(_render_pdf(library, request)[0])
        except HandoutgenError as exc:
            return _page("fragment_error.html", 200, message=exc.format_message())
        return _page("fragment_pages.html", 200, images=images)

    @app.get("/api/version", summary="Workspace fingerprint, for auto-refresh")
    def version() -> JSONResponse:
        return JSONResponse({"version": state.version()})

    if warm:
        threading.Thread(target=_warm, args=(state,), daemon=True).start()
    return app


def _submit(state: _State, request: Request, fields: RenderForm, *, preview: bool) -> Response:
    if not state.csrf_ok(request.cookies.get(CSRF_COOKIE), fields.csrf_token):
        return _page(
            "error.html",
            403,
            title="Please reload the form",
            message=(
                "This form has expired or was sent from another site, so nothing was rendered. "
                "Go back, reload the page and send it again."
            ),
        )
    library = _library_or_error(state)
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
    from .render import make_request

    errors: list[str] = []
    visit = None
    if fields.visit_date:
        try:
            visit = dt.date.fromisoformat(fields.visit_date)
        except ValueError:
            errors.append("Visit date: use the form YYYY-MM-DD.")
    if not fields.option:
        errors.append("Tick at least one option.")
    if errors:
        return _form_page(state, request, library, fields.document, values, errors, status=422)
    try:
        req = make_request(
            document=fields.document,
            options=fields.option,
            patient=fields.patient or None,
            visit_date=visit,
            clinician=fields.clinician or None,
            clinic=fields.clinic or None,
            note=fields.note or None,
            page_size=fields.page_size or None,
            large_print=fields.large_print in ("on", "true", "1", "yes"),
        )
        with state.lock:
            pdf, missed = _render_pdf(library, req)
            images = _png_pages(pdf) if preview else []
    except HandoutgenError as exc:
        # Shown on the page with the form, never a bare error status page.
        return _form_page(
            state, request, library, fields.document, values, [exc.format_message()], status=422
        )
    if missed:
        _schedule_edition(state, library, req)
    if preview:
        return _form_page(state, request, library, fields.document, values, images=images)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            # The file name is the document's id: never the patient's name.
            "Content-Disposition": f'attachment; filename="{fields.document}.pdf"',
        },
    )


def _render_pdf(library: Library, request: Any) -> tuple[bytes, bool]:
    """The PDF, and whether its edition was missing (worth building for next time)."""
    from .vdp import render_one

    outcome = render_one(library, request)
    return outcome.pdf, outcome.reason == "edition not cached"


def _png_pages(pdf: bytes, dpi: int = 64) -> list[str]:
    """Each page as a PNG data URI (nothing is written to disk)."""
    import io

    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        out = []
        for page in doc:
            buf = io.BytesIO()
            page.render(scale=dpi / 72).to_pil().save(buf, format="PNG")
            out.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
        return out
    finally:
        doc.close()


def _schedule_edition(state: _State, library: Library, request: Any) -> None:
    """After a full render, build its edition in the background, so the next
    handout with the same options comes back in a fraction of the time."""
    from . import vdp

    try:
        if vdp.ineligible(library, request):
            return
        s = vdp.split(library, request)
    except HandoutgenError:
        return
    if s.reason or vdp.cached_edition(s.key) is not None or s.key in state.warming:
        return
    state.warming.add(s.key)

    def build() -> None:
        try:
            with state.lock:
                vdp.get_edition(library, s)
        except Exception:  # noqa: BLE001 - a cache warm-up must never take the server down
            log.debug("edition build failed", exc_info=True)
        finally:
            state.warming.discard(s.key)

    threading.Thread(target=build, daemon=True).start()


def _warm(state: _State) -> None:
    """Build each handout's default edition for a typical visit (name, date,
    note, clinician), so the first clinician of the day does not wait."""
    from .render import make_request

    try:
        library = state.library()
    except HandoutgenError:
        return
    for doc in library.documents.values():
        if doc.kind != "handout":
            continue
        try:
            request = make_request(
                document=doc.id,
                patient="Warm Up",
                visit_date=dt.date.today(),
                clinician="Clinician",
                note="Note.",
            )
        except HandoutgenError:
            continue
        _schedule_edition(state, library, request)


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
    cookie = request.cookies.get(CSRF_COOKIE)
    new_cookie = None
    if not cookie or len(cookie) > 100:
        cookie = new_cookie = secrets.token_urlsafe(32)
    doc = library.documents[document]
    options = sorted(library.options.values(), key=lambda o: (o.id not in doc.options, o.id))
    response = _page(
        "form.html",
        status,
        doc=doc,
        options=options,
        values=values,
        errors=errors or [],
        images=images or [],
        page_sizes=list(PageSize.__args__),
        token=state.form_token(cookie),
    )
    if new_cookie:
        response.set_cookie(CSRF_COOKIE, new_cookie, httponly=True, samesite="strict")
    return response


def _library_or_error(state: _State) -> Library | Response:
    try:
        return state.library()
    except HandoutgenError as exc:  # ValidationFailed lists every problem
        return _page(
            "error.html", 503, title="The content has errors", message=exc.format_message()
        )


def _page(name: str, status: int, **context: Any) -> HTMLResponse:
    return HTMLResponse(_pages.get_template(name).render(**context), status_code=status)


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8765
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _version() -> str:
    from . import __version__

    return __version__


def serve(workspace: Workspace, host: str, port: int) -> None:
    import uvicorn

    app = create_app(workspace, host, port)
    # No access log: URLs carry no patient data, but nothing personal belongs in logs.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
