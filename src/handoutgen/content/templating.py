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

import contextlib
import datetime as dt
import re
import threading
import time
import traceback
from collections.abc import Generator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import cast

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.filters import do_replace
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from markupsafe import Markup
from pydantic import BaseModel

from handoutgen.content import i18n
from handoutgen.content.iconarray import icon_array
from handoutgen.content.models import DEFAULT_LANGUAGE
from handoutgen.content.workspace import (
    PACKAGE_DIR,
    PACKAGE_ROOTS,
    Workspace,
    display_path,
    inside,
)
from handoutgen.core import limits
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


def _text_gettext(message: str) -> Markup:
    return Markup.escape(i18n.gettext(message))


def _text_ngettext(singular: str, plural: str, n: int) -> Markup:
    return Markup.escape(i18n.ngettext(singular, plural, n))


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


def cite(value: str) -> str:
    """A citation with its fixed phrases ("Undated web page, viewed 2026") in the
    page's language; its titles stay as published (sources.py)."""
    from handoutgen.content.sources import localized

    return localized(value, lambda msgid, **values: i18n.gettext(msgid) % values)


def css_string(value: str) -> Markup:
    """A quoted CSS string for text printed by the stylesheet (inside <style>,
    where HTML escaping does not apply: quotes, backslashes and '<' escaped)."""
    return Markup(i18n.css_quote(value))


MAX_SEQUENCE = 1_000_000  # longest string or list a template may make with * (characters/items)
MAX_EXPONENT = 64

# A hostile (or broken) template must not hang a render or eat the machine:
# every render has a time and an output budget (core/limits.py: flags,
# HANDOUTGEN_TEMPLATE_SECONDS and _MAX_MB, defaults there).
DEFAULT_SECONDS = limits.LIMITS["template_seconds"].default
DEFAULT_MAX_MB = limits.LIMITS["template_max_mb"].default


class OutOfMemory(RenderError):
    """A template (or the render) hit the process's memory cap (MemoryError):
    the process may be left fragmented, so a pool replaces its worker."""


class TemplateLimit(Exception):
    """A render went over its budget: ``kind`` is "time" or "memory"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class _Budget:
    deadline: float
    max_chars: int
    thread: int = field(default_factory=threading.get_ident)


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise TemplateLimit("time")


def _check_size(value: object) -> object:
    budget = _budget.get()
    if budget is not None and isinstance(value, str) and len(value) > budget.max_chars:
        raise TemplateLimit("memory")
    return value


class _TimedRange:
    """``range()`` in a template: the sandbox's (at most 100,000 items), and a
    loop over it checks the clock, so nested loops cannot run for hours."""

    def __init__(self, *args: int) -> None:
        self._range = safe_range(*args)

    def __iter__(self) -> Iterator[int]:
        for i, value in enumerate(self._range):
            if not i & 1023:
                _tick()
            yield value

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index):  # noqa: ANN001, ANN204
        return self._range[index]

    def __reversed__(self) -> Iterator[int]:
        return iter(_TimedRange(self._range.stop - 1, self._range.start - 1, -self._range.step))

    def __contains__(self, value: object) -> bool:
        return value in self._range


_WIDTH_METHODS = frozenset(("center", "ljust", "rjust", "zfill", "expandtabs"))


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

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: ANN001, ANN201, N805
        _tick()
        if getattr(__obj, "__name__", "") in _WIDTH_METHODS and isinstance(
            getattr(__obj, "__self__", None), str
        ):
            if any(isinstance(a, int) and a > MAX_SEQUENCE for a in args):
                raise TemplateLimit("memory")
        if getattr(__obj, "__name__", "") == "replace" and isinstance(
            getattr(__obj, "__self__", None), str
        ):
            _replace_size(__obj.__self__, *args)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj, attribute):  # noqa: ANN001, ANN201
        _tick()
        return super().getattr(obj, attribute)

    def call_binop(self, context, operator: str, left, right):  # noqa: ANN001, ANN201
        _tick()
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large for a template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                    if len(seq) * times > MAX_SEQUENCE:
                        raise SecurityError("a template may not build a sequence this long")
        return _check_size(super().call_binop(context, operator, left, right))


def _replace_size(text: str, old: object = "", new: object = "", count: object = -1) -> None:
    """Refuse a replace that would make a string over the budget (before making it)."""
    if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        times = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            times = min(times, count)
        budget = _budget.get()
        limit = budget.max_chars if budget is not None else MAX_SEQUENCE * 64
        if len(text) + times * (len(new) - len(old)) > limit:
            raise TemplateLimit("memory")


def _replace_filter(eval_ctx, s, old, new, count=None):  # noqa: ANN001, ANN202
    _replace_size(str(s), str(old), str(new), -1 if count is None else count)
    return do_replace(eval_ctx, s, old, new, count)


_replace_filter.jinja_pass_arg = do_replace.jinja_pass_arg  # type: ignore[attr-defined]


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
            # A template file is content too: never the private settings, output/
            # or a recipient list reached through a symlink (Workspace.reach_refused).
            why = Workspace(folder.parent).reach_refused(path)
            if why:
                raise SecurityError(f"template '{template}' refused: {why}")
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
def environment(
    template_dirs: tuple[Path, ...], code_cache: jinja2.BytecodeCache | None = None
) -> jinja2.Environment:
    """One compiled environment per set of template folders (kept for warm renders).
    ``code_cache`` keeps compiled templates between processes (store/templatecode.py)."""
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
        bytecode_cache=code_cache,
    )
    # Template strings through gettext, in the language of the render in
    # progress (i18n.current_language): imported macros translate too.
    # A catalog string is text, never markup: Jinja marks what gettext returns
    # as safe, so it is escaped here first (a workspace .po cannot insert a link).
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_text_gettext, ngettext=_text_ngettext, newstyle=True
    )
    env.globals["N_"] = i18n.noop
    env.globals["range"] = _TimedRange
    env.globals["icon_array"] = icon_array
    env.filters.update(
        t=localize,
        paragraphs=paragraphs,
        long_date=long_date,
        month_year=month_year,
        css_string=css_string,
        cite=cite,
        number=i18n.number,
        replace=_replace_filter,
    )
    return env


def render_template(
    template_dirs: list[Path],
    name: str,
    context: dict,
    *,
    code_cache: jinja2.BytecodeCache | None = None,
) -> str:
    """Render one template, turning every Jinja error into a located RenderError."""
    env = environment(tuple(template_dirs), code_cache)
    lang = context.get("lang", DEFAULT_LANGUAGE)
    # Workspace catalogs sit beside the workspace's template folder.
    catalog_dirs = tuple(Path(d).parent / "locale" for d in template_dirs)
    lang_token = i18n.current_language.set(lang)
    dirs_token = i18n.current_catalog_dirs.set(catalog_dirs)
    seconds = limits.get("template_seconds")
    max_mb = limits.get("template_max_mb")
    budget = _Budget(time.monotonic() + seconds, int(max_mb * 1024 * 1024))
    budget_token = _budget.set(budget)
    try:
        with _watchdog(budget, seconds):
            return _generate(env.get_template(name), context, budget)
    except TemplateLimit as exc:
        where = _template_location(exc, name)
        if exc.kind == "time":
            raise RenderError(
                f"the template ran too long at {where} (over {seconds:g} seconds; a loop "
                "that never ends, or one far too big? --template-seconds or "
                "HANDOUTGEN_TEMPLATE_SECONDS sets the limit)"
            ) from None
        raise RenderError(
            f"the template used too much memory at {where} (over {max_mb:g} MB of text; "
            "--template-max-mb or HANDOUTGEN_TEMPLATE_MAX_MB sets the limit)"
        ) from None
    except MemoryError as exc:
        # The OS cap of a worker process (limits.cap_memory), hit by something
        # the budget above does not see (a list or string built in a variable).
        where = _template_location(exc, name)
        raise OutOfMemory(
            f"the template used too much memory at {where} (over the "
            f"{limits.memory_cap_mb()} MB a render may use; --template-max-mb or "
            "HANDOUTGEN_TEMPLATE_MAX_MB sets the limit)"
        ) from None
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
        _budget.reset(budget_token)
        i18n.current_language.reset(lang_token)
        i18n.current_catalog_dirs.reset(dirs_token)


def _generate(template: jinja2.Template, context: dict, budget: _Budget) -> str:
    """The template's output, piece by piece: over budget (time or size), the
    limit is thrown into the template where it stands, so the error has its line."""
    parts: list[str] = []
    size = 0
    stream = cast("Generator[str, None, None]", template.generate(context))
    for piece in stream:
        size += len(piece)
        parts.append(piece)
        if size > budget.max_chars or time.monotonic() > budget.deadline:
            kind = "memory" if size > budget.max_chars else "time"
            stream.throw(TemplateLimit(kind))  # raises, from the template's frame
    return "".join(parts)


@contextlib.contextmanager
def _watchdog(budget: _Budget, seconds: float) -> Iterator[None]:
    """The last resort for a loop that calls nothing the sandbox sees (over a
    long string, say): past the deadline and a grace second, TemplateLimit is
    raised in the rendering thread (CPython delivers it between bytecodes)."""
    import ctypes

    lock = threading.Lock()
    state = {"running": True, "fired": False}

    def fire() -> None:
        with lock:
            if state["running"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(budget.thread), ctypes.py_object(_AsyncTimeout)
                )

    timer = threading.Timer(seconds + 1, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["running"] = False
            timer.cancel()
            if state["fired"]:  # not delivered yet (or already): never let it out late
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(budget.thread), None)


class _AsyncTimeout(TemplateLimit):
    def __init__(self) -> None:
        super().__init__("time")


def _template_location(exc: BaseException, fallback: str) -> str:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith((".html", ".htm", ".j2")):
            return f"{display_path(Path(frame.filename))}:{frame.lineno}"
    return fallback
