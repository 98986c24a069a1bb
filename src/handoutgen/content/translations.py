"""Translation files: one per language per English content file.

``handouts/translations/<lang>/<path>`` mirrors ``handouts/<path>``
(``translations/es/options/fusion.yaml`` translates ``options/fusion.yaml``).
A file holds a ``translation:`` record, then the same keys as the English
file, only its text fields, nested the same way (lists in the same order and
length, dicts by key)::

    translation:
      translator: Ana Example
      reviewer: null            # null: not reviewed by a qualified human translator
      method: machine           # human | machine+human-review | machine
      date: 2026-11-20
      source_sha256: ...        # written by `handoutgen translations stamp`
      fields: {summary: 1a2b3c4d, ...}
    summary: Cirugía que une dos o más huesos de la columna.
    benefits:
      - ...

Ids, categories, numbers, dates, file names and citation ``source:`` strings
are not translated (they are not text fields). A field the English has and the
translation lacks is a `check` error naming file and key; such a file is not
used at all, so a render in its language fails loudly instead of mixing in
English.

``source_sha256`` hashes the English file's translatable text when the
translation was made; ``fields`` keeps an 8-hex hash per field, so when the
English changes `check` says which fields, at the English file's lines.
A review is recorded by ``handoutgen translations review FILE --by NAME``
(translationreview.py): a ``review:`` block with the reviewer and the SHA-256
of the English text and of the translated text it covered. Only such a record
counts: a ``reviewer:`` typed by hand, or a review whose hashes no longer match
either text, leaves the file unreviewed. An unreviewed translation is a draft:
refused for patients unless --allow-draft, and then every page it is on says
"Machine translation, not reviewed" (``method: human``: "Translation not yet
reviewed").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handoutgen.content.models import LANG_RE, Text
from handoutgen.content.yamlfile import Loc, YamlFile, load_yaml
from handoutgen.core.errors import HandoutgenError, Problem

log = logging.getLogger(__name__)

TRANSLATIONS = "translations"
Method = Literal["human", "machine+human-review", "machine"]
REVIEWED_METHODS = ("human", "machine+human-review")


class Review(BaseModel):
    """A review as ``handoutgen translations review`` writes it: who, when, and
    the hashes of the English and the translated text it covered."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    by: str = Field(min_length=1, max_length=200)
    at: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
    source_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    text_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class TranslationRecord(BaseModel):
    """The ``translation:`` record at the top of a translation file."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    translator: str = Field(min_length=1, max_length=200)
    reviewer: str | None = Field(
        default=None,
        max_length=200,
        description="The qualified human translator who reviewed it; null if nobody has.",
    )
    method: Method
    date: dt.date
    source_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    fields: dict[str, str] = Field(default_factory=dict)
    review: Review | None = Field(
        default=None,
        description="Written by `handoutgen translations review`; never typed by hand.",
    )


@dataclass(frozen=True)
class Changed:
    """An English field that changed since the translation was made."""

    path: str
    line: int | None
    how: str  # "changed" | "added" | "removed"


@dataclass(frozen=True)
class Record:
    """What is known about one translation file."""

    language: str
    kind: str  # "option" | "document" | "brand" | "signs" (warning-signs.yaml)
    id: str
    path: str  # the translation file, as displayed
    source: str  # the English file, as displayed
    record: TranslationRecord | None
    current_sha256: str
    changed: tuple[Changed, ...] = ()
    usable: bool = True  # complete and well-formed: merged into the content
    field_hashes: tuple[tuple[str, str], ...] = ()  # the English now, per field (for stamp)
    text_sha256: str = ""  # the translated text now (what a review covers)

    @property
    def stamped(self) -> bool:
        return bool(self.record and self.record.source_sha256)

    @property
    def stale(self) -> bool:
        return not self.record or self.record.source_sha256 != self.current_sha256

    @property
    def reviewed(self) -> bool:
        """Reviewed by a qualified human translator, as recorded by `translations
        review` for the English and the translated text as they are now."""
        r = self.record
        return bool(
            r
            and r.reviewer
            and r.method in REVIEWED_METHODS
            and r.review is not None
            and r.review.by == r.reviewer
            and r.review.source_sha256 == self.current_sha256
            and r.review.text_sha256 == self.text_sha256
        )

    @property
    def machine(self) -> bool:
        """An unreviewed machine draft (anything but ``method: human``)."""
        return not self.reviewed and (self.record is None or self.record.method != "human")

    @property
    def review_problem(self) -> str | None:
        """Why a ``reviewer:`` the file names does not count (None: it does, or none is named)."""
        r = self.record
        if r is None or not r.reviewer or self.reviewed:
            return None
        fix = f"record a review with `handoutgen translations review {self.path} --by NAME`"
        if r.review is None:
            return (
                f"reviewer '{r.reviewer}' has no review record (a reviewer typed into the "
                f"file does not count); {fix}"
            )
        if r.review.by != r.reviewer:
            return (
                f"reviewer '{r.reviewer}' is not who the review record names "
                f"('{r.review.by}'); {fix}"
            )
        if r.method not in REVIEWED_METHODS:
            return f"method: {r.method} says nobody reviewed it, yet it names a reviewer; {fix}"
        day = r.review.at[:10]
        if r.review.text_sha256 != self.text_sha256:
            return (
                f"the translated text changed since {r.review.by} reviewed it on {day}; "
                f"have the change reviewed and {fix}"
            )
        return (
            f"the English ({self.source}) changed since {r.review.by} reviewed it on {day}; "
            f"update the translation, have it reviewed again and {fix}"
        )

    @property
    def needs_mark(self) -> bool:
        return self.stale or not self.reviewed

    def as_dict(self) -> dict[str, Any]:
        r = self.record
        return {
            "language": self.language,
            "kind": self.kind,
            "id": self.id,
            "path": self.path,
            "source": self.source,
            "translator": r.translator if r else None,
            "reviewer": r.reviewer if r else None,
            "method": r.method if r else None,
            "date": r.date.isoformat() if r else None,
            "stale": self.stale,
            "reviewed": self.reviewed,
            "review": r.review.model_dump() if r and r.review else None,
            "usable": self.usable,
            "changed": [c.__dict__ for c in self.changed],
        }


@dataclass
class Translations:
    """Every translation file of a workspace, and what was wrong with them."""

    records: dict[tuple[str, str, str], Record] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)

    def record(self, lang: str, kind: str, item_id: str) -> Record | None:
        return self.records.get((lang, kind, item_id))

    def languages(self) -> list[str]:
        return sorted({lang for lang, _, _ in self.records})


# -- the text fields of a model ---------------------------------------------
def _is_text(ann: Any) -> bool:
    return ann == Text


def text_fields(
    model: BaseModel, loc: Loc = (), *, only_set: bool = True
) -> Iterator[tuple[Loc, dict[str, str], bool]]:
    """(location, value, set in the file) for every text field, in schema order.
    ``only_set``: skip defaults the file did not write (Letter.closing)."""
    for name, info in type(model).model_fields.items():
        is_set = name in model.model_fields_set
        if only_set and not is_set:
            continue
        yield from (
            (where, v, is_set and s)
            for where, v, s in _walk(
                _annotation(info), getattr(model, name), loc + (name,), only_set
            )
        )


def _annotation(info: Any) -> Any:
    """The field's type with its validators: pydantic moves a top-level
    Annotated's metadata off the annotation, and Text is told by them."""
    if info.metadata:
        return typing.Annotated[(info.annotation, *info.metadata)]
    return info.annotation


def _walk(
    ann: Any, value: Any, loc: Loc, only_set: bool
) -> Iterator[tuple[Loc, dict[str, str], bool]]:
    if value is None:
        return
    if _is_text(ann):
        yield loc, value, True
        return
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(ann):
            if arg is not type(None):
                yield from _walk(arg, value, loc, only_set)
                return
    if origin is typing.Annotated:
        yield from _walk(typing.get_args(ann)[0], value, loc, only_set)
    elif origin is list:
        (item,) = typing.get_args(ann)
        for i, v in enumerate(value):
            yield from _walk(item, v, loc + (i,), only_set)
    elif origin is dict:
        _, item = typing.get_args(ann)
        for k, v in value.items():
            yield from _walk(item, v, loc + (k,), only_set)
    elif isinstance(value, BaseModel):
        yield from text_fields(value, loc, only_set=only_set)


def missing_text(model: BaseModel, lang: str) -> list[str]:
    """The text fields (dotted) of a model that have no ``lang`` text, defaults
    included: a render in ``lang`` needs every one of them."""
    base = lang.split("-")[0]
    out = []
    for loc, value, is_set in text_fields(model, only_set=False):
        if lang in value or base in value:
            continue
        english = value.get("en")
        if not is_set and english:
            # A schema default (Letter.closing) comes from the template catalog.
            from handoutgen.content.i18n import MissingTranslation, gettext

            try:
                gettext(english, lang)
                continue
            except MissingTranslation:
                pass
        out.append(dotted(loc))
    return out


def dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


def texts_hash(texts: list[tuple[Loc, str]]) -> str:
    """SHA-256 of a translation's texts, by field (what a review covers)."""
    pairs = [(dotted(loc), text) for loc, text in texts]
    return hashlib.sha256(
        json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ).hexdigest()


def _field_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def source_hashes(model: BaseModel) -> tuple[str, dict[str, str]]:
    """The hash of a model's English text fields, and one short hash per field."""
    pairs = [(dotted(loc), value["en"]) for loc, value, _ in text_fields(model)]
    whole = hashlib.sha256(
        json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ).hexdigest()
    return whole, {path: _field_hash(text) for path, text in pairs}


# -- loading ----------------------------------------------------------------
def _get(data: Any, loc: Loc) -> tuple[bool, Any]:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False, None
    return True, data


def _leaves(data: Any, loc: Loc = ()) -> Iterator[Loc]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, loc + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _leaves(v, loc + (i,))
    else:
        yield loc


def _set(data: Any, loc: Loc, lang: str, text: str) -> None:
    for part in loc:
        data = data[part]
    data[lang] = text


def load_translations(
    handouts_dir: Path,
    display: typing.Callable[[Path], str],
    confined: typing.Callable[[Path], bool],
    items: dict[tuple[str, str], tuple[BaseModel, YamlFile]],
) -> tuple[Translations, dict[tuple[str, str], BaseModel]]:
    """Read every translation file, check it against its English file, and
    return the records with the models that have their translations merged in.

    ``items`` maps (kind, id) to the English model and its file. Problems are
    collected (``check`` reports them); a file with any is not merged."""
    out = Translations()
    root = handouts_dir / TRANSLATIONS
    if not root.is_dir():
        return out, {}
    by_source = {yf.path.resolve(): key for key, (_, yf) in items.items()}
    merged_data: dict[tuple[str, str], Any] = {}
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        lang = lang_dir.name
        for path in sorted(lang_dir.rglob("*.yaml")):
            shown = display(path)
            if lang.split("-")[0] == "en":
                out.problems.append(
                    Problem(
                        shown,
                        None,
                        None,
                        "English is the source language: edit the English file itself, "
                        f"not a translation under translations/{lang}/",
                    )
                )
                break
            if not LANG_RE.match(lang):
                out.problems.append(
                    Problem(shown, None, None, f"'{lang}' is not a language code like 'es' or 'zh'")
                )
                break
            if not confined(path):
                out.problems.append(
                    Problem(shown, None, None, "leads outside the workspace (through a symlink)")
                )
                continue
            out.paths.append(path)
            english = (handouts_dir / path.relative_to(lang_dir)).resolve()
            key = by_source.get(english)
            if key is None:
                out.problems.append(
                    Problem(
                        shown,
                        None,
                        None,
                        f"translates handouts/{path.relative_to(lang_dir).as_posix()}, which is "
                        "not a content file that loaded; rename or remove it",
                    )
                )
                continue
            model, en_yf = items[key]
            rec, texts = _read(path, shown, lang, key, model, en_yf, out.problems)
            out.records[(lang, *key)] = rec
            if rec.usable and texts:
                data = merged_data.setdefault(
                    key, model.model_dump(mode="python", exclude_unset=True)
                )
                for loc, text in texts:
                    _set(data, loc, lang, text)
    merged: dict[tuple[str, str], BaseModel] = {}
    for key, data in merged_data.items():
        model = items[key][0]
        try:
            merged[key] = type(model).model_validate(data)
        except ValidationError as exc:  # an empty or bad translated text
            for err in exc.errors(include_url=False):
                out.problems.append(
                    items[key][1].problem(tuple(err["loc"]), f"translated text: {err['msg']}")
                )
    return out, merged


def _read(
    path: Path,
    shown: str,
    lang: str,
    key: tuple[str, str],
    model: BaseModel,
    en_yf: YamlFile,
    problems: list[Problem],
) -> tuple[Record, list[tuple[Loc, str]]]:
    kind, item_id = key
    current, per_field = source_hashes(model)
    rec = Record(
        lang,
        kind,
        item_id,
        shown,
        en_yf.display,
        None,
        current,
        field_hashes=tuple(per_field.items()),
    )
    yf, yaml_problems = load_yaml(path, shown)
    problems.extend(yaml_problems)
    if yf is None or yaml_problems:
        return _replace(rec, usable=False), []
    if not isinstance(yf.data, dict):
        problems.append(yf.problem((), "expected a mapping: a translation: record, then the texts"))
        return _replace(rec, usable=False), []
    found = len(problems)
    record = None
    raw = yf.data.get("translation")
    if raw is None:
        problems.append(
            yf.problem(
                (),
                "missing the 'translation:' record (translator, reviewer, method, date); "
                "add it at the top",
            )
        )
    else:
        try:
            record = TranslationRecord.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = ("translation", *err["loc"])
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(yf.problem(loc, f"{dotted(loc)}: {msg}"))
    texts: list[tuple[Loc, str]] = []
    wanted = set()
    told: set[Loc] = set()
    for loc, _value, _ in text_fields(model):
        wanted.add(loc)
        present, text = _get(yf.data, loc)
        en_line = en_yf.where(loc)[0]
        if loc[:-1] in told:
            continue
        # Lists match the English in order and length: say so once per list.
        if isinstance(loc[-1], int) and loc[:-1]:
            mine, theirs = _get(yf.data, loc[:-1])[1], _get(en_yf.data, loc[:-1])[1]
            if isinstance(mine, list) and isinstance(theirs, list) and len(mine) != len(theirs):
                told.add(loc[:-1])
                problems.append(
                    yf.problem(
                        loc[:-1],
                        f"'{dotted(loc[:-1])}' has {len(mine)} items, the English "
                        f"({en_yf.display}:{en_yf.where(loc[:-1])[0]}) has {len(theirs)}; "
                        "lists are translated item by item, in the same order",
                    )
                )
                continue
        if not present:
            parent = loc[:-1]
            while parent and not _get(yf.data, parent)[0]:
                parent = parent[:-1]
            problems.append(
                yf.problem(
                    parent,
                    f"missing the translation of '{dotted(loc)}' ({en_yf.display}:{en_line}); "
                    "every text field needs one, nothing falls back to English",
                )
            )
        elif not isinstance(text, str) or not text.strip():
            problems.append(
                yf.problem(loc, f"'{dotted(loc)}': expected translated text, got {text!r:.40}")
            )
        else:
            texts.append((loc, text.strip()))
    for loc in _leaves({k: v for k, v in yf.data.items() if k != "translation"}):
        # A non-text key copied unchanged (a brand's proper name) is harmless.
        if loc[:-1] in told:
            continue
        if loc not in wanted and _get(en_yf.data, loc) != (True, _get(yf.data, loc)[1]):
            problems.append(
                yf.problem(
                    loc,
                    f"'{dotted(loc)}' is not a text field of {en_yf.display} (ids, numbers, "
                    "dates, file names and sources are not translated); remove it",
                    key=True,
                )
            )
    changed: list[Changed] = []
    if record is not None and record.source_sha256 and record.source_sha256 != current:
        for p, h in per_field.items():
            if p not in record.fields:
                how = "added"
            elif record.fields[p] != h:
                how = "changed"
            else:
                continue
            loc = tuple(int(x) if x.isdigit() else x for x in p.split("."))
            changed.append(Changed(p, en_yf.where(loc)[0], how))
        changed += [Changed(p, None, "removed") for p in record.fields if p not in per_field]
    usable = len(problems) == found and record is not None
    return _replace(
        rec, record=record, changed=tuple(changed), usable=usable, text_sha256=texts_hash(texts)
    ), texts


def _replace(rec: Record, **changes: Any) -> Record:
    import dataclasses

    return dataclasses.replace(rec, **changes)


# -- stamping ---------------------------------------------------------------
_RECORD_KEY = re.compile(r"^translation:\s*$")
_STAMP_KEYS = ("source_sha256", "fields")


_RECORD_REVIEWER = re.compile(r"^([ \t]+)reviewer:.*$", re.M)


def stamp_text(
    text: str,
    whole: str,
    per_field: dict[str, str],
    *,
    scalars: dict[str, str] | None = None,
    review: dict[str, str] | None = None,
) -> str:
    """The translation file's text with ``source_sha256`` and ``fields`` (re)written
    at the end of its ``translation:`` record; nothing else changes. ``scalars``
    (reviewer, method, date) replace those keys' lines; ``review`` writes the
    ``review:`` block (translationreview.py)."""
    scalars = scalars or {}
    # The review block is always rewritten last: kept as it was unless a new one is given.
    dropped = (*_STAMP_KEYS, "review")
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _RECORD_KEY.match(line)), None)
    if start is None:
        raise HandoutgenError("no top-level 'translation:' record (a block of keys) to stamp")
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    body = lines[start + 1 : end]
    while body and not body[-1].strip():
        body.pop()
    indent = next((line[: len(line) - len(line.lstrip())] for line in body if line.strip()), "  ")
    kept: list[str] = []
    old_review: list[str] = []
    skipping = in_review = False
    for line in body:
        stripped = line[len(indent) :] if line.startswith(indent) else line.lstrip()
        deeper = line.startswith(indent) and line[len(indent) : len(indent) + 1] in (" ", "\t")
        if skipping and deeper:
            if in_review:
                old_review.append(line)
            continue
        skipping = any(stripped.startswith(k + ":") for k in dropped)
        in_review = stripped.startswith("review:")
        if in_review:
            old_review.append(line)
        key = next((k for k in scalars if stripped.startswith(k + ":") and not deeper), None)
        if key is not None:
            kept.append(f"{indent}{key}: {scalars.pop(key)}\n")
        elif not skipping:
            kept.append(line)
    kept += [f"{indent}{k}: {v}\n" for k, v in scalars.items()]
    new = [f"{indent}source_sha256: {whole}\n", f"{indent}fields:{'' if per_field else ' {}'}\n"]
    new += [f'{indent}  "{p}": "{h}"\n' for p, h in per_field.items()]
    if review is not None:
        new.append(f"{indent}review:\n")
        new += [f"{indent}  {k}: {v}\n" for k, v in review.items()]
    else:
        new += old_review
    tail = lines[end:]
    blank = ["\n"] if tail else []
    return "".join(lines[: start + 1] + kept + new + blank + tail)


def sound_record(
    library: Any, path: Path, before: str, *, need_record: bool = False
) -> tuple[Path, str, Any]:
    """(real path, display path, record) of a translation file with no problems:
    stamping and reviewing both vouch for a complete file. ``before`` ends the
    refusal ("fix them ... before stamping it")."""
    from handoutgen.core.errors import DataError

    real = path.resolve()
    shown = library.workspace.display(real)
    rec = next((r for r in library.translations.records.values() if r.path == shown), None)
    if rec is None:
        raise DataError(
            f"{shown}: not a translation file (they live in handouts/translations/<lang>/, "
            "mirroring the English file's path)"
        )
    mine = [p for p in library.translations.problems if p.path == shown]
    if mine or not rec.usable or (need_record and rec.record is None):
        raise DataError(
            f"{shown}: has {len(mine) or 'some'} problem(s); fix them (see `handoutgen check`) "
            f"before {before}"
        )
    return real, shown, rec


def stamp(library: Any, path: Path) -> tuple[str, bool]:
    """Write the English hashes into one translation file's record.

    Refuses a file with problems (stamping says "this matches the English",
    which an incomplete file does not). Returns (display path, changed)."""
    from handoutgen.core.output import write_atomic

    real, shown, rec = sound_record(library, path, "stamping it")
    whole, per_field = rec.current_sha256, dict(rec.field_hashes)
    text = real.read_text(encoding="utf-8")
    new = stamp_text(text, whole, per_field)
    if new == text:
        return shown, False
    if rec.record and rec.record.reviewer and rec.record.source_sha256 not in (None, whole):
        # The English changed since the review: the review does not cover the
        # new text, so the file says "not reviewed" again until someone does.
        new = _RECORD_REVIEWER.sub(r"\1reviewer: null", new, count=1)
        log.warning(
            "%s: the English changed since %s reviewed it; reviewer cleared, so its pages "
            "say 'Translation not yet reviewed' until it is reviewed again",
            shown,
            rec.record.reviewer,
        )
    write_atomic(real, new.encode("utf-8"), mode=real.stat().st_mode & 0o777)
    return shown, True
