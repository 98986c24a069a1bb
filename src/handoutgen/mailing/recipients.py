"""Recipient lists for mailings: CSV (as Excel exports it), XLSX, JSON and YAML.

Every row is read and checked before anything is rendered, and every problem is
reported as ``RECIPIENTS:ROW: field: message``. Messages name the row and the
field; a raw cell value is echoed only where the user needs it to find a typo
(an option id), and never beyond 40 characters, so patient data does not reach
a log or a report.

Column headers are matched the way people write them: case, spaces and
punctuation do not matter, and common synonyms (``First Name``, ``Surname``,
``Address 1``, ``Zip Code``, ``MRN``...) map to the recipient fields. A header
that maps to nothing is reported, with a "did you mean" where one fits.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handoutgen.content.library import Library, did_you_mean, not_offered
from handoutgen.content.models import LANG_RE, Document
from handoutgen.core.errors import DataError, HandoutgenError

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
    **dict.fromkeys(["clinician", "provider", "doctor", "physician", "providername"], "clinician"),
    **dict.fromkeys(
        ["visitdate", "dateofvisit", "visit", "lastvisit", "lastvisitdate", "appointmentdate"],
        "visit_date",
    ),
    **dict.fromkeys(["note", "notes", "message", "personalnote"], "note"),
}

# What a letter cannot go out without: a name and a full US mailing address.
LETTER_REQUIRED = ("address1", "city", "state", "zip")

US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
    "guam": "GU", "us virgin islands": "VI", "american samoa": "AS",
    "northern mariana islands": "MP",
}  # fmt: skip
STATE_CODES = set(US_STATES.values()) | {"AA", "AE", "AP", "FM", "MH", "PW"}

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}
ZIP_RE = re.compile(r"^\d{5}(-\d{4})?$")
DEFAULT_MAX_INPUT = 200 * 1024 * 1024  # bytes; --max-input-size
ECHO = 40  # at most this many characters of a raw value in a message


@dataclass
class Recipient:
    row: int
    id: str
    fields: dict[str, Any] = field(default_factory=dict)

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
        }


@dataclass(frozen=True)
class RowProblem:
    source: str
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.row}: {self.field}: {self.message}"


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

    @property
    def ignored(self) -> list[Column]:
        return [c for c in self.columns if c.field is None]

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})


def fold(header: str) -> str:
    """``"First Name"``, ``"first_name"``, ``"FIRST-NAME"`` -> ``"firstname"``."""
    return re.sub(r"[^0-9a-z]", "", header.casefold())


def clip(value: object) -> str:
    text = str(value)
    return text if len(text) <= ECHO else text[: ECHO - 1] + "…"


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
            close = difflib.get_close_matches(key, list(SYNONYMS), n=1, cutoff=0.75)
            hint = f"did you mean '{SYNONYMS[close[0]]}'?" if close else ""
            columns.append(Column(header, None, hint))
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


# -- reading -------------------------------------------------------------------


def human_size(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def check_size(path: Path, max_bytes: int) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    if size > max_bytes:
        raise DataError(
            f"{path}: {human_size(size)} is over the {human_size(max_bytes)} limit for a "
            "recipient file; split it, or raise the limit with --max-input-size"
        )


def iter_rows(
    path: Path, encoding: str = "utf-8-sig", max_bytes: int = DEFAULT_MAX_INPUT
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """(headers, rows as (row number, {header: value})). Row numbers are what a
    user sees: the spreadsheet row (header = 1) for CSV and XLSX, the item
    number for lists."""
    check_size(path, max_bytes)
    suffix = path.suffix.lower()
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"--encoding: unknown encoding '{clip(encoding)}'") from None
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            return _read_csv(path, encoding)
        if suffix == ".xlsx":
            return _read_xlsx(path, max_bytes)
        if suffix == ".json":
            return _read_list(path, json.loads(path.read_text(encoding="utf-8-sig")))
        if suffix in (".yaml", ".yml"):
            from handoutgen.content.yamlfile import load_bounded  # depth- and alias-bounded

            return _read_list(path, load_bounded(path.read_text(encoding="utf-8-sig"), str(path)))
    except HandoutgenError:
        raise
    except UnicodeDecodeError:
        raise _not_text(path, encoding) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read: {clip(exc)}") from None
    except Exception as exc:  # yaml.YAMLError, openpyxl's errors: no row values in them
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise DataError(f"{path}{where}: cannot read: {type(exc).__name__}") from None
    raise DataError(f"{path}: unknown format '{clip(suffix)}'; use .csv, .xlsx, .json or .yaml")


def _read_csv(path: Path, encoding: str) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    fh = open(path, encoding=encoding, newline="")  # noqa: SIM115 - closed by the iterator
    try:
        first = fh.readline()
        fh.seek(0)
        # Excel writes ';' in locales with a decimal comma, and tabs for .tsv/.txt.
        delimiter = max((",", ";", "\t"), key=first.count) if first else ","
        reader = csv.reader(fh, delimiter=delimiter)
        header = [h.strip() for h in next(reader, [])]
    except BaseException:
        fh.close()
        raise

    def numbered() -> Iterator[tuple[int, dict[str, Any]]]:
        # Rows count as a spreadsheet shows them: one per record (a quoted note
        # with line breaks is one row), blank ones included.
        number = 1
        with fh:
            try:
                for values in reader:
                    number += 1
                    if any(v.strip() for v in values):
                        yield number, _zip_row(header, values)
            except csv.Error as exc:
                raise DataError(f"{path}:{number + 1}: not valid CSV: {clip(exc)}") from None
            except UnicodeDecodeError:
                raise _not_text(path, encoding) from None

    return header, numbered()


def _not_text(path: Path, encoding: str) -> DataError:
    """The error for a file that is not in ``encoding``, at the first line that is not."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 0
    with open(path, "rb") as fh:
        for line, raw in enumerate(fh, start=1):  # noqa: B007 - the line is reported
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                break
    return DataError(
        f"{path}:{line}: not {encoding} text; export it as 'CSV UTF-8', or name its "
        "encoding with --encoding (older Excel writes cp1252)"
    )


def _zip_row(header: list[str], values: list[Any]) -> dict[str, Any]:
    row = dict(zip(header, values, strict=False))
    if len(values) > len(header):
        row["\0extra"] = values[len(header) :]
    return row


def _read_xlsx(
    path: Path, max_bytes: int
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    # An XLSX is a zip of XML: refuse one that would decompress beyond the cap
    # before any XML is parsed (the zip reader never yields more than a member's
    # declared size, so the declared sizes bound the work).
    with zipfile.ZipFile(path) as zf:
        unpacked = sum(info.file_size for info in zf.infolist())
    if unpacked > max_bytes:
        raise DataError(
            f"{path}: unpacks to {human_size(unpacked)}, over the {human_size(max_bytes)} "
            "limit; split it, or raise the limit with --max-input-size"
        )
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        sheet = wb.worksheets[0]
    except Exception as exc:  # noqa: BLE001 - openpyxl wraps everything in its own words
        raise _xlsx_error(path, exc) from None
    # Exporters store a sheet size (<dimension ref="A1:D2"/>) that can be stale;
    # read-only mode trusts it and would drop every row past it. Forget it.
    sheet.reset_dimensions()
    rows = sheet.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, ())]

    def numbered() -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            for number, values in enumerate(rows, start=2):
                if any(v not in (None, "") for v in values):
                    yield number, _zip_row(header, list(values))
        finally:
            wb.close()

    return header, numbered()


def _xlsx_error(path: Path, exc: BaseException) -> DataError:
    from defusedxml import DefusedXmlException

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DefusedXmlException):
            return DataError(
                f"{path}: refused: its XML declares entities, which spreadsheets never need "
                "(the shape of an entity-expansion attack); save it again from Excel"
            )
        seen = seen.__cause__ or seen.__context__
    return DataError(
        f"{path}: not a readable XLSX workbook ({type(exc).__name__}); open it in Excel and "
        "save it again"
    )


def _read_list(path: Path, data: Any) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    if isinstance(data, dict) and isinstance(data.get("recipients"), list):
        data = data["recipients"]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of recipients (or 'recipients:' holding one)")
    headers: dict[str, None] = {}
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise DataError(f"{path}:{i}: expected a mapping of fields")
        headers.update(dict.fromkeys(str(k) for k in item))
    return list(headers), iter(list(enumerate(data, start=1)))


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


# -- checking -------------------------------------------------------------------


def load_recipients(
    path: Path,
    library: Library,
    document: Document,
    mapping: dict[str, str] | None = None,
    *,
    encoding: str = "utf-8-sig",
    max_bytes: int = DEFAULT_MAX_INPUT,
) -> RecipientList:
    """Read and check every row; return the good rows and every problem found."""
    source = str(path)
    headers, rows = iter_rows(path, encoding, max_bytes)
    columns, file_problems = map_columns(headers, mapping or {})
    result = RecipientList(
        source, 0, [], [RowProblem(source, 1, "columns", m) for m in file_problems], columns
    )
    by_header = {c.header: c.field for c in columns if c.field}
    read_as = set(by_header.values())
    if "id" not in read_as:
        result.problems.append(
            RowProblem(
                source, 1, "id", "no 'id' column; add one, or map yours with --map COLUMN=id"
            )
        )
    letter = document.kind == "letter"
    if letter:
        lacking = [f for f in LETTER_REQUIRED if f not in read_as]
        if not read_as & {"name", "first_name", "last_name"}:
            lacking.insert(0, "first_name/last_name")
        if lacking:
            result.problems.append(
                RowProblem(
                    source,
                    1,
                    "columns",
                    f"a letter needs {', '.join(lacking)}; no column reads as "
                    f"{'it' if len(lacking) == 1 else 'them'} (map yours with --map COLUMN=FIELD)",
                )
            )
    if result.problems:
        return result
    seen: dict[str, tuple[int, str]] = {}
    languages: dict[tuple, str | None] = {}
    for number, raw in rows:
        result.rows += 1
        fields: dict[str, Any] = {}
        extra = raw.pop("\0extra", None)
        for key, value in raw.items():
            name = by_header.get(str(key))
            if name:
                fields[name] = _text(value)
        problems, warnings = _check_row(source, number, fields, library, letter, seen)
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
        result.problems += problems
        result.warnings += warnings
        if not problems:
            result.good.append(Recipient(number, fields["id"], fields))
    return result


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
        bad("language", "not a language code like 'en' or 'es'")
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
        state = fields["state"].strip().rstrip(".")
        code = state.upper() if state.upper() in STATE_CODES else US_STATES.get(state.lower())
        if code:
            fields["state"] = code
        elif letter:
            bad("state", "not a US state; use its two-letter code, like 'IL'")
    if fields.get("zip"):
        fixed, message = _zip(fields["zip"])
        if fixed is None:
            if letter:
                bad("zip", message)
        else:
            fields["zip"] = fixed
            if message:
                warn.append(RowProblem(source, number, "zip", message))
    if letter:
        if not (fields.get("first_name") or fields.get("last_name") or fields.get("name")):
            bad("name", "missing; a letter needs the recipient's name")
        for name in LETTER_REQUIRED:
            if not fields.get(name):
                bad(name, "missing; a letter needs a full mailing address")
    return out, warn


def _zip(value: str) -> tuple[str | None, str]:
    """(the ZIP code, a warning) or (None, the problem)."""
    text = value.strip()
    digits = text.replace("-", "").replace(" ", "")
    if ZIP_RE.match(text):
        return text, ""
    if digits.isdigit() and len(digits) == 9:
        return f"{digits[:5]}-{digits[5:]}", ""
    # A spreadsheet that stored the ZIP as a number lost its leading zeros.
    if digits.isdigit() and len(digits) in (3, 4):
        return digits.zfill(5), (
            f"had {len(digits)} digits; restored the leading zero a spreadsheet drops when it "
            "stores ZIP codes as numbers (format the column as text to keep them)"
        )
    if digits.isdigit() and len(digits) in (7, 8):
        full = digits.zfill(9)
        return f"{full[:5]}-{full[5:]}", (
            "restored the leading zero of a ZIP+4 that a spreadsheet stored as a number"
        )
    return None, "not a US ZIP code; use 12345 or 12345-6789"
