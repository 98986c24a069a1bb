"""The template context: a request resolved against the content.

``make_request`` turns loose input (CLI flags, form fields, a recipient row)
into a validated :class:`RenderRequest`; ``plan`` resolves its document and
options; ``context`` is everything a template sees.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from markupsafe import Markup
from pydantic import ValidationError

from handoutgen.content import i18n
from handoutgen.content.approval import approval_state
from handoutgen.content.fonts import FAMILY, font_face_css
from handoutgen.content.library import Library, add_months, did_you_mean, not_offered
from handoutgen.content.models import (
    DEFAULT_LANGUAGE,
    Brand,
    Document,
    Option,
    RenderRequest,
    Term,
)
from handoutgen.content.names import clinician_name, family_name, given_name, person_name
from handoutgen.content.signs import after_signs, region_signs, sign_sources
from handoutgen.core.errors import DataError, RenderError
from handoutgen.core.version import __version__
from handoutgen.render.mailbars import address_size, barcode
from handoutgen.render.marks import Marks

# Unicode isolates: a name typed or pasted with a right-to-left override (or
# simply in Arabic or Hebrew) cannot reorder the generated text around it
# ("Prepared for ... · Visit of ..."). WeasyPrint does not implement CSS
# `unicode-bidi: isolate`, but Pango honours FSI...PDI in the text itself.
# Only values that can reorder anything get them: the isolate characters come
# from a fallback font, whose taller line would change the box of every plain
# left-to-right name (and so keep it off its shared edition).
_FSI, _PDI = "\u2068", "\u2069"
_ISOLATE_CONTROLS = dict.fromkeys(range(0x2066, 0x206A))  # LRI RLI FSI PDI: could break out
_REORDERING = {"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def isolate(value: str | None) -> str | None:
    """A personal value wrapped in a bidi isolate if it has right-to-left
    characters or bidi controls (None, "" and plain left-to-right text unchanged)."""
    if not value or not any(unicodedata.bidirectional(c) in _REORDERING for c in value):
        return value
    return _FSI + value.translate(_ISOLATE_CONTROLS) + _PDI


# Where a name enters every letter and handout: the CLI, the web form, a
# mailing's rows and the library API all come through make_request.
_RECASE = {
    "patient": person_name,
    "first_name": given_name,
    "last_name": family_name,
    "clinician": clinician_name,
}


def make_request(**fields: Any) -> RenderRequest:
    """Build a RenderRequest from loose input, reporting bad fields as a DataError.

    Names typed in capitals (a practice system's export) are put in proper case
    (content/names.py); ``names="as-given"`` keeps them exactly as typed."""
    names = fields.pop("names", None)
    fields = {k: v for k, v in fields.items() if v is not None}
    if names != "as-given":
        for key, recase in _RECASE.items():
            if isinstance(fields.get(key), str):
                fields[key] = recase(fields[key])
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
    # Translation files behind this render that are stale or not reviewed by
    # a qualified human translator (their paths): every page says so.
    translation_mark: tuple[str, ...] = ()

    def personal(self, request: RenderRequest) -> Plan:
        """The same plan for a request that differs only in its personal fields
        (a stand-in persona): nothing is looked up again."""
        return replace(self, request=request)


def clinic_profile(library: Library, clinic: str) -> Brand:
    """The clinic profile ``clinic`` names: its id, or its name in any case.
    A clinic with no profile is refused, never printed with another's number."""
    wanted = " ".join(clinic.split())
    if wanted in library.brands:
        return library.brands[wanted]
    for brand in library.brands.values():
        if brand.name.casefold() == wanted.casefold():
            return brand
    choose = (
        f" or choose one of: {', '.join(sorted(library.brands))}"
        if library.brands
        else " (this workspace has none yet)"
    )
    raise DataError(
        f"no clinic profile '{wanted}'{did_you_mean(wanted, library.brands)}; add "
        "handouts/brands/<id>.yaml with its name and phone (see `handoutgen init` and the "
        f'README\'s "Clinic profiles"){choose}'
    )


def resolve_clinic(library: Library, request: RenderRequest) -> RenderRequest:
    """The request with ``clinic`` turned into the profile's id (``brand``).
    --clinic and --brand both name a profile; two different ones are refused."""
    if request.clinic is None:
        if request.brand is not None and request.brand not in library.brands:
            return request.model_copy(update={"brand": clinic_profile(library, request.brand).id})
        return request
    profile = clinic_profile(library, request.clinic)
    if request.brand is not None and request.brand != profile.id:
        raise DataError(
            f"--clinic '{request.clinic}' and --brand '{request.brand}' name different clinic "
            "profiles; give one of them"
        )
    return request.model_copy(update={"clinic": None, "brand": profile.id})


def plan(library: Library, request: RenderRequest | Plan) -> Plan:
    """Resolve a request once: its clinic, document, options, page size and
    language, and whether it may print in that language. A Plan passed in is
    returned as it is, so every stage below the pipeline takes either and none
    resolves the same request again."""
    if isinstance(request, Plan):
        return request
    request = resolve_clinic(library, request)
    doc = library.document(request.document)
    ids = list(dict.fromkeys(request.options)) if request.options else list(doc.options)
    unknown = [i for i in ids if i not in library.options]
    if unknown:
        raise DataError(
            "; ".join(f"unknown option '{i}'{did_you_mean(i, library.options)}" for i in unknown)
            + " (`handoutgen list` shows the options)"
        )
    refused = not_offered(library, doc, ids)
    if refused:
        raise DataError(refused)
    if request.large_print and doc.pages:
        # Panels and booklet pages of a fixed count: 18 pt text would not fit,
        # and a large print that is not large is worse than none.
        raise DataError(
            f"'{doc.id}' has a fixed layout of {doc.pages} pages (a tri-fold, a booklet or "
            "an option grid), which cannot hold large print (18 pt text); render a handout "
            "with --large-print"
        )
    options = [library.options[i] for i in ids]
    language = request.language or doc.language
    try:
        mark = language_gate(
            library, doc, options, language, request.brand, stale_ok=request.allow_draft
        )
    except DataError:
        if not _has_any_of(library, doc, language):
            raise DataError(unavailable(library, doc.id, language)) from None
        raise  # partly translated: the long message says what is missing
    return Plan(
        request=request,
        document=doc,
        options=options,
        page_size=request.page_size or doc.page_size,
        language=language,
        translation_mark=mark,
    )


def words_to_know(doc: Document, options: Sequence[Option]) -> list[Term]:
    """ "Words to know" for this document with these options: its own glossary,
    then each option's terms, in the order the options print. A word defined
    twice keeps its first meaning (the document's own wins)."""
    seen: set[str] = set()
    out: list[Term] = []
    for item in [*doc.glossary, *(term for option in options for term in option.terms)]:
        key = item.term[DEFAULT_LANGUAGE].casefold()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _has_any_of(library: Library, doc: Document, language: str) -> bool:
    """Whether the workspace has begun ``language`` for ``doc``: template strings
    or a translation file of the document."""
    return i18n.catalog(language, library_catalog_dirs(library)) is not None or any(
        library.translations.record(code, "document", doc.id)
        for code in (language, i18n.base(language))
    )


def unavailable(library: Library, doc_id: str, language: str) -> str:
    """One line for a language a document does not have at all: which it has."""
    name = i18n.language_name(language, i18n.SOURCE_LANGUAGE)
    shown = f"'{language}' ({name})" if name != language else f"'{language}'"
    has = ", ".join(
        f"{i18n.language_name(code, i18n.SOURCE_LANGUAGE)} ({code})"
        for code in document_languages(library, doc_id)
    )
    return f"{shown} is not available for {doc_id}; it is available in {has}"


MACHINE_MARK = "Machine translation, not reviewed"


class DraftTranslation(DataError):
    """A language refused only because its translation is a draft (stale or
    unreviewed): --allow-draft prints it, marked."""


def language_gate(
    library: Library,
    doc: Document,
    options: list[Option],
    language: str,
    brand: str | None = None,
    *,
    stale_ok: bool = True,
) -> tuple[str, ...]:
    """Refuse a language the document (or an option, or the templates) does not
    have, naming what is missing; return the translation files that need the
    "not reviewed" mark. Unless ``stale_ok`` (--allow-draft), a draft is refused
    too (:class:`DraftTranslation`): a translation made from English that has
    changed since (it may still say what the English no longer does), or one no
    qualified human translator has reviewed (Section 1557)."""
    if i18n.base(language) == i18n.SOURCE_LANGUAGE:
        return ()
    if language in i18n.OTHER_SCRIPT and language not in library.translations.languages():
        # A region falls back to its base language, but never to another script.
        raise DataError(
            f"'{language}' is written in {i18n.OTHER_SCRIPT[language]}, and '{i18n.base(language)}' "
            f"content is Simplified Chinese: add a '{language}' translation, or use "
            f"'{i18n.base(language)}' if the reader reads Simplified Chinese"
        )
    from handoutgen.content.translations import missing_text

    problems: list[str] = []
    if i18n.catalog(language, library_catalog_dirs(library)) is None:
        problems.append(
            f"the templates have no '{language}' strings (locale/{language}/LC_MESSAGES/messages.po)"
        )
    marked: list[str] = []
    drafts: list[str] = []
    unreviewed: list[str] = []
    items: list[tuple[str, str, Any]] = [("document", doc.id, doc)]
    items += [("option", o.id, o) for o in options]
    brand_id = brand or doc.brand
    if brand_id and brand_id in library.brands:
        items.append(("brand", brand_id, library.brands[brand_id]))
    if library.signs is not None:
        items.append(("signs", "warning-signs", library.signs))
    for kind, item_id, model in items:
        record = library.translations.record(
            language, kind, item_id
        ) or library.translations.record(i18n.base(language), kind, item_id)
        missing = missing_text(model, language)
        if missing:
            shown = ", ".join(missing[:3]) + (
                f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            )
            where = (
                f"{record.path} has problems (see `handoutgen check`)"
                if record and not record.usable
                else f"{record.path} lacks {shown}"
                if record
                else f"no translation file for {kind} '{item_id}'"
            )
            problems.append(f"{kind} '{item_id}' is not translated into '{language}': {where}")
        elif record is not None and record.needs_mark:
            marked.append(record.path)
            # Proven stale (stamped against English that has changed since);
            # a file never stamped is only marked, and `check` says to stamp it.
            if stale_ok:
                continue
            if record.stale and record.stamped:
                drafts.append(
                    f"{record.path} was made from an older English {kind} '{item_id}' "
                    f"(see `handoutgen check`); update it and run `handoutgen translations "
                    f"stamp {record.path}`, or pass --allow-draft to print it marked"
                )
            else:
                unreviewed.append(record.path)
    if unreviewed:
        drafts.append(
            f"not reviewed by a qualified human translator (Section 1557): "
            f"{', '.join(unreviewed)}; have {'it' if len(unreviewed) == 1 else 'them'} "
            "reviewed and run `handoutgen translations review FILE --by NAME`, or pass "
            f"--allow-draft to print it marked '{MACHINE_MARK}'"
        )
    if drafts and not problems:
        raise DraftTranslation(
            f"cannot render '{doc.id}' in '{language}' for patients: it is a draft: "
            + "; ".join(drafts)
        )
    problems += drafts
    if problems:
        raise DataError(
            f"cannot render '{doc.id}' in '{language}': "
            + "; ".join(problems)
            + ". Nothing falls back to English: translate it, or render in another language"
        )
    return tuple(marked)


def library_catalog_dirs(library: Library) -> tuple:
    """The workspace's own catalog folders (beside its template folders)."""
    from pathlib import Path

    return tuple(Path(d).parent / "locale" for d in library.workspace.template_dirs)


def profile_of(library: Library, p: Plan) -> Brand | None:
    """The clinic profile a plan prints with: the request's, else the document's."""
    brand_id = p.request.brand or p.document.brand
    if brand_id is None:
        return None
    if brand_id not in library.brands:
        return clinic_profile(library, brand_id)  # raises: how to add one
    return library.brands[brand_id]


def _pdf_picture(path: Path, src: str) -> str:
    """A one-page PDF (a clinic's logo) as a PNG data URI: WeasyPrint draws no PDF
    pictures. Drawn 1600 pixels on its longer side, 600 dpi at 2.7 in."""
    import base64

    from handoutgen.engine.raster import pdf_picture_png

    try:
        png = pdf_picture_png(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise RenderError(f"image '{src}' cannot be placed: {exc}") from None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def localized_asset(ws: Any, src: str, language: str) -> str:
    """``dir/name.<lang>.ext`` if the workspace has it (inside it), else ``src``."""
    if i18n.base(language) == i18n.SOURCE_LANGUAGE:
        return src
    from pathlib import PurePosixPath

    path = PurePosixPath(src)
    for code in dict.fromkeys((language, i18n.base(language))):
        candidate = str(path.with_name(f"{path.stem}.{code}{path.suffix}"))
        full = ws.root / candidate
        if full.is_file() and ws.confined(full):
            return candidate
    return src


def _mark_kind(library: Library, paths: tuple[str, ...]) -> str:
    if not paths:
        return ""
    records = [r for r in library.translations.records.values() if r.path in paths]
    return "machine" if any(r.machine for r in records) else "unreviewed"


def _taglines(library: Library, brand: Brand | None) -> list:
    from handoutgen.content import taglines

    return taglines.shown(library.workspace, brand.phone if brand else None)


def _qr_svg(url: str, dark: str, lang: str = "en") -> Markup:
    """A vector QR code (segno) for a validated http(s) URL."""
    import segno

    qr = segno.make(url, error="m", micro=False)
    # segno writes well-formed SVG from the URL's bytes; nothing else goes in.
    # The <title> becomes the figure's alternate text in the tagged PDF.
    svg = qr.svg_inline(
        scale=4,
        dark=dark,
        light="#ffffff",
        border=2,
        omitsize=True,
        title=i18n.gettext("QR code that opens %(url)s", lang) % {"url": url},
    )
    return Markup(svg)


def _stylesheet_text(library: Library, path: Any) -> str:
    """The stylesheet with its url()s rewritten; kept in the cache by content
    hash (which covers every stylesheet and asset), since tokenizing it is a
    good part of a one-off render's own work (bench/render_bench.py)."""
    stat = path.stat()
    ws = library.workspace
    key = f"{library.content_hash} {ws.root} {path} {stat.st_mtime_ns} {stat.st_size}"
    return _kept("css", key, lambda: _rewritten(ws, str(path), stat.st_mtime_ns, stat.st_size))


def _kept(kind: str, key: str, make: Any) -> Any:
    """``make()``, kept in the private cache under ``kind`` and ``key``: for
    values of the content alone (never personal data), which a new process
    would otherwise work out again."""
    from handoutgen.store import cache

    value = cache.get(kind, key)
    if value is None:
        value = make()
        cache.put(kind, key, value)
    return value


def _pending(library: Library, doc_id: str) -> bool:
    """Whether the document awaits the clinic's approval. Hashing the text a
    patient reads reads every content file, so the answer is kept per content
    hash (which covers the approval records too)."""
    return bool(
        _kept(
            "approval",
            f"{library.content_hash} {doc_id}",
            lambda: approval_state(library, doc_id).state == "pending",
        )
    )


@lru_cache(maxsize=64)
def _rewritten(ws: Any, path: str, _mtime: int, _size: int) -> str:
    from pathlib import Path

    from handoutgen.content.cssfile import rewrite_urls

    p = Path(path)
    return rewrite_urls(p.read_text(encoding="utf-8"), p, ws, ws.display(p))


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
        # The research first, then what the option's warnings and recovery rest on.
        for source in [ev.source for ev in option.evidence] + list(option.sources):
            if source not in sources:
                sources.append(source)
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
        # Stylesheets are trusted workspace files, inlined so the HTML stands alone;
        # their url()s are made relative to them, as a browser reads them, and
        # the strings they print are put in the page's language.
        return Markup(i18n.translate_css(_stylesheet_text(library, path), p.language))

    @lru_cache(maxsize=1)
    def declared() -> frozenset:
        return library.declared_assets()

    def asset(src: str) -> str:
        """An image's URL: relative for layout; a data URI in a standalone HTML file.
        A picture with words in it may have a version per language beside it
        (``spine.es.svg`` for ``spine.svg``), used for that language."""
        from handoutgen.content.workspace import refused_name

        # Templates see content only (Workspace.reach_refused): never the
        # private settings, output/, a recipient list or a dotfile, in a PDF
        # or an HTML file alike. The name is not repeated if it is hostile.
        bad = refused_name(src)
        if bad:
            raise RenderError(f"asset(): the image path {bad}")
        why = ws.reach_refused(ws.root / src, declared())
        if why:
            raise RenderError(f"asset('{src}') refused: {why}")
        src = localized_asset(ws, src, p.language)
        if src.lower().endswith(".pdf"):
            return _pdf_picture(ws.root / src, src)
        if not inline_fonts:
            from urllib.parse import quote

            return quote(src)  # a name with spaces is a URL here
        import base64
        import mimetypes

        path = (ws.root / src).resolve()
        if ws.reach_refused(path, declared()) or not path.is_file():
            raise RenderError(f"image '{src}' is not a file in the workspace")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"

    # The clinic profile: its name, numbers, address and look (None: no
    # clinic, and the phone is a line to write in).
    brand = profile_of(library, p)
    address = [
        line
        for line in (
            " ".join(isolate(x) or "" for x in (req.first_name, req.last_name) if x)
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
    ]
    return {
        "asset": asset,
        "doc": doc,
        "options": p.options,
        # The "When to get help" signs of the document's region, and what to
        # watch for after each option's procedure (signs.py).
        "warning_signs": region_signs(library.signs, doc.region),
        "after_signs": {o.id: after_signs(library.signs, o) for o in p.options},
        "sign_sources": [
            s for s in sign_sources(library.signs, doc.region, p.options) if s not in sources
        ],
        "factors": doc.factors,
        # The document's glossary with the chosen options' own words.
        "words_to_know": words_to_know(doc, p.options),
        "lang": p.language,
        "rtl": i18n.is_rtl(p.language),
        # "machine" (an unreviewed machine draft), "unreviewed" (a human
        # translation nobody reviewed, or stale), or "" (no mark).
        "translation_mark": _mark_kind(library, p.translation_mark),
        "page_size": p.page_size,
        "person": {
            "patient": isolate(req.patient),
            "visit_date": req.visit_date,
            "clinician": isolate(req.clinician),
            # The clinic profile's name (as brand.name), for templates written
            # when --clinic was free text: no longer personal data.
            "clinic": brand.name if brand else None,
            "note": req.note,
            "first_name": isolate(req.first_name),
            "last_name": isolate(req.last_name),
            "address": address,
            # Fitted to the envelope window, the barcode included (mailbars.py).
            "address_size": address_size(address, req.large_print, bool(req.imb)),
            "letter_date": req.letter_date,
            # A mailing's Intelligent Mail barcode, as bars to draw (mailbars.py).
            "imb": barcode(req.imb),
        },
        # Other handouts, in the reader's language only: a Spanish reader is not
        # sent to ask for a handout that exists only in English.
        "see_also": [
            (library.documents[s.document], s.note)
            for s in doc.see_also
            if s.document in library.documents
            and (
                i18n.base(p.language) == i18n.SOURCE_LANGUAGE
                or p.language in document_languages(library, s.document)
            )
        ],
        "sources": sources,
        # Only the research behind the options: a brochure card prints no
        # warnings or recovery text for the other sources to back.
        "research_sources": [
            s for s in sources if any(s == ev.source for o in p.options for ev in o.evidence)
        ],
        "source_number": {s: i + 1 for i, s in enumerate(sources)},
        "disclaimers": disclaimers,
        "reviewed": reviewed,
        "next_review": add_months(reviewed, doc.review_interval_months),
        "font_faces": Markup(font_face_css(inline_fonts)),
        "font_family": FAMILY,
        "stylesheet": stylesheet,
        "extra_styles": doc.styles,
        "draft": draft or doc.status == "draft",
        # Not approved by the clinic, or changed since (approval.py): every page says so.
        # The approved text covers every option the document offers, and plan()
        # refuses any other.
        "pending": _pending(library, doc.id),
        "brand": brand,
        # The profile's QR target wins, so --clinic changes it with the clinic's name.
        "qr_url": (qr_url := (brand.qr if brand and brand.qr else None) or doc.qr),
        "qr_svg": _qr_svg(qr_url, brand.colors.text if brand else "#1b1b1b", p.language)
        if qr_url
        else None,
        # A booklet's back cover: the clinic's own QR target or, failing that,
        # its web address; with no profile, the document's.
        "contact_qr_url": (contact_url := (brand.qr or brand.website if brand else None) or doc.qr),
        "contact_qr_svg": _qr_svg(
            contact_url, brand.colors.text if brand else "#1b1b1b", p.language
        )
        if contact_url
        else None,
        "print_ready": req.print_ready,
        "pad_pages": pad_pages,
        "vdp": marks if marks is not None else Marks(),
        # Notices of free language help (Section 1557), from the clinic's cited file.
        "taglines": _taglines(library, brand) if doc.kind == "letter" else [],
        "large_print": req.large_print,
        "meta": {
            "version": __version__,
            "content_hash": library.content_hash,
            "generator": f"handoutgen {__version__}",
            "options": ",".join(o.id for o in p.options),
        },
    }


def document_languages(library: Library, doc_id: str) -> list[str]:
    """The languages ``doc_id`` renders in with its own options (English first):
    every text translated, and the templates' strings there."""
    doc = library.document(doc_id)
    options = [library.options[i] for i in doc.options if i in library.options]
    candidates = set(library.translations.languages()) | set(
        i18n.languages(library_catalog_dirs(library))
    )
    out = [doc.language]
    for lang in sorted(candidates - {doc.language, i18n.SOURCE_LANGUAGE}):
        try:
            language_gate(library, doc, options, lang)
        except DataError:
            continue
        out.append(lang)
    return out
