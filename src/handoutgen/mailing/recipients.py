"""Recipient lists for mailings: columns read as fields, and every row checked.

Every row is read (sheets.py) and checked before anything is rendered, and
every problem is reported as ``RECIPIENTS:ROW (MRN 100234): field: message``:
the spreadsheet row and the record's own id. A raw cell value is echoed only
where the user needs it to find a typo (an option id, a language), and never
beyond 40 characters, so patient data does not reach a log or a report.

Column headers are matched the way people write them: case, spaces and
punctuation do not matter, and common synonyms (``First Name``, ``Surname``,
``Address 1``, ``Zip Code``, ``MRN``...) map to the recipient fields. A header
that maps to nothing is reported, with a "did you mean" where one fits.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handoutgen.content.library import Library, did_you_mean, not_offered
from handoutgen.content.models import LANG_RE, Document
from handoutgen.content.names import clinician_name, family_name, given_name, person_name
from handoutgen.core.errors import DataError
from handoutgen.mailing.addresses import fix_zip, state_code, usps
from handoutgen.mailing.chart import FIELD, Chart, fill_from_record
from handoutgen.mailing.importprofile import (
    FIELDS,
    ImportProfile,
    language_code,
)
from handoutgen.mailing.sheets import (
    DEFAULT_MAX_INPUT,
    EXTRA,
    FORMULAS,
    Sheet,
    clip,
    read_sheet,
)

# Header synonyms, by their folded form (lower case, letters and digits only).
SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        [
            "id",
            "patientid",
            "mrn",
            "medicalrecordnumber",
            "medicalrecordno",
            "recordid",
            "recordnumber",
            "chartnumber",
            "chartno",
            "patientnumber",
            "patientno",
        ],
        "id",
    ),
    **dict.fromkeys(["name", "fullname", "patientname", "patient"], "name"),
    **dict.fromkeys(
        ["firstname", "first", "givenname", "given", "forename", "fname", "patientfirstname"],
        "first_name",
    ),
    **dict.fromkeys(
        ["lastname", "last", "surname", "familyname", "family", "lname", "patientlastname"],
        "last_name",
    ),
    **dict.fromkeys(
        [
            "address1",
            "address",
            "addressline1",
            "street",
            "streetaddress",
            "street1",
            "addr1",
            "mailingaddress",
        ],
        "address1",
    ),
    **dict.fromkeys(
        ["address2", "addressline2", "street2", "addr2", "apt", "apartment", "suite", "unit"],
        "address2",
    ),
    **dict.fromkeys(["city", "town", "cityortown"], "city"),
    **dict.fromkeys(["state", "st", "stateprovince", "statecode"], "state"),
    **dict.fromkeys(
        ["zip", "zipcode", "zip5", "postalcode", "postcode", "postal", "zippostalcode"], "zip"
    ),
    **dict.fromkeys(["language", "lang", "preferredlanguage", "languagecode"], "language"),
    **dict.fromkeys(["options", "option", "treatmentoptions", "treatments"], "options"),
    **dict.fromkeys(
        [
            "clinician",
            "provider",
            "doctor",
            "physician",
            "providername",
            "renderingprovider",
            "attendingprovider",
            "attending",
            "surgeon",
        ],
        "clinician",
    ),
    **dict.fromkeys(
        ["visitdate", "dateofvisit", "visit", "lastvisit", "lastvisitdate", "appointmentdate"],
        "visit_date",
    ),
    **dict.fromkeys(["note", "notes", "message", "personalnote"], "note"),
    **dict.fromkeys(["fhirpatient", "fhirpatientid", "fhirid"], "fhir_patient"),
}

# What a letter cannot go out without: a name and a full US mailing address.
LETTER_REQUIRED = ("address1", "city", "state", "zip")

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


# How a row's names are put in proper case (names: title).
RECASE = {
    "name": person_name,
    "first_name": given_name,
    "last_name": family_name,
    "clinician": clinician_name,
}


@dataclass
class Recipient:
    row: int
    id: str
    fields: dict[str, Any] = field(default_factory=dict)
    names: str = "title"  # the import profile's names: "as-given" keeps them as in the file

    @property
    def name(self) -> str | None:
        f = self.fields
        return " ".join(x for x in (f.get("first_name"), f.get("last_name")) if x) or f.get("name")

    def request_fields(
        self, document: str, letter_date: dt.date | None, clinic: str | None = None
    ) -> dict[str, Any]:
        f = self.fields
        return {
            "document": document,
            # Only when given: rows of a run without --clinic keep their fingerprints.
            **({"clinic": clinic} if clinic else {}),
            "patient": self.name,
            "first_name": f.get("first_name"),
            "last_name": f.get("last_name"),
            "address1": f.get("address1"),
            "address2": f.get("address2"),
            "city": f.get("city"),
            "state": f.get("state"),
            "zip": f.get("zip"),
            "language": f.get("language"),
            "options": f.get("options"),
            "clinician": f.get("clinician"),
            "visit_date": f.get("visit_date"),
            "note": f.get("note"),
            "letter_date": letter_date,
            # Only when asked: other rows keep their fingerprints.
            **({"names": "as-given"} if self.names == "as-given" else {}),
            # Only with a Mailer ID: other mailings keep their fingerprints.
            **({"imb": f["imb"]} if f.get("imb") else {}),
            # Only in large print (batch --large-print), likewise.
            **({"large_print": True} if f.get("large_print") else {}),
        }


@dataclass(frozen=True)
class RowProblem:
    source: str
    row: int
    field: str
    message: str
    record: str = ""  # the record's own id, as "MRN 100234"; "" if it has none
    rollup: str = ""  # many alike are shown as one line: "ZIPs restored"

    def __str__(self) -> str:
        who = f" ({self.record})" if self.record else ""
        return f"{self.source}:{self.row}{who}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Column:
    """One header of the recipient file and what it was read as."""

    header: str
    field: str | None  # None: ignored
    hint: str = ""  # "did you mean" for an ignored column


@dataclass
class RecipientList:
    """Everything read from a recipient file: rows, problems and how columns were read."""

    source: str
    rows: int  # data rows read (blank rows are not counted)
    good: list[Recipient]
    problems: list[RowProblem]
    columns: list[Column]
    warnings: list[RowProblem] = field(default_factory=list)
    sheet: Sheet | None = None  # how the file was read (sheet, header row, hidden rows)
    # (field, value in the file) -> [value used, rows]: the dry run shows them
    mapped_values: dict[tuple[str, str], list] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)
    raw: dict[int, dict[str, Any]] = field(default_factory=dict)  # bad rows, as read
    records: dict[int, str] = field(default_factory=dict)  # row -> "MRN 100234"
    empty_headers: int = 0  # columns without a header that hold values

    @property
    def ignored(self) -> list[Column]:
        return [c for c in self.columns if c.field is None]

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})


def fold(header: str) -> str:
    """``"First Name"``, ``"first_name"``, ``"FIRST-NAME"`` -> ``"firstname"``."""
    return re.sub(r"[^0-9a-z]", "", header.casefold())


def parse_map(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--map "Patient ID=id"`` -> {"patientid": "id"} (headers folded like the file's)."""
    mapping = {}
    for pair in pairs:
        column, sep, target = pair.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise DataError(f"--map takes COLUMN=FIELD, like 'MRN=id' (got '{clip(pair)}')")
        if target.strip() not in FIELDS:
            raise DataError(
                f"--map: '{clip(target.strip())}' is not a recipient field"
                f"{did_you_mean(target.strip(), FIELDS)}; fields: {', '.join(FIELDS)}"
            )
        mapping[fold(column)] = target.strip()
    return mapping


def map_columns(headers: list[str], mapping: dict[str, str]) -> tuple[list[Column], list[str]]:
    """How each header is read, and file-level problems (two columns for one field)."""
    columns: list[Column] = []
    taken: dict[str, str] = {}
    problems: list[str] = []
    for header in headers:
        key = fold(header)
        target = mapping.get(key) or SYNONYMS.get(key)
        if not header.strip():
            continue
        if target is None:
            columns.append(Column(header, None, _hint(header, key, taken)))
            continue
        if target in taken:
            problems.append(
                f"columns '{clip(taken[target])}' and '{clip(header)}' both read as '{target}'; "
                f"remove one, or say which with --map"
            )
            columns.append(Column(header, None, f"'{target}' is read from '{clip(taken[target])}'"))
            continue
        taken[target] = header
        columns.append(Column(header, target))
    return columns, problems


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets store ZIP codes and ids as numbers
    if isinstance(value, (dt.datetime, dt.date)):
        value = value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    if not isinstance(value, (str, int, float)):
        return "\0"  # a list or mapping where text belongs: reported by the row check
    text = str(value).strip()
    return text or None


def _hint(header: str, key: str, taken: dict[str, str]) -> str:
    """ "Rendering Provider" -> "did you mean 'clinician'? ...": a near spelling,
    or a known name inside it ("provider")."""
    close = difflib.get_close_matches(key, list(SYNONYMS), n=1, cutoff=0.75)
    inside = [k for k in SYNONYMS if len(k) >= 5 and k in key]
    found = SYNONYMS[close[0]] if close else (SYNONYMS[max(inside, key=len)] if inside else "")
    if not found:
        return ""
    if found in taken:
        return f"did you mean '{found}'? it is read from '{clip(taken[found])}'"
    return f"did you mean '{found}'? read it with --map '{clip(header)}={found}'"


# -- checking -------------------------------------------------------------------


def load_recipients(
    path: Path,
    library: Library,
    document: Document,
    mapping: dict[str, str] | None = None,
    *,
    encoding: str = "utf-8-sig",
    max_bytes: int = DEFAULT_MAX_INPUT,
    profile: ImportProfile | None = None,
    address_style: str = "usps",
    chart: Chart | None = None,
) -> RecipientList:
    """Read and check every row; return the good rows and every problem found.
    Rows with a fhir_patient id are filled from ``chart`` (mailing/chart.py)."""
    profile = profile or ImportProfile()
    mapping = {
        **{fold(k): v for k, v in profile.columns.items()},
        **{fold(k): v for k, v in (mapping or {}).items()},
    }
    source = str(path)
    sheet = read_sheet(
        path,
        lambda text: fold(text) in SYNONYMS or fold(text) in mapping,
        encoding=encoding,
        max_bytes=max_bytes,
        sheet=profile.sheet,
        header_row=profile.header_row,
        include_hidden=profile.include_hidden,
    )
    headers = sheet.headers
    head = sheet.header_row or 1
    hidden = set(sheet.hidden_columns)
    columns, file_problems = map_columns([h for h in headers if h not in hidden], mapping)
    columns += [Column(h, None, "hidden column; --include-hidden reads it") for h in hidden]
    result = RecipientList(
        source,
        0,
        [],
        [RowProblem(source, head, "columns", m) for m in file_problems],
        columns,
        sheet=sheet,
        headers=headers,
    )
    by_header = {c.header: c.field for c in columns if c.field}
    id_header = next((h for h, f in by_header.items() if f == "id"), "id")
    read_as = set(by_header.values())
    where = (
        ""
        if sheet.found_header
        else (
            f"; the header was taken from row {head}: if it is lower down (below a report's "
            "title rows), name it with --header-row N"
        )
    )
    present = {fold(h): h for h in headers if h}
    for column in profile.columns:
        if fold(column) not in present:
            result.problems.append(
                RowProblem(
                    source,
                    head,
                    "columns",
                    f"no column '{clip(column)}' to read as {profile.columns[column]}"
                    f"{did_you_mean(column, list(present.values()))} (the profile or --map "
                    "names it)",
                )
            )
    if "id" not in read_as:
        result.problems.append(
            RowProblem(
                source,
                head,
                "id",
                f"no 'id' column; add one, or map yours with --map COLUMN=id{where}",
            )
        )
    for problem in _chart_columns(read_as, chart):
        result.problems.append(RowProblem(source, head, FIELD, problem))
    letter = document.kind == "letter"
    if letter:
        lacking = [f for f in LETTER_REQUIRED if f not in read_as]
        if not read_as & {"name", "first_name", "last_name", FIELD}:
            lacking.insert(0, "first_name/last_name")
        if lacking:
            result.problems.append(
                RowProblem(
                    source,
                    head,
                    "columns",
                    f"a letter needs {', '.join(lacking)}; no column reads as "
                    f"{'it' if len(lacking) == 1 else 'them'} (map yours with --map COLUMN=FIELD)"
                    + ("" if "id" not in read_as else where),
                )
            )
    if result.problems:
        return result
    result.empty_headers = sum(1 for h in headers if not h)
    seen: dict[str, tuple[int, str]] = {}
    languages: dict[tuple, str | None] = {}
    for number, raw in sheet.rows:
        result.rows += 1
        fields: dict[str, Any] = {}
        extra = raw.pop(EXTRA, None)
        formulas = raw.pop(FORMULAS, {})
        for key, value in raw.items():
            name = by_header.get(str(key))
            if name:
                fields[name] = _text(value)
        rid = fields.get("id")
        record = f"{clip(id_header)} {rid}" if rid and SAFE_ID.match(rid) else ""
        result.records[number] = record
        problems = [
            RowProblem(
                source,
                number,
                by_header[h],
                f"cell {cell} is a formula with no saved value: open and save the workbook "
                "in Excel, or type the value",
            )
            for h, cell in formulas.items()
            if h in by_header
        ]
        _apply_profile(fields, profile, result.mapped_values, letter)
        if fields.get(FIELD) and chart is not None:
            problems += [
                RowProblem(source, number, name, message)
                for name, message in fill_from_record(chart, library, document.id, fields)
            ]
        found, warnings = _check_row(source, number, fields, library, letter, seen, address_style)
        problems += found
        if not problems and (
            refused := not_offered(library, document, fields.get("options") or ())
        ):
            problems.append(RowProblem(source, number, "options", refused))
        if not problems and fields.get("language"):
            problems += _check_language(source, number, fields, library, document, languages)
        if extra and any(str(v).strip() for v in extra):
            problems.append(
                RowProblem(
                    source,
                    number,
                    "columns",
                    f"{len(extra)} more value{'s' if len(extra) != 1 else ''} than there are "
                    "headers; is a comma missing its quotes?",
                )
            )
        if record:
            problems = [_named(p, record) for p in problems]
            warnings = [_named(p, record) for p in warnings]
        result.problems += problems
        result.warnings += warnings
        if problems:
            result.raw[number] = {str(k): v for k, v in raw.items() if k in headers}
        else:
            result.good.append(Recipient(number, fields["id"], fields, profile.names))
    return result


def _chart_columns(read_as: set[str], chart: Chart | None) -> list[str]:
    if FIELD in read_as and chart is None:
        return ["the file has a fhir_patient column: name the EHR with --fhir-server URL"]
    if FIELD not in read_as and chart is not None and chart.write_back:
        return [
            "--write-back stores the letters of rows with a fhir_patient id; no column reads as it"
        ]
    return []


def _named(problem: RowProblem, record: str) -> RowProblem:
    return RowProblem(
        problem.source, problem.row, problem.field, problem.message, record, problem.rollup
    )


def _apply_profile(
    fields: dict[str, Any],
    profile: ImportProfile,
    counts: dict[tuple[str, str], list],
    letter: bool,
) -> None:
    """Value maps, language names, name casing and default options, counted
    for the dry run."""
    for name, table in profile.values.items():
        value = fields.get(name)
        if value is not None and value in table:
            fields[name] = table[value] or None
            counts.setdefault((name, value), [fields[name], 0])[1] += 1
    lang = fields.get("language")
    if lang and not (LANG_RE.match(lang) and lang == lang.lower()):
        code = language_code(lang)
        if code:
            fields["language"] = code
            counts.setdefault(("language", lang), [code, 0])[1] += 1
    if profile.names == "title":  # the letter's render does the same (make_request)
        for name, recase in RECASE.items():
            if fields.get(name):
                fields[name] = recase(fields[name])
    if profile.options and not fields.get("options"):
        fields["options"] = profile.options


def _check_language(
    source: str,
    number: int,
    fields: dict[str, Any],
    library: Library,
    document: Document,
    cache: dict[tuple, str | None],
) -> list[RowProblem]:
    """A row's language must be one this document (with the row's options) has
    in full: an unknown or untranslated language is a row error, never an
    English letter."""
    from handoutgen.render.context import language_gate

    lang = fields["language"]
    ids = fields.get("options") or tuple(document.options)
    key = (lang, tuple(ids))
    if key not in cache:
        try:
            language_gate(library, document, [library.options[i] for i in ids], lang)
            cache[key] = None
        except DataError:
            from handoutgen.render.context import document_languages

            have = ", ".join(document_languages(library, document.id))
            cache[key] = (
                f"'{clip(lang)}' is not a language this document is translated into with "
                f"these options (it has: {have}); fix the value or leave it empty for "
                f"{document.language}"
            )
    message = cache[key]
    return [RowProblem(source, number, "language", message)] if message else []


def _check_row(
    source: str,
    number: int,
    fields: dict[str, Any],
    library: Library,
    letter: bool,
    seen: dict[str, tuple[int, str]],
    address_style: str = "usps",
) -> tuple[list[RowProblem], list[RowProblem]]:
    out: list[RowProblem] = []
    warn: list[RowProblem] = []

    def bad(name: str, message: str) -> None:
        out.append(RowProblem(source, number, name, message))

    for name, value in fields.items():
        if value == "\0":
            bad(name, "expected text, got a list or mapping")
    if any(p.message.startswith("expected text") for p in out):
        return out, warn
    rid = fields.get("id")
    if not rid:
        bad("id", "missing; every row needs a unique id")
    elif not SAFE_ID.match(rid) or rid.lower().split(".")[0] in _WINDOWS_RESERVED:
        bad(
            "id",
            "not a safe file name: use letters, digits, '.', '_' or '-' (at most 64), starting with a letter or digit",
        )
    elif rid.casefold() in seen:
        first_row, first_id = seen[rid.casefold()]
        if first_id == rid:
            bad("id", f"duplicate of row {first_row}")
        else:
            bad(
                "id",
                f"same as row {first_row}'s id but for upper/lower case; the two files would "
                "overwrite each other on macOS and Windows",
            )
    else:
        seen[rid.casefold()] = (number, rid)
    if fields.get("options"):
        raw = fields["options"]
        ids = [o.strip() for o in raw.split(";") if o.strip()]
        if any("," in o for o in ids):
            bad("options", "separate options with ';', like 'fusion;decompression'")
        else:
            for opt in ids:
                if opt not in library.options:
                    bad(
                        "options",
                        f"unknown option '{clip(opt)}'{did_you_mean(opt, library.options)}",
                    )
        fields["options"] = tuple(dict.fromkeys(ids)) or None
    else:
        fields["options"] = None
    if fields.get("visit_date"):
        try:
            fields["visit_date"] = dt.date.fromisoformat(fields["visit_date"][:10])
        except ValueError:
            bad("visit_date", "not a date; use YYYY-MM-DD")
    if fields.get("language") and not LANG_RE.match(fields["language"]):
        bad(
            "language",
            f"'{clip(fields['language'])}' is not a language name or code like 'es' or "
            f"'Spanish'; map it with --value 'language:{clip(fields['language'])}=CODE'",
        )
    for name, limit in (
        ("name", 300),
        ("first_name", 300),
        ("last_name", 300),
        ("address1", 300),
        ("address2", 300),
        ("city", 200),
        ("clinician", 300),
        ("note", 20_000),
    ):
        if fields.get(name) and len(fields[name]) > limit:
            bad(name, f"longer than {limit} characters")
    if fields.get("state"):
        code = state_code(fields["state"])
        if code:
            fields["state"] = code
        elif letter:
            bad("state", "not a US state; use its two-letter code, like 'IL'")
    if fields.get("zip"):
        fixed, message = fix_zip(fields["zip"])
        if fixed is None:
            if letter:
                bad("zip", message)
        else:
            fields["zip"] = fixed
            if message:
                warn.append(RowProblem(source, number, "zip", message, rollup="ZIPs restored"))
    if letter:
        if not any(fields.get(k) for k in ("first_name", "last_name", "name", FIELD)):
            bad("name", "missing; a letter needs the recipient's name")
        for name in LETTER_REQUIRED:
            if not fields.get(name):
                bad(name, "missing; a letter needs a full mailing address")
        if not out and address_style == "usps":
            problems, warnings = usps(fields)
            for name, message in problems:
                bad(name, message)
            for name, message in warnings:
                warn.append(
                    RowProblem(source, number, name, message, rollup=_ROLLUPS.get(name, ""))
                )
    return out, warn


_ROLLUPS = {"address1": "addresses to check"}
