"""Flat files (CSV, XLSX, JSON) read through Airflow's ObjectStoragePath: a local path, sftp://, s3://, https://.

A file never takes orders. Columns named as Stock2Shop fields (the console CSV conventions: ``price_<tier>``,
``qty_<warehouse>``, ``meta_<key>``, ``image1..N``, ``option1_name``/``option1_value``) map with no
configuration; other layouts map through the mapping's ``fields``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stock2shop_sync.config import PROJECT_ROOT, FileLocation
from stock2shop_sync.connectors.base import SourceConnector
from stock2shop_sync.model.canonical import MappingError
from stock2shop_sync.model.files import FileFormatError, parse_csv, parse_json, parse_xlsx

if TYPE_CHECKING:
    from datetime import datetime

    import pandas as pd

_TOKEN_KEY = b"stock2shop.content_token"


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
    """Read a flat file's products; each row keeps its line number, broken rows their reason.

    The canonical frame of the last file read is kept under the state folder, keyed by a hash of the file's
    bytes and of the source's config and mapping: a file that did not change (a linked content file read on
    every run) is not parsed again. :attr:`content_token` is that key.
    """

    #: Hash of the bytes read and the config and mapping that turned them into rows (set by :meth:`extract`).
    content_token: str | None = None
    _data: bytes | None = None

    def _cache_path(self, entity: str) -> Any:
        from stock2shop_sync.staging import staging_root

        return staging_root() / "_state" / self.config.source_id / f"{entity}_parsed.parquet"

    def extract(
        self,
        entity: str,
        *,
        limit: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pd.DataFrame:
        if limit is not None:
            return super().extract(entity, limit=limit, since=since, until=until)
        import hashlib

        location = self.config.file
        assert location is not None  # the config check guarantees it
        try:
            self._data = read_bytes(location)
        except FileNotFoundError:
            raise MappingError(f"source {self.config.source_id!r}: no file at {location.path}") from None
        digest = hashlib.blake2b(self._data, digest_size=16)
        digest.update(self.config.model_dump_json().encode())
        digest.update(self.mapping.model_dump_json().encode())
        self.content_token = digest.hexdigest()
        cached = self._cached(entity, self.content_token)
        if cached is not None:
            self.read_everything = True
            self._data = None
            return cached
        try:
            frame = super().extract(entity, since=since, until=until)
        finally:
            self._data = None
        self._keep(entity, frame, self.content_token)
        return frame

    def _cached(self, entity: str, token: str) -> pd.DataFrame | None:
        import pyarrow.parquet as pq

        path = self._cache_path(entity)
        try:
            with path.open("rb") as handle:
                table = pq.read_table(handle)
        except (FileNotFoundError, OSError, ValueError):
            return None
        if (table.schema.metadata or {}).get(_TOKEN_KEY, b"").decode() != token:
            return None
        return table.to_pandas()

    def _keep(self, entity: str, frame: pd.DataFrame, token: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _TOKEN_KEY: token.encode()})
        path = self._cache_path(entity)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.parent / f".{path.name}.partial"
        with partial.open("wb") as handle:
            pq.write_table(table, handle)
        partial.rename(path)

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        location = self.config.file
        assert location is not None  # the config check guarantees it
        try:
            frame = parse(location, self._data if self._data is not None else read_bytes(location))
        except FileFormatError as exc:
            raise MappingError(f"source {self.config.source_id!r}: {location.path}: {exc}") from None
        except FileNotFoundError:
            raise MappingError(f"source {self.config.source_id!r}: no file at {location.path}") from None
        return frame if limit is None else frame.head(limit)


CONNECTOR = FlatFileConnector
