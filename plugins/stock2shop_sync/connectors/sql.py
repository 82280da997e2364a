"""SQL sources over ODBC (Custom Database and the on-premise ERP presets).

The query comes from the mapping and is run read-only through the ODBC provider's ``OdbcHook``; rows are
fetched in chunks so a large catalogue never sits in memory twice as Python row objects.

Orders go through :class:`SqlOrderSink`: the mapping's statements, run in one transaction on the source's
read-write order connection (``orders.conn_id``), after an existence check on the order's reference.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import closing
from datetime import date
from typing import TYPE_CHECKING, Any

from stock2shop_sync.connectors.base import OrderSink, SourceConnector
from stock2shop_sync.model.orders import OrderError, header_fields, line_fields

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from airflow.providers.odbc.hooks.odbc import OdbcHook

    from stock2shop_sync.model.orders import Order

log = logging.getLogger(__name__)

FETCH_ROWS = 10_000
#: Rows per Arrow record batch, and the widest text/binary value arrow-odbc buffers (the driver may report
#: VARCHAR(MAX)/TEXT as unbounded; longer values are cut by the driver, so keep this above any real field).
ARROW_BATCH_ROWS = 100_000
MAX_TEXT_BYTES = 65_536


def _wide_floats(schema: pa.Schema) -> pa.Schema:
    """Read every floating-point column as float64: some drivers describe FLOAT8/DOUBLE so that arrow-odbc
    would pick float32, and 1.1 would come back as 1.100000023841858."""
    import pyarrow as pa

    return pa.schema(
        [field.with_type(pa.float64()) if pa.types.is_floating(field.type) else field for field in schema],
        metadata=schema.metadata,
    )


class SqlConnector(SourceConnector):
    """Run the mapping's SELECT for an entity and return its rows as a raw frame."""

    def hook(self) -> OdbcHook:
        from airflow.providers.odbc.hooks.odbc import OdbcHook

        kwargs = {"driver": self.config.connection.driver} if self.config.connection.driver else {}
        return OdbcHook(odbc_conn_id=self.config.connection.conn_id, **kwargs)

    def read_query(self, query: str, *, limit: int | None = None) -> pd.DataFrame:
        """The query's rows: streamed as Arrow record batches by ``arrow-odbc`` (bounded memory, no Python
        object per value), or through ``OdbcHook``/pyodbc when the source sets a text ``encoding`` (its bytes
        need decoding here), when only a few rows are asked for, when ``S2S_ODBC_READER=pyodbc``, or when the
        driver cannot serve arrow-odbc (logged once per read)."""
        reader = os.environ.get("S2S_ODBC_READER", "arrow").strip().lower()
        if reader == "arrow" and limit is None and not self.config.connection.encoding:
            import arrow_odbc

            try:
                return self._read_arrow(query)
            except arrow_odbc.Error as exc:
                # The driver's message never holds the connection string, but keep it to the first line.
                reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                log.warning(
                    "source %s: arrow-odbc could not read this query (%s); reading it through OdbcHook instead",
                    self.config.source_id,
                    reason,
                )
        return self._read_pyodbc(query, limit=limit)

    def _read_arrow(self, query: str) -> pd.DataFrame:
        import arrow_odbc
        import pandas as pd
        import pyarrow as pa

        hook = self.hook()
        batches = arrow_odbc.read_arrow_batches_from_odbc(
            query=query,
            connection_string=hook.odbc_connection_string,
            batch_size=ARROW_BATCH_ROWS,
            max_text_size=MAX_TEXT_BYTES,
            max_binary_size=MAX_TEXT_BYTES,
            map_schema=_wide_floats,
        )
        table = pa.Table.from_batches(list(batches), schema=batches.schema)
        columns = {}
        for name, column in zip(table.column_names, table.columns, strict=True):
            kind = column.type
            if pa.types.is_decimal(kind):
                # Decimal text as the database wrote it ("45.50"), as str(Decimal) gives on the pyodbc path.
                columns[name] = pd.Series(pd.arrays.ArrowStringArray(column.cast(pa.large_string())))
            elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
                columns[name] = pd.Series(pd.arrays.ArrowStringArray(column.cast(pa.large_string())))
            elif pa.types.is_integer(kind):
                columns[name] = column.to_pandas(types_mapper={kind: pd.Int64Dtype()}.get)
            elif pa.types.is_boolean(kind):
                columns[name] = column.to_pandas(types_mapper={kind: pd.BooleanDtype()}.get)
            else:
                columns[name] = column.to_pandas()
        return pd.DataFrame(columns) if columns else pd.DataFrame(columns=table.column_names)

    def _read_pyodbc(self, query: str, *, limit: int | None = None) -> pd.DataFrame:
        import pandas as pd

        with closing(self.hook().get_conn()) as conn, closing(conn.cursor()) as cursor:
            if self.config.connection.encoding:
                import pyodbc

                conn.setdecoding(pyodbc.SQL_CHAR, encoding=self.config.connection.encoding)
            cursor.execute(query)
            columns = [d[0] for d in cursor.description]
            chunks: list[pd.DataFrame] = []
            remaining = limit
            while remaining is None or remaining > 0:
                size = FETCH_ROWS if remaining is None else min(FETCH_ROWS, remaining)
                rows = cursor.fetchmany(size)
                if not rows:
                    break
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


def bind(statement: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """Turn ``:name`` parameters into ODBC ``?`` markers and the matching argument list.

    :raises OrderError: naming a parameter the statement uses that the order does not provide.
    """
    args: list[Any] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)
        if name not in values:
            raise OrderError(f"the order SQL uses :{name}, which is not an order field; known: {sorted(values)}")
        value = values[name]
        args.append(date.fromisoformat(value) if name.endswith("_date") and isinstance(value, str) else value)
        return "?"

    return _PARAM.sub(replace, statement), args


class SqlOrderSink(OrderSink):
    """Raise an order with the mapping's ``orders.sql`` statements in one transaction.

    The ``exists`` query runs first (an order already raised is returned, not raised again), then ``header`` and
    ``lines`` (or ``procedure``) run, then ``exists`` again reads the number the database gave the document, and
    only then does the transaction commit. A failure rolls everything back: the ERP never holds half an order.
    """

    def __init__(self, config: Any, mapping: Any) -> None:
        super().__init__(config, mapping)
        self.sql = mapping.orders.sql
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            from airflow.providers.odbc.hooks.odbc import OdbcHook

            driver = self.config.connection.driver if self.config.connection else None
            kwargs = {"driver": driver} if driver else {}
            conn = OdbcHook(odbc_conn_id=self.settings.conn_id, **kwargs).get_conn()
            conn.autocommit = False
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _values(self, order: Order) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return header_fields(order, self.settings, self.document_type), line_fields(order, self.settings)

    def _existing(self, cursor: Any, header: dict[str, Any]) -> str | None:
        statement, args = bind(self.sql.exists, header)
        cursor.execute(statement, args)
        rows = cursor.fetchall()
        return None if not rows or rows[0][0] is None else str(rows[0][0]).strip()

    def find(self, order: Order) -> str | None:
        header, _ = self._values(order)
        conn = self._connection()
        try:
            with closing(conn.cursor()) as cursor:
                return self._existing(cursor, header)
        finally:
            conn.rollback()

    def raise_order(self, order: Order) -> tuple[str, bool]:
        header, lines = self._values(order)
        try:
            conn = self._connection()
            with closing(conn.cursor()) as cursor:
                existing = self._existing(cursor, header)
                if existing:
                    conn.rollback()
                    return existing, False
                if self.sql.header:
                    cursor.execute(*bind(self.sql.header, header))
                    for line in lines:
                        cursor.execute(*bind(self.sql.lines, {**header, **line}))
                else:
                    for line in lines:
                        cursor.execute(*bind(self.sql.procedure, {**header, **line}))
                document = self._existing(cursor, header)
                if not document:
                    raise OrderError(
                        f"order {order.order_id}: the mapping's orders.sql.exists query does not find the document "
                        f"its statements just wrote (reference {header['external_order_no']!r}); fix the mapping"
                    )
            conn.commit()
            return document, True
        except BaseException as exc:
            self._rollback()
            import pyodbc

            if isinstance(exc, (pyodbc.IntegrityError, pyodbc.DataError, pyodbc.ProgrammingError)):
                # The database refused this order's data (a constraint, a type, a missing item): not transient.
                detail = " ".join(str(a) for a in exc.args[1:] or exc.args)[:500]
                raise OrderError(f"order {order.order_id}: the database refused it: {detail}") from None
            raise

    def _rollback(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except Exception:  # noqa: BLE001 - a dead connection: drop it and reconnect for the next order
            self.close()

    def create(self, order: Order) -> str:
        return self.raise_order(order)[0]


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
