"""Rules read from the content files: claims, sourced numbers, reading level,
balance, coverage, review currency and required parts, per option and document."""

from __future__ import annotations

import re
import statistics

from handoutgen.content.library import add_months
from handoutgen.content.models import Document, Evidence, Option, Outcome, ReadingLevel
from handoutgen.content.yamlfile import Loc, YamlFile
from handoutgen.quality.finding import EN, Severity
from handoutgen.quality.pagerules import PageRules
from handoutgen.quality.phonerules import PhoneRules
from handoutgen.quality.readability import grade, joined, long_sentences, smog
from handoutgen.quality.safetyrules import SafetyRules
from handoutgen.quality.sourcerules import SourceRules

ABSOLUTES = [
    (re.compile(r"\bcur(?:e|es|ed|ing)\b", re.I), "cure"),
    (re.compile(r"\bguarantee(?:s|d)?\b", re.I), "guaranteed"),
    (re.compile(r"\bno risks?\b", re.I), "no risk"),
    (re.compile(r"\brisk[- ]free\b", re.I), "risk-free"),
    (re.compile(r"\b100\s*(?:%|percent)", re.I), "100%"),
    (re.compile(r"\bpainless\b", re.I), "painless"),
    (re.compile(r"\b(?:completely|totally|perfectly|entirely|always|100%)\s+safe\b", re.I), "safe"),
    (re.compile(r"\b(?:always|never fails to)\s+works?\b", re.I), "always works"),
    (re.compile(r"\bpermanent(?:ly)?\s+(?:relief|fix|cure)\b", re.I), "permanent relief"),
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
COVERAGE = re.compile(
    r"\b(?:insur\w*|covered|coverage|costs?|costly|pays?|paid|price\w*|out-of-pocket|afford\w*)\b",
    re.I,
)
ASK_INSURER = re.compile(r"\bask (?:your|the) insur", re.I)
# A source an outcome's number can be checked against: a DOI or a PubMed id, and a year.
CHECKABLE = re.compile(r"\bdoi:\s*10\.\d{4,9}/\S+|\bPMID:?\s*\d{5,9}\b", re.I)
YEAR = re.compile(r"\b(?:19|20)\d{2}\b")

OPTION_FIELDS = ("summary", "how_it_works", "suits", "not_for", "recovery")


def option_texts(option: Option) -> list[tuple[Loc, str]]:
    """Patient-facing English texts of an option with their YAML locations."""
    out: list[tuple[Loc, str]] = [((f,), getattr(option, f)[EN]) for f in OPTION_FIELDS]
    out += [(("benefits", i), t[EN]) for i, t in enumerate(option.benefits)]
    out += [(("risks", i), t[EN]) for i, t in enumerate(option.risks)]
    out += [(("warnings", i), t[EN]) for i, t in enumerate(option.warnings)]
    out += [(("facts", k), v[EN]) for k, v in option.facts.items()]
    if option.disclaimer:
        out.append((("disclaimer",), option.disclaimer[EN]))
    return out


def printed_texts(doc: Document) -> list[tuple[Loc, str]]:
    """Every English text of a document that prints, for rules that read them all."""
    out = document_texts(doc) + [(("title",), doc.title[EN])]
    if doc.subtitle:
        out.append((("subtitle",), doc.subtitle[EN]))
    if doc.producer:
        out.append((("producer",), doc.producer[EN]))
    out += [(("glossary", i, "meaning"), t.meaning[EN]) for i, t in enumerate(doc.glossary)]
    if doc.letter:
        out += [(("letter", "opening"), doc.letter.opening[EN])]
        out += [(("letter", "closing"), doc.letter.closing[EN])]
        out += [(("letter", "sender", i), line) for i, line in enumerate(doc.letter.sender)]
    return out


def document_texts(doc: Document) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = [(("main_message",), doc.main_message[EN])]
    out.append((("decision",), doc.decision[EN]))
    for i, item in enumerate(doc.faq):
        out += [
            (("faq", i, "question"), item.question[EN]),
            (("faq", i, "answer"), item.answer[EN]),
        ]
    out += [(("key_points", i), t[EN]) for i, t in enumerate(doc.key_points)]
    out += [(("next_steps", i), t[EN]) for i, t in enumerate(doc.next_steps)]
    out += [(("disclaimers", i), t[EN]) for i, t in enumerate(doc.disclaimers)]
    return out


class ContentRules(PageRules, PhoneRules, SourceRules, SafetyRules):
    """Every rule of an option or document: document() ends with the rules read
    from its rendered page (PageRules)."""

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
        level = grade(joined(body))
        hardest_loc, hardest = max(
            ((loc, grade(joined([t]))) for loc, t in texts if len(t.split()) >= 12),
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
        s_grade = smog(joined(body))
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
        # The summary is what every reader reads: far above the document's
        # error level it fails however plain the rest is.
        if summary is not None and (s_level := grade(joined([summary]))) > limits.error:
            self.add(
                yf,
                summary_loc,
                "error",
                "reading-level",
                f"{summary_loc[0]} is grade {s_level:.1f}, above {limits.error:g}: the "
                "summary every reader reads must be the plainest part",
                **ids,
            )
        elif summary is not None and level <= limits.warn:
            s_level = grade(joined([summary]))
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
        said = [
            (("outcomes", i, f), getattr(o, f)[EN])
            for i, o in enumerate(option.outcomes)
            for f in ("what", "comparison", "time", "who")
            if getattr(o, f) is not None
        ]
        self.claims(yf, texts + claims + said, **ids)
        self.unsourced_numbers(yf, texts, **ids)
        self.phone_numbers(yf, texts + claims + said, **ids)
        self.sources(yf, option, **ids)
        self.safety_of(yf, option, **ids)
        prose = [(loc, t) for loc, t in texts + claims if loc[0] != "facts"]
        self.reading_level(yf, prose, limits, ("summary",), **ids)
        # Each research bullet on its own: a reader meets them one at a time.
        for loc, claim in claims:
            if (level := grade(joined([claim]))) > limits.warn:
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
            # A clinic's or maker's own statement labelled as research, with or
            # without a figure: the citation or the claim names who said it.
            if ev.reported_by == "study" and SELF_REPORTED_SOURCE.search(f"{ev.source} {claim}"):
                self.add(
                    yf,
                    ("evidence", i, "source"),
                    "error",
                    "evidence",
                    "this statement comes from a device maker or clinic, not a study: set "
                    "reported_by: manufacturer, clinic or rival-clinic so the handout labels it",
                    **ids,
                )

        self.outcomes(yf, option.outcomes, option.evidence, **ids)

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

    def outcomes(
        self, yf: YamlFile, outcomes: list[Outcome], evidence: list[Evidence], **ids: str | None
    ) -> None:
        """Each "N out of 100" names a published study of this option's evidence
        (journal, year, DOI or PubMed id), a time and who was studied; the number
        itself lives in with_option/without, never in the words around it."""
        by_id = {ev.id: ev for ev in evidence if ev.id}
        ids_seen: set[str] = set()
        for i, item in enumerate(evidence):
            if item.id and item.id in ids_seen:
                self.add(
                    yf,
                    ("evidence", i, "id"),
                    "error",
                    "outcomes",
                    f"evidence id '{item.id}' is used twice: give each source its own id",
                    **ids,
                )
            ids_seen.add(item.id or "")
        for i, o in enumerate(outcomes):
            ev = by_id.get(o.source)
            if ev is None:
                known = ", ".join(sorted(by_id)) or "none yet"
                self.add(
                    yf,
                    ("outcomes", i, "source"),
                    "error",
                    "outcomes",
                    f"source '{o.source}' is not the id of an evidence item of this option "
                    f"(ids: {known}): add id: {o.source} to the evidence item the figure "
                    "comes from",
                    **ids,
                )
            elif ev.reported_by != "study" or not (
                CHECKABLE.search(ev.source) and YEAR.search(ev.source)
            ):
                self.add(
                    yf,
                    ("outcomes", i, "source"),
                    "error",
                    "outcomes",
                    f"'{o.source}' must be a published study (reported_by: study) whose "
                    "source gives the journal, the year and a DOI or PubMed id, so the "
                    "number can be checked against its abstract",
                    **ids,
                )
            if not DIGIT.search(o.time[EN]) or not TIME_PERIOD.search(o.time[EN]):
                self.add(
                    yf,
                    ("outcomes", i, "time"),
                    "error",
                    "outcomes",
                    f"time '{o.time[EN]}' needs a number and a unit, like 'after 2 years'",
                    **ids,
                )
            for field in ("what", "comparison"):
                text = getattr(o, field)
                if text is not None and PROBABILITY.search(text[EN]):
                    self.add(
                        yf,
                        ("outcomes", i, field),
                        "error",
                        "outcomes",
                        "a number out of 100 belongs in with_option or without, not in "
                        "the words: the template writes the sentence",
                        **ids,
                    )

    # -- documents ---------------------------------------------------------
    def document(self, doc: Document, option_ids: list[str]) -> None:
        yf = self.library.document_files[doc.id]
        ids = {"document": doc.id}
        texts = document_texts(doc)
        self.claims(yf, texts, **ids)
        self.unsourced_numbers(yf, texts, **ids)
        self.phone_numbers(yf, printed_texts(doc), **ids)
        self.reading_level(yf, texts, doc.reading_level, ("main_message",), **ids)
        # Each key point on its own: short lines escape the document's average.
        for i, point in enumerate(doc.key_points):
            if (level := grade(joined([point[EN]]))) > doc.reading_level.warn:
                self.add(
                    yf,
                    ("key_points", i),
                    "error",
                    "reading-level",
                    f"key point is grade {level:.1f} (Flesch-Kincaid), above "
                    f"{doc.reading_level.warn:g}: use shorter sentences and everyday words",
                    **ids,
                )
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
        self.funding(doc, yf, **ids)
        self.sign_sources()
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

    def clinic_names(
        self, doc: Document, yf: YamlFile, texts: list[tuple[Loc, str]], ids: dict
    ) -> None:
        """A clinic's name typed into the document stays when --clinic changes the
        clinic: the name, numbers, funding line, website and QR code belong in its profile."""
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
                        f"'{brand.name}' is typed into the text, so another --clinic would "
                        "still print it: remove it; the clinic's name, numbers, funding line, "
                        "website and QR code come from the brand, its clinic profile "
                        f"(handouts/brands/{brand.id}.yaml)",
                        **ids,
                    )
