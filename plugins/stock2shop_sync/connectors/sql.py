"""SQL sources over ODBC (Custom Database and the on-premise ERP presets).

The query comes from the mapping and is run read-only through the ODBC provider's ``OdbcHook``; rows are
fetched in chunks so a large catalogue never sits in memory twice as Python row objects.
"""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING

from stock2shop_sync.connectors.base import SourceConnector

if TYPE_CHECKING:
    import pandas as pd
    from airflow.providers.odbc.hooks.odbc import OdbcHook

FETCH_ROWS = 10_000


class SqlConnector(SourceConnector):
    """Run the mapping's SELECT for an entity and return its rows as a raw frame."""

    def hook(self) -> OdbcHook:
        from airflow.providers.odbc.hooks.odbc import OdbcHook

        kwargs = {"driver": self.config.connection.driver} if self.config.connection.driver else {}
        return OdbcHook(odbc_conn_id=self.config.connection.conn_id, **kwargs)

    def read_query(self, query: str, *, limit: int | None = None) -> pd.DataFrame:
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
                chunks.append(pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns))
                if remaining is not None:
                    remaining -= len(rows)
        if not chunks:
            return pd.DataFrame(columns=columns)
        return pd.concat(chunks, ignore_index=True)


CONNECTOR = SqlConnector
