"""Reading a recipient file the way its operator sees it: CSV (as Excel
exports it), XLSX, JSON and YAML.

For a workbook that means the sheet that opens (the active one, or
``--sheet``), the header row below any report title rows, and neither the
rows an Excel filter hides nor hidden columns (unless asked). A formula cell
Excel never calculated has no value to read: it is reported by cell, never
read as empty. Row numbers are what a user sees: the spreadsheet row for CSV
and XLSX, the item number for lists.
"""

from __future__ import annotations

import codecs
import csv
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handoutgen.core.errors import DataError, HandoutgenError

DEFAULT_MAX_INPUT = 200 * 1024 * 1024  # bytes; --max-input-size
ECHO = 40  # at most this many characters of a raw value in a message
HEADER_SCAN = 20  # rows searched for the header below report title rows
EXTRA = "\0extra"  # row key: values beyond the last header (CSV)
FORMULAS = "\0formulas"  # row key: {header: cell} of formulas with no saved value


def clip(value: object) -> str:
    text = str(value)
    return text if len(text) <= ECHO else text[: ECHO - 1] + "…"


@dataclass
class Sheet:
    """What was read from a recipient file, and how. The ``hidden_rows`` fill
    in as ``rows`` is consumed."""

    headers: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]
    header_row: int = 1
    sheet: str | None = None  # XLSX: the sheet read
    others: list[str] = field(default_factory=list)  # XLSX: sheets not read
    hidden_rows: list[int] = field(default_factory=list)  # left out
    hidden_columns: list[str] = field(default_factory=list)  # headers left out
    found_header: bool = True  # False: no row looked like a header; row 1 (or N) was used


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


def read_sheet(
    path: Path,
    is_header: Callable[[str], bool],
    *,
    encoding: str = "utf-8-sig",
    max_bytes: int = DEFAULT_MAX_INPUT,
    sheet: str | None = None,
    header_row: int | None = None,
    include_hidden: bool = False,
) -> Sheet:
    """Open a recipient file. ``is_header(text)`` says whether a cell reads as
    a known column name; the header is the first of the top rows with two such
    cells (``header_row`` fixes it)."""
    check_size(path, max_bytes)
    suffix = path.suffix.lower()
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"--encoding: unknown encoding '{clip(encoding)}'") from None
    if sheet is not None and suffix != ".xlsx":
        raise DataError(f"--sheet: {path} is not a workbook (.xlsx); it has no sheets")
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            return _read_csv(path, encoding, is_header, header_row)
        if suffix == ".xlsx":
            return _read_xlsx(path, max_bytes, is_header, sheet, header_row, include_hidden)
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


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _find_header(
    rows: Iterator[tuple[int, list[Any]]],
    is_header: Callable[[str], bool],
    header_row: int | None,
    path: Path,
) -> tuple[int, list[Any], list[tuple[int, list[Any]]], bool]:
    """(header row number, its cells, rows read past it, found). Report
    exports put a title, a date and a blank line above the header."""
    seen: list[tuple[int, list[Any]]] = []
    for number, values in rows:
        seen.append((number, values))
        if header_row is not None:
            if number == header_row:
                return number, values, [], True
            continue
        known = sum(1 for v in values if not _blank(v) and is_header(str(v)))
        if known >= 2:
            return number, values, [], True
        if len(seen) >= HEADER_SCAN:
            break
    if header_row is not None:
        raise DataError(f"--header-row {header_row}: {path} has only {len(seen)} rows")
    # No row looks like a header: the first non-blank one is (as before), and
    # the column check says what to do.
    for i, (number, values) in enumerate(seen):
        if any(not _blank(v) for v in values):
            return number, values, seen[i + 1 :], False
    return 1, [], [], False


def _read_csv(
    path: Path, encoding: str, is_header: Callable[[str], bool], header_row: int | None
) -> Sheet:
    fh = open(path, encoding=encoding, newline="")  # noqa: SIM115 - closed by the iterator
    try:
        first = fh.readline()
        fh.seek(0)
        # Excel writes ';' in locales with a decimal comma, and tabs for .tsv/.txt.
        delimiter = max((",", ";", "\t"), key=first.count) if first else ","
        reader = csv.reader(fh, delimiter=delimiter)
        position = [0]

        def records() -> Iterator[tuple[int, list[Any]]]:
            # Rows count as a spreadsheet shows them: one per record (a quoted
            # note with line breaks is one row), blank ones included.
            try:
                for values in reader:
                    position[0] += 1
                    yield position[0], values
            except csv.Error as exc:
                raise DataError(f"{path}:{position[0] + 1}: not valid CSV: {clip(exc)}") from None
            except UnicodeDecodeError:
                raise _not_text(path, encoding) from None

        source = records()
        number, cells, pending, found = _find_header(source, is_header, header_row, path)
        header = [str(h).strip() for h in cells]
    except BaseException:
        fh.close()
        raise

    def numbered() -> Iterator[tuple[int, dict[str, Any]]]:
        with fh:
            for n, values in [*pending, *source]:
                if any(v.strip() for v in values):
                    yield n, _zip_row(header, values)

    return Sheet(header, numbered(), number, found_header=found)


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
        row[EXTRA] = values[len(header) :]
    return row


def _read_xlsx(
    path: Path,
    max_bytes: int,
    is_header: Callable[[str], bool],
    sheet_name: str | None,
    header_row: int | None,
    include_hidden: bool,
) -> Sheet:
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
        names = list(wb.sheetnames)
        # The sheet that opens in Excel, not the first: a workbook that keeps
        # last month's list first and this month's active must mail this month.
        ws = wb.active if sheet_name is None else None
    except Exception as exc:  # noqa: BLE001 - openpyxl wraps everything in its own words
        raise _xlsx_error(path, exc) from None
    if sheet_name is not None:
        match = [n for n in names if n == sheet_name] or [
            n for n in names if n.casefold() == sheet_name.casefold()
        ]
        if not match:
            wb.close()
            from handoutgen.content.library import did_you_mean

            raise DataError(
                f"--sheet: {path} has no sheet '{clip(sheet_name)}'"
                f"{did_you_mean(sheet_name, names)}; its sheets: "
                + ", ".join(f"'{clip(n)}'" for n in names)
            )
        ws = wb[match[0]]
    if ws is None or not hasattr(ws, "_get_source"):  # a chartsheet opens: read the first sheet
        ws = wb.worksheets[0]
    try:
        cells = _cells(ws)
        number, first, pending, found = _find_header(
            ((n, [c for c, _ in vals]) for n, vals, _ in cells), is_header, header_row, path
        )
    except BaseException:
        wb.close()
        raise
    hidden_cols = cells.hidden_columns
    header = [str(h).strip() if h is not None else "" for h in first]
    sheet = Sheet(header, iter(()), number, ws.title, [n for n in names if n != ws.title])
    sheet.found_header = found
    sheet.hidden_columns = [
        h for i, h in enumerate(header) if i + 1 in hidden_cols and h and not include_hidden
    ]
    left_out = set(sheet.hidden_columns)

    def numbered() -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            backlog = [(n, vals, hid) for n, vals, hid in cells.seen if n > number]
            for n, values, hidden in [*backlog, *cells]:
                if all(_blank(v) for v, _ in values):
                    continue
                if hidden and not include_hidden:
                    sheet.hidden_rows.append(n)
                    continue
                row = _zip_row(header, [v for v, _ in values])
                for h in left_out:
                    row.pop(h, None)
                formulas = {
                    header[i]: f"{_column_letter(i + 1)}{n}"
                    for i, (_, pending_formula) in enumerate(values)
                    if pending_formula and i < len(header)
                }
                if formulas:
                    row[FORMULAS] = formulas
                yield n, row
        finally:
            wb.close()

    del pending  # the cell reader keeps what it read past the header in .seen
    sheet.rows = numbered()
    return sheet


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


class _cells:
    """A sheet's rows as (row number, [(value, formula without a saved value)],
    hidden), from openpyxl's streaming parser, which reads the row and column
    attributes (hidden, from an Excel filter) that the read-only sheet drops."""

    def __init__(self, ws: Any) -> None:
        from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

        class Parser(WorkSheetParser):
            def parse_cell(self, element: Any) -> dict[str, Any]:
                cell = super().parse_cell(element)
                # data_only reads the value Excel saved; a formula written by a
                # script (or a file never opened in Excel) has none: no <v>, or
                # an empty one that is not a text result (Excel's "" is t="str").
                saved = element.find(VALUE_TAG)
                cell["unsaved"] = element.find(FORMULA_TAG) is not None and (
                    saved is None or (not saved.text and element.get("t") != "str")
                )
                return cell

        wb = ws.parent
        self.src = ws._get_source()
        self.parser = Parser(
            self.src,
            ws._shared_strings,
            data_only=True,
            epoch=wb.epoch,
            date_formats=wb._date_formats,
            timedelta_formats=wb._timedelta_formats,
        )
        self.rows = self.parser.parse()
        self.seen: list[tuple[int, list[tuple[Any, bool]], bool]] = []
        self.recording = True

    @property
    def hidden_columns(self) -> set[int]:
        out: set[int] = set()
        for attrs in self.parser.column_dimensions.values():
            if attrs.get("hidden") in ("1", "true"):
                out.update(range(int(attrs["min"]), int(attrs.get("max", attrs["min"])) + 1))
        return out

    def __iter__(self) -> Iterator[tuple[int, list[tuple[Any, bool]], bool]]:
        return self

    def __next__(self) -> tuple[int, list[tuple[Any, bool]], bool]:
        try:
            number, cells = next(self.rows)
        except StopIteration:
            self.src.close()
            raise
        width = max((c["column"] for c in cells), default=0)
        values: list[tuple[Any, bool]] = [(None, False)] * width
        for c in cells:
            values[c["column"] - 1] = (c["value"], c["unsaved"])
        attrs = self.parser.row_dimensions.get(str(number), {})
        item = (number, values, attrs.get("hidden") in ("1", "true"))
        if self.recording and len(self.seen) < HEADER_SCAN + 1:
            self.seen.append(item)
        else:
            self.recording = False
        return item


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


def _read_list(path: Path, data: Any) -> Sheet:
    if isinstance(data, dict) and isinstance(data.get("recipients"), list):
        data = data["recipients"]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of recipients (or 'recipients:' holding one)")
    headers: dict[str, None] = {}
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise DataError(f"{path}:{i}: expected a mapping of fields")
        headers.update(dict.fromkeys(str(k) for k in item))
    return Sheet(list(headers), iter(list(enumerate(data, start=1))), 0)
