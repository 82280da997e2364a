"""The extraction connection, opened read-only where the driver allows: the second line of defence behind the
config's refusal of any extract query that could write (:func:`stock2shop_sync.config.check_read_only_query`).

By ODBC driver (the source's ``connection.driver``):

* PostgreSQL (psqlODBC): ``pqopt={options=-cdefault_transaction_read_only=on}``, a libpq option, so every
  transaction of the session is read-only and the server refuses INSERT/UPDATE/DELETE/DDL (SQLSTATE 25006);
* MariaDB and MySQL (Connector/ODBC): ``InitStmt=SET SESSION TRANSACTION READ ONLY`` (error 1792);
* SQLite: the database opened as a ``file:...?mode=ro`` URI ("attempt to write a readonly database").

Other drivers (SQL Server, Pervasive) have no session-wide read-only switch; their sources should use a login
that may only read (the README says so), and the query check still applies. The orders' connection
(``orders.conn_id``) is a separate read-write login and never goes through here.

The extraction connection also reads in bounded memory where the driver would not by default: psqlODBC keeps a
whole result set in memory unless told to read it through a cursor (:func:`streaming_connection_string`).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from airflow.providers.odbc.hooks.odbc import OdbcHook

POSTGRES_READ_ONLY = "pqopt={options=-cdefault_transaction_read_only=on};"
POSTGRES_READ_ONLY_SETTINGS = "ConnSettings=SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;"
MARIADB_READ_ONLY = "InitStmt=SET SESSION TRANSACTION READ ONLY;"
#: psqlODBC through a cursor, ``Fetch`` rows at a time: reading the bench's million products held 1.4 GiB with
#: the driver's default (the whole result in memory) and 0.76 GiB with this, for 0.5 s more
POSTGRES_FETCH_ROWS = 50_000


def driver_kind(driver: str | None) -> str | None:
    """``postgresql``, ``mysql``, ``sqlite`` or None, from the unixODBC driver name (``PostgreSQL Unicode``...)."""
    name = (driver or "").lower()
    for key, kind in (("postgres", "postgresql"), ("psql", "postgresql"), ("maria", "mysql"), ("mysql", "mysql")):
        if key in name:
            return kind
    return "sqlite" if "sqlite" in name else None


#: Substrings of a unixODBC driver name (or driver library path), in the order they are tried, and the dialect
#: each means, named as :func:`stock2shop_sync.connectors.sql.dialect_of` names them. Pervasive comes before
#: PostgreSQL because Pervasive's engine is called "PSQL"; FreeTDS serves SQL Server (and Sybase, which also
#: takes ``[Name]``).
_DRIVER_DIALECTS = (
    ("pervasive", "pervasive"),
    ("actian", "pervasive"),
    ("zen", "pervasive"),
    ("sqlite", "sqlite"),
    ("postgres", "postgresql"),
    ("psql", "postgresql"),
    ("maria", "mysql"),
    ("maodbc", "mysql"),
    ("mysql", "mysql"),
    ("myodbc", "mysql"),
    ("sybase", "sybase"),
    ("adaptive server", "sybase"),
    ("sql anywhere", "sybase"),
    ("sql server", "sqlserver"),
    ("msodbcsql", "sqlserver"),
    ("sqlncli", "sqlserver"),
    ("tds", "sqlserver"),
    ("hdbodbc", "hana"),
    ("hana", "hana"),
)


def driver_dialect(driver: str | None) -> str | None:
    """The SQL dialect a source's ODBC driver talks, from its name alone (``connection.driver``, e.g.
    ``ODBC Driver 18 for SQL Server``, ``FreeTDS``, ``PostgreSQL Unicode``, ``MariaDB Unicode``, ``SQLite3``,
    ``Pervasive ODBC Interface``, ``HDBODBC``): ``sqlserver``, ``sybase``, ``postgresql``, ``mysql``,
    ``sqlite``, ``pervasive``, ``hana``, or None for a driver not known here (or none given). Pure: no
    connection is opened, so the config can use it when it is parsed."""
    name = (driver or "").lower()
    for key, dialect in _DRIVER_DIALECTS:
        if key in name:
            return dialect
    return None


def _has(conn_str: str, key: str) -> bool:
    return re.search(rf"(?:^|;)\s*{key}\s*=", conn_str, re.IGNORECASE) is not None


def postgres_options(settings: dict[str, str]) -> str:
    """libpq ``options`` for psqlODBC's ``pqopt``: each setting as ``-c name=value``, quoted as libpq reads it."""
    return "pqopt={options='" + " ".join(f"-c{name}={value}" for name, value in settings.items()) + "'};"


def statement_timeout_connection_string(conn_str: str, driver: str | None, seconds: int) -> str:
    """``conn_str`` whose session cancels any statement running longer than ``seconds`` (0: unchanged), where the
    server does it for the driver: PostgreSQL's ``statement_timeout``. Other drivers take ODBC's query timeout
    attribute instead (:func:`stock2shop_sync.connectors.sql.query_timeout`)."""
    if seconds and driver_kind(driver) == "postgresql" and not _has(conn_str, "pqopt"):
        return conn_str + postgres_options({"statement_timeout": str(seconds * 1000)})
    return conn_str


def read_only_connection_string(
    conn_str: str, driver: str | None, database: str | None = None, *, statement_timeout: int = 0
) -> str:
    """``conn_str`` with the driver's read-only setting added (see the module's docstring); unchanged for a
    driver without one. ``database`` is the SQLite file named in ``DATABASE=`` (opened as a read-only URI);
    ``statement_timeout`` (seconds, 0: none) is set with it on PostgreSQL."""
    kind = driver_kind(driver)
    if kind == "postgresql":
        if not _has(conn_str, "pqopt"):
            if statement_timeout:
                settings = {"default_transaction_read_only": "on", "statement_timeout": str(statement_timeout * 1000)}
                return conn_str + postgres_options(settings)
            return conn_str + POSTGRES_READ_ONLY
        if not _has(conn_str, "ConnSettings"):
            return conn_str + POSTGRES_READ_ONLY_SETTINGS
        raise ValueError("the connection sets both pqopt and ConnSettings: the extraction cannot be made read-only")
    if kind == "mysql":
        if _has(conn_str, "InitStmt"):
            raise ValueError("the connection sets InitStmt: the extraction cannot be made read-only")
        return conn_str + MARIADB_READ_ONLY
    if kind == "sqlite" and database and not database.startswith("file:"):
        uri = f"file:{quote(database, safe='/')}?mode=ro"
        return conn_str.replace(f"DATABASE={database};", f"DATABASE={uri};", 1)
    return conn_str


@functools.cache
def _source_hook_class() -> type[OdbcHook]:
    from airflow.providers.odbc.hooks.odbc import OdbcHook

    class SourceOdbcHook(OdbcHook):
        """``OdbcHook`` given its driver by the source's ``connection.driver``."""

        @property
        def driver(self) -> str | None:
            # The provider's property warns that a driver in the connection's extra is not used each time it is
            # read, even when the extra names none and the driver came from the constructor: several lines of
            # noise per query in task logs and in check-mapping's output. Its rule is kept (the extra's driver
            # only with allow_driver_in_extra); a driver in the extra that is not used is said once, in our words.
            chosen = self._driver
            if not chosen:
                named = self.connection_extra_lower.get("driver")
                if named and _driver_in_extra_allowed():
                    chosen = named
                elif named:
                    _unused_extra_driver(str(getattr(self, self.conn_name_attr, "")), str(named))
                chosen = chosen or self.default_driver
            return chosen.strip().lstrip("{").rstrip("}").strip() if chosen else None

    return SourceOdbcHook


def _driver_in_extra_allowed() -> bool:
    """Airflow's ``[providers.odbc] allow_driver_in_extra``: whether a driver named in a connection's extra is used."""
    from airflow.providers.common.compat.sdk import conf

    return conf.getboolean("providers.odbc", "allow_driver_in_extra", fallback=False)


@functools.cache
def _unused_extra_driver(conn_id: str, driver: str) -> None:
    """Say once per process that ``conn_id``'s extra names a driver Airflow does not use, and what to do instead."""
    logging.getLogger(__name__).warning(
        "connection %r names ODBC driver %r in its extra, which Airflow does not use unless [providers.odbc] "
        "allow_driver_in_extra is set; name it in the source config's connection.driver instead",
        conn_id,
        driver,
    )


def source_hook(conn_id: str, driver: str | None, *, login_timeout: int = 0) -> OdbcHook:
    """An ``OdbcHook`` on ``conn_id`` with the source's ODBC driver and login timeout (the order sinks' hook)."""
    kwargs = {"driver": driver} if driver else {}
    return _source_hook_class()(odbc_conn_id=conn_id, connect_kwargs=login_timeout_kwargs(login_timeout), **kwargs)


def read_only_hook(conn_id: str, driver: str | None, *, statement_timeout: int = 0, login_timeout: int = 0) -> OdbcHook:
    """An ``OdbcHook`` for the source's extraction whose connection string (used by ``get_conn()`` and by the
    arrow-odbc reader alike) opens the session read-only, reads result sets in chunks and, on PostgreSQL, cancels
    a statement after ``statement_timeout`` seconds."""

    class ReadOnlyOdbcHook(_source_hook_class()):  # type: ignore[misc]
        """``OdbcHook`` whose connection string asks the driver for a read-only session read in chunks."""

        @property
        def odbc_connection_string(self) -> str:
            database = self.database or self.connection.schema
            conn_str = read_only_connection_string(
                super().odbc_connection_string, self.driver, database, statement_timeout=statement_timeout
            )
            return streaming_connection_string(conn_str, self.driver)

    kwargs = {"driver": driver} if driver else {}
    return ReadOnlyOdbcHook(odbc_conn_id=conn_id, connect_kwargs=login_timeout_kwargs(login_timeout), **kwargs)


#: ODBC's SQL_ATTR_LOGIN_TIMEOUT, set before pyodbc connects.
SQL_ATTR_LOGIN_TIMEOUT = 103


def login_timeout_kwargs(seconds: int) -> dict[str, Any]:
    """``OdbcHook`` ``connect_kwargs`` that bound the login to ``seconds`` (every driver here accepts it)."""
    return {"attrs_before": {SQL_ATTR_LOGIN_TIMEOUT: seconds}} if seconds else {}


def streaming_connection_string(conn_str: str, driver: str | None) -> str:
    """``conn_str`` set to read a result set in chunks where the driver otherwise holds all of it: for
    psqlODBC ``UseDeclareFetch=1`` with ``Fetch`` rows per chunk, unless the connection chooses either itself."""
    if driver_kind(driver) != "postgresql" or _has(conn_str, "UseDeclareFetch") or _has(conn_str, "Fetch"):
        return conn_str
    return conn_str + f"UseDeclareFetch=1;Fetch={POSTGRES_FETCH_ROWS};"
