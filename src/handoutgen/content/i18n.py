"""Template strings in the reader's language: gettext catalogs, dates and numbers.

The templates mark their fixed strings ("Prepared for", "Page 1 of 4", the
table's questions) with ``_()``; ``pybabel extract -F babel.cfg`` collects them
into ``src/handoutgen/locale/messages.pot``, and each language has its catalog
at ``locale/<lang>/LC_MESSAGES/messages.po``. A workspace may add or override
strings in its own ``locale/<lang>/LC_MESSAGES/messages.po`` (for its own
templates).

Catalogs are read from the ``.po`` files when first used (no compiled ``.mo``
to go stale, and the same text gives the same strings on every machine).

English is the source language: its strings are the msgids. Any other language
must have every string the templates use: a missing one raises
:class:`MissingTranslation` at render time, and `handoutgen check` reports it
first (:func:`missing_messages`). Nothing falls back to English silently.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from handoutgen.core.errors import HandoutgenError

SOURCE_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"

# Right-to-left languages (their pages get dir="rtl").
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "yi"})

# The language being rendered. Set by templating.render_template for the
# duration of one render, so macros imported without context (and Python code
# such as vdp's page numbers) translate into the same language.
current_language: contextvars.ContextVar[str] = contextvars.ContextVar(
    "handoutgen_language", default=SOURCE_LANGUAGE
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class MissingTranslation(HandoutgenError):
    """A template string has no translation in the language being rendered."""


@dataclass(frozen=True)
class Catalog:
    """One language's template strings: msgid -> msgstr, and where each came from.

    ``plurals`` maps a plural message's singular msgid to its forms and the
    rule that picks one for a number (the ``Plural-Forms`` of its file)."""

    language: str
    messages: dict[str, str]
    files: tuple[str, ...]
    plurals: dict[str, tuple[tuple[str, ...], Callable[[int], int]]] = field(default_factory=dict)


# Regions whose language is written in another script than its base's content.
OTHER_SCRIPT = {
    "zh-TW": "Traditional Chinese",
    "zh-HK": "Traditional Chinese",
    "zh-MO": "Traditional Chinese",
}


def base(lang: str) -> str:
    """'es' for 'es-MX'."""
    return lang.split("-")[0]


def is_rtl(lang: str) -> bool:
    return base(lang) in RTL_LANGUAGES


def _po_files(lang: str, extra_dirs: tuple[Path, ...]) -> list[Path]:
    """The package's catalog, then each workspace's (later ones win)."""
    found = []
    roots = dict.fromkeys((LOCALE_DIR, *(d for d in extra_dirs if d.resolve() != LOCALE_DIR)))
    for root in roots:
        for code in dict.fromkeys((base(lang), lang)):
            path = root / code / "LC_MESSAGES" / f"{DOMAIN}.po"
            if path.is_file():
                found.append(path)
    return found


def catalog(lang: str, extra_dirs: tuple[Path, ...] = ()) -> Catalog | None:
    """The catalog for ``lang`` (None if no .po file has it). Fuzzy and empty
    entries do not count: they are not translations yet. Re-read when a file
    changes (a running web app sees an edited catalog)."""
    files = _po_files(lang, extra_dirs)
    if not files:
        return None
    return _read_catalogs(lang, tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in files))


@lru_cache(maxsize=32)
def _read_catalogs(lang: str, stamped: tuple[tuple[Path, int, int], ...]) -> Catalog:
    from babel.messages.pofile import read_po

    files = [p for p, _, _ in stamped]
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[tuple[str, ...], Callable[[int], int]]] = {}
    for path in files:
        with path.open("rb") as fh:
            try:
                cat = read_po(fh, locale=base(lang), abort_invalid=True)
            except Exception as exc:  # noqa: BLE001 - babel raises several kinds
                raise HandoutgenError(f"{path.name} for '{lang}': cannot read it: {exc}") from None
        rule = _plural_rule(cat.plural_expr, path, lang)
        for msg in cat:
            if not msg.id or msg.fuzzy:
                continue
            if isinstance(msg.id, str):
                if isinstance(msg.string, str) and msg.string.strip():
                    messages[msg.id] = msg.string
            elif isinstance(msg.string, tuple) and all(s.strip() for s in msg.string):
                plurals[msg.id[0]] = (tuple(msg.string), rule)
    return Catalog(lang, messages, tuple(str(p) for p in files), plurals)


def _plural_rule(expr: str, path: Path, lang: str) -> Callable[[int], int]:
    """The file's Plural-Forms expression as a function (Babel supplies the
    language's own rule when the header has none)."""
    import gettext as stdlib_gettext

    try:
        return stdlib_gettext.c2py(expr)
    except (ValueError, SyntaxError) as exc:
        raise HandoutgenError(
            f"{path.name} for '{lang}': its Plural-Forms header cannot be read ({exc}); "
            "copy the line from a catalog made by `pybabel init`"
        ) from None


def languages(extra_dirs: tuple[Path, ...] = ()) -> list[str]:
    """Every language with a template catalog, English first."""
    found = {SOURCE_LANGUAGE}
    for root in (LOCALE_DIR, *extra_dirs):
        if root.is_dir():
            found.update(
                p.name for p in root.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file()
            )
    return sorted(found, key=lambda c: (c != SOURCE_LANGUAGE, c))


# Workspace catalog folders for the render in progress (set with the language).
current_catalog_dirs: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar(
    "handoutgen_catalog_dirs", default=()
)


def _catalog_for_render(lang: str) -> Catalog:
    cat = catalog(lang, current_catalog_dirs.get())
    if cat is None:
        raise MissingTranslation(
            f"no template catalog for language '{lang}' (locale/{lang}/LC_MESSAGES/"
            f"{DOMAIN}.po); `handoutgen list --json` shows the languages there are"
        )
    return cat


def gettext(message: str, lang: str | None = None) -> str:
    """``message`` in ``lang`` (default: the language being rendered).

    Raises MissingTranslation for a language other than English that lacks it."""
    lang = lang or current_language.get()
    if base(lang) == SOURCE_LANGUAGE:
        return message
    cat = _catalog_for_render(lang)
    try:
        return cat.messages[message]
    except KeyError:
        raise MissingTranslation(
            f"the template string {message!r} has no '{lang}' translation; add it to "
            f"locale/{base(lang)}/LC_MESSAGES/{DOMAIN}.po (see `handoutgen check`)"
        ) from None


def ngettext(singular: str, plural: str, n: int, lang: str | None = None) -> str:
    """The form of ``singular``/``plural`` for ``n`` in ``lang``, by its
    catalog's plural rule (Arabic has six forms, Chinese one)."""
    lang = lang or current_language.get()
    if base(lang) == SOURCE_LANGUAGE:
        return singular if n == 1 else plural
    entry = _catalog_for_render(lang).plurals.get(singular)
    if entry is None:
        raise MissingTranslation(
            f"the template string {singular!r} (plural {plural!r}) has no '{lang}' "
            f"translation; add it to locale/{base(lang)}/LC_MESSAGES/{DOMAIN}.po "
            "(see `handoutgen check`)"
        )
    forms, rule = entry
    return forms[min(max(int(rule(n)), 0), len(forms) - 1)]


def noop(message: str) -> str:
    """``N_()``: marks a string for extraction where it is translated later."""
    return message


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


# -- dates and numbers ------------------------------------------------------
def babel_locale(lang: str) -> str:
    """Babel's locale name: en -> en_US (a US audience), es -> es_US, es-MX -> es_MX."""
    if "-" in lang:
        a, b = lang.split("-", 1)
        return f"{a}_{b}"
    return {"en": "en_US", "es": "es_US", "zh": "zh_Hans_CN", "ar": "ar"}.get(lang, lang)


def long_date(value: dt.date | None, lang: str | None = None) -> str:
    """'November 20, 2026' / '20 de noviembre de 2026'."""
    if not value:
        return ""
    from babel.dates import format_date

    return format_date(value, "long", locale=babel_locale(lang or current_language.get()))


def month_year(value: dt.date | None, lang: str | None = None) -> str:
    """'November 2026' / 'noviembre de 2026'."""
    if not value:
        return ""
    from babel.dates import format_skeleton

    return format_skeleton("yMMMM", value, locale=babel_locale(lang or current_language.get()))


def number(value: float | int, lang: str | None = None) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=babel_locale(lang or current_language.get()))


def language_name(code: str, in_lang: str | None = None) -> str:
    """'Spanish' / 'español' / '中文'."""
    from babel import Locale, UnknownLocaleError

    try:
        loc = Locale.parse(code.replace("-", "_"))
        shown = Locale.parse(in_lang.replace("-", "_")) if in_lang else loc
        name = loc.get_language_name(shown) or code
    except (UnknownLocaleError, ValueError):
        return code
    return name[:1].upper() + name[1:]


# -- extraction (for check) -------------------------------------------------
def template_messages(paths: list[Path]) -> Iterator[tuple[Path, int, str | tuple[str, str]]]:
    """Every ``_()``/``N_()``/``{% trans %}`` string in these templates, with its
    line; a plural message comes as its (singular, plural) pair."""
    from jinja2.ext import babel_extract

    keywords = ("_", "gettext", "ngettext", "N_")
    for path in paths:
        with path.open("rb") as fh:
            for lineno, _func, message, _comments in babel_extract(
                fh,
                keywords,
                [],
                {"extensions": "jinja2.ext.i18n", "trim_blocks": "1", "lstrip_blocks": "1"},
            ):
                if isinstance(message, tuple):
                    pair = tuple(m for m in message if m)
                    if len(pair) == 2:
                        yield path, lineno, (pair[0], pair[1])
                    elif pair:
                        yield path, lineno, pair[0]
                elif message:
                    yield path, lineno, message


def missing_messages(
    lang: str, template_paths: list[Path], extra_dirs: tuple[Path, ...] = ()
) -> list[tuple[Path, int, str, str]]:
    """(template, line, msgid, problem) for each string ``lang`` cannot show right."""
    if base(lang) == SOURCE_LANGUAGE:
        return []
    cat = catalog(lang, extra_dirs)
    out: list[tuple[Path, int, str, str]] = []
    seen: set[str | tuple[str, str]] = set()
    for path, line, msg in template_messages(template_paths):
        if msg in seen:
            continue
        seen.add(msg)
        if isinstance(msg, tuple):
            out.extend((path, line, msg[0], p) for p in _plural_problems(lang, cat, msg))
            continue
        if cat is None or msg not in cat.messages:
            out.append((path, line, msg, f"no '{lang}' translation"))
        elif placeholders(cat.messages[msg]) != placeholders(msg):
            out.append(
                (
                    path,
                    line,
                    msg,
                    f"the '{lang}' translation has placeholders "
                    f"{sorted(placeholders(cat.messages[msg]))}, the English "
                    f"{sorted(placeholders(msg))}",
                )
            )
    return out


def _plural_problems(lang: str, cat: Catalog | None, pair: tuple[str, str]) -> list[str]:
    entry = cat.plurals.get(pair[0]) if cat else None
    if entry is None:
        return [f"no '{lang}' translation (a plural: msgid_plural {pair[1]!r})"]
    forms, _ = entry
    want = placeholders(pair[0]) | placeholders(pair[1])
    return [
        f"the '{lang}' plural form {i} has placeholders {sorted(placeholders(form))}, "
        f"the English {sorted(want)}"
        for i, form in enumerate(forms)
        if not placeholders(form) <= want
    ]


def page_of_css(lang: str | None = None) -> str:
    """The CSS ``content`` value for "Page X of Y" in ``lang``: the translated
    pattern, with the page counters in place of its placeholders."""
    pattern = gettext("Page %(page)s of %(pages)s", lang)
    parts = re.split(r"(%\((?:page|pages)\)s)", pattern)
    out = []
    for part in parts:
        if part == "%(page)s":
            out.append("counter(page)")
        elif part == "%(pages)s":
            out.append("counter(pages)")
        elif part:
            out.append(css_quote(part))
    return " ".join(out)


# The English strings the shipped stylesheet prints, written exactly as it writes them.
_CSS_PAGE_OF = '"Page " counter(page) " of " counter(pages)'
_CSS_CONTINUED = '"Continued: "'


def css_quote(text: str) -> str:
    """A quoted CSS string (inside <style>, where HTML escaping does not apply:
    quotes, backslashes and '<' escaped; a line break is a space)."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3C ")
    return '"' + text.replace("\n", " ") + '"'


def translate_css(css: str, lang: str | None) -> str:
    """A stylesheet with the shipped stylesheet's own English strings ("Page 1
    of 7", "Continued: ") in ``lang``, in place. Put in place rather than added
    after, so a designer's own footer or wording is never overridden."""
    if lang is None or base(lang) == SOURCE_LANGUAGE:
        return css
    css = css.replace(_CSS_PAGE_OF, page_of_css(lang))
    return css.replace(_CSS_CONTINUED, css_quote(gettext("Continued:", lang) + " "))


def page_of(page: int, pages: int, lang: str | None = None) -> str:
    """'Page 2 of 4' in ``lang`` (for overlays drawn outside CSS counters)."""
    return gettext("Page %(page)s of %(pages)s", lang) % {"page": page, "pages": pages}
