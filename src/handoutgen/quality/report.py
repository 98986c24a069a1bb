"""``handoutgen check --report``: the IPDAS and PEMAT-P items, per document.

Each item is marked honestly: "verified" only where a `check` rule checks it
(the rule ids are named, and none of them found an error); "needs human
review" where no rule can judge it (is the decision described well? is the
tone neutral?), with what the content holds; "not met" where a rule found an
error or the part is missing. Per document (as rendered with its own options,
or with ``--option``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

import click

from handoutgen.content.library import Library
from handoutgen.core import clock
from handoutgen.quality.checks import rules
from handoutgen.quality.finding import EN

Status = Literal["verified", "needs human review", "not met"]
MARKS = {"verified": "x", "needs human review": "?", "not met": " "}


@dataclass(frozen=True)
class Item:
    standard: str  # "IPDAS qualifying", "IPDAS certifying", "PEMAT-P understandability"...
    item: str
    status: Status
    evidence: str
    rules: list[str] = field(default_factory=list)  # the `check` rule ids that decide it

    @property
    def verdict(self) -> str:
        """ "verified by rule a, b", "needs human review" or "not met"."""
        if self.status == "verified":
            return f"verified by rule {', '.join(self.rules)}"
        return self.status


def items(library: Library, doc_id: str, option_ids=None, *, today: dt.date) -> list[Item]:  # noqa: ANN001
    """The items for one document; ``rules`` supplies the checker's findings."""
    doc = library.document(doc_id)
    ids = list(option_ids) if option_ids else list(doc.options)
    options = [library.options[i] for i in ids]
    found = rules(library, doc_id, ids, today=today, layout=False)
    errors: dict[str, list[str]] = {}
    for f in found:
        if f.severity == "error":
            errors.setdefault(f.rule, []).append(f.message)

    def by_rule(standard: str, name: str, rule_ids: tuple[str, ...], ok: str) -> Item:
        """Verified when no error of these rules; not met otherwise."""
        errs = [m for r in rule_ids for m in errors.get(r, [])]
        status: Status = "not met" if errs else "verified"
        return Item(standard, name, status, "; ".join(errs[:3]) if errs else ok, list(rule_ids))

    def review(standard: str, name: str, present: bool, evidence: str, missing: str) -> Item:
        """No rule judges it: a person must; not met when the part is missing."""
        return Item(
            standard,
            name,
            "needs human review" if present else "not met",
            evidence if present else missing,
        )

    def each(test) -> tuple[bool, str]:  # noqa: ANN001
        lacking = [o.id for o in options if not test(o)]
        return not lacking, f"missing for: {', '.join(lacking)}"

    q, c, u, a = (
        "IPDAS qualifying",
        "IPDAS certifying",
        "PEMAT-P understandability",
        "PEMAT-P actionability",
    )
    n_sources = len({ev.source for o in options for ev in o.evidence})
    benefits, no_benefits = each(lambda o: o.benefits)
    harms, no_harms = each(lambda o: o.risks)
    like, not_like = each(lambda o: o.how_it_works and o.recovery)
    levels, no_levels = each(lambda o: all(ev.level for ev in o.evidence))
    values = bool(doc.worksheet or (doc.values_exercise and any(f.value for f in doc.factors)))
    return [
        review(
            q,
            "Describes the condition and the decision",
            bool(doc.decision[EN].strip()),
            f"decision: {doc.decision[EN][:70]}...",
            "no decision",
        ),
        review(
            q,
            "Lists the options",
            len(options) >= 2,
            f"{len(options)} options: {', '.join(ids)}",
            "fewer than two options",
        ),
        review(
            q,
            "Describes the positive features of each option",
            benefits,
            f"benefits for all {len(options)} options",
            no_benefits,
        ),
        review(
            q,
            "Describes the negative features of each option",
            harms,
            f"risks for all {len(options)} options",
            no_harms,
        ),
        review(
            q,
            "Describes what each option is like (procedure, recovery)",
            like,
            f"how it works and recovery for all {len(options)} options",
            not_like,
        ),
        review(
            q,
            "Helps patients clarify their values",
            values or doc.questions,
            "worksheet"
            if doc.worksheet
            else "values exercise"
            if values
            else "questions to ask (no values exercise)",
            "no values exercise or questions",
        ),
        by_rule(
            c,
            "Cites the evidence for each option, in sources a reader can look up",
            ("required", "sources"),
            f"{n_sources} research sources, each with title, year and link or identifier",
        ),
        by_rule(
            c,
            "Names who reported each figure",
            ("reported-by",),
            f"{n_sources} sources, each labelled",
        ),
        review(
            c,
            "Gives the strength of the evidence",
            levels,
            "an evidence level on every research bullet",
            no_levels,
        ),
        by_rule(
            c,
            "Numbers have a denominator and a time period",
            ("evidence",),
            "every probability says out of how many and over what time",
        ),
        by_rule(
            c,
            "Shows the review date and when it is due",
            ("currency",),
            "reviewed date and next review printed; none overdue",
        ),
        by_rule(
            c,
            "Says who produced and who paid for it",
            ("required", "funding"),
            (doc.producer[EN][:80] if doc.producer else "no producer")
            + "; the clinic profile's funding line follows it",
        ),
        by_rule(c, "No absolute promises", ("claims",), "no cure/guaranteed/no risk/100%"),
        by_rule(
            c,
            "Coverage and cost statements are sourced",
            ("coverage",),
            "each is sourced or says ask your insurer",
        ),
        by_rule(
            c,
            "Each procedure's own warnings and after-care signs, with sources",
            ("warnings", "watch-after", "regulatory", "serious-risks"),
            "warnings, signs to watch for and serious risks for every surgery and "
            "procedure; medicine and FDA-status warnings complete",
        ),
        review(
            u,
            "Makes its purpose evident (one main message first)",
            bool(doc.main_message[EN].strip()),
            doc.main_message[EN][:70] + "...",
            "no main message",
        ),
        by_rule(
            u,
            "Uses common, everyday language (grade 8 or lower)",
            ("reading-level", "sentence-length"),
            "Flesch-Kincaid, SMOG and sentence length within limits",
        ),
        by_rule(u, "Defines medical terms", ("terms",), "every listed term explained before use"),
        by_rule(
            u,
            "Uses visual aids with alt text",
            ("required",),
            f"{len(doc.images)} picture(s), each with alt text",
        )
        if doc.images
        else Item(u, "Uses visual aids with alt text", "not met", "no picture in the document"),
        by_rule(u, "Balances harms and benefits", ("balance",), "comparable detail"),
        by_rule(
            a,
            "Identifies at least one action the reader can take",
            ("required",),
            f"{len(doc.next_steps)} next steps",
        ),
        review(
            a,
            "Addresses the reader directly",
            bool(doc.next_steps),
            "next steps written to the reader",
            "no next steps",
        ),
        review(
            a,
            "Gives questions to bring to a visit",
            doc.questions,
            "questions section",
            "questions: false",
        ),
        by_rule(
            a,
            "Gives room to write down what it asks the reader to write",
            ("worksheet",),
            "a worksheet with lines" if doc.worksheet else "asks for nothing to be written",
        ),
        by_rule(
            a,
            "Says when and how to get help (911 and the clinic's phone)",
            ("safety", "warning-signs", "region", "phone"),
            "When to get help block with its region's warning signs under their routes, "
            "the clinic profile's phone printed (or a line to write it in)",
        ),
    ]


def translation_items(library: Library, doc_id: str, option_ids=None) -> list[Item]:  # noqa: ANN001
    """Per language: is every translation behind this document current and
    reviewed by a qualified human translator? (Section 1557: machine translation
    of critical text needs such a review.) Unmet items print the mark."""
    doc = library.document(doc_id)
    keys = [("document", doc.id)] + [("option", o) for o in (option_ids or doc.options)]
    keys.append(("signs", "warning-signs"))  # the warning signs print in every document
    out = []
    for lang in library.translations.languages():
        # Only the languages the document itself is translated into: an option
        # that another document shares may have more.
        if library.translations.record(lang, "document", doc.id) is None:
            continue
        records = [r for k in keys if (r := library.translations.record(lang, *k)) is not None]
        stale = [r.path for r in records if r.stale]
        unreviewed = [r.path for r in records if not r.reviewed]
        parts = []
        if stale:
            parts.append(f"stale: {', '.join(stale)}")
        if unreviewed:
            parts.append(f"not reviewed by a qualified human translator: {', '.join(unreviewed)}")
        # Stamps are checked by rule; that a human translator reviewed it is a record.
        out.append(
            Item(
                "Translations",
                f"'{lang}' translation is current and reviewed ({len(records)} files)",
                "not met" if parts else "verified",
                "; ".join(parts)
                + (
                    "; a draft: printed only with --allow-draft, marked as not reviewed"
                    if parts
                    else ""
                )
                or "every file stamped against the English and reviewed",
                ["translation-stale", "translation-unreviewed"],
            )
        )
    return out


def print_report(
    library: Library, documents, options, *, as_json: bool, today: dt.date | None = None
) -> None:  # noqa: ANN001
    today = today or clock.today()
    doc_ids = documents or list(library.documents)
    out = {
        d: items(library, d, options, today=today) + translation_items(library, d, options)
        for d in doc_ids
    }
    if as_json:
        click.echo(
            json.dumps(
                {d: [{**asdict(i), "verdict": i.verdict} for i in its] for d, its in out.items()},
                indent=2,
            )
        )
        return
    for doc_id, its in out.items():
        counts = {k: sum(i.status == k for i in its) for k in MARKS}
        click.echo(
            f"{doc_id}: {counts['verified']} verified by rule, {counts['needs human review']} "
            f"need human review, {counts['not met']} not met (of {len(its)} items)"
        )
        standard = None
        for i in its:
            if i.standard != standard:
                standard = i.standard
                click.echo(f"  {standard}")
            click.echo(f"    [{MARKS[i.status]}] {i.item}: {i.verdict}; {i.evidence}")
