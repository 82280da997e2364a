"""Google Sheets sources through the real gspread client over HTTP, and the public CSV link."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.sheets import FakeSheets
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_connector
from stock2shop_sync.hooks.sheets import GoogleSheetsHook, SheetsError
from stock2shop_sync.model.canonical import MappingError
from stock2shop_sync.model.validation import validate_products
from tests.conftest import ENRICHMENT, set_connection


def _sheet_source(folder: Path, **sheet: Any) -> Any:
    config = {
        "source_id": "sheet_src",
        "type": "google_sheets",
        "sheet": sheet,
        "link": {"primary": "erp", "owns": ["title"]},
    }
    path = folder / "sheet_src.yaml"
    path.write_text(json.dumps(config))
    return load_source(path)


def test_gspread_reads_a_worksheet_as_the_service_account(google: tuple[str, FakeSheets]) -> None:
    _, state = google
    rows = GoogleSheetsHook().get_values("sheet-key-123", "Enrichment")
    assert rows[0] == ENRICHMENT[0]
    assert rows[2] == ["HW-HAMMER-16", "Stanley Claw Hammer 16 oz", "<p>Forged steel.</p>", "Tools", "steel", ""]
    paths = [path for _, path in state.requests]
    assert len(rows) == 4
    assert paths[0] == "/token"  # the JWT assertion went to the key's token_uri
    assert "/v4/spreadsheets/sheet-key-123" in paths
    assert any(p.startswith("/v4/spreadsheets/sheet-key-123/values/") for p in paths)


def test_spreadsheet_url_works_like_a_key(google: tuple[str, FakeSheets]) -> None:
    rows = GoogleSheetsHook().get_values("https://docs.google.com/spreadsheets/d/sheet-key-123/edit#gid=0")
    assert rows[1][0] == "TEE-CLASSIC"  # no worksheet named: the first


def test_clear_errors_for_missing_spreadsheet_and_worksheet(google: tuple[str, FakeSheets]) -> None:
    with pytest.raises(SheetsError, match="'nope' was not found, or is not shared with the service account"):
        GoogleSheetsHook().get_values("nope", "Enrichment")
    with pytest.raises(SheetsError, match=r"has no worksheet 'Prices'; it has \['Enrichment', 'Empty'\]"):
        GoogleSheetsHook().get_values("sheet-key-123", "Prices")


def test_connection_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, "google_sheets_default", {"conn_type": "google_sheets"})
    with pytest.raises(SheetsError, match="has no keyfile_dict"):
        GoogleSheetsHook().get_values("x")


def test_sheet_source_rows_keep_sheet_row_numbers(google: tuple[str, FakeSheets], tmp_path: Path) -> None:
    config = _sheet_source(tmp_path, spreadsheet="sheet-key-123", worksheet="Enrichment")
    frame = get_connector(config, resolve_mapping(config)).extract("products")
    assert frame["_row"].tolist() == [2, 3, 4]
    assert frame.loc[0, "meta_material"] == "cotton"
    assert frame.loc[0, "image1"] == "https://img.example/tee.jpg"
    assert frame.loc[2, "body_html"] is pd_na()


def pd_na() -> Any:
    import pandas as pd

    return pd.NA


def test_empty_worksheet_is_a_clear_error(google: tuple[str, FakeSheets], tmp_path: Path) -> None:
    config = _sheet_source(tmp_path, spreadsheet="sheet-key-123", worksheet="Empty")
    with pytest.raises(MappingError, match="'sheet_src': the sheet is empty: it has no header row"):
        get_connector(config, resolve_mapping(config)).extract("products")


def test_public_csv_link(google: tuple[str, FakeSheets], tmp_path: Path) -> None:
    url, state = google
    config = _sheet_source(tmp_path, csv_url=f"{url}/spreadsheets/d/sheet-key-123/export?format=csv&gid=0")
    frame = get_connector(config, resolve_mapping(config)).extract("products")
    assert frame["source_product_code"].tolist() == ["TEE-CLASSIC", "HW-HAMMER-16", "NOT-IN-ERP"]
    assert frame.loc[1, "title"] == "Stanley Claw Hammer 16 oz"
    # The short row is kept with its reason, not dropped.
    result = validate_products(frame.assign(sku=frame["source_product_code"], price="1", qty="1"), "sheet_src")
    assert ("row", "line 4 has 2 fields but the header has 6") in [
        (i.field, i.reason) for i in result.issues.itertuples()
    ]
    assert ("GET", "/spreadsheets/d/sheet-key-123/export") in state.requests


def test_private_sheet_csv_link_is_refused_clearly(google: tuple[str, FakeSheets], tmp_path: Path) -> None:
    url, state = google
    state.public.clear()
    config = _sheet_source(tmp_path, csv_url=f"{url}/spreadsheets/d/sheet-key-123/export?format=csv&gid=0")
    with pytest.raises(MappingError, match="answered HTTP 404: is the sheet shared publicly"):
        get_connector(config, resolve_mapping(config)).extract("products")
