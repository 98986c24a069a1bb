"""Translatable text and the base of every content model.

A :data:`Text` is a plain string (English) or a mapping of language code to
string with an English entry; language codes are checked and normalized here.
Kept apart from models.py so the schema module stays short enough to read.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    WithJsonSchema,
)

DEFAULT_LANGUAGE = "en"


def pick_text(value: dict[str, str] | str | None, lang: str = "en") -> str:
    """A text field in ``lang`` (or its base language, "es" for "es-MX"), else
    in English, the language every field has; plain strings pass through."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.get(lang) or value.get(lang.split("-")[0]) or value.get(DEFAULT_LANGUAGE, "")


LANG_RE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


def normalize_language(code: str) -> str:
    """The canonical form of a language code typed in any case: 'ES' -> 'es',
    'es_mx' -> 'es-MX'. Raises ValueError, in plain words, for anything that is
    not a two-letter code with an optional region."""
    parts = code.strip().replace("_", "-").split("-")
    canonical = "-".join([parts[0].lower(), *(p.upper() for p in parts[1:])])
    if not LANG_RE.match(canonical):
        raise ValueError(
            f"{code!r} is not a language code; use two letters like 'en' or 'es', "
            "with a region if needed, like 'es-MX'"
        )
    return canonical


def _language_or_none(value: object) -> object:
    return normalize_language(value) if isinstance(value, str) and value.strip() else value


Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64),
]


def _to_localized(value: object) -> object:
    if isinstance(value, str):
        return {DEFAULT_LANGUAGE: value}
    if isinstance(value, bool):
        # YAML 1.1 reads a bare Yes/No/On/Off as a boolean: the classic trap.
        raise ValueError(
            'expected text, but YAML read a bare yes/no as true/false; put it in quotes, like "Yes"'
        )
    if isinstance(value, (int, float, dt.date)):
        raise ValueError(
            f'expected text, got {type(value).__name__}; put it in quotes, like "{value}"'
        )
    return value


def _check_localized(value: dict[str, str]) -> dict[str, str]:
    if not value:
        raise ValueError("text is empty")
    for lang, text in value.items():
        if not LANG_RE.match(lang):
            raise ValueError(f"'{lang}' is not a language code like 'en' or 'es'")
        if not text.strip():
            raise ValueError(f"the '{lang}' text is empty")
    if DEFAULT_LANGUAGE not in value:
        raise ValueError(f"an '{DEFAULT_LANGUAGE}' text is required beside translations")
    return value


# For editors (`handoutgen schema`): what an author may write, a string or a
# mapping of language code to string with an English entry.
_TEXT_SCHEMA = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "propertyNames": {"pattern": LANG_RE.pattern},
            "additionalProperties": {"type": "string", "minLength": 1},
            "required": [DEFAULT_LANGUAGE],
        },
    ],
    "description": "Text: a string (English), or {language code: string} with an 'en' entry.",
}

Text = Annotated[
    dict[str, Annotated[str, StringConstraints(strip_whitespace=True)]],
    BeforeValidator(_to_localized),
    AfterValidator(_check_localized),
    WithJsonSchema(_TEXT_SCHEMA),
]
"""A translatable text: a string, or ``{language: string}`` with an English entry."""


class _Model(BaseModel):
    # defer_build: a validator is built when a model first validates. A render
    # whose content comes from the cache (store/librarycache.py) never validates
    # it, and building some twenty validators was a tenth of its start-up.
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True
    )
