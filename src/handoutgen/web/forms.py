"""The render form: its fields and checks, the job it becomes, the response,
and the warm-up of the jobs the form sends first."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
import time
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from handoutgen.content import i18n
from handoutgen.content.library import Library, did_you_mean
from handoutgen.content.models import GRID_OPTIONS, pick_text
from handoutgen.core import clock
from handoutgen.core.errors import HandoutgenError
from handoutgen.render.context import DraftTranslation
from handoutgen.web import auth
from handoutgen.web.pages import (
    _busy,
    _expired,
    _form_page,
    _layout_name,
    _library_or_error,
    _option_limit,
    _page,
)
from handoutgen.web.pool import Busy, edition_job, render_job
from handoutgen.web.security import _same_origin
from handoutgen.web.state import CSRF_COOKIE, _job_args, _State, _user

log = logging.getLogger("handoutgen")


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


def ordered_options(library: Library, document: str, chosen: list[str]) -> list[str]:
    """The options in the order the form lists them (the document's own, then
    the others it offers): the same handout whatever order the boxes were
    ticked or sent, so it matches the edition built at start-up."""
    doc = library.documents[document]
    chosen = list(dict.fromkeys(chosen))
    return [o for o in doc.offered if o in chosen] + [o for o in chosen if o not in doc.offered]


def refused_options(library: Library, document: str, chosen: list[str]) -> list[str]:
    """The form's messages for ticked options the document does not list (a
    stale page, or a forged post), naming the ones it offers."""
    doc = library.documents[document]
    chosen = list(dict.fromkeys(chosen))
    out = [
        f"unknown option '{o[:60]}'{did_you_mean(o, doc.offered)}"
        for o in chosen
        if o not in library.options
    ][:3]
    refused = [
        pick_text(library.options[o].title)
        for o in chosen
        if o in library.options and o not in doc.offered
    ]
    if refused:
        offered = "; ".join(pick_text(library.options[o].title) for o in doc.offered)
        out.append(
            f"Not offered with this document: {'; '.join(refused)}. "
            f"Tick only the options listed: {offered}."
        )
    return out


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
    errors += refused_options(library, fields.document, fields.option)
    limit = _option_limit(library, fields.document)
    least = GRID_OPTIONS[0] if library.documents[fields.document].kind == "grid" else 1
    if fields.option and len(set(fields.option)) < least:
        errors.append(
            f"Tick at least {least} options: the {_layout_name(library, fields.document)} "
            "compares them side by side."
        )
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
    except DraftTranslation:
        lang = job["language"] or library.document(fields.document).language
        name = i18n.language_name(lang, i18n.SOURCE_LANGUAGE)
        message = (
            f"The {name} ({lang}) version of this handout is a machine translation "
            "that no qualified human translator has reviewed yet, so it cannot be printed for "
            "patients. Choose another language, or ask the person who keeps the handouts to "
            "have it reviewed (`handoutgen translations review`)."
        )
        return _form_page(state, request, library, fields.document, values, [message], status=422)
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
    except (sqlite3.Error, OSError, HandoutgenError) as exc:
        # No handout without its audit row (nor after a broken chain): a loud
        # failure, not a silent gap.
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
