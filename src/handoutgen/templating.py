"""Jinja2 set-up: autoescaped, layered (workspace over packaged defaults), strict.

A workspace template may replace a packaged one of the same name, or extend it
under the ``default/`` prefix: ``{% extends "default/handout.html" %}``.
"""

from __future__ import annotations

import datetime as dt
import re
import traceback
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from .errors import RenderError
from .models import DEFAULT_LANGUAGE
from .workspace import PACKAGE_DIR, display_path

_BLANK_LINES = re.compile(r"\r?\n\s*\r?\n|\r?\n")


@jinja2.pass_context
def localize(ctx: jinja2.runtime.Context, value: dict[str, str] | None) -> str:
    """Pick the context's language from a Text field, falling back to English."""
    if value is None:
        return ""
    lang = ctx.get("lang", DEFAULT_LANGUAGE)
    return value.get(lang) or value.get(lang.split("-")[0]) or value[DEFAULT_LANGUAGE]


def paragraphs(text: str | None) -> Markup:
    """Escape plain text and keep its line breaks as paragraphs."""
    if not text:
        return Markup("")
    parts = [p.strip() for p in _BLANK_LINES.split(str(text)) if p.strip()]
    return Markup("\n").join(Markup("<p>{}</p>").format(p) for p in parts)


def long_date(value: dt.date | None) -> str:
    return f"{value:%B} {value.day}, {value.year}" if value else ""


def month_year(value: dt.date | None) -> str:
    return f"{value:%B %Y}" if value else ""


@lru_cache(maxsize=8)
def environment(template_dirs: tuple[Path, ...]) -> jinja2.Environment:
    """One compiled environment per set of template folders (kept for warm renders)."""
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader([str(d) for d in template_dirs]),
            jinja2.PrefixLoader(
                {"default": jinja2.FileSystemLoader(str(PACKAGE_DIR / "templates"))}
            ),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
    )
    env.filters.update(
        t=localize, paragraphs=paragraphs, long_date=long_date, month_year=month_year
    )
    return env


def render_template(template_dirs: list[Path], name: str, context: dict) -> str:
    """Render one template, turning every Jinja error into a located RenderError."""
    env = environment(tuple(template_dirs))
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        looked = ", ".join(display_path(d) for d in template_dirs)
        raise RenderError(f"template '{exc.name}' not found; looked in {looked}") from None
    except jinja2.TemplateSyntaxError as exc:
        where = display_path(Path(exc.filename)) if exc.filename else exc.name or name
        raise RenderError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise RenderError(f"{_template_location(exc, name)}: template error: {exc}") from None


def _template_location(exc: BaseException, fallback: str) -> str:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith((".html", ".htm", ".j2")):
            return f"{display_path(Path(frame.filename))}:{frame.lineno}"
    return fallback
