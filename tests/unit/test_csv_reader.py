"""The native (Arrow) CSV reading of a plain file gives exactly the frame the record-by-record reader gives, and
files it cannot read the same way go to the record reader."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from stock2shop_sync.model import files
from stock2shop_sync.model.files import parse_csv

PLAIN = b'sku,title,barcode\r\nA-1,"Shirt, blue",600100\r\nA-2,"Say ""hi""",\r\n , ,\r\nA-3,  Kettle ,600300\r\n'


def _record_by_record(monkeypatch: pytest.MonkeyPatch, data: bytes, **kwargs: object) -> pd.DataFrame:
    with monkeypatch.context() as patch:
        patch.setattr(files, "_parse_plain_csv", lambda *a, **k: None)
        return parse_csv(data, **kwargs)


def _as_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


@pytest.mark.parametrize("header", [None, ["sku", "title", "barcode"]])
def test_plain_file_reads_as_the_record_reader_reads_it(
    monkeypatch: pytest.MonkeyPatch, header: list[str] | None
) -> None:
    data = PLAIN if header is None else PLAIN.split(b"\r\n", 1)[1]
    calls: list[object] = []
    native = files._parse_plain_csv

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(result := native(*args, **kwargs))
        return result

    monkeypatch.setattr(files, "_parse_plain_csv", spy)
    fast = parse_csv(data, header=header)
    assert calls, "the native reader was tried"
    assert calls[0] is not None, "a plain file is read natively"
    slow = _record_by_record(monkeypatch, data, header=header)
    assert list(fast.columns) == list(slow.columns)
    assert _as_records(fast) == _as_records(slow)
    # the blank record (line 4 in the file with its header) is skipped; line numbers are the file's
    first = 2 if header is None else 1
    assert fast["_row"].tolist() == [first, first + 1, first + 3]
    assert fast["title"].tolist() == ["Shirt, blue", 'Say "hi"', "  Kettle "]


@pytest.mark.parametrize(
    "data",
    [
        b'sku,title\nA-1,"two\nlines"\nA-2,x\n',  # a quoted field over two lines: line numbers differ from rows
        b"sku,title\nA-1,x,extra\nA-2,y\n",  # a record with too many fields: reported on its line
        b"sku,title\nA-1,x\n   \nA-2,y\n",  # a line of spaces: one field, where the header has two
        b"sku,sku\nA-1,x\n",  # a duplicated header: refused by the record reader
        b"sku,title\rA-1,x\rA-2,y\r",  # old Mac line ends
    ],
)
def test_files_the_native_reader_cannot_match_are_read_record_by_record(data: bytes) -> None:
    text = data.decode()
    header = next(csv.reader(io.StringIO(text, newline="")))
    assert files._parse_plain_csv(text, ",", header, header_lines=1) is None


def test_a_record_over_two_lines_keeps_its_starting_line_and_the_next_its_own() -> None:
    frame = parse_csv(b'sku,title\nA-1,"two\nlines"\nA-2,x\n')
    assert frame["_row"].tolist() == [2, 4]
    assert frame["title"].tolist() == ["two\nlines", "x"]


@pytest.mark.parametrize(
    ("data", "header", "rows"),
    [
        (b"sku,title\nA-1,x\n\nA-2,y\n", None, [2, 4]),  # a blank line inside
        (b"sku,title\r\nA-1,x\r\n\r\nA-2,y\r\n\r\n\r\n", None, [2, 4]),  # inside and at the end, CRLF
        # one column (its header from the config): a blank line and a line of spaces, no final line end
        (b"A-1\n\n  \nA-2", ["sku"], [1, 4]),
    ],
)
def test_blank_lines_are_skipped_natively_as_the_record_reader_skips_them(
    monkeypatch: pytest.MonkeyPatch, data: bytes, header: list[str] | None, rows: list[int]
) -> None:
    text = data.decode()
    names = header or next(csv.reader(io.StringIO(text, newline="")))
    native = files._parse_plain_csv(text, ",", names, header_lines=0 if header else 1)
    assert native is not None, "a file with blank lines is still read natively"
    slow = _record_by_record(monkeypatch, data, header=header, delimiter=",")
    assert _as_records(native) == _as_records(slow)
    assert native["_row"].tolist() == rows
