"""``handoutgen check``: the content standards a program can enforce.

Rules (see ../shared/content-standards.md): reading level, balance of benefits
and harms, sourced numbers with denominators and time periods, labelled
maker/clinic figures, review currency, required parts, and no absolute
promises. Each finding names its file and line.

This module runs the rule families (contentrules, pagerules, translationrules)
for one document (:func:`rules`), a whole library (:func:`check`) and the
render gate (:func:`check_render`, cached by content and date).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import TYPE_CHECKING

from handoutgen.content.library import Library, did_you_mean, not_offered
from handoutgen.content.models import Document, ReadingLevel
from handoutgen.core import clock
from handoutgen.quality.finding import EN, Finding
from handoutgen.quality.phonerules import profile_findings

if TYPE_CHECKING:
    from handoutgen.quality.contentrules import ContentRules

# The rule families are imported where they run: a render whose checks are
# cached (every render after the first) never loads them (bench/render_bench.py).

# Finding lives in finding.py (the rule modules make them); importers use this one.
__all__ = ["Finding", "check", "check_profile", "check_render", "clear_caches", "rules"]


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
    refused = not_offered(library, doc, ids)
    if refused:
        raise DataError(refused)  # what render refuses, check refuses: they never disagree
    from handoutgen.quality.contentrules import ContentRules

    checker = ContentRules(library, today)
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
    own, and then each option it offers alone and in pairs). With no document
    named, every option is checked, and an option file no document offers is a
    warning."""
    from handoutgen.quality.catalogrules import catalog_findings
    from handoutgen.quality.contentrules import ContentRules
    from handoutgen.quality.signrules import translation_findings as sign_translation_findings
    from handoutgen.quality.translationrules import translation_findings

    today = today or clock.today()
    doc_ids = documents if documents else list(library.documents)
    if options and not documents:
        # --option with no document named: the documents that offer them all.
        doc_ids = [d for d in doc_ids if not not_offered(library, library.documents[d], options)]
        if not doc_ids and not any(o not in library.options for o in options):
            from handoutgen.core.errors import DataError

            raise DataError(
                f"no document offers {', '.join(repr(o) for o in options)} together: name a "
                "document, or list the options under a document's offers:"
            )
    findings: set[Finding] = set()
    for doc_id in doc_ids:
        own = rules(library, doc_id, options, today=today, layout=layout)
        findings.update(own)
        if layout and not options and not any(f.severity == "error" for f in own):
            # Not in rules(): a render is not stopped by the other languages' pages.
            # Counted once the content is sound (a broken picture would be laid out).
            budgets = ContentRules(library, today)
            budgets.budget(library.documents[doc_id], library.document_files[doc_id])
            findings.update(budgets.findings)
        if not options:
            findings.update(_offered_mixes(library, doc_id, own, today=today, layout=layout))
    if not documents:
        used = {o for d in library.documents.values() for o in d.offered}
        checker = ContentRules(library, today)
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
                f"option '{opt_id}' is offered by no document: add it to a document's "
                "options: or offers:, or remove the file",
                option=opt_id,
            )
        _differing_meanings(library, checker)
        findings.update(checker.findings)
    # Clinic profiles: every one, or the ones the named documents print with.
    brands = (
        {library.documents[d].brand for d in doc_ids} - {None} if documents else set(library.brands)
    )
    for brand_id in sorted(b for b in brands if b is not None):
        findings.update(profile_findings(library, brand_id, today))
    findings.update(translation_findings(library, documents))
    findings.update(sign_translation_findings(library, documents))
    findings.update(catalog_findings(library))
    return sorted(findings, key=Finding.sort_key)


def _differing_meanings(library: Library, checker: ContentRules) -> None:
    """A word defined twice with different meanings: "Words to know" keeps the
    first of them (the document's, then the options' in print order), so which
    one a reader sees would depend on the mix."""
    first: dict[str, tuple[str, str]] = {}
    places = [
        (library.document_files[d.id], "glossary", d.glossary, {"document": d.id})
        for d in library.documents.values()
    ] + [
        (library.option_files[o.id], "terms", o.terms, {"option": o.id})
        for o in library.options.values()
    ]
    for yf, key, terms, ids in places:
        for i, item in enumerate(terms):
            word, meaning = item.term[EN].casefold(), item.meaning[EN]
            if word not in first:
                first[word] = (meaning, f"{yf.display}:{yf.where((key, i))[0]}")
            elif first[word][0] != meaning:
                checker.add(
                    yf,
                    (key, i, "meaning"),
                    "warning",
                    "terms",
                    f"'{item.term[EN]}' has another meaning in {first[word][1]}: a mix that "
                    "prints both shows only one; give it the same words in both",
                    **ids,
                )


def _offered_mixes(
    library: Library, doc_id: str, own: list[Finding], *, today: dt.date, layout: bool
) -> list[Finding]:
    """The errors a clinician would meet choosing from what a document offers
    (each option alone, then every pair, in the form's order) that its own
    options do not show: each once, naming a mix that has it."""
    doc = library.documents[doc_id]
    if not doc.offers:
        return []
    seen = {(f.path, f.line, f.rule, f.message) for f in own}
    out: list[Finding] = []
    # An option grid compares two or more: its smallest mixes are the pairs. Its
    # sheet is measured for its own options and for every render (not for each
    # of its dozens of pairs: two options take less room than its four).
    grid = doc.kind == "grid"
    singles = [] if grid else [(o,) for o in doc.offered]
    mixes = singles + list(itertools.combinations(doc.offered, 2))
    for mix in mixes:
        for f in rules(library, doc_id, mix, today=today, layout=layout and not grid):
            key = (f.path, f.line, f.rule, f.message)
            if f.severity != "error" or key in seen:
                continue
            seen.add(key)
            if f.document is None:  # an option's own finding: the same in every mix
                out.append(f)
                continue
            with_ = ", ".join(f"'{o}'" for o in mix)
            message = f"{f.message} (when {doc_id} prints {with_})"
            out.append(dataclasses.replace(f, message=message))
    return out


def check_profile(library: Library, brand_id: str, today: dt.date | None = None) -> list[Finding]:
    """The errors that stop a render with this clinic profile (its numbers)."""
    found = profile_findings(library, brand_id, today or clock.today())
    return [f for f in found if f.severity == "error"]


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
    using = [d for d in docs if opt_id in d.offered] or list(library.documents.values())
    if not using:
        return ReadingLevel(), 24
    warn = min(d.reading_level.warn for d in using)
    error = min(d.reading_level.error for d in using)
    return ReadingLevel(warn=warn, error=error), min(d.review_interval_months for d in using)
