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
from typing import Literal

from .content import Library, add_months
from .models import DEFAULT_LANGUAGE, Document, Option, ReadingLevel
from .yamlfile import Loc, YamlFile

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

OPTION_FIELDS = ("summary", "how_it_works", "suits", "not_for", "recovery")


def _sentences(texts: list[str]) -> str:
    return " ".join(t if t.rstrip().endswith((".", "!", "?", ":")) else t + "." for t in texts)


def grade(text: str) -> float:
    """Flesch-Kincaid grade level (textstat)."""
    import textstat

    return float(textstat.flesch_kincaid_grade(text))


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
        key: bool = False,
    ) -> None:
        line, col = yf.where(loc, key=key)
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
        for severity, limit in (("error", limits.error), ("warning", limits.warn)):
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
        if not doc.disclaimers:
            self.add(yf, (), "error", "required", "no disclaimer", **ids)
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
        self.images(doc, yf)

    def images(self, doc: Document, yf: YamlFile) -> None:
        from .render import make_request, render_html

        html = render_html(self.library, make_request(document=doc.id), checked=False)
        finder = _ImageFinder()
        finder.feed(html)
        for src in finder.missing_alt:
            self.add(
                yf,
                ("template",),
                "error",
                "required",
                f"image {src} in template {doc.template} has no alt text",
                document=doc.id,
            )


class _ImageFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.missing_alt: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            a = dict(attrs)
            if not (a.get("alt") or "").strip():
                self.missing_alt.append(a.get("src") or "(no src)")


def check(
    library: Library,
    documents: list[str] | None = None,
    *,
    today: dt.date | None = None,
) -> list[Finding]:
    """Check the named documents (default: all) and their options, plus every other
    option when no document is named."""
    today = today or dt.date.today()
    checker = _Checker(library, today)
    doc_ids = documents if documents else list(library.documents)
    docs = [library.document(d) for d in doc_ids]
    option_ids: list[str] = []
    for doc in docs:
        option_ids += [o for o in doc.options if o not in option_ids]
    if not documents:
        option_ids += [o for o in library.options if o not in option_ids]
    for doc in docs:
        checker.document(doc, list(doc.options))
    for opt_id in option_ids:
        limits, interval = _strictest(library, opt_id, docs)
        checker.option(library.options[opt_id], limits, interval)
    return sorted(set(checker.findings))


def check_render(library: Library, doc_id: str, option_ids: tuple[str, ...]) -> list[Finding]:
    """The errors that stop a render of this document with these options."""
    return _check_render_cached(library, doc_id, option_ids, dt.date.today())


_CACHE: dict[tuple, list[Finding]] = {}


def _check_render_cached(
    library: Library, doc_id: str, option_ids: tuple[str, ...], today: dt.date
) -> list[Finding]:
    from . import cache

    key = (library.content_hash, doc_id, option_ids, today)
    if key in _CACHE:
        return _CACHE[key]
    # The result depends on content and date only, so a new process (a cold
    # `handoutgen render`) can reuse it from disk instead of re-checking.
    disk_key = f"{library.content_hash} {doc_id} {','.join(option_ids)} {today.isoformat()}"
    stored = cache.get("checks", disk_key)
    if stored is not None:
        try:
            _CACHE[key] = [Finding(**f) for f in stored]
            return _CACHE[key]
        except TypeError:
            pass  # an entry from another layout: check again
    checker = _Checker(library, today)
    doc = library.documents[doc_id]
    checker.document(doc, list(option_ids))
    for opt_id in option_ids:
        checker.option(library.options[opt_id], doc.reading_level, doc.review_interval_months)
    _CACHE[key] = sorted(f for f in set(checker.findings) if f.severity == "error")
    cache.put("checks", disk_key, [f.as_dict() for f in _CACHE[key]])
    return _CACHE[key]


def _strictest(library: Library, opt_id: str, docs: list[Document]) -> tuple[ReadingLevel, int]:
    using = [d for d in docs if opt_id in d.options] or list(library.documents.values())
    if not using:
        return ReadingLevel(), 24
    warn = min(d.reading_level.warn for d in using)
    error = min(d.reading_level.error for d in using)
    return ReadingLevel(warn=warn, error=error), min(d.review_interval_months for d in using)
