"""Refused statements described without the order's values (``connectors.sql_errors``).

Real errors are provoked over ODBC on SQLite (a file in tmp_path), PostgreSQL and MariaDB: a unique violation,
NOT NULL, a foreign key, a value too long, a wrong type, a missing table and column, a lock wait timeout, a
killed session and a closed port. Each description must name the constraint, column or table, carry none of the
inserted values (which the raw driver text does quote), and say whether trying the same order again can help.
SQL Server is not available here: its documented message shapes are checked as pyodbc errors built by hand, as
are crafted messages that try to smuggle a value through an identifier.
"""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from stock2shop_sync.connectors.sql_errors import MAX_IDENTIFIER, DbError, describe, identifier
from tests.conftest import MARIADB, PG, odbc_string

SECRET_REF = "SECRET-VALUE-123"
SECRET_EMAIL = "thandi@example.com"
SECRET_ITEM = "SECRET-ITEM-987"
SECRET_QTY = "abc-SECRET-QTY"
SECRET_ACCOUNT = "ACC-SECRET-55"
#: Nothing of these may appear in a description.
FORBIDDEN = (SECRET_REF, SECRET_EMAIL, SECRET_ITEM, SECRET_QTY, SECRET_ACCOUNT, "SECRET", "thandi", "example.com")


def assert_clean(described: DbError) -> None:
    for value in FORBIDDEN:
        assert value.lower() not in described.message.lower(), described.message
    assert described.message.strip()


@dataclass
class Db:
    """One test database reached over ODBC, with its own uniquely named tables and constraints."""

    dialect: str
    connect: Callable[..., pyodbc.Connection]
    conn: pyodbc.Connection
    suffix: str

    def name(self, base: str) -> str:
        return f"{base}_{self.suffix}"

    @property
    def orders(self) -> str:
        return self.name("err_orders")

    @property
    def lines(self) -> str:
        return self.name("err_lines")

    def refused(self, sql: str, *params: Any, conn: pyodbc.Connection | None = None) -> tuple[pyodbc.Error, DbError]:
        with pytest.raises(pyodbc.Error) as info:
            (conn or self.conn).execute(sql, *params)
        described = describe(info.value)
        assert_clean(described)
        return info.value, described


def _schema(db: Db) -> list[str]:
    orders, items, lines = db.orders, db.name("err_items"), db.lines
    if db.dialect == "sqlite":
        # SQLite enforces neither VARCHAR lengths nor column types unless told: a STRICT table and a CHECK.
        return [
            f"CREATE TABLE {items} (code TEXT PRIMARY KEY)",
            f"CREATE TABLE {orders} (id INTEGER PRIMARY KEY, external_ref TEXT NOT NULL, "
            f"customer_account TEXT NOT NULL, email TEXT, qty INTEGER, "
            f"CONSTRAINT {db.name('uq_err_ref')} UNIQUE (external_ref), "
            f"CONSTRAINT {db.name('ck_err_email_len')} CHECK (length(email) <= 10)) STRICT",
            f"CREATE TABLE {lines} (id INTEGER PRIMARY KEY, item_code TEXT NOT NULL, "
            f"CONSTRAINT {db.name('fk_err_item')} FOREIGN KEY (item_code) REFERENCES {items} (code)) STRICT",
        ]
    engine = " ENGINE=InnoDB" if db.dialect == "mariadb" else ""
    return [
        f"CREATE TABLE {items} (code VARCHAR(20) PRIMARY KEY){engine}",
        f"CREATE TABLE {orders} (id INTEGER PRIMARY KEY, external_ref VARCHAR(40) NOT NULL, "
        f"customer_account VARCHAR(20) NOT NULL, email VARCHAR(10), qty INTEGER, "
        f"CONSTRAINT {db.name('uq_err_ref')} UNIQUE (external_ref)){engine}",
        f"CREATE TABLE {lines} (id INTEGER PRIMARY KEY, item_code VARCHAR(20) NOT NULL, "
        f"CONSTRAINT {db.name('fk_err_item')} FOREIGN KEY (item_code) REFERENCES {items} (code)){engine}",
    ]


def _connector(dialect: str, tmp_path: Path, database: str | None) -> Callable[..., pyodbc.Connection]:
    def connect(*, autocommit: bool = True, extra: str = "") -> pyodbc.Connection:
        if dialect == "sqlite":
            conn = pyodbc.connect(f"DRIVER={{SQLite3}};Database={tmp_path / 'errors.sqlite'};{extra}", autocommit=True)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.autocommit = autocommit
            return conn
        server = PG if dialect == "postgresql" else MARIADB
        conn = pyodbc.connect(odbc_string(server, database) + extra, autocommit=True)
        if dialect == "mariadb":
            conn.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES'")
        conn.autocommit = autocommit
        return conn

    return connect


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    dialect: str = request.param
    database = None
    if dialect == "postgresql":
        database = request.getfixturevalue("postgres_database")
    elif dialect == "mariadb":
        database = request.getfixturevalue("mariadb_database")
    connect = _connector(dialect, tmp_path, database)
    conn = connect()
    handle = Db(dialect, connect, conn, uuid.uuid4().hex[:8])
    for statement in _schema(handle):
        conn.execute(statement)
    conn.execute(f"INSERT INTO {handle.name('err_items')} (code) VALUES ('HW-HAMMER-16')")
    conn.execute(
        f"INSERT INTO {handle.orders} (id, external_ref, customer_account) VALUES (?, ?, ?)",
        1,
        SECRET_REF,
        SECRET_ACCOUNT,
    )
    try:
        yield handle
    finally:
        for table in (handle.lines, handle.orders, handle.name("err_items")):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


def test_unique_violation_names_the_constraint_not_the_reference(db: Db) -> None:
    exc, described = db.refused(
        f"INSERT INTO {db.orders} (id, external_ref, customer_account) VALUES (?, ?, ?)", 2, SECRET_REF, "ACC-1"
    )
    if db.dialect != "sqlite":
        assert SECRET_REF in str(exc)  # the driver text quotes the value: that is what must not leave
    assert described.message.startswith("a unique constraint was violated")
    expected = f"column {db.orders}.external_ref" if db.dialect == "sqlite" else db.name("uq_err_ref")
    assert expected in described.message
    assert described.data_error is True


def test_not_null_names_the_column(db: Db) -> None:
    _, described = db.refused(
        f"INSERT INTO {db.orders} (id, external_ref, customer_account) VALUES (?, ?, ?)", 3, "S2S-3", None
    )
    assert "column customer_account" in described.message
    assert "may not be empty (NOT NULL)" in described.message
    if db.dialect != "mariadb":  # MariaDB's text names the column only
        assert db.orders in described.message
    assert described.data_error is True


def test_foreign_key_names_the_constraint_not_the_item(db: Db) -> None:
    exc, described = db.refused(f"INSERT INTO {db.lines} (id, item_code) VALUES (?, ?)", 1, SECRET_ITEM)
    if db.dialect == "postgresql":
        assert SECRET_ITEM in str(exc)
    assert described.message.startswith("a foreign-key check failed: the item or account it refers to does not exist")
    if db.dialect != "sqlite":  # SQLite's text is only "FOREIGN KEY constraint failed"
        assert f"constraint {db.name('fk_err_item')}" in described.message
        assert db.lines in described.message
    assert described.data_error is True


def test_too_long_names_the_column_or_the_limit(db: Db) -> None:
    _, described = db.refused(
        f"INSERT INTO {db.orders} (id, external_ref, customer_account, email) VALUES (?, ?, ?, ?)",
        4,
        "S2S-4",
        "ACC-1",
        SECRET_EMAIL,
    )
    expected = {
        "mariadb": "a value is too long for column email",
        # PostgreSQL does not say which column: the type and its limit are all there is.
        "postgresql": "a value is too long for its column (type character varying(10))",
        # SQLite does not enforce lengths: the table's named CHECK constraint does.
        "sqlite": f"a check constraint was violated ({db.name('ck_err_email_len')})",
    }[db.dialect]
    assert described.message == expected
    assert described.data_error is True


def test_wrong_type_names_the_column_or_the_type(db: Db) -> None:
    exc, described = db.refused(
        f"INSERT INTO {db.orders} (id, external_ref, customer_account, qty) VALUES (?, ?, ?, ?)",
        5,
        "S2S-5",
        "ACC-1",
        SECRET_QTY,
    )
    if db.dialect != "sqlite":
        assert SECRET_QTY in str(exc)
    expected = {
        "mariadb": "a value has the wrong type for column qty of table ",  # then database.table
        "postgresql": "a value has the wrong type (expected integer)",  # PostgreSQL names no column here
        "sqlite": f"a value has the wrong type for column qty of table {db.orders} (expected integer)",
    }[db.dialect]
    assert expected in described.message
    assert described.message.endswith(f"{db.orders} (expected integer)" if db.dialect != "postgresql" else "integer)")
    assert described.data_error is True


def test_missing_table_and_column_are_named(db: Db) -> None:
    _, table = db.refused(f"INSERT INTO {db.orders}z (id, external_ref) VALUES (?, ?)", 6, SECRET_REF)
    assert table.message.startswith("the table ")
    assert f"{db.orders}z does not exist: check the mapping's orders.sql" in table.message
    assert table.data_error is True

    _, column = db.refused(f"INSERT INTO {db.orders} (id, external_reff) VALUES (?, ?)", 6, SECRET_REF)
    assert column.message.startswith("the column external_reff")
    assert column.message.endswith("does not exist: check the mapping's orders.sql")
    assert column.data_error is True


def test_syntax_error_and_parameter_count_are_the_mappings_fault(db: Db) -> None:
    _, syntax = db.refused(f"INSERT INTO {db.orders} (id, external_ref) VALUES (?, ?", 7, SECRET_REF)
    assert syntax.message == "the statement has a syntax error: check the mapping's orders.sql"
    assert syntax.data_error is True

    _, params = db.refused(f"INSERT INTO {db.orders} (id, external_ref) VALUES (?)", 7, SECRET_REF)
    assert "differ in number" in params.message
    assert params.data_error is True


def test_lock_wait_timeout_is_transient(db: Db) -> None:
    holder = db.connect(autocommit=False)
    waiter = db.connect(autocommit=False, extra="Timeout=200;" if db.dialect == "sqlite" else "")
    try:
        holder.execute(f"UPDATE {db.orders} SET customer_account = ? WHERE id = 1", "ACC-HOLDER")
        if db.dialect == "postgresql":
            waiter.execute("SET lock_timeout = '300ms'")
        elif db.dialect == "mariadb":
            waiter.execute("SET SESSION innodb_lock_wait_timeout = 1")
        _, described = db.refused(
            f"UPDATE {db.orders} SET customer_account = ? WHERE id = 1", SECRET_ACCOUNT, conn=waiter
        )
    finally:
        waiter.rollback()
        holder.rollback()
        waiter.close()
        holder.close()
    assert described.message == "a lock wait timed out (the table is locked by another session)"
    assert described.data_error is False
    assert described.sqlstate == {"postgresql": "55P03", "mariadb": "HY000", "sqlite": "HY000"}[db.dialect]


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
def test_killed_session_is_transient(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    database = request.getfixturevalue("postgres_database" if dialect == "postgresql" else "mariadb_database")
    connect = _connector(dialect, tmp_path, database)
    admin, victim = connect(), connect()
    try:
        if dialect == "postgresql":
            pid = victim.execute("SELECT pg_backend_pid()").fetchone()[0]
            admin.execute("SELECT pg_terminate_backend(?)", pid)
        else:
            pid = victim.execute("SELECT CONNECTION_ID()").fetchone()[0]
            admin.execute(f"KILL CONNECTION {int(pid)}")
        with pytest.raises(pyodbc.Error) as info:
            victim.execute("SELECT ?", SECRET_REF)
    finally:
        admin.close()
    described = describe(info.value)
    assert_clean(described)
    assert described.data_error is False
    assert described.message in (
        "the database server ended the connection (an administrator's command or a shutdown)",
        "the connection to the database was lost or refused",
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("server", [PG, MARIADB], ids=["postgresql", "mariadb"])
def test_closed_port_is_transient(server: dict[str, Any]) -> None:
    with pytest.raises(pyodbc.Error) as info:
        pyodbc.connect(odbc_string({**server, "port": _closed_port()}, "orders"), timeout=5)
    described = describe(info.value)
    assert described.message == "the connection to the database was lost or refused"
    assert described.data_error is False
    assert "127.0.0.1" not in described.message


def test_unopenable_sqlite_file_is_transient(tmp_path: Path) -> None:
    with pytest.raises(pyodbc.Error) as info:
        pyodbc.connect(f"DRIVER={{SQLite3}};Database={tmp_path / 'missing' / 'orders.sqlite'}")
    described = describe(info.value)
    assert described.message == "the connection to the database was lost or refused"
    assert described.data_error is False


def test_missing_database_is_not_the_orders_fault() -> None:
    """A database name the connection gets wrong fails every order alike: fixed there, the same orders pass."""
    for server in (PG, MARIADB):
        with pytest.raises(pyodbc.Error) as info:
            pyodbc.connect(odbc_string(server, f"s2s_missing_{uuid.uuid4().hex[:8]}"))
        described = describe(info.value)
        assert described.message == "the database named in the order connection does not exist"
        assert described.data_error is False


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
def test_permission_denied_names_the_table(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    database = request.getfixturevalue("postgres_database" if dialect == "postgresql" else "mariadb_database")
    admin = _connector(dialect, tmp_path, database)()
    user, table = f"s2s_ro_{uuid.uuid4().hex[:8]}", f"err_ro_{uuid.uuid4().hex[:8]}"
    account = f"'{user}'@'%'" if dialect == "mariadb" else user
    server = PG if dialect == "postgresql" else MARIADB
    admin.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, external_ref VARCHAR(40))")
    try:
        if dialect == "postgresql":
            admin.execute(f"CREATE ROLE {user} LOGIN")
            admin.execute(f"GRANT SELECT ON {table} TO {user}")
        else:
            admin.execute(f"CREATE USER {account}")
            admin.execute(f"GRANT SELECT ON {database}.{table} TO {account}")
        reader = pyodbc.connect(odbc_string({**server, "login": user}, database), autocommit=True)
        try:
            with pytest.raises(pyodbc.Error) as info:
                reader.execute(f"INSERT INTO {table} (id, external_ref) VALUES (?, ?)", 1, SECRET_REF)
        finally:
            reader.close()
    finally:
        admin.execute(f"DROP TABLE {table}")
        admin.execute(f"DROP ROLE {user}" if dialect == "postgresql" else f"DROP USER {account}")
        admin.close()
    described = describe(info.value)
    assert_clean(described)
    assert described.message.startswith("permission denied: the order connection's login lacks")
    assert table in described.message
    assert user not in described.message
    assert described.data_error is True


# --- SQL Server's documented message shapes, and crafted messages (no server needed) --------------------------

MS = "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]"


def _ms(kind: type[pyodbc.Error], state: str, text: str, native: int | None = None) -> pyodbc.Error:
    """A pyodbc error as pyodbc words it: ``[state] [vendor]text (native) (function)``, with a second record."""
    if native is None:
        return kind(state, f"{MS}{text}")
    return kind(
        state,
        f"[{state}] {MS}{text} ({native}) (SQLExecDirectW); [01000] {MS}The statement has been terminated. (3621)",
    )


SQLSERVER_CASES = [
    pytest.param(
        _ms(
            pyodbc.IntegrityError,
            "23000",
            "Violation of UNIQUE KEY constraint 'UQ_SalesOrders_ExternalRef'. Cannot insert duplicate key in object "
            f"'dbo.SalesOrders'. The duplicate key value is ({SECRET_REF}).",
            2627,
        ),
        "a unique constraint was violated (UQ_SalesOrders_ExternalRef, table dbo.SalesOrders)",
        True,
        id="unique-key",
    ),
    pytest.param(
        _ms(
            pyodbc.IntegrityError,
            "23000",
            "Violation of PRIMARY KEY constraint 'PK_SalesOrders'. Cannot insert duplicate key in object "
            f"'dbo.SalesOrders'. The duplicate key value is ({SECRET_REF}, {SECRET_ACCOUNT}).",
        ),
        "a unique constraint was violated (PK_SalesOrders, table dbo.SalesOrders)",
        True,
        id="primary-key-bare",
    ),
    pytest.param(
        _ms(
            pyodbc.IntegrityError,
            "23000",
            "Cannot insert duplicate key row in object 'dbo.SalesOrders' with unique index 'IX_SalesOrders_Ref'. "
            f"The duplicate key value is ({SECRET_REF}).",
            2601,
        ),
        "a unique constraint was violated (IX_SalesOrders_Ref, table dbo.SalesOrders)",
        True,
        id="unique-index",
    ),
    pytest.param(
        _ms(
            pyodbc.IntegrityError,
            "23000",
            "Cannot insert the value NULL into column 'CustomerAccount', table 'Shop.dbo.SalesOrders'; column does "
            "not allow nulls. INSERT fails.",
            515,
        ),
        "column CustomerAccount of table Shop.dbo.SalesOrders may not be empty (NOT NULL)",
        True,
        id="not-null",
    ),
    pytest.param(
        _ms(
            pyodbc.IntegrityError,
            "23000",
            'The INSERT statement conflicted with the FOREIGN KEY constraint "FK_Lines_Items". The conflict occurred '
            'in database "Shop", table "dbo.Items", column \'ItemCode\'.',
            547,
        ),
        "a foreign-key check failed: the item or account it refers to does not exist "
        "(constraint FK_Lines_Items, referenced table dbo.Items, column ItemCode)",
        True,
        id="foreign-key",
    ),
    pytest.param(
        _ms(
            pyodbc.IntegrityError,
            "23000",
            'The INSERT statement conflicted with the CHECK constraint "CK_Lines_Qty". The conflict occurred in '
            'database "Shop", table "dbo.SalesOrderLines", column \'Qty\'.',
            547,
        ),
        "a check constraint was violated (CK_Lines_Qty, table dbo.SalesOrderLines, column Qty)",
        True,
        id="check",
    ),
    pytest.param(
        _ms(
            pyodbc.DataError,
            "22001",
            "String or binary data would be truncated in table 'Shop.dbo.SalesOrders', column 'Email'. "
            f"Truncated value: '{SECRET_EMAIL[:10]}'.",
            2628,
        ),
        "a value is too long for column Email of table Shop.dbo.SalesOrders",
        True,
        id="truncated-2628",
    ),
    pytest.param(
        _ms(pyodbc.DataError, "22001", "String or binary data would be truncated.", 8152),
        "a value is too long for its column",
        True,
        id="truncated-8152",
    ),
    pytest.param(
        _ms(
            pyodbc.DataError,
            "22018",
            f"Conversion failed when converting the varchar value '{SECRET_QTY}' to data type int.",
            245,
        ),
        "a value has the wrong type (expected int)",
        True,
        id="conversion",
    ),
    pytest.param(
        _ms(pyodbc.DataError, "22018", "Error converting data type nvarchar to numeric.", 8114),
        "a value has the wrong type (expected numeric)",
        True,
        id="converting",
    ),
    pytest.param(
        _ms(pyodbc.ProgrammingError, "42S02", "Invalid object name 'dbo.SalesOrderz'.", 208),
        "the table dbo.SalesOrderz does not exist: check the mapping's orders.sql",
        True,
        id="missing-table",
    ),
    pytest.param(
        _ms(pyodbc.ProgrammingError, "42S22", "Invalid column name 'ExternalReff'.", 207),
        "the column ExternalReff does not exist: check the mapping's orders.sql",
        True,
        id="missing-column",
    ),
    pytest.param(
        _ms(
            pyodbc.ProgrammingError,
            "42000",
            "The INSERT permission was denied on the object 'SalesOrders', database 'Shop', schema 'dbo'.",
            229,
        ),
        "permission denied: the order connection's login lacks the INSERT permission on dbo.SalesOrders",
        True,
        id="permission",
    ),
    pytest.param(
        _ms(pyodbc.ProgrammingError, "42000", f"Incorrect syntax near '{SECRET_REF}'.", 102),
        "the statement has a syntax error: check the mapping's orders.sql",
        True,
        id="syntax",
    ),
    pytest.param(
        _ms(
            pyodbc.Error,
            "40001",
            "Transaction (Process ID 52) was deadlocked on lock resources with another process and has been chosen "
            "as the deadlock victim. Rerun the transaction.",
            1205,
        ),
        "a deadlock with another session: this transaction was rolled back",
        False,
        id="deadlock",
    ),
    pytest.param(
        _ms(pyodbc.Error, "HY000", "Lock request time out period exceeded.", 1222),
        "a lock wait timed out (the table is locked by another session)",
        False,
        id="lock-timeout",
    ),
    pytest.param(
        pyodbc.OperationalError(
            "HYT00", "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Query timeout expired (0) (SQLExecDirectW)"
        ),
        "the statement timed out",
        False,
        id="query-timeout",
    ),
    pytest.param(
        pyodbc.OperationalError(
            "08S01", "[08S01] [Microsoft][ODBC Driver 18 for SQL Server]Communication link failure (0) (SQLExecDirectW)"
        ),
        "the connection to the database was lost or refused",
        False,
        id="link-failure",
    ),
    pytest.param(
        pyodbc.OperationalError(
            "HYT00", "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Login timeout expired (0) (SQLDriverConnect)"
        ),
        "the connection to the database was lost or refused",
        False,
        id="login-timeout",
    ),
]


@pytest.mark.parametrize(("exc", "message", "data_error"), SQLSERVER_CASES)
def test_sqlserver_messages(exc: pyodbc.Error, message: str, data_error: bool) -> None:
    described = describe(exc)
    assert described == DbError(message, exc.args[0], data_error)
    assert_clean(described)


def test_unparsed_text_falls_back_to_the_sqlstate_class() -> None:
    # A localised message: nothing to parse, but the native number (with the vendor) and the SQLSTATE tell.
    german = pyodbc.IntegrityError(
        "23000",
        f"[23000] {MS}Verletzung der UNIQUE KEY-Einschränkung 'UQ'. Der doppelte Schlüsselwert ist ({SECRET_REF}). "
        "(2627) (SQLExecDirectW)",
    )
    assert describe(german) == DbError("a unique constraint was violated (SQLSTATE 23000)", "23000", True)
    data = pyodbc.DataError("22023", f"[22023] ERREUR: valeur {SECRET_REF} invalide")
    assert describe(data) == DbError("the database refused a value (data exception) (SQLSTATE 22023)", "22023", True)
    known = pyodbc.IntegrityError("23505", f"[23505] ERREUR: la valeur {SECRET_REF} existe déjà")
    assert describe(known) == DbError("a unique constraint was violated (SQLSTATE 23505)", "23505", True)


def test_unknown_errors_follow_the_exception_class() -> None:
    operational = describe(pyodbc.OperationalError("HY000", f"[HY000] something odd about {SECRET_REF}"))
    assert operational == DbError("the ODBC driver reported an error (SQLSTATE HY000)", "HY000", False)
    interface = describe(pyodbc.InterfaceError("IM002", "[IM002] [unixODBC][Driver Manager]Data source not found"))
    assert interface.data_error is False
    assert interface.message.endswith("(SQLSTATE IM002)")
    programming = describe(pyodbc.ProgrammingError("HY000", f"[HY000] odd {SECRET_REF}"))
    assert programming.data_error is True
    plain = describe(pyodbc.Error("HY000", f"[HY000] odd {SECRET_REF}"))
    assert plain.data_error is False
    other = describe(RuntimeError(SECRET_REF))
    assert other == DbError("the database call failed (RuntimeError)", None, False)
    params = describe(
        pyodbc.ProgrammingError("The SQL contains 3 parameter markers, but 2 parameters were supplied", "HY000")
    )
    assert params.sqlstate == "HY000"
    assert "differ in number" in params.message
    assert params.data_error is True
    for described in (operational, interface, programming, plain, other, params):
        assert_clean(described)


def test_crafted_messages_cannot_smuggle_values() -> None:
    maria = "[23000] [ma-3.1.15][10.11.19-MariaDB]"
    # A value imitating the end of the message: the real key name is the one before the real end.
    craft = f"Duplicate entry '{SECRET_REF}' for key 'SECRET_KEY' (1062) (SQLExecDirectW)"
    dup = describe(
        pyodbc.IntegrityError("23000", f"{maria}Duplicate entry '{craft}' for key 'uq_ref' (1062) (SQLExecDirectW)")
    )
    assert dup.message == "a unique constraint was violated (uq_ref)"
    wrong = describe(
        pyodbc.DataError(
            "22007",
            "[22007] [ma-3.1.15][10.11.19-MariaDB]Incorrect integer value: 'x' for column `SECRET` at row 1' for "
            "column `shop`.`orders`.`qty` at row 1 (1366) (SQLExecDirectW)",
        )
    )
    assert wrong.message == "a value has the wrong type for column qty of table shop.orders (expected integer)"
    # A name with quotes and spaces in it is reduced to name characters, and cut.
    long_name = "uq' OR 'x'='x " + "A" * 100
    pg = describe(
        pyodbc.IntegrityError(
            "23505",
            f'[23505] ERROR: duplicate key value violates unique constraint "{long_name}"\nDETAIL: Key (external_ref)'
            f"=({SECRET_REF}) already exists.;\nError while executing the query (1) (SQLExecDirectW)",
        )
    )
    name = pg.message.removeprefix("a unique constraint was violated (").split(",")[0]
    assert name == ("uqORxx" + "A" * 100)[:MAX_IDENTIFIER]
    assert "column external_ref" in pg.message
    # SQLite quotes an unnamed CHECK constraint's expression: only a whole name is taken.
    check = describe(
        pyodbc.Error(
            "HY000", "[HY000] [SQLite]CHECK constraint failed: status IN ('SECRET') (19) (19) (SQLExecDirectW)"
        )
    )
    assert check.message == "a check constraint was violated"
    # A type name is only taken from a fixed list.
    typed = describe(pyodbc.DataError("22P02", '[22P02] ERROR: invalid input syntax for type secretive: "1"'))
    assert typed.message == "a value has the wrong type for its column"
    for described in (dup, wrong, pg, check, typed):
        assert_clean(described)


def test_identifier_sanitises() -> None:
    assert identifier("`shop`.`orders`") == "shop.orders"
    assert identifier('"Sales Orders"') == "SalesOrders"
    assert identifier("dbo.[T#1$]") == "dbo.T#1$"
    assert identifier("x" * 100) == "x" * MAX_IDENTIFIER
    assert identifier("'; --") is None
    assert identifier(None) is None


def test_db_error_is_frozen() -> None:
    described = describe(
        pyodbc.IntegrityError("23505", '[23505] ERROR: duplicate key value violates unique constraint "uq"')
    )
    assert str(described) == described.message == "a unique constraint was violated (uq)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        described.message = "changed"  # type: ignore[misc]
