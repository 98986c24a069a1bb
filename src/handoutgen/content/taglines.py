"""Notices of language assistance ("taglines") for mailing letters.

ACA Section 1557 asks covered clinics to tell readers, in the languages their
patients speak, that language help is free. handoutgen prints what the clinic
puts in ``handouts/notices/taglines.yaml`` on a page of its own at the end of every
letter; it ships no tagline text of its own, because every line must come
from a source the clinic can cite (HHS OCR publishes sample taglines), and a
made-up translation of a legal notice is worse than none::

    languages: [es, zh, vi]          # which to print, in this order (default: all below)
    taglines:
      - language: es
        name: Español
        text: "ATENCIÓN: ... Llame al {phone}."
        source: HHS Office for Civil Rights, sample tagline (Spanish), <where you got it>

``{phone}`` is replaced by the phone number of the clinic profile the letter
prints with. A language listed without a tagline or a tagline without a source
is a `check` error; a tagline with ``{phone}`` stops a letter printed with no
clinic profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handoutgen.content.models import LANG_RE
from handoutgen.content.workspace import Workspace
from handoutgen.content.yamlfile import load_yaml
from handoutgen.core.errors import DataError, Problem

FILE = "notices/taglines.yaml"


class TaglinesError(DataError):
    """The taglines file has problems: letters wait for a fix (`check` lists them)."""


class NeedsPhone(TaglinesError):
    """A tagline prints the clinic's phone, and the letter has no clinic profile."""


class Tagline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    language: str = Field(pattern=LANG_RE.pattern)
    name: str = Field(min_length=1, max_length=60, description="The language's own name.")
    text: str = Field(min_length=10, max_length=600)
    source: str = Field(
        min_length=10, max_length=400, description="Where the text comes from (cited)."
    )


class TaglinesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: list[str] | None = Field(default=None, description="Which to print, in order.")
    taglines: list[Tagline] = Field(default_factory=list)


@dataclass(frozen=True)
class Shown:
    """A tagline as printed."""

    language: str
    name: str
    text: str
    rtl: bool


def load(workspace: Workspace) -> tuple[TaglinesFile | None, list[Problem]]:
    """The workspace's taglines file (None if there is none) and its problems."""
    path = workspace.handouts_dir / FILE
    if not path.is_file():
        return None, []
    yf, problems = load_yaml(path, workspace.display(path))
    if yf is None or problems:
        return None, problems
    try:
        model = TaglinesFile.model_validate(yf.data or {})
    except ValidationError as exc:
        return None, [
            yf.problem(tuple(e["loc"]), f"{'.'.join(map(str, e['loc']))}: {e['msg']}")
            for e in exc.errors(include_url=False)
        ]
    have = {t.language for t in model.taglines}
    for i, lang in enumerate(model.languages or []):
        if lang not in have:
            problems.append(
                yf.problem(
                    ("languages", i),
                    f"no tagline for '{lang}': add its text and source under taglines:, "
                    "or remove it from languages:",
                )
            )
    seen: set[str] = set()
    for i, t in enumerate(model.taglines):
        if t.language in seen:
            problems.append(yf.problem(("taglines", i), f"'{t.language}' is listed twice"))
        seen.add(t.language)
    return model, problems


def shown(workspace: Workspace, phone: str | None) -> list[Shown]:
    """The taglines a letter prints, with the phone number filled in."""
    from handoutgen.content.i18n import is_rtl

    model, problems = load(workspace)
    if problems:
        # A legal notice is not dropped quietly: the letter waits for a fix.
        raise TaglinesError("; ".join(str(p) for p in problems))
    if model is None:
        return []
    by_lang = {t.language: t for t in model.taglines}
    order = model.languages if model.languages is not None else list(by_lang)
    out = []
    for lang in order:
        t = by_lang[lang]
        if "{phone}" in t.text and not phone:
            raise NeedsPhone(
                f"{FILE}: the '{lang}' tagline needs the clinic's phone number ({{phone}}), "
                "and this letter has no clinic profile: choose one with --clinic, or give the "
                "document a brand:"
            )
        out.append(Shown(lang, t.name, t.text.replace("{phone}", phone or ""), is_rtl(lang)))
    return out
