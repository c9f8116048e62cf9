"""Spreadsheets on disk: XLSX written row by row (openpyxl's write-only mode keeps memory flat), and
tables read from CSV (UTF-8 or GBK/GB18030, as Excel in China saves them) or XLSX."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

# openpyxl is imported where a workbook is made or read: with numpy and PIL, which it pulls in, it
# costs ~0.2 s and ~20 MiB, and a running bot may never touch a spreadsheet.

Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]]]  # title, headers, rows


def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> None:
    """One sheet per (title, headers, rows); written under a temporary name, then renamed."""
    from openpyxl import Workbook  # lazily: see the imports above
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, headers, rows in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.freeze_panes = "A2"
        head = []
        for h in headers:
            c = WriteOnlyCell(sheet, value=h)
            c.font = bold
            head.append(c)
        sheet.append(head)
        for row in rows:
            sheet.append([_safe(v) for v in row])
    part = path.with_name(path.name + ".part")
    book.save(part)
    os.replace(part, path)


def _safe(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula is written as text (CSV/formula injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not _is_number(value):
        return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


ENCODINGS = ("utf-8-sig", "gb18030")  # GB18030 is a superset of GBK and GB2312


def decode(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM) first, else GB18030; else a clear error."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("the file is neither UTF-8 nor GBK/GB18030 text")


def read_table(path: Path) -> list[list[str]]:
    """The first sheet (XLSX) or the whole file (CSV) as rows of trimmed text, blank rows dropped."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook  # lazily: see the imports above

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            rows = [[_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    else:
        text = decode(path.read_bytes())
        try:
            dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        rows = [[v.strip() for v in row] for row in csv.reader(io.StringIO(text), dialect)]
    return [row for row in rows if any(row)]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed into Excel comes back as 13912345678.0
    return str(value).strip()


def read_xlsx(path: Path) -> dict[str, list[list[Any]]]:
    """Every sheet's values (for tests and the error report round trip)."""
    from openpyxl import load_workbook  # lazily: see the imports above

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        out: dict[str, list[list[Any]]] = {}
        for sheet in book.worksheets:
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            width = max((len(r) for r in rows), default=0)
            out[sheet.title] = [r + [None] * (width - len(r)) for r in rows]
        return out
    finally:
        book.close()
