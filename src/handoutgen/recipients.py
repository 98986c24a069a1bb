"""Recipient lists for mailings: CSV (as Excel exports it), XLSX, JSON and YAML.

Every row is checked before anything is rendered, and every problem is
reported as ``RECIPIENTS:ROW: field: message``. Messages name the row and the
field, never the value, so no patient data reaches a log or a report.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .content import Library, did_you_mean
from .errors import DataError, HandoutgenError
from .models import LANG_RE, Document

FIELDS = (
    "id",
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
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


@dataclass
class Recipient:
    row: int
    id: str
    fields: dict[str, Any] = field(default_factory=dict)

    def request_fields(self, document: str, letter_date: dt.date | None) -> dict[str, Any]:
        f = self.fields
        name = " ".join(x for x in (f.get("first_name"), f.get("last_name")) if x)
        return {
            "document": document,
            "patient": name or None,
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


def parse_map(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--map "Patient ID=id"`` -> {"patient id": "id"}."""
    mapping = {}
    for pair in pairs:
        column, sep, target = pair.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise DataError(f"--map takes COLUMN=FIELD, like 'MRN=id' (got '{pair}')")
        if target.strip() not in FIELDS:
            raise DataError(
                f"--map: '{target.strip()}' is not a recipient field"
                f"{did_you_mean(target.strip(), FIELDS)}; fields: {', '.join(FIELDS)}"
            )
        mapping[column.strip().lower()] = target.strip()
    return mapping


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Rows as (row number, {header: value}). Row numbers are what a user sees:
    the spreadsheet row (header = 1) for CSV and XLSX, the item number for lists."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            return _read_csv(path)
        if suffix == ".xlsx":
            return _read_xlsx(path)
        if suffix == ".json":
            return _read_list(path, json.loads(path.read_text(encoding="utf-8-sig")))
        if suffix in (".yaml", ".yml"):
            from .yamlfile import load_bounded  # depth- and alias-bounded

            return _read_list(path, load_bounded(path.read_text(encoding="utf-8-sig"), str(path)))
    except HandoutgenError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; export it as 'CSV UTF-8'") from None
    except (ValueError, OSError) as exc:
        # JSON and YAML errors carry a position, never row values.
        raise DataError(f"{path}: cannot read: {exc}") from None
    except Exception as exc:  # yaml.YAMLError, openpyxl's errors
        raise DataError(f"{path}: cannot read: {type(exc).__name__}") from None
    raise DataError(f"{path}: unknown format '{suffix}'; use .csv, .xlsx, .json or .yaml")


def _read_csv(path: Path) -> list[tuple[int, dict[str, Any]]]:
    text = path.read_text(encoding="utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    sample = text[:4096]
    first = sample.splitlines()[0] if sample else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return []
    header = [h.strip() for h in header]
    out = []
    for number, values in enumerate(reader, start=2):
        # The spreadsheet row: a quoted note with line breaks is still one row.
        if not any(v.strip() for v in values):
            continue
        out.append((number, dict(zip(header, values, strict=False))))
    return out


def _read_xlsx(path: Path) -> list[tuple[int, dict[str, Any]]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = wb.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, [])]
        out = []
        for number, values in enumerate(rows, start=2):
            if not any(v not in (None, "") for v in values):
                continue
            out.append((number, dict(zip(header, values, strict=False))))
        return out
    finally:
        wb.close()


def _read_list(path: Path, data: Any) -> list[tuple[int, dict[str, Any]]]:
    if isinstance(data, dict) and isinstance(data.get("recipients"), list):
        data = data["recipients"]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of recipients")
    out = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise DataError(f"{path}:{i}: expected a mapping of fields")
        out.append((i, item))
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets store ZIP codes and ids as numbers
    if isinstance(value, (dt.datetime, dt.date)):
        value = value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    text = str(value).strip()
    return text or None


def load_recipients(
    path: Path,
    library: Library,
    document: Document,
    mapping: dict[str, str] | None = None,
) -> tuple[list[Recipient], list[RowProblem]]:
    """Read and check every row; return the good rows and every problem found."""
    mapping = mapping or {}
    source = str(path)
    rows = read_rows(path)
    good: list[Recipient] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    columns = {
        mapping.get(str(k).strip().lower(), str(k).strip().lower()) for _, r in rows for k in r
    }
    if rows and "id" not in columns:
        return [], [
            RowProblem(
                source, 1, "id", "no 'id' column; add one, or map yours with --map COLUMN=id"
            )
        ]
    for number, raw in rows:
        fields: dict[str, Any] = {}
        for key, value in raw.items():
            name = mapping.get(str(key).strip().lower(), str(key).strip().lower())
            if name in FIELDS:
                fields[name] = _text(value)
        row_problems = _check_row(source, number, fields, library, document, seen)
        problems += row_problems
        if not row_problems:
            good.append(Recipient(number, fields["id"], fields))
    return good, problems


def _check_row(
    source: str,
    number: int,
    fields: dict[str, Any],
    library: Library,
    document: Document,
    seen: dict[str, int],
) -> list[RowProblem]:
    out = []

    def bad(name: str, message: str) -> None:
        out.append(RowProblem(source, number, name, message))

    rid = fields.get("id")
    if not rid:
        bad("id", "missing; every row needs a unique id")
    elif not SAFE_ID.match(rid) or rid.lower().split(".")[0] in _WINDOWS_RESERVED:
        bad(
            "id",
            "not a safe file name: use letters, digits, '.', '_' or '-' (at most 64), starting with a letter or digit",
        )
    elif rid in seen:
        bad("id", f"duplicate of row {seen[rid]}")
    else:
        seen[rid] = number
    if fields.get("options"):
        ids = [o.strip() for o in fields["options"].split(";") if o.strip()]
        for opt in ids:
            if opt not in library.options:
                bad("options", f"unknown option '{opt}'{did_you_mean(opt, library.options)}")
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
    for name, limit in (("first_name", 300), ("last_name", 300), ("note", 20_000)):
        if fields.get(name) and len(fields[name]) > limit:
            bad(name, f"longer than {limit} characters")
    return out
