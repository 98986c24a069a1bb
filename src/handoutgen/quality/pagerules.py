"""Rules read from the page as printed: the rendered HTML in reading order
(the "When to get help" block, explained terms, alt text, shown benefits and
risks), pictures against their printed size, and brochure fit."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from pydantic import BaseModel

from handoutgen.content.models import Document
from handoutgen.content.translations import text_fields
from handoutgen.content.yamlfile import Loc, YamlFile
from handoutgen.quality.finding import EN, Recorder
from handoutgen.quality.signrules import region_findings

if TYPE_CHECKING:
    from handoutgen.quality.fit import Fit

CALL_US = re.compile(r"\bcall us\b", re.I)
PHONE = re.compile(r"\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}\b")
EMERGENCY = re.compile(r"\b911\b|emergency (?:department|room)", re.I)
# The text asks the reader to write something down: the page needs room for it.
WRITE_DOWN = re.compile(
    r"\b(?:write|jot|note) (?:it |them |this |these )?down\b|\bwrite (?:your|what|a list)\b"
    r"|\bmake a list\b|\bfill in\b",
    re.I,
)

# Medical words a reader must have explained on first use (or in "Words to
# know" above it). Each pattern allows the plural.
TERMS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.I)
    for name, pattern in {
        "randomized trial": r"\brandomi[sz]ed (?:controlled )?trials?\b",
        "systematic review": r"\bsystematic reviews?\b",
        "meta-analysis": r"\bmeta-analys[ie]s\b",
        "minimally invasive": r"\bminimally invasive\b",
        "bone spur": r"\bbone spurs?\b",
        "facet": r"\bfacets?\b",
        "vertebra": r"\bvertebra[el]?\b",
        "spondylolisthesis": r"\bspondylolisthesis\b",
        "laminectomy": r"\blaminectom(?:y|ies)\b",
        "stenosis": r"\bstenosis\b",
        "epidural": r"\bepidural\b",
        "nerve block": r"\bnerve blocks?\b",
        "annulus": r"\bannulus\b",
        "osteoporosis": r"\bosteoporosis\b",
        "herniated": r"\bherniated\b",
        "scoliosis": r"\bscoliosis\b",
    }.items()
}


class PageRules(Recorder):
    """The rules that render the document: its HTML, its layout, its fit."""

    def images(self, doc: Document, yf: YamlFile, option_ids: list[str], ids: dict) -> None:
        """Pictures and the logo far larger than they print (see imagecheck.py)."""
        from handoutgen.quality.imagecheck import oversized

        brand = self.library.brands.get(doc.brand) if doc.brand else None
        where: dict[str, tuple[YamlFile, Loc]] = {
            image.src: (yf, ("images", i, "src")) for i, image in enumerate(doc.images)
        }
        if brand and brand.logo:
            brand_file = next(
                (
                    f
                    for f in self.library.files.values()
                    if f.path.stem == brand.id and f.path.parent.name == "brands"
                ),
                yf,
            )
            where.setdefault(brand.logo, (brand_file, ("logo",)))

        def laid_out():  # noqa: ANN202 - only when an image is big enough to matter
            from handoutgen.engine.weasy import layout
            from handoutgen.render.compose import render_html
            from handoutgen.render.context import make_request

            request = make_request(document=doc.id, options=tuple(option_ids))
            return layout(self.library, render_html(self.library, request))

        for big in oversized(self.library.workspace.root, list(where), laid_out):
            file, loc = where[big.src]
            self.add(file, loc, "warning", "images", big.message(), **ids)

    def page(self, doc: Document, yf: YamlFile, option_ids: list[str]) -> None:
        """Rules read from the page as printed: the rendered HTML, in reading order."""
        from handoutgen.render.compose import render_html
        from handoutgen.render.context import make_request

        request = make_request(document=doc.id, options=tuple(option_ids))
        from handoutgen.content.taglines import NeedsPhone, TaglinesError

        try:
            html = render_html(self.library, request)
        except NeedsPhone as exc:
            # It prints with --clinic only; the page rules wait for a profile.
            self.add(yf, (), "warning", "taglines", exc.format_message(), document=doc.id)
            return
        except TaglinesError:
            return  # reported once, as [taglines] findings, by translation_findings
        finder = _ImageFinder()
        finder.feed(html)
        ids = {"document": doc.id}
        self.safety(doc, yf, finder, ids)
        self.placed(doc, yf, finder, ids)
        self.terms(doc, yf, finder, ids, option_ids)
        if doc.kind in ("brochure", "grid"):
            for i, opt_id in enumerate(option_ids):
                missing = [k for k in ("benefits", "risks") if opt_id not in finder.shown[k]]
                if missing:
                    self.add(
                        yf,
                        ("options", i),
                        "error",
                        "balance",
                        f"the {doc.kind} names option '{opt_id}' but shows no "
                        f"{' or '.join(missing)} for it: every option it names needs both",
                        **ids,
                    )
        if doc.kind in ("brochure", "grid"):
            self.serious_shown(doc, yf, finder, option_ids, ids)
        if (m := WRITE_DOWN.search(finder.text())) and not finder.worksheet:
            self.add(
                yf,
                (),
                "error",
                "worksheet",
                f"the text asks the reader to write something down ('{m.group()}') but the "
                'page has no space to write in: set worksheet: true ("My decision '
                'worksheet", with lines) or print a section of class worksheet',
                **ids,
            )
        for src in finder.missing_alt:
            self.add(
                yf,
                ("template",),
                "error",
                "required",
                f"image {src} in template {doc.template} has no alt text",
                document=doc.id,
            )

    def serious_shown(
        self, doc: Document, yf: YamlFile, page: _ImageFinder, option_ids: list[str], ids: dict
    ) -> None:
        """A brochure card short of room never drops an option's serious risks."""
        text = " ".join(page.text().split())
        for opt_id in option_ids:
            option = self.library.options[opt_id]
            for i in option.serious_risks:
                risk = " ".join(option.risks[i][EN].split())
                if risk not in text:
                    self.add(
                        self.library.option_files[opt_id],
                        ("risks", i),
                        "error",
                        "serious-risks",
                        f"{doc.id} leaves out this serious risk of '{opt_id}': template "
                        f"{doc.template} must print every risk under serious_risks: (the "
                        "weigh() macro does, with option.risks_within(limit))",
                        option=opt_id,
                        **ids,
                    )

    def safety(self, doc: Document, yf: YamlFile, page: _ImageFinder, ids: dict) -> None:
        if not page.get_help:
            self.add(
                yf,
                ("template",),
                "error",
                "safety",
                f'template {doc.template} does not print the "When to get help" block: '
                "call the get_help() macro from macros.html",
                **ids,
            )
        elif not EMERGENCY.search(page.get_help):
            self.add(
                yf,
                ("template",),
                "error",
                "safety",
                f'template {doc.template} prints "When to get help" without the emergency '
                "route: it must say to call 911 or go to the emergency department",
                **ids,
            )
        text = page.text()
        region_findings(self, doc, yf, page.signs if page.get_help else None, text, ids)
        # The block prints the number (or, with no clinic profile, a line
        # to write it in): "call us" anywhere needs one or the other. With no
        # block or no emergency route, the error above already says what to do.
        if (
            page.get_help
            and EMERGENCY.search(page.get_help)
            and CALL_US.search(text)
            and not PHONE.search(text)
            and not page.write_in
        ):
            self.add(
                yf,
                (),
                "error",
                "safety",
                "the document says 'call us' but prints no phone number nor a line to "
                "write it in: the number comes from the clinic profile "
                "(handouts/brands/<id>.yaml, phone:), and the get_help() macro prints it",
                **ids,
            )

    def terms(
        self, doc: Document, yf: YamlFile, page: _ImageFinder, ids: dict, option_ids: list[str]
    ) -> None:
        """Every listed word is explained before it is used: in "Words to know"
        (the document's glossary with the chosen options' terms, as printed) or in
        brackets where it first appears. A missing word is reported where it
        belongs: the document's glossary if its own text uses it, else the terms
        of the first chosen option that does, so every mix of options gets it."""
        from handoutgen.render.context import words_to_know

        options = [self.library.options[o] for o in option_ids]
        defined = [t.term[EN] for t in words_to_know(doc, options)]
        text = page.text()
        glossary = page.glossary_span
        for pattern in TERMS.values():
            m = pattern.search(text)
            if m is None:
                continue
            in_glossary = glossary[0] <= m.start() < glossary[1]
            # Explained in brackets right after it ("facet joints (the small
            # joints...)") or itself the bracketed name ("(the annulus)").
            after = text[m.end() : m.end() + 12]
            before = text[max(0, m.start() - 8) : m.start()]
            if in_glossary or "(" in after or before.rfind("(") > before.rfind(")"):
                continue
            word, how = m.group(), "or explain it in brackets where it first appears"
            if any(pattern.fullmatch(term) for term in defined):
                # Defined for this mix, yet not printed above its first use.
                self.add(
                    yf,
                    ("template",),
                    "error",
                    "terms",
                    f"'{word}' is in Words to know for these options, but the page uses it "
                    f"before template {doc.template} prints them: print the glossary() macro "
                    f"(with terms=words_to_know) above its first use, {how}",
                    **ids,
                )
                continue
            doc_use = _first_use(doc, pattern)
            home = None
            if doc_use is None:
                home = next(
                    (
                        (o, loc)
                        for o in option_ids
                        if (loc := _first_use(self.library.options[o], pattern)) is not None
                    ),
                    None,
                )
            if home is None:
                self.add(
                    yf,
                    doc_use or (),
                    "error",
                    "terms",
                    f"'{word}' is used before it is explained: add it to glossary: (Words "
                    f"to know), {how}",
                    **ids,
                )
                continue
            opt_id, loc = home
            self.add(
                self.library.option_files[opt_id],
                loc,
                "error",
                "terms",
                f"'{word}' is used before it is explained: add it to the terms: of option "
                f"'{opt_id}' (\"Words to know\" lists them wherever it is chosen) or, if "
                f"it is a word of the whole document, to its glossary:, {how}",
                option=opt_id,
                **ids,
            )

    def layout(self, doc: Document, yf: YamlFile, option_ids: list[str]) -> None:  # noqa: D401
        """Brochures, booklets and option grids have a fixed size: their text must fit it."""
        from handoutgen.quality.fit import FIXED_KINDS, measure, too_many

        if doc.kind not in FIXED_KINDS:
            return

        fit = measure(self.library, doc, option_ids)
        ids = {"document": doc.id}
        if self._pictures_unplaced(doc, yf, option_ids, fit, ids):
            return  # a picture overflows: fewer options would hide that, not fix it
        # An option grid's message names its options (the render gate stops on "fit").
        message = too_many(self.library, doc, option_ids, fit)
        if message is not None:
            self.add(yf, ("options",), "error", "fit", message, key=True, **ids)
            return
        if doc.pages is not None and fit.pages > doc.pages:
            self.add(
                yf,
                ("pages",),
                "error",
                "layout",
                f"the layout needs {fit.pages} pages but the document has {doc.pages}: "
                "shorten the text or use fewer options",
                **ids,
            )
        for label in fit.overflowing:
            self.add(
                yf,
                (),
                "error",
                "layout",
                f"the text does not fit the panel '{label}' and would be cut: shorten it "
                "or use fewer options",
                **ids,
            )

    def budget(self, doc: Document, yf: YamlFile) -> None:
        """The page budget (max_pages:, a booklet's pages:) in every language the
        document has, laid out with its own options."""
        from handoutgen.quality.fit import budget, pages_in
        from handoutgen.render.context import document_languages

        limit = budget(doc)
        if limit is None:
            return
        most, field = limit
        from handoutgen.core.errors import HandoutgenError

        for language in document_languages(self.library, doc.id):
            try:
                count = pages_in(self.library, doc, language)
            except HandoutgenError:
                # That language cannot render yet (a template string it lacks, a
                # bad tagline...): its own rule reports why; pages come after.
                continue
            if count > most:
                self.add(
                    yf,
                    (field,),
                    "error",
                    "pages",
                    f"{doc.id} in {language} is {count} pages; its budget is {most} "
                    f"({doc.page_size}): shorten the text or the options, or raise {field}:",
                    document=doc.id,
                )

    def _pictures_unplaced(
        self, doc: Document, yf: YamlFile, options: list[str], fit: Fit, ids: dict
    ) -> bool:
        """When the layout does not fit but does with the first picture alone, the
        first picture that breaks it cannot be placed: the error names it, at its
        line (fewer options would hide it, not fix it)."""
        from handoutgen.quality.fit import layout_name, measure

        if fit.ok or len(doc.images) < 2:
            return False

        def fits(k: int) -> bool:
            return measure(
                self.library, doc.model_copy(update={"images": doc.images[:k]}), options
            ).ok

        if not fits(1):
            return False
        k = next(k for k in range(2, len(doc.images) + 1) if not fits(k))
        i = k - 1
        self.add(
            yf,
            ("images", i, "src"),
            "error",
            "layout",
            f"images[{i}] '{doc.images[i].src}' cannot be placed: with it the "
            f"{layout_name(doc)} runs past its {doc.pages} pages or a panel is cut. Remove it "
            "from images: (and any after it), use a smaller picture, or use a handout, which "
            "has room",
            **ids,
        )
        return True

    def placed(self, doc: Document, yf: YamlFile, finder: _ImageFinder, ids: dict) -> None:
        """Every picture listed in images: is on the page: never a silent drop."""
        for i, image in enumerate(doc.images):
            if not any(_same_picture(src, image.src) for src in finder.srcs):
                self.add(
                    yf,
                    ("images", i, "src"),
                    "error",
                    "images",
                    f"images[{i}] '{image.src}' is not placed: the template {doc.template} "
                    "prints no picture for it. Remove it from images:, or use a template "
                    "that places every picture",
                    **ids,
                )


def _same_picture(src: str, listed: str) -> bool:
    """Whether a page's img ``src`` is the listed picture or its version for a
    language (``spine.es.svg`` for ``spine.svg``); asset() quotes spaces."""
    from pathlib import PurePosixPath
    from urllib.parse import unquote

    page, want = PurePosixPath(unquote(src)), PurePosixPath(listed)
    return page == want or (
        page.parent == want.parent
        and page.suffix == want.suffix
        and page.stem.rsplit(".", 1)[0] == want.stem
    )


def _first_use(model: BaseModel, pattern: re.Pattern[str]) -> Loc | None:
    """Where a model's English text first uses a word (its own definitions aside)."""
    for loc, value, _ in text_fields(model):
        if loc[0] not in ("glossary", "terms") and pattern.search(value.get(EN, "")):
            return loc
    return None


class _ImageFinder(HTMLParser):
    """Reads the rendered page: its text in reading order, images without alt
    text, the "When to get help" block, the glossary and shown benefits/risks."""

    SKIP = {"style", "script", "title", "head"}

    def __init__(self) -> None:
        super().__init__()
        self.missing_alt: list[str] = []
        self.srcs: list[str] = []  # every picture's src, in order
        self.parts: list[str] = []
        self.get_help = ""
        self.signs: dict[str, list[str]] = {"emergency": [], "soon": []}  # data-sign ids
        self.glossary_span = (-1, -1)
        self.write_in = False  # a line to write the clinic's phone in (no profile)
        self.worksheet = False  # a worksheet with lines to write on
        self.shown: dict[str, set[str]] = {"benefits": set(), "risks": set()}
        self._stack: list[tuple[str, set[str]]] = []
        self._skip = 0
        self._length = 0

    def _in(self, cls: str) -> bool:
        return any(cls in classes for _, classes in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.srcs.append(a.get("src") or "")
            if not (a.get("alt") or "").strip():
                self.missing_alt.append(a.get("src") or "(no src)")
            return
        if tag in ("meta", "br", "hr", "link", "input"):
            return
        classes = set((a.get("class") or "").split())
        if tag in self.SKIP:
            self._skip += 1
        if "glossary" in classes:
            self.glossary_span = (self._length, -1)
        self.write_in = self.write_in or "write-in" in classes
        self.worksheet = self.worksheet or "worksheet" in classes
        for kind in ("benefits", "risks"):
            if kind in classes and a.get("data-option"):
                self.shown[kind].add(a["data-option"] or "")
        if a.get("data-sign") and self._in("get-help"):
            for route in self.signs:
                if self._in(route):
                    self.signs[route].append(a["data-sign"] or "")
        self._stack.append((tag, classes))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            open_tag, classes = self._stack.pop()
            if open_tag in self.SKIP:
                self._skip -= 1
            if "glossary" in classes:
                self.glossary_span = (self.glossary_span[0], self._length)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._skip or self._in("sources"):
            return  # citation titles are not prose
        chunk = " ".join(data.split())
        if not chunk:
            return
        self.parts.append(chunk)
        self._length += len(chunk) + 1
        if self._in("get-help"):
            self.get_help += " " + chunk

    def text(self) -> str:
        return " ".join(self.parts)
