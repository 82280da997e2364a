"""Flat files: CSV dialects and encodings, XLSX and JSON, local paths and URLs through ObjectStoragePath."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.responses import Response
from openpyxl import Workbook

from sandbox.server import running_app
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_connector
from stock2shop_sync.model.canonical import MappingError
from stock2shop_sync.model.files import FileFormatError, parse_csv, parse_json, parse_xlsx


def _frame(folder: Path, file: dict[str, Any], **extra: Any) -> Any:
    config = {"source_id": "files", "type": "flat_file", "file": file, "stock2shop": {"source_id": 1}, **extra}
    path = folder / "files.yaml"
    path.write_text(yaml.safe_dump(config))
    loaded = load_source(path)
    return get_connector(loaded, resolve_mapping(loaded)).extract("products")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter: str) -> None:
    text = delimiter.join(["sku", "title", "price"]) + "\n" + delimiter.join(["A1", "Mug, large", "10.5"]) + "\n"
    if delimiter == ",":
        text = 'sku,title,price\nA1,"Mug, large",10.5\n'
    frame = parse_csv(text.encode())
    assert frame.loc[0, "title"] == "Mug, large"
    assert frame["_row"].tolist() == [2]


def test_bom_and_configured_header_and_cp1252() -> None:
    frame = parse_csv("\ufeffsku,title\nA1,Mug\n".encode())
    assert list(frame.columns[:2]) == ["sku", "title"]
    headerless = parse_csv(b"A1;Mug;10\nA2;Cup;5\n", header=["sku", "title", "price"], delimiter=";")
    assert headerless["sku"].tolist() == ["A1", "A2"]
    assert headerless["_row"].tolist() == [1, 2]  # no header line: data starts on line 1
    legacy = parse_csv("sku,title\nA1,Café – Crème\n".encode("cp1252"), encoding="cp1252")
    assert legacy.loc[0, "title"] == "Café – Crème"
    assert legacy["_source_error"].isna().all()


def test_a_one_column_header_names_the_likely_wrong_delimiter() -> None:
    with pytest.raises(FileFormatError, match=r"one column .* is the delimiter ';' right\?"):
        parse_csv(b"sku|title|price\nA|B|1\n", delimiter=";")


def test_duplicate_header_and_empty_file() -> None:
    with pytest.raises(FileFormatError, match=r"names a column twice: \['sku'\]"):
        parse_csv(b"sku,sku\n1,2\n")
    with pytest.raises(FileFormatError, match="the file is empty"):
        parse_csv(b"  \n")


def test_xlsx(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "Catalogue"
    sheet.append(["sku", "title", "price", "qty_JHB"])
    sheet.append(["A1", "Mug", 10.5, 3])
    sheet.append([None, None, None, None])
    sheet.append(["A2", "Cup", 7, None, "stray"])
    buffer = io.BytesIO()
    book.save(buffer)
    frame = parse_xlsx(buffer.getvalue())
    assert frame["sku"].tolist() == ["A1", "A2"]
    assert frame["_row"].tolist() == [2, 4]  # the blank row 3 is skipped, numbers stay the sheet's
    assert frame.loc[1, "_source_error"] == "row 4 has 5 cells but the header has 4"
    with pytest.raises(FileFormatError, match=r"no sheet 'Prices'; it has \['Catalogue'\]"):
        parse_xlsx(buffer.getvalue(), worksheet="Prices")
    path = tmp_path / "catalogue.xlsx"
    path.write_bytes(buffer.getvalue())
    canonical = _frame(tmp_path, {"path": str(path)})
    assert canonical.loc[0, "price"] == "10.5"
    assert canonical.loc[0, "qty_JHB"] == "3"


def test_json() -> None:
    data = json.dumps(
        {"products": [{"sku": "A1", "title": "Mug", "meta_tags": ["a", "b"]}, "oops", {"sku": "A2", "price": 5}]}
    )
    frame = parse_json(data.encode())
    assert frame["sku"].tolist() == ["A1", None, "A2"]
    assert frame.loc[0, "meta_tags"] == '["a", "b"]'
    assert frame.loc[1, "_source_error"] == "record 2 is not an object"
    with pytest.raises(FileFormatError, match="not valid JSON"):
        parse_json(b"{nope")


def test_other_layouts_map_through_fields(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Item No,Description,Sell Price,On Hand,Wholesale\nA1,Mug,10.5,3,8\n")
    frame = _frame(
        tmp_path, {"path": str(path)},
        mapping_overrides={"products": {"fields": {"sku": "Item No", "title": "Description", "price": "Sell Price", "qty": "On Hand", "price_Wholesale": "Wholesale"}}},
    )  # fmt: skip
    row = frame.iloc[0]
    assert (row["sku"], row["title"], row["price"], row["qty"], row["price_Wholesale"]) == (
        "A1",
        "Mug",
        "10.5",
        "3",
        "8",
    )
    assert (row["source_variant_code"], row["source_product_code"]) == ("A1", "A1")


def test_relative_path_and_missing_file(tmp_path: Path) -> None:
    frame = _frame(tmp_path, {"path": "include/demo/custom_db_content.csv"})
    assert "TEE-CLASSIC" in frame["source_product_code"].tolist()
    with pytest.raises(MappingError, match=r"no file at /nonexistent/x\.csv"):
        _frame(tmp_path, {"path": "/nonexistent/x.csv"})


def test_file_over_http_through_object_storage(tmp_path: Path) -> None:
    app = FastAPI()

    @app.get("/exports/catalogue.csv")
    async def catalogue() -> Response:
        return Response(b"sku,title,price\nH1,From HTTP,12\n", media_type="text/csv")

    with running_app(app) as url:
        frame = _frame(tmp_path, {"path": f"{url}/exports/catalogue.csv"})
    assert frame.loc[0, "title"] == "From HTTP"
    assert frame.loc[0, "_row"] == 2
