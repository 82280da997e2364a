"""SQL sources over ODBC (Custom Database and the on-premise ERP presets).

The query comes from the mapping and runs on the connection string the ODBC provider's ``OdbcHook`` builds from
the source's Airflow connection. Two readers give the same canonical frames:

* ``arrow`` (the default): ``arrow-odbc`` streams the result set as Arrow record batches (bounded buffers, no
  Python object per value), gathered into one Arrow table and converted column by column to what the pyodbc
  reader would give (DECIMAL as ``str(Decimal)`` text, nullable integers, microsecond timestamps);
* ``pyodbc``: ``OdbcHook.get_conn()`` rows fetched in chunks of :data:`FETCH_ROWS`. Always used when the
  source sets a text ``encoding`` (the bytes are decoded here), when ``limit`` asks for a few rows (the mapping
  check), and when arrow-odbc fails on a query (e.g. a value wider than :data:`MAX_TEXT_BYTES`, or wider
  than the size the driver reports for its column), with a warning that names the source but never the
  connection string.

The environment variable ``S2S_ODBC_READER`` (``arrow`` or ``pyodbc``), read at every query, picks the reader:
set ``S2S_ODBC_READER=pyodbc`` on a worker to go back to the plain OdbcHook path.

Orders go through :class:`SqlOrderSink`: the mapping's statements, run in one transaction on the source's
read-write order connection (``orders.conn_id``), after an existence check on the order's reference.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import closing
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from stock2shop_sync.connectors.base import Document, OrderSink, SourceConnector, check_document
from stock2shop_sync.model.orders import OrderError, TransientOrderError, header_fields, line_fields

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    from airflow.providers.odbc.hooks.odbc import OdbcHook

    from stock2shop_sync.model.orders import Order

log = logging.getLogger(__name__)


FETCH_ROWS = 10_000
#: Rows per Arrow record batch, and the widest text/binary value arrow-odbc buffers (the driver may report
#: VARCHAR(MAX)/TEXT as unbounded; a longer value makes arrow-odbc fail, and the query is read through OdbcHook).
ARROW_BATCH_ROWS = 100_000
MAX_TEXT_BYTES = 65_536
#: Upper bound of one transit buffer (arrow-odbc sizes it by the widest possible row, not the actual data, and
#: keeps two while it fetches the next batch concurrently); fewer rows go in a batch when rows are wide.
ARROW_BATCH_BYTES = 128 * 1024 * 1024
#: Driver text of a number that ``str(Decimal(text))`` leaves as it is: no exponent, no leading zeros, and
#: not below 1E-6 (``0.000000…``), which Decimal writes in exponent form (``1E-7``, ``0E-10``).
_PLAIN_DECIMAL = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
_TINY_DECIMAL = r"^-?0\.0{6}"


def _arrow_schema(schema: pa.Schema) -> pa.Schema:
    """The types arrow-odbc fetches into, adjusted so values come out as pyodbc gives them:

    * DECIMAL/NUMERIC as the driver's text, which pyodbc turns into ``Decimal(text)``: the scale a driver
      reports is not always the value's (PostgreSQL's unconstrained NUMERIC and computed columns such as
      ``SUM(price)`` report NUMERIC(28,6): 45.5 would come back as 45.500000 and 1E-7 as 0.000000);
    * floating point as float64: some drivers describe FLOAT8/DOUBLE so that arrow-odbc would pick float32,
      and 1.1 would come back as 1.100000023841858 (pyodbc always asks the driver for a C double);
    * timestamps in microseconds, pyodbc's (and ``datetime``'s) precision: a driver that reports a
      seconds-wide TIMESTAMP (SQLite) would otherwise lose the fraction, and nanoseconds cannot hold 9999-12-31;
    * fixed-width binary as variable-width: arrow-odbc aborts the whole process (a Rust panic, not an
      exception) when a BINARY/BLOB value is shorter than the width the driver reported (SQLite BLOB: 255);
    * BIT as a small integer (turned back into booleans in :func:`_arrow_to_pandas`): MariaDB's driver hands
      arrow-odbc's bulk-bound BIT(1) columns back as all NULL.
    """
    import pyarrow as pa

    def mapped(kind: pa.DataType) -> pa.DataType:
        if pa.types.is_decimal(kind):
            return pa.string()
        if pa.types.is_floating(kind):
            return pa.float64()
        if pa.types.is_timestamp(kind):
            return pa.timestamp("us", tz=kind.tz)
        if pa.types.is_fixed_size_binary(kind):
            return pa.binary()
        if pa.types.is_boolean(kind):
            return pa.uint8()
        return kind

    return pa.schema([field.with_type(mapped(field.type)) for field in schema], metadata=schema.metadata)


def _decimal_text(column: pa.ChunkedArray) -> pd.Series:
    """A DECIMAL column fetched as the driver's text, written as ``str(Decimal(text))`` is on the pyodbc path
    ("45.50" stays "45.50", "0.0000001" becomes "1E-7", NaN becomes null): vectorised, with Python's Decimal
    only for the rare text that is not already in that form."""
    import pandas as pd

    return pd.Series(pd.arrays.ArrowStringArray(_decimal_arrow(column)))


def _decimal_arrow(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """:func:`_decimal_text`'s text as an Arrow (large string) array."""
    from decimal import Decimal, InvalidOperation

    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(column, pa.large_string())
    odd = pc.or_(
        pc.invert(pc.match_substring_regex(text, _PLAIN_DECIMAL)), pc.match_substring_regex(text, _TINY_DECIMAL)
    )
    if pc.any(odd).as_py():

        def as_decimal(value: str) -> str | None:
            try:
                number = Decimal(value)
            except InvalidOperation:
                return value
            return None if number.is_nan() else str(number)

        fixed = [as_decimal(v) if o else v for v, o in zip(text.to_pylist(), odd.to_pylist(), strict=True)]
        text = pa.chunked_array([pa.array(fixed, type=pa.large_string())])
    return text


def _arrow_to_pandas(table: pa.Table, inferred: pa.Schema) -> pd.DataFrame:
    """The frame the pyodbc path would give, column by column without a Python object per value where the type
    allows: text as pandas strings, DECIMAL as ``str(Decimal)`` text, integers and booleans as nullable pandas
    types (NULL stays missing, 3 stays "3" and not "3.0"), timestamps, dates, times and binary as Python objects.
    ``inferred`` is the schema arrow-odbc read from the driver, before :func:`_arrow_schema` changed it."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[int, pd.Series] = {}
    for position, (column, field) in enumerate(zip(table.columns, inferred, strict=True)):
        kind = column.type
        if pa.types.is_decimal(field.type):
            columns[position] = _decimal_text(column)
        elif pa.types.is_boolean(field.type):
            flags = pc.not_equal(column, pa.scalar(0, kind))
            columns[position] = flags.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            columns[position] = pd.Series(pd.arrays.ArrowStringArray(column.cast(pa.large_string())))
        elif pa.types.is_integer(kind):
            nullable = pd.api.types.pandas_dtype(str(kind).replace("uint", "UInt").replace("int", "Int"))
            columns[position] = column.to_pandas(types_mapper={kind: nullable}.get)
        elif pa.types.is_timestamp(kind):
            # datetime objects, as pyodbc gives: str() of one is the canonical text, and twice as fast as
            # str() of a pandas Timestamp.
            columns[position] = column.to_pandas(timestamp_as_object=True)
        else:
            columns[position] = column.to_pandas()
    frame = pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows), copy=False)
    frame.columns = table.column_names  # positional: a query may return two columns of the same name
    return frame


def _arrow_to_polars(table: pa.Table, inferred: pa.Schema) -> pl.DataFrame:
    """A price-list or warehouse query's table in Polars, its values as :func:`_arrow_to_pandas` gives them
    where the pivot reads them as text (DECIMAL as ``str(Decimal)`` text, BIT as booleans); DECIMAL columns
    fetched as floating point stay numbers. Columns of the same name are numbered, as the pivot reads columns
    by name (``item``, ``item_1``)."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, pl.Series] = {}
    for column, field, name in zip(table.columns, inferred, table.column_names, strict=True):
        if pa.types.is_decimal(field.type) and not pa.types.is_floating(column.type):
            values = pl.from_arrow(_decimal_arrow(column))
        elif pa.types.is_boolean(field.type):
            values = pl.from_arrow(pc.not_equal(column, pa.scalar(0, column.type)))
        else:
            values = pl.from_arrow(column)
        unique, n = name, 0
        while unique in columns:
            n += 1
            unique = f"{name}_{n}"
        columns[unique] = values.alias(unique)
    return pl.DataFrame(list(columns.values()), height=table.num_rows)


def _reason(exc: Exception, hook: OdbcHook) -> str:
    """A driver error on one line for the log (the driver's message, never the connection string), with the
    connection's password blanked out should a driver ever repeat it."""
    from stock2shop_sync.redact import scrub

    return scrub(" ".join(str(exc).split()) or type(exc).__name__, hook.connection.password)[:500]


#: ``{{since}}`` in a query: the start of the run's window of changes.
_SINCE = re.compile(r"\{\{\s*since\s*\}\}")
#: ``{{#since}} ... {{/since}}``: a part of a query only a windowed read runs.
_SINCE_SECTION = re.compile(r"\{\{\s*#\s*since\s*\}\}(.*?)\{\{\s*/\s*since\s*\}\}", re.DOTALL)
#: What ``{{since}}`` reads when a run reads everything: SQL Server's earliest DATETIME, valid in every database.
EARLIEST = datetime(1753, 1, 1)


class QueryTimeout(RuntimeError):
    """A query ran past ``timeouts.odbc_query_seconds`` and was cancelled: retrying at once would hang again."""


#: SQLSTATEs of a statement cancelled for running too long: ODBC's timeout, PostgreSQL's statement_timeout.
_TIMEOUT_STATES = ("HYT00", "57014")


def timed_out(exc: BaseException) -> bool:
    """Whether a driver error says the statement was cancelled for running too long."""
    text = " ".join(map(str, getattr(exc, "args", ()))) or str(exc)
    return any(state in text for state in _TIMEOUT_STATES) or "statement timeout" in text.lower()


def query_timeout(connection: Any, driver: str | None, seconds: int) -> None:
    """Ask the driver to cancel statements running longer than ``seconds`` (ODBC's query timeout), where the
    server does not already do it (PostgreSQL: ``statement_timeout`` in the connection string; psqlODBC refuses
    the connection attribute pyodbc sets for it)."""
    from stock2shop_sync.connectors.read_only import driver_kind

    if not seconds or driver_kind(driver) == "postgresql":
        return
    import pyodbc

    try:
        connection.timeout = seconds
    except pyodbc.Error as exc:
        log.warning("the ODBC driver %s takes no query timeout (%s); only the task's timeout applies", driver, exc)


def since_literal(since: datetime | None, timezone: str = "UTC") -> str:
    """``{{since}}`` as an ODBC timestamp escape (``{ts '2026-11-30 22:00:00'}``), which every ODBC driver turns
    into its own database's timestamp literal, so no date format or DATEFORMAT setting can misread it. The
    window's start is given in the database's time zone (``connection.timezone``), since ERPs store local time."""
    if since is None:
        moment = EARLIEST
    else:
        from zoneinfo import ZoneInfo

        aware = since if since.tzinfo else since.replace(tzinfo=UTC)
        moment = aware.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return "{ts '" + moment.strftime("%Y-%m-%d %H:%M:%S") + "'}"


def fill_since(query: str, since: datetime | None, timezone: str = "UTC") -> str:
    """``query`` for a run whose window starts at ``since`` (None: a complete read).

    Text between ``{{#since}}`` and ``{{/since}}`` is kept only in a windowed read, so a complete read runs the
    plain statement (no filter to evaluate, no join only the filter needs, rows with a NULL timestamp
    included); every ``{{since}}`` becomes :func:`since_literal`.
    """
    query = _SINCE_SECTION.sub(lambda m: m.group(1) if since is not None else " ", query)
    return _SINCE.sub(lambda _: since_literal(since, timezone), query)


#: How often a query whose rows are still arriving says how many it has read.
PROGRESS_SECONDS = 30.0
_FROM = re.compile(r"\bFROM\s+([\w.$#\[\]\"`]+)", re.IGNORECASE)


class _ReadProgress:
    """Counts a query's rows as its batches arrive and logs ``read N rows so far`` every :data:`PROGRESS_SECONDS`,
    so the log of a long read shows that it moves (and how fast), naming the query by its first table."""

    def __init__(self, source_id: str, query: str) -> None:
        found = _FROM.search(query)
        self.source_id = source_id
        self.what = f"FROM {found.group(1)}" if found else "the query"
        self.rows = 0
        self.started = self.logged = time.monotonic()

    def add(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if now - self.logged >= PROGRESS_SECONDS:
            self.logged = now
            log.info(
                "source %s: read %d rows so far (%s, %.0f s)", self.source_id, self.rows, self.what, now - self.started
            )


class SqlConnector(SourceConnector):
    """Run the mapping's SELECT for an entity and return its rows as a raw frame.

    A query that says ``{{since}}`` reads only rows changed in the run's window, e.g.
    ``{{#since}} WHERE p.updated_at >= {{since}} {{/since}}``: the section is left out of a complete read (a
    bare ``{{since}}`` outside a section becomes the earliest timestamp then). Such a source is read completely
    every ``incremental.full_read_hours``.
    """

    #: The window start :meth:`read_query` puts in for ``{{since}}`` (None: read everything).
    _since: datetime | None = None
    #: every read opens its own connection (arrow-odbc, or a new OdbcHook)
    concurrent_reads = True

    def _queries(self, entity: str) -> list[str]:
        section = self.mapping.entity(entity)
        parts = (section.price_lists, section.warehouses)
        return [q for q in (section.query, *(p.query for p in parts if p is not None)) if q]

    def can_filter(self, entity: str) -> bool:
        return any(_SINCE.search(query) for query in self._queries(entity))

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        self._since = since
        try:
            return super().read_raw(entity, limit=limit, since=since)
        finally:
            self._since = None

    def hook(self) -> OdbcHook:
        """The extraction's ``OdbcHook``, its session opened read-only where the driver allows
        (:mod:`stock2shop_sync.connectors.read_only`)."""
        from stock2shop_sync.connectors.read_only import read_only_hook

        limits = self.config.timeouts
        return read_only_hook(
            self.config.connection.conn_id,
            self.config.connection.driver,
            statement_timeout=limits.odbc_query_seconds,
            login_timeout=limits.odbc_login_seconds,
        )

    def _timeout(self) -> QueryTimeout:
        seconds = self.config.timeouts.odbc_query_seconds
        return QueryTimeout(
            f"source {self.config.source_id}: a query ran past timeouts.odbc_query_seconds ({seconds} s) and the "
            "database cancelled it; make the query cheaper (an index, a narrower window) or raise the timeout"
        )

    def _login_refused(self, exc: Exception, hook: OdbcHook) -> Exception | None:
        """The error naming the source when ``exc`` says the database refused the login, else None."""
        from stock2shop_sync.redact import is_login_failure, login_failure

        if not is_login_failure(exc):
            return None
        return login_failure(exc, self.config.source_id, self.config.connection.conn_id, hook.connection.password)

    def read_query(self, query: str, *, limit: int | None = None) -> pd.DataFrame:
        """The query's rows: streamed as Arrow record batches by ``arrow-odbc`` (bounded memory, no Python
        object per value), or through ``OdbcHook``/pyodbc when the source sets a text ``encoding`` (its bytes
        need decoding here), when only a few rows are asked for, when ``S2S_ODBC_READER=pyodbc``, or when the
        driver cannot serve arrow-odbc (logged as a warning). Both give the same canonical frame."""
        return self._read(query, limit=limit)

    def read_table(self, query: str, *, numbers: list[str]) -> pd.DataFrame | pl.DataFrame:
        """A price-list or warehouse query's rows as a Polars frame straight from arrow-odbc's batches, its
        DECIMAL ``numbers`` columns fetched as floating point (the pivot reads them as numbers; other DECIMAL
        columns, a numeric item key say, come as the same text as on the pandas path). Where arrow-odbc is not
        used, :meth:`read_query`'s pandas frame. For the bench's 3M price and 2M stock rows, read, pivoted and
        joined: 5.5 CPU-s instead of 6.3."""
        return self._read(query, numbers=numbers, polars=True)

    def _read(
        self, query: str, *, limit: int | None = None, numbers: list[str] | None = None, polars: bool = False
    ) -> pd.DataFrame | pl.DataFrame:
        query = fill_since(query, self._since, self.config.connection.timezone)
        reader = os.environ.get("S2S_ODBC_READER", "arrow").strip().lower() or "arrow"
        if reader not in ("arrow", "pyodbc"):
            raise ValueError(f"S2S_ODBC_READER={reader!r}: use 'arrow' (the default) or 'pyodbc'")
        if reader == "arrow" and limit is None and not self.config.connection.encoding:
            import arrow_odbc

            hook = self.hook()
            cancelled = False
            try:
                table, inferred = self._read_arrow(query, hook, numbers or [])
            except arrow_odbc.Error as exc:
                if refused := self._login_refused(exc, hook):
                    raise refused from None
                cancelled = timed_out(exc)
                if not cancelled:
                    log.warning(
                        "source %s: arrow-odbc could not read this query (%s); reading it through OdbcHook instead",
                        self.config.source_id,
                        _reason(exc, hook),
                    )
            else:
                return _arrow_to_polars(table, inferred) if polars else _arrow_to_pandas(table, inferred)
            if cancelled:
                # Raised here, not in the except block: as the new error's context, the arrow error's frames
                # would hold its connection open. Reading the query again through pyodbc would only hang again.
                raise self._timeout()
        return self._read_pyodbc(query, limit=limit)

    def _read_arrow(self, query: str, hook: OdbcHook, numbers: list[str]) -> tuple[pa.Table, pa.Schema]:
        """The query's rows as one Arrow table, and the schema arrow-odbc read from the driver (before
        :func:`_arrow_schema` and ``numbers`` changed it)."""
        import arrow_odbc
        import pyarrow as pa

        inferred: list[pa.Schema] = []
        as_float = {name.lower() for name in numbers}

        def schema(described: pa.Schema) -> pa.Schema:
            inferred.append(described)
            mapped = _arrow_schema(described)
            return pa.schema(
                [
                    field.with_type(pa.float64())
                    if field.name.lower() in as_float and pa.types.is_decimal(source.type)
                    else field
                    for field, source in zip(mapped, described, strict=True)
                ],
                metadata=mapped.metadata,
            )

        batches = arrow_odbc.read_arrow_batches_from_odbc(
            query=query,
            connection_string=hook.odbc_connection_string,
            batch_size=ARROW_BATCH_ROWS,
            max_bytes_per_batch=ARROW_BATCH_BYTES,
            max_text_size=MAX_TEXT_BYTES,
            max_binary_size=MAX_TEXT_BYTES,
            map_schema=schema,
            login_timeout_sec=self.config.timeouts.odbc_login_seconds,
            query_timeout_sec=self.config.timeouts.odbc_query_seconds or None,
        )
        progress = _ReadProgress(self.config.source_id, query)
        gathered = []
        for batch in batches:
            gathered.append(batch)
            progress.add(batch.num_rows)
        table = pa.Table.from_batches(gathered, schema=batches.schema)
        return table, inferred[0] if inferred else table.schema

    def _read_pyodbc(self, query: str, *, limit: int | None = None) -> pd.DataFrame:
        import pandas as pd
        import pyodbc

        hook = self.hook()
        try:
            connection = hook.get_conn()
        except pyodbc.Error as exc:
            if refused := self._login_refused(exc, hook):
                raise refused from None
            # e.g. the server is down: the same (retryable) driver error, naming the source, the text scrubbed
            connection_id = self.config.connection.conn_id
            raise type(exc)(
                f"source {self.config.source_id}: cannot connect to the database of connection {connection_id!r}: "
                + _reason(exc, hook)
            ) from None
        query_timeout(connection, self.config.connection.driver, self.config.timeouts.odbc_query_seconds)
        with closing(connection) as conn, closing(conn.cursor()) as cursor:
            if self.config.connection.encoding:
                import pyodbc

                conn.setdecoding(pyodbc.SQL_CHAR, encoding=self.config.connection.encoding)
            try:
                cursor.execute(query)
            except pyodbc.Error as exc:
                if timed_out(exc):
                    raise self._timeout() from None
                raise
            columns = [d[0] for d in cursor.description]
            chunks: list[pd.DataFrame] = []
            remaining = limit
            progress = _ReadProgress(self.config.source_id, query)
            while remaining is None or remaining > 0:
                size = FETCH_ROWS if remaining is None else min(FETCH_ROWS, remaining)
                rows = cursor.fetchmany(size)
                if not rows:
                    break
                progress.add(len(rows))
                chunks.append(
                    pd.DataFrame([tuple(r) for r in rows], columns=columns, dtype=object)
                )  # values as the driver gave them
                if remaining is not None:
                    remaining -= len(rows)
        if not chunks:
            return pd.DataFrame(columns=columns)
        return pd.concat(chunks, ignore_index=True)


# A :name parameter outside quoted literals (and not a PostgreSQL ::cast).
_PARAM = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


#: Order fields that count or flag: whole numbers, bound as integers (``qty`` too, when it is whole).
_WHOLE_FIELDS = frozenset({"line_no", "line_count", "is_shipping", "qty", "next_id"})


def sql_value(name: str, value: Any, dialect: str | None = None) -> Any:
    """The order field ``name`` as pyodbc should bind it: in its own type, never as the text of a float.

    pyodbc binds a Python ``float`` as a C double, and psqlODBC sends it to PostgreSQL as 17 significant digits
    (349.95 arrives as ``349.94999999999999``: inexact in a text or unconstrained NUMERIC column, and refused where
    PostgreSQL reads the parameter as an integer); a ``Decimal`` arrives as its own digits. So:

    * counts and flags (``line_no``, ``line_count``, ``is_shipping``, ``next_id``, a whole ``qty``) as ``int``;
    * money and fractional quantities as ``Decimal`` of the number's shortest repr (the digits the order had, or
      the total rounded to cents), except on SQLite: its ODBC driver binds a Decimal as text, which compares
      greater than any number in an expression, and SQLite stores NUMERIC columns as REAL anyway;
    * ``..._date`` fields as ``datetime.date``;
    * text (``sku`` included, whatever it looks like) as ``str``: every driver here converts text to an integer
      where the statement compares it with an integer column or casts it, while an integer compared with a text
      column is not portable (SQL Server converts the column, and fails on its first non-numeric code).
    """
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if name in _WHOLE_FIELDS and value.is_integer():
            return int(value)
        return value if dialect == "sqlite" else Decimal(repr(value))
    if isinstance(value, Decimal) and name in _WHOLE_FIELDS and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and name.endswith("_date"):
        return date.fromisoformat(value)
    return value


def bind(statement: str, values: dict[str, Any], dialect: str | None = None) -> tuple[str, list[Any]]:
    """Turn ``:name`` parameters into ODBC ``?`` markers and the matching argument list.

    Args:
        statement: SQL with ``:name`` parameters (a ``::`` cast and quoted text are left alone).
        values: the order's named values (:func:`~stock2shop_sync.model.orders.header_fields`, a line's too).
        dialect: the database's dialect (:func:`dialect_of`), which decides how money is bound (:func:`sql_value`).

    Returns:
        The statement with ``?`` markers, and the arguments in their order, each in its type (:func:`sql_value`).

    Raises:
        OrderError: naming a parameter the statement uses that the order does not provide.
    """
    args: list[Any] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)
        if name not in values:
            hint = "; set orders.sql.next_id to the query that gives it" if name == "next_id" else ""
            raise OrderError(f"the order SQL uses :{name}, which is not an order field{hint}; known: {sorted(values)}")
        args.append(sql_value(name, values[name], dialect))
        return "?"

    return _PARAM.sub(replace, statement), args


class SqlOrderSink(OrderSink):
    """Raise an order with the mapping's ``orders.sql`` statements in one transaction.

    Inside the transaction the ``exists`` query runs first (an order already raised is returned, not raised again),
    then ``header`` and ``lines`` (or ``procedure``), then ``exists`` again reads the number the database gave the
    document, and only then does the transaction commit. A failure rolls everything back: the ERP never holds half
    an order. A commit whose answer was lost (the connection dropped) is resolved by the shared lookup before any
    second attempt (:meth:`OrderSink.raise_order`). Database errors reach the ledger and Stock2Shop in words
    (:mod:`~stock2shop_sync.connectors.sql_errors`), never as the driver's text with the order's values.

    For a table whose key has no identity or sequence, ``next_id`` runs after ``exists`` found nothing and its
    value is ``:next_id`` in the statements that write; when another writer takes that id between the query and
    the insert (a duplicate key), the transaction is rolled back and tried again with a fresh id, up to
    :data:`NEXT_ID_ATTEMPTS` times. Values are bound in their own types (:func:`sql_value`).
    """

    #: The mapping's header statement can write ``:shipping_excl``/``:shipping_tax``/``:shipping_incl``, so an
    #: order's shipping may stay off its lines (``orders.shipping: header``).
    writes_header_shipping = True

    def __init__(self, config: Any, mapping: Any) -> None:
        super().__init__(config, mapping)
        self.sql = mapping.orders.sql
        self._conn: Any = None
        #: The connection's dialect (:func:`dialect_of`), or None for a DBMS not known here.
        self._dialect: str | None = None

    def _connection(self) -> Any:
        if self._conn is None:
            from stock2shop_sync.connectors.read_only import source_hook, statement_timeout_connection_string

            driver = self.config.connection.driver if self.config.connection else None
            limits = self.config.timeouts
            hook = source_hook(self.settings.conn_id, driver, login_timeout=limits.odbc_login_seconds)
            import pyodbc

            conn_str = statement_timeout_connection_string(
                hook.odbc_connection_string, hook.driver, limits.odbc_query_seconds
            )
            conn = pyodbc.connect(conn_str, **hook.connect_kwargs)
            query_timeout(conn, driver, limits.odbc_query_seconds)
            conn.autocommit = False
            try:
                self._dialect = dialect_of(conn)
            except ValueError:
                self._dialect = None
            self._conn = conn
        return self._conn

    def _bind(self, statement: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
        return bind(statement, values, self._dialect)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # a connection the server already dropped
                log.debug("order connection already closed", exc_info=True)
            finally:
                self._conn = None

    def _values(self, order: Order) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return header_fields(order, self.settings, self.document_type), line_fields(order, self.settings)

    def _existing(self, cursor: Any, header: dict[str, Any]) -> str | None:
        statement, args = self._bind(self.sql.exists, header)
        cursor.execute(statement, args)
        rows = cursor.fetchall()
        return None if not rows or rows[0][0] is None else str(rows[0][0]).strip()

    def _document(self, cursor: Any, header: dict[str, Any]) -> Document | None:
        """The document ``exists`` finds, with its lines when the mapping says how to read them."""
        number = self._existing(cursor, header)
        if number is None or not self.sql.document_lines:
            return Document(number) if number else None
        cursor.execute(*self._bind(self.sql.document_lines, {**header, "document_number": number}))
        lines = tuple((None if code is None else str(code), float(qty or 0)) for code, qty in cursor.fetchall())
        return Document(number, lines)

    def find(self, order: Order) -> Document | None:
        header, _ = self._values(order)
        try:
            conn = self._connection()
            with closing(conn.cursor()) as cursor:
                found = self._document(cursor, header)
            conn.rollback()
        except Exception as exc:  # noqa: BLE001 - re-raised in words
            raise self._refused(order, exc) from None
        return found

    def create_checked(self, order: Order) -> tuple[str, bool]:
        """Look the order up and, if the database does not hold it, write it, in one transaction.

        Returns:
            The document number, and whether this call wrote it (False: ``exists`` found it already there).

        Raises:
            OrderError: the database refused the order's data, or the mapping's statements are wrong.
            TransientOrderError: the database could not take it now, or ``next_id``'s id was taken by another
                writer :data:`NEXT_ID_ATTEMPTS` times in a row.
        """
        header, lines = self._values(order)
        taken: list[Any] = []  # ids from next_id that another writer took before this insert
        while True:
            next_id: Any = None
            try:
                conn = self._connection()
                with closing(conn.cursor()) as cursor:
                    existing = self._document(cursor, header)
                    if existing:
                        conn.rollback()
                        check_document(order, existing, header["external_order_no"])
                        return existing.number, False
                    values = header
                    if self.sql.next_id:
                        next_id = self._next_id(cursor, order, header)
                        values = {**header, "next_id": next_id}
                    self._write(cursor, values, lines)
                    document = self._existing(cursor, header)
                    if not document:
                        raise OrderError(
                            f"order {order.order_id}: the mapping's orders.sql.exists query does not find the "
                            f"document its statements just wrote (reference {header['external_order_no']!r}); "
                            "fix the mapping"
                        )
                conn.commit()
                return document, True
            except OrderError:
                self._rollback()
                raise
            except BaseException as exc:  # noqa: BLE001 - rolled back, re-raised in words
                self._rollback()
                # The same id refused twice is no race (nothing took it in between): another key of the order
                # is a duplicate, which the order's data must fix.
                if next_id is None or next_id in taken or not _duplicate_key(exc):
                    raise self._refused(order, exc) from None
                taken.append(next_id)
                if len(taken) >= NEXT_ID_ATTEMPTS:
                    raise TransientOrderError(
                        f"order {order.order_id}: another writer took the id orders.sql.next_id gave before the "
                        f"insert could use it, {len(taken)} times in a row; it is tried again on a later run"
                    ) from None
                log.warning(
                    "order %s: id %s from orders.sql.next_id was taken by another writer before the insert; "
                    "trying again with a fresh one (%d/%d)",
                    order.order_id,
                    next_id,
                    len(taken),
                    NEXT_ID_ATTEMPTS,
                )

    def _next_id(self, cursor: Any, order: Order, header: dict[str, Any]) -> Any:
        """The value of the mapping's ``next_id`` query, run in the insert's transaction (``:next_id``).

        Raises:
            OrderError: when the query does not return exactly one row with a value.
        """
        cursor.execute(*self._bind(self.sql.next_id, header))
        rows = cursor.fetchall()
        if len(rows) != 1 or rows[0][0] is None:
            found = "no value" if not rows or rows[0][0] is None else f"{len(rows)} rows"
            raise OrderError(
                f"order {order.order_id}: the mapping's orders.sql.next_id query returned {found}; it must return "
                "one value (the next key: the table's largest key plus one, 1 for an empty table)"
            )
        return sql_value("next_id", rows[0][0], self._dialect)

    def _write(self, cursor: Any, values: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        """Run ``header`` then ``lines`` once per line, or ``procedure`` once per line."""
        if self.sql.header:
            cursor.execute(*self._bind(self.sql.header, values))
            for line in lines:
                cursor.execute(*self._bind(self.sql.lines, {**values, **line}))
        else:
            for line in lines:
                cursor.execute(*self._bind(self.sql.procedure, {**values, **line}))

    def _refused(self, order: Order, exc: BaseException) -> BaseException:
        """The database error in words: an :class:`OrderError` when the order's data was refused, a
        :class:`TransientOrderError` otherwise; the driver's own text goes to the task log only."""
        import pyodbc

        if not isinstance(exc, pyodbc.Error):
            return exc
        from stock2shop_sync.connectors.sql_errors import describe

        error = describe(exc)
        log.warning("order %s: the database answered %s", order.order_id, " ".join(map(str, exc.args))[:1000])
        if error.data_error:
            return OrderError(f"order {order.order_id}: the database refused it: {error.message}")
        return TransientOrderError(f"order {order.order_id}: the database could not take it now: {error.message}")

    def _rollback(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except Exception:  # noqa: BLE001 - a dead connection: drop it and reconnect for the next order
            self.close()

    def create(self, order: Order) -> str:
        return self.create_checked(order)[0]


#: Transactions one order's insert is tried in when the id ``orders.sql.next_id`` gave is taken by another writer
#: before the insert (each with a fresh id); then the order waits for a later run.
NEXT_ID_ATTEMPTS = 5


def _duplicate_key(exc: BaseException) -> bool:
    """Whether a driver error says a unique or primary key refused the row."""
    import pyodbc

    from stock2shop_sync.connectors.sql_errors import describe

    return isinstance(exc, pyodbc.Error) and describe(exc).duplicate_key


IDENTITY = {
    "sqlserver": "INT IDENTITY(1,1) PRIMARY KEY",
    "postgresql": "SERIAL PRIMARY KEY",
    "mysql": "INTEGER AUTO_INCREMENT PRIMARY KEY",
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "pervasive": "IDENTITY PRIMARY KEY",
}


def dialect_of(conn: Any) -> str:
    """The dialect an ODBC connection talks, from the driver's DBMS name."""
    import pyodbc

    name = str(conn.getinfo(pyodbc.SQL_DBMS_NAME)).lower()
    for key, dialect in (
        ("sqlite", "sqlite"),
        ("postgres", "postgresql"),
        ("maria", "mysql"),
        ("mysql", "mysql"),
        ("microsoft", "sqlserver"),
        ("pervasive", "pervasive"),
        ("zen", "pervasive"),
    ):
        if key in name:
            return dialect
    raise ValueError(f"no order DDL for DBMS {name!r}; substitute {{identity}} by hand")


def order_ddl(text: str, dialect: str) -> list[str]:
    """A preset's shipped order DDL (``orders.ddl``) as statements for ``dialect``: ``{identity}`` filled in,
    ``--`` comments dropped."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    body = body.replace("{identity}", IDENTITY[dialect])
    return [statement.strip() for statement in body.split(";") if statement.strip()]


CONNECTOR = SqlConnector
ORDER_SINK = SqlOrderSink
