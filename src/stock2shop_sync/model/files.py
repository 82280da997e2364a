"""Parse flat files (CSV, XLSX, JSON) into raw frames that keep each row's line number.

Nothing is dropped: a row that cannot be read (wrong number of fields, bytes that are not valid text in the
file's encoding) stays in the frame with its problem in ``_source_error``, and validation quarantines it
with its line number while the rest of the file syncs.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pandas as pd

from stock2shop_sync.model.canonical import ROW, SOURCE_ERROR

SNIFF_DELIMITERS = ",;\t|"
#: How much of a file's text the delimiter sniffer and the header check look at.
_HEAD = 1 << 20


class FileFormatError(ValueError):
    """The file as a whole cannot be read (no header, not JSON, an empty workbook)."""


def _frame(header: list[str], rows: list[list[Any]], lines: list[int], errors: list[str | None]) -> pd.DataFrame:
    columns = [h.strip() for h in header]
    if len(set(columns)) != len(columns):
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        raise FileFormatError(f"the header names a column twice: {duplicated}")
    frame = pd.DataFrame(rows, columns=columns, dtype=object) if rows else pd.DataFrame(columns=columns, dtype=object)
    frame[ROW] = pd.Series(lines, dtype="int64")
    frame[SOURCE_ERROR] = pd.Series(errors, dtype="string")
    return frame


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def parse_csv(
    data: bytes, *, delimiter: str | None = None, header: list[str] | None = None, encoding: str = "utf-8"
) -> pd.DataFrame:
    """A CSV file: one raw row per record, ``_row`` its (last) line number in the file."""
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    if codec == "utf-8-sig" and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        codec = encoding = "utf-16"  # Excel's "Unicode text" export: its BOM says UTF-16, not UTF-8
    text = data.decode(codec, errors="surrogateescape")
    if not text.strip():
        raise FileFormatError("the file is empty")
    if delimiter is None:
        sample = "\n".join(text[:_HEAD].splitlines()[:20])
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=SNIFF_DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    if header is None:
        try:
            header = next(reader)
        except StopIteration:
            raise FileFormatError("the file has no header row") from None
        if len(header) < 2 and delimiter not in text[:_HEAD].splitlines()[0]:
            raise FileFormatError(
                f"the header row has one column ({header[0][:60]!r}): is the delimiter {delimiter!r} right?"
            )
        if any(_UNDECODABLE.search(name) for name in header):
            raise FileFormatError(f"the header row is not valid {encoding} text: set file.encoding (e.g. cp1252)")
    # Bytes the codec could not decode became lone surrogates; only a file that has any is checked per record.
    undecodable = _UNDECODABLE.search(text) is not None
    if not undecodable:
        plain = _parse_plain_csv(text, delimiter, header, header_lines=reader.line_num)
        if plain is not None:
            return plain
    rows: list[list[Any]] = []
    lines: list[int] = []
    errors: list[str | None] = []
    width = len(header)
    previous_line = reader.line_num
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.append([None] * width)
            lines.append(reader.line_num)
            errors.append(f"line {reader.line_num} could not be read as CSV: {exc}")
            previous_line = reader.line_num
            continue
        line = previous_line + 1  # where the record starts (a quoted field may span lines)
        previous_line = reader.line_num
        if not record or all(not cell.strip() for cell in record):
            continue  # blank lines carry no data
        problem = None
        if undecodable and any(_UNDECODABLE.search(cell) for cell in record):
            columns = [name for name, cell in zip(header, record, strict=False) if _UNDECODABLE.search(cell)]
            problem = f"line {line} is not valid {encoding} text (in {', '.join(columns) or 'an extra field'})"
            record = [cell.encode("utf-8", errors="surrogateescape").decode(codec, errors="replace") for cell in record]
        if len(record) != width:
            problem = f"line {line} has {len(record)} fields but the header has {width}"
            if previous_line > line:  # the record ran over several lines: a quote opened and never closed
                problem += (
                    f"; a quoted field starting on line {line} runs to line {previous_line}, "
                    "so those lines were read as one: is a quote unbalanced?"
                )
            record = (record + [None] * width)[:width]
        rows.append(record)
        lines.append(line)
        errors.append(problem)
    if not rows:
        raise FileFormatError("the file has a header row but no data rows")
    return _frame(header, rows, lines, errors)


def _parse_plain_csv(text: str, delimiter: str, header: list[str], *, header_lines: int) -> pd.DataFrame | None:
    """The frame :func:`parse_csv` gives, read by Arrow's CSV reader in native code, for the usual file: every
    record on one line of its own, as many fields as the header (an empty line is a record of empty fields,
    skipped as the record reader skips blank lines). Anything else (or a file Arrow reads differently) returns
    None, and the file is read record by record with its problems reported per line. ``header_lines`` is how
    many lines the header took (0 when the config gives it). The text is only searched and sliced here, not
    split into a Python string per line."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    names = [h.strip() for h in header]
    if len(set(names)) != len(names) or text.count("\r") != text.count("\r\n"):
        return None  # a duplicated header is reported by the record reader; bare CR line ends are rare
    start = 0
    for _ in range(header_lines):
        start = text.find("\n", start) + 1
        if not start:
            return None  # the header is all there is
    body = text[start:]
    if body.endswith("\n"):
        body = body[:-1]  # the file's final line end
    if not body:
        return None
    count = body.count("\n") + 1
    problems: list[str] = []

    def invalid(row: Any) -> str:
        problems.append(row.text)
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa.py_buffer(body.encode("utf-8")),
            read_options=pa_csv.ReadOptions(column_names=[f"c{i}" for i in range(len(names))]),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=invalid
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={f"c{i}": pa.large_string() for i in range(len(names))},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeError):
        return None
    if problems or table.num_rows != count:
        return None  # a field spans lines, or a record has another number of fields
    numbers = pa.array(np.arange(header_lines + 1, header_lines + 1 + count, dtype=np.int64))
    blank = None  # records whose every field is blank are skipped, as blank lines are
    for column in table.columns:
        empty = pc.or_(pc.equal(pc.binary_length(column), 0), pc.utf8_is_space(column))  # no trimmed copy made
        blank = empty if blank is None else pc.and_(blank, empty)
    if blank is not None and pc.any(blank).as_py():
        keep = pc.invert(blank)
        table, numbers = table.filter(keep), numbers.filter(keep)
    if not table.num_rows:
        raise FileFormatError("the file has a header row but no data rows")
    frame = pd.DataFrame(
        {name: pd.Series(pd.arrays.ArrowStringArray(column)) for name, column in zip(names, table.columns, strict=True)}
    )
    frame[ROW] = pd.Series(numbers.to_numpy(), dtype="int64")
    frame[SOURCE_ERROR] = pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame


def parse_xlsx(data: bytes, *, worksheet: str | None = None, header: list[str] | None = None) -> pd.DataFrame:
    """A workbook's sheet (the first, or ``worksheet``); ``_row`` is the spreadsheet row number."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = book[worksheet] if worksheet else book.worksheets[0]
    except KeyError:
        raise FileFormatError(f"the workbook has no sheet {worksheet!r}; it has {book.sheetnames}") from None
    values = [[("" if v is None else v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return rows_to_frame(values, header=header, first_row=1)


def rows_to_frame(values: list[list[Any]], *, header: list[str] | None = None, first_row: int = 1) -> pd.DataFrame:
    """Spreadsheet-like rows (first row the header unless given); ragged rows are padded."""
    if header is None:
        if not values or not any(str(cell).strip() for cell in values[0]):
            raise FileFormatError("the sheet is empty: it has no header row")
        header = [str(h) for h in values[0]]
        while header and not header[-1].strip():  # workbooks report empty trailing header cells
            header.pop()
        body, start = values[1:], first_row + 1
        widest = max((sum(1 for cell in row if str(cell).strip()) for row in body[:20]), default=0)
        if len(header) == 1 and widest > 1:  # a title (often merged cells) above the real header row
            raise FileFormatError(
                f"row {first_row} has one heading ({header[0][:60]!r}) but the rows below have up to {widest} "
                "cells: is it a title above the header row? Remove it so the column names are the first row"
            )
    else:
        body, start = values, first_row
    width = len(header)
    rows, lines, errors = [], [], []
    for offset, row in enumerate(body):
        cells = ["" if v is None else v for v in row]
        if all(str(c).strip() == "" for c in cells):
            continue
        problem = None
        trailing = cells[width:]
        if any(str(c).strip() for c in trailing):
            problem = f"row {start + offset} has {len(cells)} cells but the header has {width}"
        rows.append((cells + [""] * width)[:width])
        lines.append(start + offset)
        errors.append(problem)
    if not rows:
        raise FileFormatError(
            "the sheet has no data rows" + (f" below its header (row {start - 1})" if start > first_row else "")
        )
    return _frame(header, rows, lines, errors)


def parse_json(data: bytes, *, encoding: str = "utf-8") -> pd.DataFrame:
    """A JSON array of objects, or an object holding one (``{"products": [...]}``); ``_row`` is the record number."""
    try:
        document = json.loads(data.decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding))
    except (ValueError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"not valid JSON: {exc}") from None
    if isinstance(document, dict):
        lists = [v for v in document.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise FileFormatError("expected an array of records, or an object holding exactly one array")
        document = lists[0]
    if not isinstance(document, list):
        raise FileFormatError(f"expected an array of records, not {type(document).__name__}")
    if not document:
        raise FileFormatError("the array holds no records")
    columns: list[str] = []
    for record in document:
        if isinstance(record, dict):
            columns.extend(k for k in record if k not in columns)
    rows, lines, errors = [], [], []
    for number, record in enumerate(document, start=1):
        if not isinstance(record, dict):
            rows.append([None] * len(columns))
            errors.append(f"record {number} is not an object")
        else:
            rows.append([_scalar(record.get(c)) for c in columns])
            errors.append(None)
        lines.append(number)
    return _frame(columns, rows, lines, errors)


def _scalar(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
