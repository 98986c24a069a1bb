"""``handoutgen check``: the content standards a program can enforce.

Rules (see ../shared/content-standards.md): reading level, balance of benefits
and harms, sourced numbers with denominators and time periods, labelled
maker/clinic figures, review currency, required parts, and no absolute
promises. Each finding names its file and line.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from typing import Any, Literal

from handoutgen.content.library import Library, add_months, did_you_mean
from handoutgen.content.models import DEFAULT_LANGUAGE, Document, Option, ReadingLevel
from handoutgen.content.yamlfile import Loc, YamlFile
from handoutgen.core import clock

Severity = Literal["error", "warning"]
EN = DEFAULT_LANGUAGE


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int | None
    column: int | None
    severity: Severity
    rule: str
    message: str
    document: str | None = None
    option: str | None = None

    def sort_key(self) -> tuple:
        """File, then position (a finding about a whole file first), then the rest."""
        return (
            self.path,
            self.line or 0,
            self.column or 0,
            self.severity,
            self.rule,
            self.message,
            self.document or "",
            self.option or "",
        )

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}" if self.line else self.path
        return f"{where}: {self.severity}: [{self.rule}] {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


ABSOLUTES = [
    (re.compile(r"\bcur(?:e|es|ed|ing)\b", re.I), "cure"),
    (re.compile(r"\bguarantee(?:s|d)?\b", re.I), "guaranteed"),
    (re.compile(r"\bno risks?\b", re.I), "no risk"),
    (re.compile(r"\brisk[- ]free\b", re.I), "risk-free"),
    (re.compile(r"\b100\s*(?:%|percent)", re.I), "100%"),
    (re.compile(r"\bpainless\b", re.I), "painless"),
]
DIGIT = re.compile(r"\d+(?:[.,]\d+)?\s*%?")
PROBABILITY = re.compile(r"\d+(?:\.\d+)?\s*%|\b\d+\s+(?:out\s+of|in)\s+\d+", re.I)
DENOMINATOR = re.compile(r"\b\d+\s+(?:out\s+of|in)\s+\d+", re.I)
TIME_PERIOD = re.compile(
    r"\b(?:days?|weeks?|months?|years?|follow-up|long-term|how long|over what time)\b", re.I
)
STUDIES_SAY = re.compile(
    r"\b(?:studies|research|trials?)\s+(?:show|shows|showed|found|prove|proves|suggest)", re.I
)
SELF_REPORTED_SOURCE = re.compile(r"\b(?:maker|manufacturer|company|clinic)\b", re.I)
ADDRESSED = re.compile(r"\b(?:you|your|us|call|ask|bring|write)\b", re.I)
CALL_US = re.compile(r"\bcall us\b", re.I)
PHONE = re.compile(r"\(?\b\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}\b")
EMERGENCY = re.compile(r"\b911\b|emergency (?:department|room)", re.I)
COVERAGE = re.compile(
    r"\b(?:insur\w*|covered|coverage|costs?|costly|pays?|paid|price\w*|out-of-pocket|afford\w*)\b",
    re.I,
)
ASK_INSURER = re.compile(r"\bask (?:your|the) insur", re.I)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

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

OPTION_FIELDS = ("summary", "how_it_works", "suits", "not_for", "recovery")


def _sentences(texts: list[str]) -> str:
    return " ".join(t if t.rstrip().endswith((".", "!", "?", ":")) else t + "." for t in texts)


def grade(text: str) -> float:
    """Flesch-Kincaid grade level (textstat)."""
    import textstat

    return float(textstat.flesch_kincaid_grade(text))


def smog(text: str) -> float:
    """SMOG grade (textstat); it needs at least three sentences, else 0."""
    import textstat

    return float(textstat.smog_index(text))


def long_sentences(text: str, limit: int) -> list[str]:
    """The sentences of ``text`` with more than ``limit`` words."""
    return [s for s in SENTENCE_END.split(text.strip()) if len(s.split()) > limit]


def option_texts(option: Option) -> list[tuple[Loc, str]]:
    """Patient-facing English texts of an option with their YAML locations."""
    out: list[tuple[Loc, str]] = [((f,), getattr(option, f)[EN]) for f in OPTION_FIELDS]
    out += [(("benefits", i), t[EN]) for i, t in enumerate(option.benefits)]
    out += [(("risks", i), t[EN]) for i, t in enumerate(option.risks)]
    out += [(("facts", k), v[EN]) for k, v in option.facts.items()]
    if option.disclaimer:
        out.append((("disclaimer",), option.disclaimer[EN]))
    return out


def document_texts(doc: Document) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = [(("main_message",), doc.main_message[EN])]
    out.append((("decision",), doc.decision[EN]))
    for i, item in enumerate(doc.faq):
        out += [
            (("faq", i, "question"), item.question[EN]),
            (("faq", i, "answer"), item.answer[EN]),
        ]
    out += [(("next_steps", i), t[EN]) for i, t in enumerate(doc.next_steps)]
    out += [(("disclaimers", i), t[EN]) for i, t in enumerate(doc.disclaimers)]
    return out


class _Checker:
    def __init__(self, library: Library, today: dt.date):
        self.library = library
        self.today = today
        self.findings: list[Finding] = []

    def add(
        self,
        yf: YamlFile,
        loc: Loc,
        severity: Severity,
        rule: str,
        message: str,
        *,
        document: str | None = None,
        option: str | None = None,
        # typed loosely so rules can pass their **ids through (only ever a bool)
        key: bool | str | None = False,
    ) -> None:
        line, col = yf.where(loc, key=bool(key))
        self.findings.append(
            Finding(yf.display, line, col, severity, rule, message, document, option)
        )

    # -- shared text rules -------------------------------------------------
    def claims(self, yf: YamlFile, texts: list[tuple[Loc, str]], **ids: str | None) -> None:
        for loc, text in texts:
            for pattern, word in ABSOLUTES:
                if pattern.search(text):
                    self.add(
                        yf,
                        loc,
                        "error",
                        "claims",
                        f"absolute promise '{word}': no treatment can promise this; "
                        "describe the chance of benefit instead",
                        **ids,
                    )

    def unsourced_numbers(self, yf: YamlFile, texts: list[tuple[Loc, str]], **ids: str | None):
        for loc, text in texts:
            if m := DIGIT.search(text):
                self.add(
                    yf,
                    loc,
                    "error",
                    "evidence",
                    f"number '{m.group().strip()}' has no source: state it under evidence "
                    "with its source, or say it in words",
                    **ids,
                )
            if m := STUDIES_SAY.search(text):
                self.add(
                    yf,
                    loc,
                    "error",
                    "evidence",
                    f"'{m.group()}' needs its source: move the claim under evidence",
                    **ids,
                )

    def reading_level(
        self,
        yf: YamlFile,
        texts: list[tuple[Loc, str]],
        limits: ReadingLevel,
        summary_loc: Loc,
        **ids: str | None,
    ) -> None:
        body = [t for _, t in texts]
        level = grade(_sentences(body))
        hardest_loc, hardest = max(
            ((loc, grade(_sentences([t]))) for loc, t in texts if len(t.split()) >= 12),
            key=lambda x: x[1],
            default=(summary_loc, level),
        )
        field = ".".join(str(p) for p in hardest_loc)
        levels: tuple[tuple[Severity, float], ...] = (
            ("error", limits.error),
            ("warning", limits.warn),
        )
        for severity, limit in levels:
            if level > limit:
                self.add(
                    yf,
                    hardest_loc,
                    severity,
                    "reading-level",
                    f"reading level is grade {level:.1f} (Flesch-Kincaid), above {limit:g}; "
                    f"hardest part: {field} (grade {hardest:.1f}). Use shorter sentences and "
                    "everyday words",
                    **ids,
                )
                break
        s_grade = smog(_sentences(body))
        for severity, limit in (("error", limits.smog_error), ("warning", limits.smog_warn)):
            if s_grade > limit:
                self.add(
                    yf,
                    hardest_loc,
                    severity,
                    "reading-level",
                    f"SMOG grade is {s_grade:.1f}, above {limit:g}: use fewer words of three "
                    f"or more syllables; hardest part: {field}",
                    **ids,
                )
                break
        for loc, text in texts:
            for sentence in long_sentences(text, limits.max_sentence_words):
                self.add(
                    yf,
                    loc,
                    "error",
                    "sentence-length",
                    f"sentence of {len(sentence.split())} words (limit "
                    f"{limits.max_sentence_words}): '{sentence[:60]}...'; split it",
                    **ids,
                )
        summary = dict(texts).get(summary_loc)
        if summary is not None and level <= limits.warn:
            s_level = grade(_sentences([summary]))
            if s_level > limits.warn - 2:
                self.add(
                    yf,
                    summary_loc,
                    "warning",
                    "reading-level",
                    f"{summary_loc[0]} is grade {s_level:.1f}; keep summaries below "
                    f"{limits.warn - 2:g}",
                    **ids,
                )

    # -- options -----------------------------------------------------------
    def option(self, option: Option, limits: ReadingLevel, interval: int) -> None:
        yf = self.library.option_files[option.id]
        ids = {"option": option.id}
        texts = option_texts(option)
        claims = [(("evidence", i, "claim"), ev.claim[EN]) for i, ev in enumerate(option.evidence)]
        self.claims(yf, texts + claims, **ids)
        self.unsourced_numbers(yf, texts, **ids)
        prose = [(loc, t) for loc, t in texts + claims if loc[0] != "facts"]
        self.reading_level(yf, prose, limits, ("summary",), **ids)
        # Each research bullet on its own: a reader meets them one at a time.
        for loc, claim in claims:
            if (level := grade(_sentences([claim]))) > limits.warn:
                self.add(
                    yf,
                    loc,
                    "error",
                    "reading-level",
                    f"research bullet is grade {level:.1f} (Flesch-Kincaid), above "
                    f"{limits.warn:g}: use shorter sentences and everyday words",
                    **ids,
                )

        # Balance: harms in comparable detail to benefits.
        good = sum(len(b[EN].split()) for b in option.benefits)
        bad = sum(len(r[EN].split()) for r in option.risks)
        if good > 2 * bad or bad > 2 * good:
            short, long_ = ("risks", "benefits") if good > bad else ("benefits", "risks")
            self.add(
                yf,
                (short,),
                "warning",
                "balance",
                f"{long_} have {max(good, bad)} words but {short} only {min(good, bad)}: "
                "give both comparable detail",
                key=True,
                **ids,
            )

        # Evidence: a source for the option; probabilities with denominators and time.
        if not option.evidence:
            self.add(
                yf,
                (),
                "error",
                "required",
                "no evidence: add at least one claim with its source",
                **ids,
            )
        for i, ev in enumerate(option.evidence):
            claim = ev.claim[EN]
            loc = ("evidence", i, "claim")
            if PROBABILITY.search(claim):
                if not DENOMINATOR.search(claim):
                    self.add(
                        yf,
                        loc,
                        "error",
                        "evidence",
                        "a probability needs a denominator: write it as "
                        "'about X out of 100 people'",
                        **ids,
                    )
                if not TIME_PERIOD.search(claim):
                    self.add(
                        yf,
                        loc,
                        "error",
                        "evidence",
                        "a probability needs a time period (say over what time, or that the "
                        "source does not say)",
                        **ids,
                    )
            if DIGIT.search(claim) and "reported_by" not in ev.model_fields_set:
                self.add(
                    yf,
                    loc,
                    "error",
                    "reported-by",
                    "a figure without who reported it: set reported_by (study, manufacturer, "
                    "competitor, clinic, rival-clinic or group)",
                    **ids,
                )
            if (
                DIGIT.search(claim)
                and ev.reported_by == "study"
                and SELF_REPORTED_SOURCE.search(ev.source)
            ):
                self.add(
                    yf,
                    ("evidence", i, "source"),
                    "error",
                    "evidence",
                    "this figure comes from a device maker or clinic: set reported_by: "
                    "manufacturer or clinic so the handout labels it",
                    **ids,
                )

        # Coverage and cost: only with a source, or as "ask your insurer".
        if not any(ev.topic == "coverage" for ev in option.evidence):
            for loc, text in texts:
                if COVERAGE.search(text) and not ASK_INSURER.search(text):
                    self.add(
                        yf,
                        loc,
                        "error",
                        "coverage",
                        "a coverage or cost statement without a source: add an evidence item "
                        "with topic: coverage, or say 'ask your insurer'",
                        **ids,
                    )

        # Currency.
        due = add_months(option.reviewed, interval)
        if due < self.today:
            self.add(
                yf,
                ("reviewed",),
                "error",
                "currency",
                f"reviewed {option.reviewed.isoformat()} is older than {interval} months "
                f"(review was due {due.isoformat()})",
                **ids,
            )

    # -- documents ---------------------------------------------------------
    def document(self, doc: Document, option_ids: list[str]) -> None:
        yf = self.library.document_files[doc.id]
        ids = {"document": doc.id}
        texts = document_texts(doc)
        self.claims(yf, texts, **ids)
        self.unsourced_numbers(yf, texts, **ids)
        self.reading_level(yf, texts, doc.reading_level, ("main_message",), **ids)
        # A document without a disclaimer does not load at all (content.py).
        if not doc.next_steps:
            self.add(
                yf,
                (),
                "error",
                "required",
                'no next step for the reader: add next_steps ("Call us if ...")',
                **ids,
            )
        elif not any(ADDRESSED.search(t[EN]) for t in doc.next_steps):
            self.add(
                yf,
                ("next_steps",),
                "warning",
                "required",
                'next steps should speak to the reader ("Call us if ...", "Ask your ...")',
                key=True,
                **ids,
            )
        if doc.producer is None:
            severity: Severity = "error" if doc.kind == "brochure" else "warning"
            self.add(
                yf,
                (),
                severity,
                "required",
                "no producer: say who wrote and funded it (producer:)",
                **ids,
            )
        # Space: one option far longer than the others tilts the comparison.
        words = {
            o: sum(len(t.split()) for _, t in option_texts(self.library.options[o]))
            for o in option_ids
        }
        if len(words) >= 3:
            median = statistics.median(words.values())
            for i, (o, n) in enumerate(words.items()):
                if n > 2 * median:
                    self.add(
                        yf,
                        ("options", i),
                        "warning",
                        "balance",
                        f"option '{o}' takes {n} words, more than twice the median "
                        f"({median:.0f}) of this document's options",
                        **ids,
                    )
        for loc, text in texts:
            if COVERAGE.search(text) and not ASK_INSURER.search(text):
                self.add(
                    yf,
                    loc,
                    "error",
                    "coverage",
                    "a coverage or cost statement without a source: say 'ask your insurer', "
                    "or put it in an option with its source",
                    **ids,
                )
        self.clinic_names(doc, yf, texts, ids)
        self.images(doc, yf, option_ids, ids)
        for i, other in enumerate(doc.see_also):
            if other.document not in self.library.documents:
                self.add(
                    yf,
                    ("see_also", i, "document"),
                    "error",
                    "required",
                    f"see_also names unknown document '{other.document}'",
                    **ids,
                )
        self.page(doc, yf, option_ids)

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

    def clinic_names(
        self, doc: Document, yf: YamlFile, texts: list[tuple[Loc, str]], ids: dict
    ) -> None:
        """A clinic's name typed into the document stays when --brand changes the
        clinic: the name, funding line, website and QR code belong in the brand."""
        texts = [*texts, (("title",), doc.title[EN])]
        if doc.subtitle:
            texts.append((("subtitle",), doc.subtitle[EN]))
        if doc.producer:
            texts.append((("producer",), doc.producer[EN]))
        for brand in self.library.brands.values():
            for loc, text in texts:
                if brand.name.casefold() in text.casefold():
                    self.add(
                        yf,
                        loc,
                        "warning",
                        "brand",
                        f"'{brand.name}' is typed into the text, so another --brand would "
                        "still print it: remove it; the clinic's name, funding line, website "
                        f"and QR code come from the brand (handouts/brands/{brand.id}.yaml)",
                        **ids,
                    )

    def page(self, doc: Document, yf: YamlFile, option_ids: list[str]) -> None:
        """Rules read from the page as printed: the rendered HTML, in reading order."""
        from handoutgen.render.compose import render_html
        from handoutgen.render.context import make_request

        request = make_request(document=doc.id, options=tuple(option_ids))
        from handoutgen.content.taglines import TaglinesError

        try:
            html = render_html(self.library, request)
        except TaglinesError:
            return  # reported once, as [taglines] findings, by translation_findings
        finder = _ImageFinder()
        finder.feed(html)
        ids = {"document": doc.id}
        self.safety(doc, yf, finder, ids)
        self.terms(doc, yf, finder, ids)
        if doc.kind == "brochure":
            for i, opt_id in enumerate(option_ids):
                missing = [k for k in ("benefits", "risks") if opt_id not in finder.shown[k]]
                if missing:
                    self.add(
                        yf,
                        ("options", i),
                        "error",
                        "balance",
                        f"the brochure names option '{opt_id}' but shows no "
                        f"{' or '.join(missing)} for it: every option it names needs both",
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

    def safety(self, doc: Document, yf: YamlFile, page: _ImageFinder, ids: dict) -> None:
        if doc.get_help is None:
            self.add(
                yf,
                (),
                "error",
                "safety",
                'no "When to get help" block: add get_help: with emergency: (911 or the '
                "emergency department) and soon: (call the clinic) warning signs",
                **ids,
            )
        elif not page.get_help:
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
                ("get_help",),
                "error",
                "safety",
                '"When to get help" has no emergency route: it must say to call 911 or go '
                "to the emergency department",
                key=True,
                **ids,
            )
        text = page.text()
        if CALL_US.search(text) and not PHONE.search(text):
            self.add(
                yf,
                (),
                "error",
                "safety",
                "the document says 'call us' but prints no phone number: set phone: in the "
                "document or its brand",
                **ids,
            )

    def terms(self, doc: Document, yf: YamlFile, page: _ImageFinder, ids: dict) -> None:
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
            self.add(
                yf,
                (),
                "error",
                "terms",
                f"'{m.group()}' is used before it is explained: add it to glossary: (Words "
                "to know), or explain it in brackets where it first appears",
                **ids,
            )

    def layout(self, doc: Document, yf: YamlFile, option_ids: list[str]) -> None:  # noqa: D401
        """Brochures and booklets have a fixed size: their text must fit it."""
        if doc.kind != "brochure":
            return
        from handoutgen.quality.fit import measure, too_many

        fit = measure(self.library, doc, option_ids)
        ids = {"document": doc.id}
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


class _ImageFinder(HTMLParser):
    """Reads the rendered page: its text in reading order, images without alt
    text, the "When to get help" block, the glossary and shown benefits/risks."""

    SKIP = {"style", "script", "title", "head"}

    def __init__(self) -> None:
        super().__init__()
        self.missing_alt: list[str] = []
        self.parts: list[str] = []
        self.get_help = ""
        self.glossary_span = (-1, -1)
        self.shown: dict[str, set[str]] = {"benefits": set(), "risks": set()}
        self._stack: list[tuple[str, set[str]]] = []
        self._skip = 0
        self._length = 0

    def _in(self, cls: str) -> bool:
        return any(cls in classes for _, classes in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
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
        for kind in ("benefits", "risks"):
            if kind in classes and a.get("data-option"):
                self.shown[kind].add(a["data-option"] or "")
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


def rules(
    library: Library,
    doc_id: str,
    option_ids: list[str] | tuple[str, ...] | None = None,
    *,
    today: dt.date,
    layout: bool = True,
) -> list[Finding]:
    """Every rule for one document rendered with these options (default: its own).

    This one function is what `handoutgen check` reports and what stops a render,
    so the two can never disagree. ``today`` is explicit: review dates are judged
    against it, and tests pass a fixed date."""
    doc = library.document(doc_id)
    ids = list(dict.fromkeys(option_ids)) if option_ids else list(doc.options)
    from handoutgen.core.errors import DataError

    unknown = [i for i in ids if i not in library.options]
    if unknown:
        raise DataError(
            "; ".join(f"unknown option '{i}'{did_you_mean(i, library.options)}" for i in unknown)
        )
    checker = _Checker(library, today)
    checker.document(doc, ids)
    for opt_id in ids:
        checker.option(library.options[opt_id], doc.reading_level, doc.review_interval_months)
    if layout:
        checker.layout(doc, library.document_files[doc.id], ids)
    return sorted(set(checker.findings), key=Finding.sort_key)


def check(
    library: Library,
    documents: list[str] | None = None,
    *,
    options: list[str] | tuple[str, ...] | None = None,
    today: dt.date | None = None,
    layout: bool = True,
) -> list[Finding]:
    """Check the named documents (default: all), each with ``options`` (default: its
    own). With no document named, every option is checked, and an option file no
    document uses is a warning."""
    today = today or clock.today()
    doc_ids = documents if documents else list(library.documents)
    findings: set[Finding] = set()
    for doc_id in doc_ids:
        findings.update(rules(library, doc_id, options, today=today, layout=layout))
    if not documents:
        used = {o for d in library.documents.values() for o in d.options}
        checker = _Checker(library, today)
        for opt_id in library.options:
            if opt_id in used:
                continue
            limits, interval = _strictest(library, opt_id, [])
            checker.option(library.options[opt_id], limits, interval)
            checker.add(
                library.option_files[opt_id],
                ("id",),
                "warning",
                "unused",
                f"option '{opt_id}' is used by no document: add it to a document's "
                "options, or remove the file",
                option=opt_id,
            )
        findings.update(checker.findings)
    findings.update(translation_findings(library, documents))
    return sorted(findings, key=Finding.sort_key)


def check_render(
    library: Library,
    doc_id: str,
    option_ids: tuple[str, ...],
    today: dt.date | None = None,
) -> list[Finding]:
    """The errors that stop a render of this document with these options: the
    errors of :func:`rules`, the same function `handoutgen check` runs."""
    return _check_render_cached(library, doc_id, option_ids, today or clock.today())


_CACHE: dict[tuple, list[Finding]] = {}


def clear_caches() -> None:
    _CACHE.clear()


def _check_render_cached(
    library: Library, doc_id: str, option_ids: tuple[str, ...], today: dt.date
) -> list[Finding]:
    from handoutgen.store import cache

    key = (library.content_hash, doc_id, option_ids, today)
    if key in _CACHE:
        return _CACHE[key]
    # The result depends on content and date only, so a new process (a cold
    # `handoutgen render`) can reuse it from disk instead of re-checking; a new
    # handoutgen may check differently: the cache keys entries by the code too.
    disk_key = f"{library.content_hash} {doc_id} {','.join(option_ids)} {today.isoformat()}"
    stored = cache.get("checks", disk_key)
    if stored is not None:
        try:
            _CACHE[key] = [Finding(**f) for f in stored]
            return _CACHE[key]
        except TypeError:
            pass  # an entry from another layout: check again
    found = rules(library, doc_id, option_ids, today=today)
    _CACHE[key] = [f for f in found if f.severity == "error"]
    cache.put("checks", disk_key, [f.as_dict() for f in _CACHE[key]])
    return _CACHE[key]


def _strictest(library: Library, opt_id: str, docs: list[Document]) -> tuple[ReadingLevel, int]:
    using = [d for d in docs if opt_id in d.options] or list(library.documents.values())
    if not using:
        return ReadingLevel(), 24
    warn = min(d.reading_level.warn for d in using)
    error = min(d.reading_level.error for d in using)
    return ReadingLevel(warn=warn, error=error), min(d.review_interval_months for d in using)


# -- translations -------------------------------------------------------------
# Spanish reading ease: Szigriszt-Pazos, read on the INFLESZ scale (Barrio-
# Cantalejo et al., 2008): below 55 is "somewhat difficult" for the general
# public; 55-65 "normal" is the target for patient materials.
INFLESZ_TARGET = 55.0
# Chinese and Arabic have no formula here: sentence length only. A Chinese
# sentence over 50 characters, or an Arabic one over 25 words, is long.
MAX_SENTENCE_CHARS_ZH = 50
MAX_SENTENCE_WORDS_AR = 25
_SENTENCE_ZH = re.compile(r"(?<=[。！？!?])")
_SENTENCE_AR = re.compile(r"(?<=[.!?؟])\s+")


def szigriszt_pazos(text: str) -> float:
    """Szigriszt-Pazos perspicuity (textstat, with its Spanish syllable rules;
    a separate instance, so the English counts elsewhere are not switched)."""
    from textstat.textstat import textstatistics

    es = textstatistics()
    es.set_lang("es")
    return float(es.szigriszt_pazos(text))


def translation_findings(library: Library, documents: list[str] | None = None) -> list[Finding]:
    """Translation files: problems (missing or stray fields, the record), staleness
    at the English file's lines, unreviewed translations, template strings a
    language lacks, and reading level (es) or sentence length (zh, ar)."""
    from pathlib import Path

    from handoutgen.content import i18n
    from handoutgen.content.translations import text_fields
    from handoutgen.render.context import localized_asset

    tr = library.translations
    wanted: set[tuple[str, str]] | None = None
    if documents:
        wanted = set()
        for doc_id in documents:
            doc = library.document(doc_id)
            wanted.add(("document", doc.id))
            wanted.update(("option", o) for o in doc.options)
            if doc.brand:
                wanted.add(("brand", doc.brand))
    out: list[Finding] = []
    for p in tr.problems:
        out.append(Finding(p.path, p.line, p.column, "error", "translation", p.message))
    from handoutgen.content import taglines

    for p in taglines.load(library.workspace)[1]:
        out.append(Finding(p.path, p.line, p.column, "error", "taglines", p.message))
    for (lang, kind, item_id), rec in sorted(tr.records.items()):
        if wanted is not None and (kind, item_id) not in wanted:
            continue
        ids = {"document" if kind == "document" else "option": item_id} if kind != "brand" else {}
        if not rec.stamped:
            out.append(
                Finding(
                    rec.path,
                    1,
                    1,
                    "error",
                    "translation-stale",
                    f"not stamped with the English it was made from ({rec.source}); once "
                    f"it matches the English, run `handoutgen translations stamp {rec.path}`",
                    **ids,
                )
            )
        elif rec.stale:
            if not rec.changed:
                out.append(
                    Finding(
                        rec.path,
                        1,
                        1,
                        "error",
                        "translation-stale",
                        f"the English ({rec.source}) changed since this translation was "
                        "made; update it, then stamp it again",
                        **ids,
                    )
                )
            for c in rec.changed:
                out.append(
                    Finding(
                        rec.source,
                        c.line or 1,
                        1,
                        "error",
                        "translation-stale",
                        f"'{c.path}' {c.how} since the '{lang}' translation was made "
                        f"({rec.path}): update the translation, then run `handoutgen "
                        f"translations stamp {rec.path}`",
                        **ids,
                    )
                )
        if not rec.reviewed and rec.record is not None:
            r = rec.record
            out.append(
                Finding(
                    rec.path,
                    1,
                    1,
                    "warning",
                    "translation-unreviewed",
                    f"'{lang}' translation not reviewed by a qualified human translator "
                    f"(method: {r.method}, reviewer: {r.reviewer or 'none'}); every page "
                    "it is on says 'Translation not yet reviewed'",
                    **ids,
                )
            )
        models: dict[str, dict[str, Any]] = {
            "option": library.options,
            "document": library.documents,
            "brand": library.brands,
        }
        model = models[kind].get(item_id)
        if model is None or not rec.usable:
            continue
        texts = [v[lang] for _, v, _ in text_fields(model) if lang in v]
        out += _language_level(lang, rec.path, texts, ids)
        for image in getattr(model, "images", []):
            if localized_asset(library.workspace, image.src, lang) == image.src:
                out.append(
                    Finding(
                        rec.source,
                        1,
                        1,
                        "warning",
                        "translation-image",
                        f"image {image.src} has no '{lang}' version ({_localized_name(image.src, lang)}); "
                        "any words in it print as they are",
                        **ids,
                    )
                )
    # Template strings: every language that has content must have them all.
    templates = sorted(
        {
            p.resolve()
            for d in library.workspace.template_dirs
            if d.is_dir()
            for p in d.rglob("*.html")
        }
    )
    catalog_dirs = tuple(Path(d).parent / "locale" for d in library.workspace.template_dirs)
    python_strings = _pot_messages()
    for lang in tr.languages():
        for path, line, msg, problem in i18n.missing_messages(lang, templates, catalog_dirs):
            out.append(
                Finding(
                    library.workspace.display(path),
                    line or 1,
                    1,
                    "error",
                    "template-string",
                    f"{msg!r}: {problem} (locale/{i18n.base(lang)}/LC_MESSAGES/messages.po)",
                )
            )
        cat = i18n.catalog(lang, catalog_dirs)
        for msg in python_strings:
            if cat is None or msg not in cat.messages:
                out.append(
                    Finding(
                        "src/handoutgen/locale/messages.pot",
                        1,
                        1,
                        "error",
                        "template-string",
                        f"{msg!r}: no '{lang}' translation (locale/{i18n.base(lang)}/"
                        "LC_MESSAGES/messages.po)",
                    )
                )
    return out


def _localized_name(src: str, lang: str) -> str:
    from pathlib import PurePosixPath

    path = PurePosixPath(src)
    return str(path.with_name(f"{path.stem}.{lang}{path.suffix}"))


def _pot_messages() -> list[str]:
    """Strings the Python code translates (i18n.gettext), from the shipped .pot."""
    from babel.messages.pofile import read_po

    from handoutgen.content.i18n import LOCALE_DIR

    pot = LOCALE_DIR / "messages.pot"
    if not pot.is_file():
        return []
    with pot.open("rb") as fh:
        return [
            m.id
            for m in read_po(fh)
            if m.id and isinstance(m.id, str) and any(".py" in loc for loc, _ in m.locations)
        ]


def _language_level(lang: str, path: str, texts: list[str], ids: dict) -> list[Finding]:
    base = lang.split("-")[0]
    out: list[Finding] = []
    if base == "es":
        text = _sentences(texts)
        if len(text.split()) >= 30:
            score = szigriszt_pazos(text)
            if score < INFLESZ_TARGET:
                out.append(
                    Finding(
                        path,
                        1,
                        1,
                        "warning",
                        "reading-level",
                        f"Spanish reading ease (Szigriszt-Pazos) is {score:.0f}, below the "
                        f"INFLESZ target of {INFLESZ_TARGET:.0f} ('normal') for patient "
                        "materials: shorter sentences and words",
                        **ids,
                    )
                )
    elif base == "zh":
        for text in texts:
            for s in _SENTENCE_ZH.split(text):
                if len(s.strip()) > MAX_SENTENCE_CHARS_ZH:
                    out.append(
                        Finding(
                            path,
                            1,
                            1,
                            "warning",
                            "sentence-length",
                            f"a Chinese sentence of {len(s.strip())} characters (over "
                            f"{MAX_SENTENCE_CHARS_ZH}): {s.strip()[:20]}...",
                            **ids,
                        )
                    )
    elif base == "ar":
        for text in texts:
            for s in _SENTENCE_AR.split(text):
                if len(s.split()) > MAX_SENTENCE_WORDS_AR:
                    out.append(
                        Finding(
                            path,
                            1,
                            1,
                            "warning",
                            "sentence-length",
                            f"an Arabic sentence of {len(s.split())} words (over "
                            f"{MAX_SENTENCE_WORDS_AR}): {s[:30]}...",
                            **ids,
                        )
                    )
    return out
