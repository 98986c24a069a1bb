"""``--errors FILE``: the rows that were not mailed, as they were read (every
original column) plus a "problem" column, so they can be fixed in a
spreadsheet and mailed on their own. CSV or XLSX by the file's extension;
private (0600), since it holds patient data."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

from handoutgen.core.errors import DataError
from handoutgen.core.output import write_atomic
from handoutgen.mailing.recipients import RecipientList, RowProblem

PROBLEM = "problem"


def check_errors_path(path: Path) -> None:
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise DataError(f"--errors {path}: name a .csv or .xlsx file")
    if path.is_dir():
        raise DataError(f"--errors {path}: is a folder; --errors takes a file name")


def write_errors(path: Path, recipients: RecipientList, problems: list[RowProblem]) -> int:
    """Write the bad rows (in file order); returns how many."""
    by_row: dict[int, list[str]] = {}
    for p in problems:
        if p.row in recipients.raw:
            by_row.setdefault(p.row, []).append(f"{p.field}: {p.message}")
    headers = [h for h in recipients.headers if h]
    if PROBLEM in headers:  # never two columns of one name
        column = "handoutgen problem"
    else:
        column = PROBLEM
    rows = [
        (
            [recipients.raw[n].get(h) for h in headers],
            f"row {n}: " + "; ".join(dict.fromkeys(by_row[n])),
        )
        for n in sorted(by_row)
    ]
    if path.suffix.lower() == ".xlsx":
        data = _xlsx([*headers, column], rows)
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow([*headers, column])
        for values, problem in rows:
            writer.writerow([_csv(v) for v in values] + [problem])
        data = ("\ufeff" + buf.getvalue()).encode("utf-8")  # Excel reads UTF-8 with a BOM
    write_atomic(path, data)
    return len(rows)


def _csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _xlsx(header: list[str], rows: list[tuple[list[Any], str]]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Not mailed")
    ws.append(header)
    for values, problem in rows:
        out = []
        for v in [*values, problem]:
            if isinstance(v, (list, dict)):
                v = str(v)
            cell = openpyxl.cell.WriteOnlyCell(ws, value=v)
            if isinstance(v, str) and v.startswith("="):
                cell.data_type = "s"  # text as it was read, never a formula
            out.append(cell)
        ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
