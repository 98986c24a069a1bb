"""Import profiles: how one practice system's export is read, saved once
(``--save-profile``) and used every month (``--profile``).

A profile is YAML::

    sheet: This month            # the sheet to read (default: the active one)
    header_row: 4                # the header's row (default: found below title rows)
    columns:                     # column header -> recipient field
      MRN: id
      Rendering Provider: clinician
    values:                      # field -> {value in the file: value to use}
      language: {Spanish: es}
    names: title                 # ALL-CAPS names printed as "Maria Lopez" (the default)
    options: conservative-care   # options of rows that name none
    include_hidden: false

Languages are also understood without a map: codes in any form ("SPA",
"spa", "es-MX") through langcodes, and common names in English and in the
language itself ("Spanish", "español").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handoutgen.core.errors import DataError
from handoutgen.mailing.sheets import clip

# The recipient fields a column can be read as (recipients.py reads them).
FIELDS = (
    "id",
    "name",
    "first_name",
    "last_name",
    "address1",
    "address2",
    "city",
    "state",
    "zip",
    "language",
    "options",
    "clinician",
    "visit_date",
    "note",
    "fhir_patient",  # the EHR's Patient id: name and language from the record
)
# "title": names typed in capitals in proper case (content/names.py);
# "as-given": every name exactly as in the file.
NAME_CASES = ("as-given", "title")

# Language names people type, folded (lower case): English name and endonym.
# langcodes finds any name with its optional language_data package, which is
# not installed; these are the languages US clinics mail in most.
LANGUAGE_NAMES = {
    "english": "en", "spanish": "es", "español": "es", "espanol": "es", "castellano": "es",
    "chinese": "zh", "mandarin": "zh", "cantonese": "zh", "中文": "zh", "汉语": "zh",
    "arabic": "ar", "العربية": "ar", "french": "fr", "français": "fr", "francais": "fr",
    "vietnamese": "vi", "tiếng việt": "vi", "korean": "ko", "한국어": "ko", "russian": "ru",
    "русский": "ru", "portuguese": "pt", "português": "pt", "tagalog": "tl", "filipino": "tl",
    "haitian creole": "ht", "kreyòl": "ht", "polish": "pl", "polski": "pl", "german": "de",
    "deutsch": "de", "italian": "it", "italiano": "it", "japanese": "ja", "日本語": "ja",
    "hindi": "hi", "हिन्दी": "hi", "somali": "so", "amharic": "am", "farsi": "fa",
    "persian": "fa", "urdu": "ur", "bengali": "bn", "nepali": "ne", "burmese": "my",
    "ukrainian": "uk", "greek": "el", "hmong": "hmn", "khmer": "km", "navajo": "nv",
}  # fmt: skip


@dataclass
class ImportProfile:
    sheet: str | None = None
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)  # header as written -> field
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    names: str = "title"
    options: str | None = None
    include_hidden: bool = False

    def to_yaml(self) -> str:
        import yaml

        data: dict[str, Any] = {}
        if self.sheet is not None:
            data["sheet"] = self.sheet
        if self.header_row is not None:
            data["header_row"] = self.header_row
        if self.columns:
            data["columns"] = dict(self.columns)
        if self.values:
            data["values"] = {f: dict(m) for f, m in sorted(self.values.items())}
        if self.names != "title":
            data["names"] = self.names
        if self.options:
            data["options"] = self.options
        if self.include_hidden:
            data["include_hidden"] = True
        head = "# handoutgen import profile: use it with `handoutgen batch ... --profile FILE`\n"
        return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    def save(self, path: Path) -> None:
        from handoutgen.core.output import write_atomic

        write_atomic(path, self.to_yaml().encode("utf-8"))


def load_profile(path: Path) -> ImportProfile:
    """Read a profile; every problem is located (file, line) and says what to write."""
    from handoutgen.content.yamlfile import load_bounded

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"--profile {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"--profile {path}: cannot read: {clip(exc)}") from None
    data = load_bounded(text, str(path)) or {}
    if not isinstance(data, dict):
        raise DataError(f"{path}: a profile is a mapping (sheet:, columns:, values: ...)")
    lines = text.splitlines()

    def where(key: str) -> str:
        for i, line in enumerate(lines, start=1):
            if line.lstrip().startswith((f"{key}:", f"'{key}':", f'"{key}":')):
                return f"{path}:{i}"
        return str(path)

    known = ("sheet", "header_row", "columns", "values", "names", "options", "include_hidden")
    from handoutgen.content.library import did_you_mean

    for key in data:
        if key not in known:
            raise DataError(
                f"{where(str(key))}: unknown key '{clip(key)}'{did_you_mean(str(key), known)}; "
                f"a profile has {', '.join(known)}"
            )
    profile = ImportProfile()
    if data.get("sheet") is not None:
        profile.sheet = str(data["sheet"])
    if data.get("header_row") is not None:
        row = data["header_row"]
        if not isinstance(row, int) or isinstance(row, bool) or row < 1:
            raise DataError(f"{where('header_row')}: header_row is a row number, like 4")
        profile.header_row = row
    columns = data.get("columns") or {}
    if not isinstance(columns, dict):
        raise DataError(f"{where('columns')}: columns maps a header to a field, like 'MRN: id'")
    for header, target in columns.items():
        if str(target) not in FIELDS:
            raise DataError(
                f"{where(str(header))}: '{clip(target)}' is not a recipient field"
                f"{did_you_mean(str(target), FIELDS)}; fields: {', '.join(FIELDS)}"
            )
        profile.columns[str(header)] = str(target)
    values = data.get("values") or {}
    if not isinstance(values, dict) or not all(isinstance(m, dict) for m in values.values()):
        raise DataError(
            f"{where('values')}: values maps a field to {{value in the file: value}}, like "
            "'language: {Spanish: es}'"
        )
    for name, mapping in values.items():
        if str(name) not in FIELDS:
            raise DataError(
                f"{where(str(name))}: '{clip(name)}' is not a recipient field"
                f"{did_you_mean(str(name), FIELDS)}"
            )
        profile.values[str(name)] = {str(k): str(v) for k, v in mapping.items()}
    names = data.get("names", "title")
    if names not in NAME_CASES:
        raise DataError(f"{where('names')}: names is one of {', '.join(NAME_CASES)}")
    profile.names = names
    if data.get("options") is not None:
        profile.options = str(data["options"])
    profile.include_hidden = bool(data.get("include_hidden", False))
    return profile


def parse_values(pairs: tuple[str, ...] | list[str]) -> dict[str, dict[str, str]]:
    """``--value "language:Spanish=es"`` -> {"language": {"Spanish": "es"}}."""
    from handoutgen.content.library import did_you_mean

    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        name, colon, rest = pair.partition(":")
        source, eq, target = rest.partition("=")
        if not colon or not eq or not name.strip() or not source.strip():
            raise DataError(
                f"--value takes FIELD:VALUE=NEW, like 'language:Spanish=es' (got '{clip(pair)}')"
            )
        if name.strip() not in FIELDS:
            raise DataError(
                f"--value: '{clip(name.strip())}' is not a recipient field"
                f"{did_you_mean(name.strip(), FIELDS)}"
            )
        out.setdefault(name.strip(), {})[source.strip()] = target.strip()
    return out


def language_code(value: str) -> str | None:
    """ "Spanish", "español", "SPA", "es-MX" -> "es"; None if not a language."""
    import langcodes

    text = value.strip()
    if text.casefold() in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[text.casefold()]
    try:
        if not langcodes.tag_is_valid(text):
            return None
        tag = langcodes.standardize_tag(text)
    except (ValueError, LookupError):
        return None
    lang = langcodes.Language.get(tag)
    return lang.language if lang.language and lang.language != "und" else None
