"""The rendering pipeline: content + personal data -> HTML -> PDF (or PNG).

Everything here is importable and used by the CLI, the batch runner and the
web app alike; WeasyPrint is imported only when a PDF is actually made.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from pydantic import ValidationError

from . import __version__
from .content import Library, add_months, did_you_mean
from .errors import DataError, RenderError
from .fonts import FAMILY, font_dir, font_face_css
from .models import Document, Option, RenderRequest
from .templating import render_template
from .vdp import Marks
from .workspace import PACKAGE_DIR

if TYPE_CHECKING:
    import weasyprint

log = logging.getLogger("handoutgen")


# Unicode isolates: a name typed or pasted with a right-to-left override (or
# simply in Arabic or Hebrew) cannot reorder the generated text around it
# ("Prepared for ... · Visit of ..."). WeasyPrint does not implement CSS
# `unicode-bidi: isolate`, but Pango honours FSI...PDI in the text itself.
_FSI, _PDI = "\u2068", "\u2069"
_ISOLATE_CONTROLS = dict.fromkeys(range(0x2066, 0x206A))  # LRI RLI FSI PDI: could break out


def isolate(value: str | None) -> str | None:
    """A personal value wrapped in a bidi isolate (None and "" unchanged)."""
    if not value:
        return value
    return _FSI + value.translate(_ISOLATE_CONTROLS) + _PDI


def make_request(**fields: Any) -> RenderRequest:
    """Build a RenderRequest from loose input, reporting bad fields as a DataError."""
    fields = {k: v for k, v in fields.items() if v is not None}
    try:
        return RenderRequest(**fields)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors(include_url=False):
            name = ".".join(str(p) for p in err["loc"])
            msgs.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
        raise DataError("; ".join(msgs)) from None


@dataclass(frozen=True)
class Plan:
    """A resolved request: the document, its options and the template context."""

    request: RenderRequest
    document: Document
    options: list[Option]
    page_size: str
    language: str


def plan(library: Library, request: RenderRequest) -> Plan:
    doc = library.document(request.document)
    ids = list(dict.fromkeys(request.options)) if request.options else list(doc.options)
    unknown = [i for i in ids if i not in library.options]
    if unknown:
        raise DataError(
            "; ".join(f"unknown option '{i}'{did_you_mean(i, library.options)}" for i in unknown)
            + " (`handoutgen list` shows the options)"
        )
    return Plan(
        request=request,
        document=doc,
        options=[library.options[i] for i in ids],
        page_size=request.page_size or doc.page_size,
        language=request.language or doc.language,
    )


def _brand(library: Library, p: Plan):  # noqa: ANN202
    brand_id = p.request.brand or p.document.brand
    if brand_id is None:
        return None
    try:
        return library.brands[brand_id]
    except KeyError:
        raise DataError(
            f"unknown brand '{brand_id}'{did_you_mean(brand_id, library.brands)}"
        ) from None


def _qr_svg(url: str, dark: str) -> Markup:
    """A vector QR code (segno) for a validated http(s) URL."""
    import segno

    qr = segno.make(url, error="m", micro=False)
    # segno writes well-formed SVG from the URL's bytes; nothing else goes in.
    return Markup(qr.svg_inline(scale=4, dark=dark, light="#ffffff", border=2, omitsize=True))


def context(
    library: Library,
    p: Plan,
    *,
    inline_fonts: bool = False,
    draft: bool = False,
    pad_pages: int = 0,
    marks: Marks | None = None,
) -> dict[str, Any]:
    """Everything a template sees. Personal fields stay plain strings (escaped on output)."""
    req, doc = p.request, p.document
    sources: list[str] = []
    for option in p.options:
        for ev in option.evidence:
            if ev.source not in sources:
                sources.append(ev.source)
    disclaimers = list(doc.disclaimers)
    for option in p.options:
        if option.disclaimer and option.disclaimer not in disclaimers:
            disclaimers.append(option.disclaimer)
    reviewed = min(o.reviewed for o in p.options)

    ws = library.workspace

    def stylesheet(name: str) -> Markup:
        path = ws.find_style(name)
        if path is None:
            raise RenderError(
                f"stylesheet '{name}' not found; looked in {ws.looked_in(ws.style_dirs)}"
            )
        # Stylesheets are trusted workspace files, inlined so the HTML stands alone.
        return Markup(path.read_text(encoding="utf-8"))

    return {
        "doc": doc,
        "options": p.options,
        "factors": doc.factors,
        "lang": p.language,
        "page_size": p.page_size,
        "person": {
            "patient": isolate(req.patient),
            "visit_date": req.visit_date,
            "clinician": isolate(req.clinician),
            "clinic": req.clinic,
            "note": req.note,
            "first_name": isolate(req.first_name),
            "last_name": isolate(req.last_name),
            "address": [
                line
                for line in (
                    " ".join(isolate(x) for x in (req.first_name, req.last_name) if x)
                    or isolate(req.patient),
                    isolate(req.address1),
                    isolate(req.address2),
                    " ".join(
                        x
                        for x in (
                            f"{isolate(req.city)}," if req.city else None,
                            isolate(req.state),
                            isolate(req.zip),
                        )
                        if x
                    ),
                )
                if line
            ],
            "letter_date": req.letter_date,
        },
        "see_also": [
            (library.documents[s.document], s.note)
            for s in doc.see_also
            if s.document in library.documents
        ],
        "sources": sources,
        "source_number": {s: i + 1 for i, s in enumerate(sources)},
        "disclaimers": disclaimers,
        "reviewed": reviewed,
        "next_review": add_months(reviewed, doc.review_interval_months),
        "font_faces": Markup(font_face_css(inline_fonts)),
        "font_family": FAMILY,
        "stylesheet": stylesheet,
        "extra_styles": doc.styles,
        "draft": draft or doc.status != "approved",
        "brand": (brand := _brand(library, p)),
        "qr_svg": _qr_svg(doc.qr, brand.colors.text if brand else "#1b1b1b") if doc.qr else None,
        "print_ready": req.print_ready,
        "pad_pages": pad_pages,
        "vdp": marks if marks is not None else Marks(),
        "large_print": req.large_print,
        "meta": {
            "version": __version__,
            "content_hash": library.content_hash,
            "generator": f"handoutgen {__version__}",
            "options": ",".join(o.id for o in p.options),
        },
    }


def render_html(
    library: Library,
    request: RenderRequest,
    *,
    standalone: bool = False,
    checked: bool = True,
    pad_pages: int = 0,
    marks: Marks | None = None,
) -> str:
    """The HTML WeasyPrint lays out; ``standalone`` inlines fonts as data URIs.

    A document whose content fails ``handoutgen check`` with errors is refused
    unless the request allows a draft, which is then marked DRAFT on every page.
    """
    p = plan(library, request)
    draft = False
    if checked:
        from .checks import check_render

        errors = check_render(library, p.document.id, tuple(o.id for o in p.options))
        if errors and not request.allow_draft:
            shown = "; ".join(str(e) for e in errors[:5])
            more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            raise RenderError(
                f"document '{p.document.id}' has {len(errors)} content error"
                f"{'s' if len(errors) != 1 else ''}: {shown}{more}. Fix them (see "
                f"`handoutgen check {p.document.id}`) or pass --allow-draft to print a DRAFT"
            )
        draft = bool(errors)
    ctx = context(
        library, p, inline_fonts=standalone, draft=draft, pad_pages=pad_pages, marks=marks
    )
    if marks is not None:
        marks.draft = ctx["draft"]
    return render_template(library.workspace.template_dirs, p.document.template, ctx)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class _RedactGlyphs(logging.Filter):
    """WeasyPrint quotes the character it could not draw; that character comes
    from a patient's name, so only its code point may reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(".notdef glyph") and len(record.args or ()) == 2:
            record.msg = ".notdef glyph rendered: no font can draw U+%04X"
            record.args = (record.args[1],)
        return True


_REDACT = _RedactGlyphs()


@contextlib.contextmanager
def _watch_weasyprint() -> Iterator[_Collect]:
    """Collect WeasyPrint's warnings (missing glyphs, images, bad CSS) for --strict."""
    handler = _Collect()
    wp_log = logging.getLogger("weasyprint")
    wp_log.addFilter(_REDACT)
    wp_log.addHandler(handler)
    try:
        yield handler
    finally:
        wp_log.removeHandler(handler)


_PARSED_CSS: dict[tuple[str, str], Any] = {}
# Dropped before interpreter shutdown, when WeasyPrint's font clean-up can no
# longer run.
atexit.register(_PARSED_CSS.clear)


def _parsed_css(library: Library, css: str):  # noqa: ANN202
    """A parsed stylesheet and its font configuration, kept between renders:
    parsing the stylesheet and loading its fonts is a good part of a small render."""
    import hashlib

    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    from .fetcher import SafeURLFetcher

    key = (str(library.workspace.root), hashlib.sha256(css.encode()).hexdigest())
    if key not in _PARSED_CSS:
        if len(_PARSED_CSS) >= 8:
            _PARSED_CSS.pop(next(iter(_PARSED_CSS)))
        fetcher = SafeURLFetcher([library.workspace.root, PACKAGE_DIR, font_dir()])
        fonts = FontConfiguration()
        sheet = weasyprint.CSS(
            string=css,
            base_url=library.workspace.root.as_uri() + "/",
            url_fetcher=fetcher,
            font_config=fonts,
        )
        _PARSED_CSS[key] = (sheet, fonts)
    return _PARSED_CSS[key]


def layout(
    library: Library,
    html: str,
    *,
    strict: bool = False,
    allow_http: bool = False,
    css: str | None = None,
):
    """Lay out HTML with WeasyPrint under the safe fetcher; return the Document.

    ``css``, if given, is applied as a stylesheet parsed once and reused (the
    HTML then carries no <style> of its own)."""
    import weasyprint

    from .fetcher import RefusedURL, SafeURLFetcher

    fetcher = SafeURLFetcher(
        [library.workspace.root, PACKAGE_DIR, font_dir()], allow_http=allow_http
    )
    source = weasyprint.HTML(
        string=html, base_url=library.workspace.root.as_uri() + "/", url_fetcher=fetcher
    )
    _refuse_attachments(source)
    options: dict[str, Any] = {}
    if css is not None:
        sheet, fonts = _parsed_css(library, css)
        options = {"stylesheets": [sheet], "font_config": fonts}
    with _watch_weasyprint() as warnings:
        try:
            document = source.render(**options)
        except RefusedURL as exc:
            raise RenderError(f"refused to load {exc.url}: {exc.reason}") from None
    if strict and warnings.messages:
        raise RenderError("rendering produced warnings (--strict): " + "; ".join(warnings.messages))
    return document


def _refuse_attachments(source: weasyprint.HTML) -> None:
    """No file may be embedded in a handout: ``<link>`` or ``<a rel=attachment>``
    is refused before layout, so nothing is fetched or written."""
    urls = [
        element.get("href") or "(no href)"
        for element in source.etree_element.iter()
        if element.tag in ("link", "a")
        and "attachment" in (element.get("rel") or "").lower().split()
    ]
    if urls:
        raise RenderError(
            f"refused to attach {', '.join(urls)}: handouts may not carry attachments"
        )


def render_pdf(library: Library, request: RenderRequest) -> bytes:
    html = render_html(library, request)
    document = layout(library, html, strict=request.strict, allow_http=request.allow_http)
    multiple = library.document(request.document).pages_multiple_of
    if len(document.pages) % multiple:
        # Booklets: lay out again with notes pages, so the padding pages carry
        # the running header and disclaimer like every other page.
        pad = multiple - len(document.pages) % multiple
        html = render_html(library, request, pad_pages=pad)
        document = layout(library, html, strict=request.strict, allow_http=request.allow_http)
    # Glyphs are drawn while writing, so missing-glyph warnings come from here.
    with _watch_weasyprint() as warnings:
        pdf = write_pdf(document, library, request.pdf_variant)
    if request.strict and warnings.messages:
        raise RenderError("rendering produced warnings (--strict): " + "; ".join(warnings.messages))
    return pdf


def write_pdf(document: weasyprint.Document, library: Library, variant: str = "pdf/ua-1") -> bytes:
    """Tagged (accessible) PDF; a fixed identifier from the content keeps it byte-identical."""
    return document.write_pdf(
        custom_metadata=True,
        pdf_identifier=library.content_hash[:32].encode(),
        pdf_variant=variant,
        pdf_tags=True,
    )


def pdf_to_png(pdf: bytes, dpi: int = 96) -> bytes:
    """All pages, stacked top to bottom with a grey gap, as one PNG."""
    import pypdfium2 as pdfium
    from PIL import Image

    pdf_doc = pdfium.PdfDocument(pdf)
    try:
        pages = [page.render(scale=dpi / 72).to_pil().convert("RGB") for page in pdf_doc]
    finally:
        pdf_doc.close()
    gap = max(4, dpi // 12)
    width = max(im.width for im in pages)
    height = sum(im.height for im in pages) + gap * (len(pages) - 1)
    sheet = Image.new("RGB", (width, height), (200, 200, 200))
    y = 0
    for im in pages:
        sheet.paste(im, (0, y))
        y += im.height + gap
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=False)
    return out.getvalue()


def render(library: Library, request: RenderRequest, *, editions: bool = True) -> bytes:
    """Render in the request's format and return the bytes.

    A PDF is assembled from a cached edition when one exists (see vdp.py): it
    reads exactly like a full render, in a fraction of the time."""
    if request.format == "html":
        return render_html(library, request, standalone=True).encode("utf-8")
    if request.format == "pdf" and editions:
        from .vdp import render_one

        return render_one(library, request).pdf
    pdf = render_pdf(library, request)
    if request.format == "png":
        return pdf_to_png(pdf, request.png_dpi)
    return pdf
