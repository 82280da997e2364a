"""Google Sheets: a worksheet read with gspread as a service account, or the sheet's public CSV link.

A sheet never takes orders. Like a flat file, columns named as Stock2Shop fields map with no configuration;
row numbers are the sheet's own (the header is row 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stock2shop_sync.connectors.base import SourceConnector
from stock2shop_sync.hooks.sheets import GoogleSheetsHook, SheetsError
from stock2shop_sync.model.canonical import MappingError
from stock2shop_sync.model.files import FileFormatError, parse_csv, rows_to_frame

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd


def fetch_public_csv(url: str, timeout: float = 60.0) -> bytes:
    """The bytes of a sheet's public CSV link (``.../export?format=csv&gid=N`` or ``.../pub?output=csv``)."""
    import requests

    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise SheetsError(f"{type(exc).__name__} fetching the sheet's CSV link") from None
    if response.status_code != 200:
        raise SheetsError(f"the sheet's CSV link answered HTTP {response.status_code}: is the sheet shared publicly?")
    if "html" in response.headers.get("content-type", ""):
        raise SheetsError("the sheet's CSV link returned a web page, not CSV: publish the sheet or share it publicly")
    return response.content


class GoogleSheetsConnector(SourceConnector):
    """Read a worksheet's rows as a raw frame."""

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        sheet = self.config.sheet
        assert sheet is not None  # the config check guarantees it
        try:
            if sheet.csv_url:
                frame = parse_csv(fetch_public_csv(sheet.csv_url))
            else:
                hook = GoogleSheetsHook(sheet.conn_id)
                frame = rows_to_frame(hook.get_values(sheet.spreadsheet or "", sheet.worksheet))
        except (SheetsError, FileFormatError) as exc:
            raise MappingError(f"source {self.config.source_id!r}: {exc}") from None
        return frame if limit is None else frame.head(limit)


CONNECTOR = GoogleSheetsConnector
