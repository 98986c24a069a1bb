"""Rules for the translations: translation files (problems, staleness, review),
template strings a language lacks, and reading level (es) or sentence length
(zh, ar)."""

from __future__ import annotations

import re
from typing import Any

from handoutgen.content.library import Library
from handoutgen.quality.finding import Finding
from handoutgen.quality.readability import joined, szigriszt_pazos

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
MACHINE_MARK = "Machine translation, not reviewed"
UNREVIEWED_MARK = "Translation not yet reviewed"


def _record_line(shown: str) -> int:
    """The line of ``reviewer:`` in a translation file (1 if not found)."""
    from pathlib import Path

    path = Path(shown)  # displayed relative to the current folder, else absolute
    try:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip().startswith("reviewer:"):
                return i
    except OSError:
        pass
    return 1


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
            wanted.add(("signs", "warning-signs"))
    out: list[Finding] = []
    judged: set[str] = set()
    for p in tr.problems:
        out.append(Finding(p.path, p.line, p.column, "error", "translation", p.message))
    from handoutgen.content import taglines

    for p in taglines.load(library.workspace)[1]:
        out.append(Finding(p.path, p.line, p.column, "error", "taglines", p.message))
    for (lang, kind, item_id), rec in sorted(tr.records.items()):
        if wanted is not None and (kind, item_id) not in wanted:
            continue
        ids = {kind: item_id} if kind in ("document", "option") else {}
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
        if rec.review_problem:
            out.append(
                Finding(
                    rec.path,
                    _record_line(rec.path),
                    1,
                    "error",
                    "translation-review",
                    rec.review_problem,
                    **ids,
                )
            )
        if not rec.reviewed and rec.record is not None:
            r = rec.record
            mark = MACHINE_MARK if rec.machine else UNREVIEWED_MARK
            out.append(
                Finding(
                    rec.path,
                    1,
                    1,
                    "warning",
                    "translation-unreviewed",
                    f"'{lang}' translation not reviewed by a qualified human translator "
                    f"(method: {r.method}): a draft, printed only with --allow-draft, and "
                    f"then every page it is on says '{mark}'",
                    **ids,
                )
            )
        models: dict[str, dict[str, Any]] = {
            "option": library.options,
            "document": library.documents,
            "brand": library.brands,
            "signs": {"warning-signs": library.signs},
        }
        model = models[kind].get(item_id)
        if model is None or not rec.usable:
            continue
        texts = [v[lang] for _, v, _ in text_fields(model) if lang in v]
        out += _language_level(lang, rec.path, texts, ids)
        if lang.split("-")[0] in ("zh", "ar") and not rec.reviewed and lang not in judged:
            judged.add(lang)  # once per language: the reviewer judges every file
            out.append(
                Finding(
                    rec.path,
                    1,
                    1,
                    "warning",
                    "reading-level",
                    f"no reading-level measure for '{lang}' here (only sentence length): "
                    f"the reading level of every unreviewed '{lang}' file needs human review "
                    "(grade 6 or lower) by the qualified translator who reviews them",
                    **ids,
                )
            )
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
    from handoutgen.quality.translationtext import translated_text_findings

    out += translated_text_findings(library, wanted)
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
        text = joined(texts)
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
