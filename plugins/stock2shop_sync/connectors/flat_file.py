"""Flat files (CSV, XLSX, JSON) read through Airflow's ObjectStoragePath: a local path, sftp://, s3://, https://.

A file never takes orders. Columns named as Stock2Shop fields (the console CSV conventions: ``price_<tier>``,
``qty_<warehouse>``, ``meta_<key>``, ``image1..N``, ``option1_name``/``option1_value``) map with no
configuration; other layouts map through the mapping's ``fields``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stock2shop_sync.config import PROJECT_ROOT, FileLocation
from stock2shop_sync.connectors.base import SourceConnector
from stock2shop_sync.model.canonical import MappingError
from stock2shop_sync.model.files import FileFormatError, parse_csv, parse_json, parse_xlsx

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd


def file_url(path: str) -> str:
    """An fsspec URL for a configured path: URLs as given, local paths absolute (relative to the project)."""
    if "://" in path:
        return path
    local = PROJECT_ROOT / path if not path.startswith("/") else None
    return f"file://{local if local is not None else path}"


def read_bytes(location: FileLocation) -> bytes:
    from airflow.sdk import ObjectStoragePath

    url = file_url(location.path)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("http", "https"):
        # No Airflow provider registers an HTTP filesystem; attach fsspec's (aiohttp) so the same
        # ObjectStoragePath code reads a URL as it reads file://, sftp:// or s3:// paths.
        from airflow.sdk.io import attach
        from fsspec.implementations.http import HTTPFileSystem

        attach(scheme, fs=HTTPFileSystem())  # cached under the scheme, where ObjectStoragePath looks
        target = ObjectStoragePath(url)
    else:
        target = ObjectStoragePath(url, conn_id=location.conn_id)
    with target.open("rb") as handle:
        return handle.read()


def parse(location: FileLocation, data: bytes) -> pd.DataFrame:
    """Parse a file's bytes by its format."""
    if location.file_format == "xlsx":
        return parse_xlsx(data, worksheet=location.worksheet, header=location.header)
    if location.file_format == "json":
        return parse_json(data, encoding=location.encoding)
    return parse_csv(data, delimiter=location.delimiter, header=location.header, encoding=location.encoding)


class FlatFileConnector(SourceConnector):
    """Read a flat file's products; each row keeps its line number, broken rows their reason."""

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        location = self.config.file
        assert location is not None  # the config check guarantees it
        try:
            frame = parse(location, read_bytes(location))
        except FileFormatError as exc:
            raise MappingError(f"source {self.config.source_id!r}: {location.path}: {exc}") from None
        except FileNotFoundError:
            raise MappingError(f"source {self.config.source_id!r}: no file at {location.path}") from None
        return frame if limit is None else frame.head(limit)


CONNECTOR = FlatFileConnector
