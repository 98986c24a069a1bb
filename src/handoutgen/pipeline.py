"""The rendering pipeline: content gate -> edition or full render -> format.

The CLI, the web app, batches and previews all render through here:

    content -> models -> context -> HTML (compose) -> layout (weasy) -> PDF
                                          \\-> editions (vdp) -> assembled PDF

Each layer imports only the ones below it. WeasyPrint is imported only when a
PDF is actually made.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from handoutgen.content.library import Library
from handoutgen.content.models import RenderRequest
from handoutgen.core.clock import today as clock_today
from handoutgen.core.errors import RenderError
from handoutgen.editions.vdp import Outcome
from handoutgen.editions.vdp import render_many as vdp_many
from handoutgen.engine.raster import stacked_png
from handoutgen.quality.checks import check_profile, check_render
from handoutgen.render.compose import render_html as compose_html
from handoutgen.render.context import Plan, isolate, make_request, plan
from handoutgen.render.fullrender import render_pdf as full_pdf

log = logging.getLogger("handoutgen")

__all__ = [
    "Outcome",
    "Plan",
    "gate",
    "isolate",
    "make_request",
    "plan",
    "render",
    "render_html",
    "render_many",
    "render_one",
    "render_pdf",
    "warm",
    "warm_edition",
]


def gate(library: Library, request: RenderRequest | Plan, *, today: dt.date | None = None) -> bool:
    """The content gate: the same rules as ``handoutgen check``, over the
    document and the options this request asks for.

    Returns whether the result is a draft (errors the request allowed with
    ``allow_draft``); raises RenderError if there are errors it did not allow.
    """
    p = plan(library, request)
    errors = check_render(
        library, p.document.id, tuple(o.id for o in p.options), today or clock_today()
    )
    for error in errors:
        # Too many options for a fixed-size layout: a draft would be just as cut.
        if error.rule == "fit":
            raise RenderError(f"{p.document.id}: {error.message}")
    profile = p.request.brand or p.document.brand
    wrong = check_profile(library, profile, today) if profile else []
    if wrong and not p.request.allow_draft:
        # A made-up number never reaches a patient looking real.
        raise RenderError(
            f"clinic profile '{profile}' cannot print: "
            + "; ".join(str(e) for e in wrong)
            + ". Fix it (see `handoutgen check`) or pass --allow-draft to print a DRAFT"
        )
    errors = [*errors, *wrong]
    if errors and not p.request.allow_draft:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        options = "".join(f" --option {o.id}" for o in p.options) if p.request.options else ""
        raise RenderError(
            f"document '{p.document.id}' has {len(errors)} content error"
            f"{'s' if len(errors) != 1 else ''}: {shown}{more}. Fix them (see "
            f"`handoutgen check {p.document.id}{options}`) or pass --allow-draft to print a DRAFT"
        )
    return bool(errors)


def render_html(
    library: Library, request: RenderRequest | Plan, *, standalone: bool = False
) -> str:
    """The document's HTML after the content gate."""
    p = plan(library, request)
    return compose_html(library, p, standalone=standalone, draft=gate(library, p))


def render_pdf(library: Library, request: RenderRequest | Plan) -> bytes:
    """A full render (no edition) after the content gate."""
    p = plan(library, request)
    return full_pdf(library, p, draft=gate(library, p))


def render_many(
    library: Library,
    requests: Sequence[RenderRequest | Plan],
    *,
    build: bool = True,
) -> list[Outcome]:
    """PDFs for many requests (a batch chunk), sharing editions where it is safe.
    A request the gate refuses gets an Outcome with its error; the rest go on."""
    outcomes: list[Outcome | None] = []
    passed: list[tuple[int, Plan, bool]] = []
    for i, request in enumerate(requests):
        try:
            p = plan(library, request)  # resolved here once; every stage below takes the plan
            passed.append((i, p, gate(library, p)))
            outcomes.append(None)
        except RenderError as exc:
            outcomes.append(Outcome(error=exc))
    made = vdp_many(
        library,
        [r for _, r, _ in passed],
        drafts=[d for *_, d in passed],
        build=build,
    )
    for (i, _, _), outcome in zip(passed, made, strict=True):
        outcomes[i] = outcome
    return [o for o in outcomes if o is not None]


def render_one(library: Library, request: RenderRequest | Plan, *, build: bool = False) -> Outcome:
    """One PDF, from a cached edition when there is one (``build``: make it if not)."""
    outcome = render_many(library, [request], build=build)[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome


def warm_edition(library: Library, request: RenderRequest | Plan) -> bool:
    """Build (and cache) the edition this request would use; True if it has a usable one."""
    from handoutgen.editions import vdp

    p = plan(library, request)
    draft = gate(library, p)
    if vdp.ineligible(library, p):
        return False
    s = vdp.split(library, p, draft=draft)
    if s.fallback is not None:
        return False
    edition = vdp.get_edition(library, s)
    return bool(edition and edition.usable)


# The fields a single render usually fills in, each combination its own edition
# (an edition depends on which personal boxes the page has, not on their text).
WARM_FIELDS: tuple[dict[str, object], ...] = (
    {"patient": "Warm Up", "visit_date": "2001-01-01", "clinician": "Clinician", "note": "Note."},
    {"patient": "Warm Up", "visit_date": "2001-01-01", "clinician": "Clinician"},
    {"patient": "Warm Up", "visit_date": "2001-01-01"},
    {"patient": "Warm Up"},
)


@dataclass
class Warmed:
    """What `warm` built for one document."""

    made: int  # usable editions
    tried: int
    reasons: list[str]  # why the rest render in full


def warm(
    library: Library, documents: list[str] | None = None, clinics: list[str] | None = None
) -> dict[str, Warmed]:
    """Build the editions single renders of these documents (default: all)
    with their own options will use: each combination of WARM_FIELDS, for each
    clinic and none. Stand-in values only: no patient data goes in."""
    from handoutgen.core.errors import HandoutgenError
    from handoutgen.editions import vdp

    results: dict[str, Warmed] = {}
    for doc_id in documents or sorted(library.documents):
        doc = library.document(doc_id)
        why = vdp.ineligible(library, make_request(document=doc.id))
        if why:
            results[doc.id] = Warmed(0, 0, [why])
            continue
        made, tried, reasons = 0, 0, set[str]()
        for clinic in [*(clinics or []), None]:
            for fields in WARM_FIELDS:
                request = make_request(document=doc.id, clinic=clinic, **fields)
                tried += 1
                try:
                    p = plan(library, request)
                    if warm_edition(library, p):
                        made += 1
                        continue
                    s = vdp.split(library, p, draft=gate(library, p))
                except HandoutgenError as exc:
                    reasons.add(str(exc))
                    continue
                edition = vdp.cached_edition(s.key)
                cause = s.fallback or (edition.fallback if edition else None)
                reasons.add(cause.text(s.detail) if cause else "not usable")
        results[doc.id] = Warmed(made, tried, sorted(reasons))
    return results


def render(library: Library, request: RenderRequest | Plan, *, editions: bool = True) -> bytes:
    """Render in the request's format and return the bytes.

    A PDF is assembled from a cached edition when one exists (see editions/): it
    reads exactly like a full render, in a fraction of the time."""
    p = plan(library, request)
    request = p.request
    if request.format == "html":
        return render_html(library, p, standalone=True).encode("utf-8")
    if request.format == "pdf" and editions:
        outcome = render_one(library, p)
        assert outcome.pdf is not None
        log.info(
            "%s: %s",
            p.document.id,
            "assembled from a cached edition"
            if outcome.mode == "edition"
            else f"rendered in full ({outcome.reason or 'nothing cached'})",
        )
        return outcome.pdf
    pdf = render_pdf(library, p)
    if request.format == "png":
        return stacked_png(pdf, request.png_dpi)
    return pdf
