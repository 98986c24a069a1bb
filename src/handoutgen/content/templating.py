"""Jinja2 set-up: sandboxed, autoescaped, layered (workspace over packaged defaults), strict.

A workspace template may replace a packaged one of the same name, or extend it
under the ``default/`` prefix: ``{% extends "default/handout.html" %}``.

Templates are written by designers, not by the people who run batches, so they
run in Jinja's immutable sandbox: no ``__dunder__`` attributes, no mutating
the context, no huge ``*``/``**`` results, and only the public parts of the
objects handoutgen hands them. Template files are loaded through the
workspace's confined resolver (a symlink out of the workspace is refused).
"""

from __future__ import annotations

import datetime as dt
import re
import traceback
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from pydantic import BaseModel

from handoutgen.content import i18n
from handoutgen.content.iconarray import icon_array
from handoutgen.content.models import DEFAULT_LANGUAGE
from handoutgen.content.workspace import PACKAGE_DIR, PACKAGE_ROOTS, display_path, inside
from handoutgen.core.errors import HandoutgenError, RenderError

_BLANK_LINES = re.compile(r"\r?\n\s*\r?\n|\r?\n")


def localize(value: dict[str, str] | str | None) -> str:
    """A Text field in the language being rendered (i18n.current_language).

    English falls back to nothing; any other language missing from the field
    is an error, never English in its place (translations.py merges the
    translation files into the fields, so a complete translation never gets
    here)."""
    lang = i18n.current_language.get()
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if lang in value:
        return value[lang]
    if i18n.base(lang) in value:
        return value[i18n.base(lang)]
    english = value.get(DEFAULT_LANGUAGE, "")
    if i18n.base(lang) == DEFAULT_LANGUAGE or not english:
        return english
    # A schema default the content did not set ("With best wishes,") is a
    # template string: the catalog has it.
    try:
        return i18n.gettext(english, lang)
    except i18n.MissingTranslation:
        pass
    raise i18n.MissingTranslation(
        f"a text has no '{lang}' translation (it begins {english[:50]!r}); "
        "`handoutgen check` names the file and key"
    )


def paragraphs(text: str | None) -> Markup:
    """Escape plain text and keep its line breaks as paragraphs."""
    if not text:
        return Markup("")
    parts = [p.strip() for p in _BLANK_LINES.split(str(text)) if p.strip()]
    return Markup("\n").join(Markup("<p>{}</p>").format(p) for p in parts)


def long_date(value: dt.date | None) -> str:
    """'November 20, 2026' / '20 de noviembre de 2026' (Babel, per language)."""
    return i18n.long_date(value)


def month_year(value: dt.date | None) -> str:
    return i18n.month_year(value)


def css_string(value: str) -> Markup:
    """A quoted CSS string for text printed by the stylesheet (inside <style>,
    where HTML escaping does not apply: quotes, backslashes and '<' escaped)."""
    return Markup(i18n.css_quote(value))


MAX_SEQUENCE = 1_000_000  # longest string or list a template may make with * (characters/items)
MAX_EXPONENT = 64


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, narrowed to what handoutgen's templates use."""

    intercepted_binops = frozenset(("*", "**"))

    def is_safe_attribute(self, obj: object, attr: str, value: object) -> bool:
        # Objects that expose a fixed template API (the vdp marks) show only that.
        api = getattr(type(obj), "template_api", None)
        if api is not None:
            return attr in api
        # Pydantic's machinery (model_copy, model_validate...) is no template's business.
        if isinstance(obj, BaseModel) and attr.startswith("model_"):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context, operator: str, left, right):  # noqa: ANN001, ANN201
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large for a template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                    if len(seq) * times > MAX_SEQUENCE:
                        raise SecurityError("a template may not build a sequence this long")
        return super().call_binop(context, operator, left, right)


class ConfinedLoader(jinja2.BaseLoader):
    """Like FileSystemLoader, but a file reached through a symlink must still lie
    under one of ``roots`` (the workspace and the package)."""

    def __init__(self, searchpath: list[Path], roots: tuple[Path, ...]) -> None:
        self.searchpath = searchpath
        self.roots = roots

    def get_source(self, environment, template: str):  # noqa: ANN001, ANN201
        pieces = split_template_path(template)  # refuses '..'
        for folder in self.searchpath:
            path = folder.joinpath(*pieces)
            if not (path.exists() or path.is_symlink()):
                continue
            if not inside(path, self.roots):
                raise SecurityError(
                    f"template '{template}' leads outside the workspace (through a symlink)"
                )
            if not path.is_file():
                continue
            real = path.resolve()
            source = real.read_text(encoding="utf-8")
            mtime = real.stat().st_mtime

            def uptodate(real: Path = real, mtime: float = mtime) -> bool:
                try:
                    return real.stat().st_mtime == mtime
                except OSError:
                    return False

            return source, str(path), uptodate
        raise jinja2.TemplateNotFound(template)


@lru_cache(maxsize=8)
def environment(template_dirs: tuple[Path, ...]) -> jinja2.Environment:
    """One compiled environment per set of template folders (kept for warm renders)."""
    # Each template folder sits in its workspace (or the package): that is its root.
    roots = tuple(dict.fromkeys(Path(d).parent.resolve() for d in template_dirs)) + PACKAGE_ROOTS
    loader = jinja2.ChoiceLoader(
        [
            ConfinedLoader(list(template_dirs), roots),
            jinja2.PrefixLoader({"default": ConfinedLoader([PACKAGE_DIR / "templates"], roots)}),
        ]
    )
    env = Sandbox(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
        extensions=["jinja2.ext.i18n"],
    )
    # Template strings through gettext, in the language of the render in
    # progress (i18n.current_language): imported macros translate too.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
    )
    env.globals["N_"] = i18n.noop
    env.globals["icon_array"] = icon_array
    env.filters.update(
        t=localize,
        paragraphs=paragraphs,
        long_date=long_date,
        month_year=month_year,
        css_string=css_string,
        number=i18n.number,
    )
    return env


def render_template(template_dirs: list[Path], name: str, context: dict) -> str:
    """Render one template, turning every Jinja error into a located RenderError."""
    env = environment(tuple(template_dirs))
    lang = context.get("lang", DEFAULT_LANGUAGE)
    # Workspace catalogs sit beside the workspace's template folder.
    catalog_dirs = tuple(Path(d).parent / "locale" for d in template_dirs)
    lang_token = i18n.current_language.set(lang)
    dirs_token = i18n.current_catalog_dirs.set(catalog_dirs)
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        looked = ", ".join(display_path(d) for d in template_dirs)
        raise RenderError(f"template '{exc.name}' not found; looked in {looked}") from None
    except jinja2.TemplateSyntaxError as exc:
        where = display_path(Path(exc.filename)) if exc.filename else exc.name or name
        raise RenderError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
    except SecurityError as exc:
        raise RenderError(
            f"{_template_location(exc, name)}: not allowed in a template: {exc}"
        ) from None
    except jinja2.TemplateError as exc:
        raise RenderError(f"{_template_location(exc, name)}: template error: {exc}") from None
    except i18n.MissingTranslation as exc:
        raise RenderError(f"{_template_location(exc, name)}: {exc.format_message()}") from None
    except HandoutgenError as exc:
        # A helper (stylesheet, a vdp mark) refused something: say where.
        raise RenderError(f"{_template_location(exc, name)}: {exc.format_message()}") from None
    except Exception as exc:  # noqa: BLE001 - a template bug (None|length, 1/0...) is a render error
        raise RenderError(
            f"{_template_location(exc, name)}: template error: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        i18n.current_language.reset(lang_token)
        i18n.current_catalog_dirs.reset(dirs_token)


def _template_location(exc: BaseException, fallback: str) -> str:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith((".html", ".htm", ".j2")):
            return f"{display_path(Path(frame.filename))}:{frame.lineno}"
    return fallback
