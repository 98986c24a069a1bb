"""``handoutgen check --report``: the IPDAS and PEMAT-P items a program can judge.

Each item is met or not, with the evidence that decided it, per document (as
rendered with its own options, or with ``--option``). Items a person must judge
(is the tone neutral? are the pictures helpful?) are not listed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

import click

from handoutgen.content.library import Library
from handoutgen.core import clock
from handoutgen.quality.checks import rules
from handoutgen.quality.finding import EN


@dataclass(frozen=True)
class Item:
    standard: str  # "IPDAS qualifying", "IPDAS certifying", "PEMAT-P understandability"...
    item: str
    met: bool
    evidence: str


def _missing(options, test) -> list[str]:  # noqa: ANN001
    return [o.id for o in options if not test(o)]


def items(library: Library, doc_id: str, option_ids=None, *, today: dt.date) -> list[Item]:  # noqa: ANN001
    """The judgeable items for one document; ``rules`` supplies the checker's findings."""
    doc = library.document(doc_id)
    ids = list(option_ids) if option_ids else list(doc.options)
    options = [library.options[i] for i in ids]
    found = rules(library, doc_id, ids, today=today, layout=False)
    by_rule: dict[str, list[str]] = {}
    for f in found:
        if f.severity == "error":
            by_rule.setdefault(f.rule, []).append(f.message)

    def rule_item(standard: str, name: str, rule_names: tuple[str, ...], ok: str) -> Item:
        errs = [m for r in rule_names for m in by_rule.get(r, [])]
        return Item(standard, name, not errs, "; ".join(errs[:3]) if errs else ok)

    def each(standard: str, name: str, test, what: str) -> Item:  # noqa: ANN001
        missing = _missing(options, test)
        return Item(
            standard,
            name,
            not missing,
            f"missing for: {', '.join(missing)}"
            if missing
            else f"{what} for all {len(options)} options",
        )

    q, c, u, a = (
        "IPDAS qualifying",
        "IPDAS certifying",
        "PEMAT-P understandability",
        "PEMAT-P actionability",
    )
    n_sources = len({ev.source for o in options for ev in o.evidence})
    return [
        Item(
            q,
            "Describes the condition and the decision",
            bool(doc.decision[EN].strip()),
            f"decision: {doc.decision[EN][:70]}...",
        ),
        Item(
            q, "Lists the options", len(options) >= 2, f"{len(options)} options: {', '.join(ids)}"
        ),
        each(q, "Describes the positive features of each option", lambda o: o.benefits, "benefits"),
        each(q, "Describes the negative features of each option", lambda o: o.risks, "risks"),
        each(
            q,
            "Describes what each option is like (procedure, recovery)",
            lambda o: o.how_it_works and o.recovery,
            "how it works and recovery",
        ),
        Item(
            q,
            "Helps patients clarify their values",
            doc.values_exercise and any(f.value for f in doc.factors) or bool(doc.questions),
            "values exercise" if doc.values_exercise else "questions to ask (no values exercise)",
        ),
        each(c, "Cites the evidence for each option", lambda o: o.evidence, "sources"),
        Item(
            c,
            "Names who reported each figure",
            "reported-by" not in by_rule,
            "; ".join(by_rule.get("reported-by", [])) or f"{n_sources} sources, each labelled",
        ),
        each(
            c,
            "Gives the strength of the evidence",
            lambda o: all(ev.level for ev in o.evidence),
            "an evidence level",
        ),
        rule_item(
            c,
            "Numbers have a denominator and a time period",
            ("evidence",),
            "every probability says out of how many and over what time",
        ),
        rule_item(
            c,
            "Shows the review date and when it is due",
            ("currency",),
            "reviewed date and next review printed; none overdue",
        ),
        Item(
            c,
            "Says who produced and funded it",
            doc.producer is not None,
            doc.producer[EN][:80] if doc.producer else "no producer",
        ),
        rule_item(c, "No absolute promises", ("claims",), "no cure/guaranteed/no risk/100%"),
        rule_item(
            c,
            "Coverage and cost statements are sourced",
            ("coverage",),
            "each is sourced or says ask your insurer",
        ),
        Item(
            u,
            "Makes its purpose evident (one main message first)",
            bool(doc.main_message[EN].strip()),
            doc.main_message[EN][:70] + "...",
        ),
        rule_item(
            u,
            "Uses common, everyday language (grade 8 or lower)",
            ("reading-level", "sentence-length"),
            "Flesch-Kincaid, SMOG and sentence length within limits",
        ),
        rule_item(u, "Defines medical terms", ("terms",), "every listed term explained before use"),
        Item(
            u,
            "Uses visual aids with alt text",
            bool(doc.images) and "required" not in by_rule,
            f"{len(doc.images)} picture(s)" if doc.images else "no picture in the document",
        ),
        rule_item(u, "Balances harms and benefits", ("balance",), "comparable detail"),
        Item(
            a,
            "Identifies at least one action the reader can take",
            bool(doc.next_steps),
            f"{len(doc.next_steps)} next steps",
        ),
        Item(
            a,
            "Addresses the reader directly",
            "required" not in by_rule or not doc.next_steps,
            "next steps speak to the reader",
        ),
        Item(a, "Gives questions to bring to a visit", doc.questions, "questions section"),
        rule_item(
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
        out.append(
            Item(
                "Translations",
                f"'{lang}' translation is current and reviewed ({len(records)} files)",
                not parts,
                "; ".join(parts)
                + (
                    "; a draft: printed only with --allow-draft, marked as not reviewed"
                    if parts
                    else ""
                )
                or "every file stamped against the English and reviewed",
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
        click.echo(json.dumps({d: [asdict(i) for i in its] for d, its in out.items()}, indent=2))
        return
    for doc_id, its in out.items():
        met = sum(i.met for i in its)
        click.echo(f"{doc_id}: {met} of {len(its)} items met")
        standard = None
        for i in its:
            if i.standard != standard:
                standard = i.standard
                click.echo(f"  {standard}")
            click.echo(f"    [{'x' if i.met else ' '}] {i.item}: {i.evidence}")
