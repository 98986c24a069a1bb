"""The pages: templates, the layout's header, the form page and the error
pages every module answers with."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any, get_args

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from handoutgen.content.approval import approval_state
from handoutgen.content.library import Library
from handoutgen.content.models import PageSize, pick_text
from handoutgen.content.workspace import PACKAGE_DIR
from handoutgen.core.errors import HandoutgenError
from handoutgen.web.pool import Busy
from handoutgen.web.state import CSRF_COOKIE, _State, _user

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
    # Only what the document offers: its own options, then the others it allows.
    options = [library.options[o] for o in doc.offered]
    chrome = _chrome(state, request)
    if new and chrome["sign_in"]:
        chrome["signout_token"] = state.form_token(cookie)
    response = _page(
        "form.html",
        status,
        doc=doc,
        approval=approval_state(library, document),
        options=options,
        option_limit=_option_limit(library, document),
        layout_name=_layout_name(library, document),
        values=values,
        errors=errors or [],
        images=images or [],
        page_sizes=list(get_args(PageSize)),
        languages=_languages(library, document),
        **_clinics(library, document, values),
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


def _clinics(library: Library, document: str, values: dict[str, Any]) -> dict[str, Any]:
    """The clinic field's choices (profile id, shown name), the one to select,
    what choosing none prints, and a remembered clinic that has no profile."""
    from handoutgen.core.errors import DataError
    from handoutgen.render.context import clinic_profile

    brands = sorted(library.brands.values(), key=lambda b: (b.name.casefold(), b.id))
    choices = [(b.id, f"{b.name} (sample)" if b.sample else b.name) for b in brands]
    doc = library.documents[document]
    own = library.brands.get(doc.brand) if doc.brand else None
    none_label = (
        f"This handout's own ({own.name})"
        if own
        else "None: a blank line to write the clinic's phone in"
    )
    typed = str(values.get("clinic") or "")
    chosen, unknown = "", ""
    if typed:
        try:
            chosen = clinic_profile(library, typed).id
        except DataError:
            unknown = typed
    return {
        "clinics": choices,
        "clinic_chosen": chosen,
        "clinic_none": none_label,
        "clinic_unknown": unknown,
    }


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


# An absolute path: a slash not after a letter, digit, ':' or another slash (so
# not a URL, a date or "and/or"), then path characters.
_ABSOLUTE = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+~-]+/)*[\w.@+~-]*")
_roots: list[Path] = []  # the served workspace (create_app sets it)


def set_workspace_root(root: Path) -> None:
    _roots[:] = [root.resolve()]


def scrub_paths(text: str) -> str:
    """A message with no absolute server path: a file in the workspace or the
    package is named relative to it, anything else by its last part."""

    def short(match: re.Match[str]) -> str:
        path = Path(match.group(0))
        for root, shown in [*((r, "") for r in _roots), (PACKAGE_DIR, "(handoutgen)/")]:
            if path == root:
                return shown or "the workspace"
            if path.is_relative_to(root):
                return shown + path.relative_to(root).as_posix()
        return path.name or "/"

    return _ABSOLUTE.sub(short, text)


def _page(name: str, status: int, **context: Any) -> HTMLResponse:
    # Error pages never show where the server keeps its files.
    if isinstance(context.get("message"), str):
        context["message"] = scrub_paths(context["message"])
    if isinstance(context.get("errors"), list):
        context["errors"] = [scrub_paths(e) if isinstance(e, str) else e for e in context["errors"]]
    context.setdefault("user", None)
    context.setdefault("sign_in", False)
    context.setdefault("signout_token", "")
    return HTMLResponse(_pages.get_template(name).render(**context), status_code=status)
