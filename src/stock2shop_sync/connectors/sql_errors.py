"""What a refused SQL statement means, in words that carry no customer value.

When the SQL order sink's statements are refused, the driver's text often quotes the order's own values:
PostgreSQL's ``DETAIL: Key (external_ref)=(S2S-17) already exists.`` or ``Failing row contains (...)``, MariaDB's
``Duplicate entry 'S2S-17' for key ...`` and ``Incorrect integer value: 'abc' for column ...``, SQL Server's
``The duplicate key value is (...)`` and ``Truncated value: '...'``. Whatever is sent to Stock2Shop's
order-error endpoint leaves this machine, so it must say what is wrong (the kind of problem, and the names of the
constraint, column or table) and never what the order held. The full driver text stays in the local task log
only.

:func:`describe` turns a driver exception into a :class:`DbError`:

* ``message``: words built here from a fixed vocabulary, plus identifiers parsed out of the driver text at
  places the drivers only ever put names (never a quoted value), each sanitised by :func:`identifier` (only
  ``[A-Za-z0-9_.$#]`` kept, at most :data:`MAX_IDENTIFIER` characters) so that a crafted message cannot smuggle a
  value through; type names are only taken from a fixed list. When nothing can be parsed (another language, an
  unknown driver) the message is the generic words of the SQLSTATE class and the SQLSTATE code;
* ``sqlstate``: the SQLSTATE pyodbc puts in ``exc.args[0]`` (``None`` when there is none);
* ``kind``: the problem's key in the vocabulary (``unique``, ``deadlock``...), so callers can act on it without
  reading words: ``duplicate_key`` says a unique or primary key refused the row (the SQL order sink tries an
  insert again with a fresh ``next_id`` then);
* ``data_error``: True when trying the same order again cannot help (an integrity or data error, a syntax error,
  a missing table, column or procedure, a permission the order login lacks); False for what may pass on a later
  try (a lost or refused connection, a lock wait or deadlock, a timeout, a server shutting down or out of
  resources) and for anything unknown that pyodbc raised as ``OperationalError``, ``InterfaceError`` or a plain
  ``Error``. A refused login and a database that does not exist are also False: every order of the source
  fails alike until the connection is fixed, and then the same orders go through.

The message shapes parsed are PostgreSQL's (psqlODBC), MariaDB's and MySQL's (MariaDB Connector/ODBC), SQLite's
(sqliteodbc) and SQL Server's (the Microsoft ODBC drivers). The module needs nothing but the standard library;
pyodbc is imported only to tell its exception classes apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

__all__ = ["MAX_IDENTIFIER", "DbError", "describe", "identifier"]

#: The longest identifier a message carries (PostgreSQL's own limit is 63 bytes, MariaDB's 64 characters).
MAX_IDENTIFIER: Final = 64


@dataclass(frozen=True)
class DbError:
    """A refused statement, described without any value it carried."""

    #: What is wrong, in words and identifiers only: safe to send out of this machine.
    message: str
    #: The SQLSTATE the driver reported (``exc.args[0]``), or ``None``.
    sqlstate: str | None
    #: True when the same order would be refused again (fix the data or the mapping); False when a later try
    #: may pass (connection, lock, timeout, server state, or unknown).
    data_error: bool
    #: The kind of problem, a key of the fixed vocabulary (``unique``, ``not_null``, ``deadlock``...), or None
    #: when only the SQLSTATE class (or nothing) was recognised. Not part of equality: the words are.
    kind: str | None = field(default=None, compare=False)

    @property
    def duplicate_key(self) -> bool:
        """Whether a unique or primary-key constraint refused the statement (SQLite, PostgreSQL, MariaDB/MySQL and
        SQL Server alike): a key another row already holds."""
        return self.kind == "unique"

    def __str__(self) -> str:
        return self.message


_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_.$#]")


def identifier(text: str | None) -> str | None:
    """``text`` reduced to the characters of an SQL name (``[A-Za-z0-9_.$#]``, quotes and all else dropped) and
    cut to :data:`MAX_IDENTIFIER` characters; ``None`` when nothing is left."""
    if text is None:
        return None
    kept = _NOT_IDENTIFIER.sub("", text).strip(".")[:MAX_IDENTIFIER].strip(".")
    return kept or None


def _identifiers(text: str | None) -> str | None:
    """A comma-separated list of names (``a, b``), each sanitised."""
    if text is None:
        return None
    names = [name for name in (identifier(part) for part in text.split(",")) if name]
    return ", ".join(names[:8]) or None


def _strict_identifier(text: str | None) -> str | None:
    """``text`` when it is a (possibly quoted) name as a whole, else ``None``: for places where a driver may put an
    expression instead of a name (SQLite's CHECK failures name the constraint, or quote its expression)."""
    if text is None:
        return None
    bare = text.strip().strip('"`[]')
    return identifier(bare) if re.fullmatch(r"[A-Za-z0-9_.$#]+", bare) else None


def _column_and_table(qualified: str | None) -> tuple[str | None, str | None]:
    """``table.column`` (or ``db.table.column``) as (column, table)."""
    name = identifier(qualified)
    if name is None or "." not in name:
        return name, None
    table, column = name.rsplit(".", 1)
    return identifier(column), identifier(table)


#: Type names a message may repeat (only these: a type is read where a crafted text could otherwise reach).
_TYPES: Final = frozenset(
    {
        "integer",
        "int",
        "int2",
        "int4",
        "int8",
        "smallint",
        "bigint",
        "tinyint",
        "mediumint",
        "bit",
        "boolean",
        "bool",
        "decimal",
        "numeric",
        "money",
        "smallmoney",
        "real",
        "float",
        "float4",
        "float8",
        "double",
        "date",
        "time",
        "timestamp",
        "datetime",
        "datetime2",
        "smalldatetime",
        "datetimeoffset",
        "interval",
        "year",
        "uuid",
        "uniqueidentifier",
        "json",
        "jsonb",
        "xml",
        "text",
        "varchar",
        "nvarchar",
        "char",
        "nchar",
        "string",
        "bytea",
        "binary",
        "varbinary",
        "blob",
        "enum",
        "double precision",
        "character varying",
        "character",
        "timestamp with time zone",
        "time with time zone",
    }
)


def _type_name(text: str | None) -> str | None:
    if text is None:
        return None
    name = " ".join(text.lower().split())
    return name if name in _TYPES else None


# --- the vocabulary: each kind of problem in words, and whether it is the order's (or mapping's) fault --------

_CHECK_SQL = "check the mapping's orders.sql"

#: kind -> (words when no name could be read, data_error)
_KINDS: Final[dict[str, tuple[str, bool]]] = {
    "unique": ("a unique constraint was violated", True),
    "not_null": ("a column that may not be empty got no value (NOT NULL)", True),
    "foreign_key": ("a foreign-key check failed: the item or account it refers to does not exist", True),
    "fk_parent": ("a foreign-key check failed: other rows still refer to the row changed", True),
    "fk_or_check": ("a foreign-key or check constraint was violated", True),
    "check": ("a check constraint was violated", True),
    "exclusion": ("an exclusion constraint was violated", True),
    "integrity": ("an integrity constraint was violated", True),
    "too_long": ("a value is too long for its column", True),
    "truncated": ("a value does not fit its column (data truncated)", True),
    "wrong_type": ("a value has the wrong type for its column", True),
    "out_of_range": ("a number is out of range for its column", True),
    "bad_date": ("a date or time value is invalid or out of range", True),
    "charset": ("a text value has characters its column cannot store (check the column's character set)", True),
    "division": ("a division by zero", True),
    "data": ("the database refused a value (data exception)", True),
    "no_table": (f"a table the statement uses does not exist: {_CHECK_SQL}", True),
    "no_column": (f"a column the statement uses does not exist: {_CHECK_SQL}", True),
    "no_routine": (f"a function or procedure the statement calls does not exist: {_CHECK_SQL}", True),
    "no_operator": (f"an operator or function does not exist for these types: {_CHECK_SQL}", True),
    "permission": ("permission denied: the order connection's login may not write where the statement writes", True),
    "readonly": ("the database is read-only for the order connection", True),
    "syntax": (f"the statement has a syntax error: {_CHECK_SQL}", True),
    "count": (f"an INSERT's columns and values differ in number: {_CHECK_SQL}", True),
    "params": (f"the statement's ? markers and the parameters given differ in number: {_CHECK_SQL}", True),
    "sql": (f"the statement failed (a syntax error, or a missing table or column): {_CHECK_SQL}", True),
    "raised": ("a trigger or procedure in the database refused the order", True),
    "unsupported": (f"the database does not support something the statement uses: {_CHECK_SQL}", True),
    "limit": ("the statement exceeds a limit of the database", True),
    "lock": ("a lock wait timed out (the table is locked by another session)", False),
    "deadlock": ("a deadlock with another session: this transaction was rolled back", False),
    "serialization": ("a concurrent change conflicted with this transaction (serialization failure)", False),
    "timeout": ("the statement timed out", False),
    "cancelled": ("the statement was cancelled", False),
    "connection": ("the connection to the database was lost or refused", False),
    "shutdown": ("the database server is shutting down or starting up", False),
    "terminated": ("the database server ended the connection (an administrator's command or a shutdown)", False),
    "resources": ("the database server is out of resources (connections, memory or disk)", False),
    "login": ("the database refused the order connection's login", False),
    "no_database": ("the database named in the order connection does not exist", False),
    "transaction": ("the transaction was aborted by an earlier error", False),
    "driver": ("the ODBC driver manager could not load or use the driver", False),
    "server": ("an internal error on the database server", False),
}

#: SQLSTATE class (two characters) -> (words, data_error, or None: decided by the exception's class).
_CLASSES: Final[dict[str, tuple[str, bool | None]]] = {
    "01": ("the database raised a warning about the statement", None),
    "07": ("the statement and its parameters do not match (dynamic SQL error)", True),
    "08": ("the connection to the database was lost or refused", False),
    "0A": ("the database does not support something the statement uses", True),
    "21": ("the statement's columns and values do not match (cardinality violation)", True),
    "22": ("the database refused a value (data exception)", True),
    "23": ("an integrity constraint was violated", True),
    "24": ("the cursor was in an invalid state", False),
    "25": ("the transaction was in an invalid state", False),
    "27": ("a triggered change was refused", True),
    "28": ("the database refused the login", False),
    "2D": ("the transaction was ended in an invalid way", False),
    "2F": ("a stored procedure failed", True),
    "38": ("an external routine failed", True),
    "39": ("an external routine call failed", True),
    "3D": ("the database named in the connection does not exist", False),
    "3F": ("a schema the statement uses does not exist", True),
    "40": ("the transaction was rolled back (deadlock or serialization failure)", False),
    "42": ("the statement has a syntax error, or uses an object that does not exist or may not be used", True),
    "44": ("a view's check option was violated", True),
    "45": ("a trigger or procedure in the database refused the order", True),
    "53": ("the database server is out of resources", False),
    "54": ("the statement exceeds a limit of the database", True),
    "55": ("an object the statement needs is not available (e.g. locked)", False),
    "57": ("the database server cancelled the statement or is shutting down", False),
    "58": ("a system error on the database server", False),
    "70": ("the statement was interrupted", False),
    "F0": ("a configuration file error on the database server", False),
    "HV": ("a foreign-data wrapper error", False),
    "HY": ("the ODBC driver reported an error", None),
    "IM": ("the ODBC driver manager could not load or use the driver", False),
    "P0": ("a trigger or procedure in the database refused the order", True),
    "XX": ("an internal error on the database server", False),
}

#: Exact SQLSTATEs whose kind is known without reading the text (localised messages keep their SQLSTATE).
_STATES: Final[dict[str, str]] = {
    "23505": "unique",
    "23502": "not_null",
    "23503": "foreign_key",
    "23514": "check",
    "23P01": "exclusion",
    "22001": "too_long",
    "22P02": "wrong_type",
    "22018": "wrong_type",
    "22003": "out_of_range",
    "22007": "bad_date",
    "22008": "bad_date",
    "22012": "division",
    "22021": "charset",
    "42P01": "no_table",
    "42S02": "no_table",
    "42703": "no_column",
    "42S22": "no_column",
    "42883": "no_routine",
    "42501": "permission",
    "42601": "syntax",
    "21S01": "count",
    "07001": "params",
    "07002": "params",
    "40P01": "deadlock",
    "40001": "serialization",
    "55P03": "lock",
    "57014": "cancelled",
    "57P01": "terminated",
    "57P02": "shutdown",
    "57P03": "shutdown",
    "25P02": "transaction",
    "28000": "login",
    "28P01": "login",
    "3D000": "no_database",
    "HYT00": "timeout",
    "HYT01": "timeout",
}

#: Native error numbers of MariaDB/MySQL (server and client library).
_MYSQL_CODES: Final[dict[int, str]] = {
    1062: "unique",
    1586: "unique",
    1022: "unique",
    1169: "unique",
    1048: "not_null",
    1364: "not_null",
    1452: "foreign_key",
    1216: "foreign_key",
    1451: "fk_parent",
    1217: "fk_parent",
    4025: "check",
    3819: "check",
    1406: "too_long",
    1264: "out_of_range",
    1265: "truncated",
    1366: "wrong_type",
    1367: "wrong_type",
    1292: "wrong_type",
    1365: "division",
    1146: "no_table",
    1054: "no_column",
    1305: "no_routine",
    1142: "permission",
    1143: "permission",
    1370: "permission",
    1290: "readonly",
    1064: "syntax",
    1136: "count",
    1644: "raised",
    1205: "lock",
    1213: "deadlock",
    1969: "timeout",
    3024: "timeout",
    1317: "cancelled",
    2002: "connection",
    2003: "connection",
    2005: "connection",
    2006: "connection",
    2013: "connection",
    2055: "connection",
    1927: "connection",
    1053: "shutdown",
    1040: "resources",
    1041: "resources",
    1021: "resources",
    1045: "login",
    1044: "login",
    1049: "no_database",
}

#: Native error numbers of SQL Server.
_SQLSERVER_CODES: Final[dict[int, str]] = {
    2627: "unique",
    2601: "unique",
    515: "not_null",
    547: "fk_or_check",
    2628: "too_long",
    8152: "too_long",
    245: "wrong_type",
    8114: "wrong_type",
    241: "bad_date",
    242: "bad_date",
    8115: "out_of_range",
    220: "out_of_range",
    8134: "division",
    208: "no_table",
    207: "no_column",
    2812: "no_routine",
    229: "permission",
    230: "permission",
    3906: "readonly",
    102: "syntax",
    156: "syntax",
    109: "count",
    110: "count",
    120: "count",
    121: "count",
    50000: "raised",
    1222: "lock",
    1205: "deadlock",
    3960: "serialization",
    4060: "no_database",
    18456: "login",
    701: "resources",
    1105: "resources",
    9002: "resources",
}

#: SQLite's extended result codes that say more than their primary code (19, a constraint failed).
_SQLITE_EXTENDED: Final[dict[int, str]] = {
    1555: "unique",  # SQLITE_CONSTRAINT_PRIMARYKEY
    2067: "unique",  # SQLITE_CONSTRAINT_UNIQUE
    1299: "not_null",  # SQLITE_CONSTRAINT_NOTNULL
    787: "foreign_key",  # SQLITE_CONSTRAINT_FOREIGNKEY
    275: "check",  # SQLITE_CONSTRAINT_CHECK
}

#: SQLite's primary result codes (the low byte of an extended code).
_SQLITE_CODES: Final[dict[int, str]] = {
    1: "sql",
    5: "lock",
    6: "lock",
    8: "readonly",
    13: "resources",
    14: "connection",
    18: "too_long",
    19: "integrity",
    20: "wrong_type",
    23: "permission",
}


# --- taking the driver text apart ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Text:
    dialect: str | None  # "postgresql", "mysql", "sqlite", "sqlserver" or None
    native: int | None
    primary: str  # the first diagnostic's message, driver prefixes and trailing codes removed
    rest: str  # what follows the primary message in the same diagnostic (PostgreSQL's DETAIL, ...)


_SQLSTATE = re.compile(r"[0-9A-Z]{5}")
_LEADING_STATE = re.compile(r"\s*\[([0-9A-Z]{5})\]\s*")
#: pyodbc ends the first diagnostic record with "(native error) (ODBC function)"; only the first record has the
#: function, so the last such pair ends it even when a value inside the record imitates one.
_RECORD_END = re.compile(r"^(.*)\((-?\d+)\)\s*\(SQL[A-Za-z]+\)", re.DOTALL)
_VENDOR = re.compile(r"\[([^\[\]]{1,100})\]\s*")
_TRAILING_CODES = re.compile(r"(?:\s*\(-?\d+\))+\s*$")
_PG_SEVERITY = re.compile(r"(?:ERROR|FATAL|PANIC|WARNING):\s*")
_PG_MORE = re.compile(r";?\s*\n(?:DETAIL|HINT|CONTEXT|QUERY|WHERE|STATEMENT|LINE \d+):|;\s*\n", re.DOTALL)


def _dialect(vendors: list[str], text: str) -> str | None:
    joined = " ".join(vendors).lower()
    if "sqlite" in joined:
        return "sqlite"
    if "mariadb" in joined or "mysql" in joined or joined.startswith("ma-") or " ma-" in joined:
        return "mysql"
    if "sql server" in joined or "microsoft" in joined or "freetds" in joined:
        return "sqlserver"
    if _PG_SEVERITY.match(text) or "Error while executing the query" in text or "connection to server" in text:
        return "postgresql"
    return None


def _split(raw: str) -> _Text:
    text = raw.strip()
    if state := _LEADING_STATE.match(text):
        text = text[state.end() :]
    native = None
    if end := _RECORD_END.match(text):
        text, native = end.group(1), int(end.group(2))
    vendors = []
    while vendor := _VENDOR.match(text):
        vendors.append(vendor.group(1))
        text = text[vendor.end() :]
    text = _TRAILING_CODES.sub("", text).strip()
    dialect = _dialect(vendors, text)
    rest = ""
    if dialect == "postgresql":
        text = _PG_SEVERITY.sub("", text, count=1) if _PG_SEVERITY.match(text) else text
        if more := _PG_MORE.search(text):
            text, rest = text[: more.start()], text[more.start() :]
    return _Text(dialect, native, text.strip().rstrip(";").strip(), rest)


# --- the message shapes -------------------------------------------------------------------------------------
# Each pattern captures names only at places its driver puts a name. A name that follows a value in the text is
# read only from a pattern anchored at the end of the record (whose end a value cannot move, see _RECORD_END).

_Q = r"'([^']{1,200})'"  # 'name'
_DQ = r'"([^"]{1,200})"'  # "name"
_BQ = r"((?:`[^`]{1,64}`\.?){1,3})"  # `db`.`table`.`column`
_NAME = r"([A-Za-z0-9_.$#]{1,200})"  # a bare name (SQLite)
_ROW = r" at row \d+$"

_PATTERNS: Final[list[tuple[str, str, tuple[str, ...]]]] = [
    # unique
    ("unique", r"duplicate key value violates unique constraint " + _DQ, ("name",)),
    ("unique", r"Duplicate entry '.*' for key " + _Q + "$", ("name",)),
    (
        "unique",
        r"Violation of (?:PRIMARY|UNIQUE) KEY constraint " + _Q + r"\. Cannot insert duplicate key in object " + _Q,
        ("name", "table"),
    ),
    ("unique", r"Cannot insert duplicate key row in object " + _Q + r" with unique index " + _Q, ("table", "name")),
    ("unique", r"(?:UNIQUE|PRIMARY KEY) constraint failed: index " + _Q, ("name",)),
    (
        "unique",
        r"(?:UNIQUE|PRIMARY KEY) constraint failed: ([A-Za-z0-9_.$#]{1,200}(?:, [A-Za-z0-9_.$#]{1,200})*)$",
        ("columns",),
    ),
    ("unique", r"column " + _NAME + r" is not unique$", ("columns",)),
    ("unique", r"PRIMARY KEY must be unique$", ()),
    # not null
    (
        "not_null",
        r"null value in column " + _DQ + r"(?: of relation " + _DQ + r")? violates not-null constraint",
        ("column", "table"),
    ),
    ("not_null", r"Column " + _Q + r" cannot be null$", ("column",)),
    ("not_null_default", r"Field " + _Q + r" doesn't have a default value$", ("column",)),
    ("not_null", r"Cannot insert the value NULL into column " + _Q + r", table " + _Q, ("column", "table")),
    ("not_null", r"NOT NULL constraint failed: " + _NAME + "$", ("qualified",)),
    # foreign keys
    (
        "foreign_key",
        r"insert or update on table " + _DQ + r" violates foreign key constraint " + _DQ,
        ("table", "name"),
    ),
    ("fk_parent", r"update or delete on table " + _DQ + r" violates foreign key constraint " + _DQ, ("table", "name")),
    (
        "foreign_key",
        r"Cannot add or update a child row: a foreign key constraint fails \(" + _BQ + r", CONSTRAINT `([^`]{1,200})`",
        ("table", "name"),
    ),
    (
        "fk_parent",
        r"Cannot delete or update a parent row: a foreign key constraint fails \("
        + _BQ
        + r", CONSTRAINT `([^`]{1,200})`",
        ("table", "name"),
    ),
    ("foreign_key", r"Cannot add or update a child row", ()),
    ("fk_parent", r"Cannot delete or update a parent row", ()),
    (
        "foreign_key",
        r"The (?:INSERT|UPDATE|MERGE) statement conflicted with the FOREIGN KEY(?: SAME TABLE)? constraint "
        + _DQ
        + r"\. The conflict occurred in database \"[^\"]{0,200}\", table "
        + _DQ
        + r"(?:, column "
        + _Q
        + r")?",
        ("name", "referenced", "column"),
    ),
    (
        "foreign_key",
        r"The (?:INSERT|UPDATE|MERGE) statement conflicted with the FOREIGN KEY(?: SAME TABLE)? constraint " + _DQ,
        ("name",),
    ),
    ("fk_parent", r"The (?:DELETE|UPDATE|MERGE) statement conflicted with the REFERENCE constraint " + _DQ, ("name",)),
    ("foreign_key", r"FOREIGN KEY constraint failed$", ()),
    # check and exclusion constraints
    ("check", r"new row for relation " + _DQ + r" violates check constraint " + _DQ, ("table", "name")),
    ("check", r"CONSTRAINT `([^`]{1,200})` failed for " + _BQ + "$", ("name", "table")),
    ("check", r"Check constraint " + _Q + r" is violated\.?$", ("name",)),
    (
        "check",
        r"The (?:INSERT|UPDATE|MERGE) statement conflicted with the CHECK constraint "
        + _DQ
        + r"\. The conflict occurred in database \"[^\"]{0,200}\", table "
        + _DQ
        + r"(?:, column "
        + _Q
        + r")?",
        ("name", "table", "column"),
    ),
    ("check", r"The (?:INSERT|UPDATE|MERGE) statement conflicted with the CHECK constraint " + _DQ, ("name",)),
    ("check", r"CHECK constraint failed: (.{1,200})$", ("expression",)),
    ("exclusion", r"conflicting key value violates exclusion constraint " + _DQ, ("name",)),
    # too long
    ("too_long", r"value too long for type ([a-z ]{1,40})\((\d{1,9})\)", ("type", "size")),
    ("too_long", r"Data too long for column " + _Q + _ROW, ("column",)),
    (
        "too_long",
        r"String or binary data would be truncated in table " + _Q + r", column " + _Q + r"\. Truncated value:",
        ("table", "column"),
    ),
    ("too_long", r"String or binary data would be truncated", ()),
    ("too_long", r"String data, right truncation", ()),
    ("too_long", r"string or blob too big$", ()),
    # wrong type, range, dates
    (
        "charset",
        r"Incorrect string value: '.*' for column (?:" + _BQ + "|" + _Q + ")" + _ROW,
        ("qualified", "qualified"),
    ),
    (
        "wrong_type",
        r"(?:Incorrect|Truncated incorrect) ([A-Za-z]{1,20}) value: '.*' for column (?:" + _BQ + "|" + _Q + ")" + _ROW,
        ("type", "qualified", "qualified"),
    ),
    ("wrong_type", r"(?:Incorrect|Truncated incorrect) ([A-Za-z]{1,20}) value: ", ("type",)),
    ("out_of_range", r"Out of range value for column " + _Q + _ROW, ("column",)),
    ("truncated", r"Data truncated for column " + _Q + _ROW, ("column",)),
    ("wrong_type", r"invalid input syntax for (?:type )?([a-z][a-z0-9 ]{0,40}?): ", ("type",)),
    ("wrong_type", r"invalid input value for enum ", ()),
    ("out_of_range", r"value \".*\" is out of range for type ([a-z ]{1,40})$", ("type",)),
    ("out_of_range", r"(smallint|integer|bigint) out of range", ("type",)),
    ("out_of_range", r"numeric field overflow", ()),
    ("bad_date", r"date/time field value out of range", ()),
    ("bad_date", r"(?:date|timestamp) out of range", ()),
    ("charset", r"invalid byte sequence for encoding ", ()),
    ("charset", r'character with byte sequence .* in encoding "[^"]*" has no equivalent', ()),
    ("wrong_type", r"Conversion failed when converting date and/or time", ()),
    ("wrong_type", r"Conversion failed when converting .* to data type (\w{1,40})\.?$", ("type",)),
    ("wrong_type", r"Error converting data type \w{1,40} to (\w{1,40})\.?$", ("type",)),
    ("out_of_range", r"Arithmetic overflow error converting \w{1,40} to data type (\w{1,40})", ("type",)),
    ("out_of_range", r"Arithmetic overflow error", ()),
    ("wrong_type", r"Invalid character value for cast specification", ()),
    ("out_of_range", r"Numeric value out of range", ()),
    (
        "wrong_type",
        r"cannot store ([A-Z]{1,20}) value in ([A-Z]{1,20}) column " + _NAME + "$",
        ("given", "type", "qualified"),
    ),
    ("wrong_type", r"datatype mismatch$", ()),
    ("division", r"division by zero", ()),
    ("division", r"Divide by zero error", ()),
    # missing objects
    ("no_table", r"relation " + _DQ + r" does not exist", ("table",)),
    ("no_table", r"Table " + _Q + r" doesn't exist$", ("table",)),
    ("no_table", r"no such table: " + _NAME + "$", ("table",)),
    ("no_table", r"Invalid object name " + _Q, ("table",)),
    ("no_column", r"column " + _DQ + r" of relation " + _DQ + r" does not exist", ("column", "table")),
    ("no_column", r"column " + _DQ + r" does not exist", ("column",)),
    ("no_column", r"column " + _NAME + r" does not exist", ("qualified",)),
    ("no_column", r"Unknown column " + _Q + r" in '[^']{0,40}'$", ("column",)),
    ("no_column", r"table " + _NAME + r" has no column named " + _NAME + "$", ("table", "column")),
    ("no_column", r"no such column: " + _NAME + "$", ("qualified",)),
    ("no_column", r"Invalid column name " + _Q, ("column",)),
    ("no_routine", r"(?:function|procedure) ([A-Za-z0-9_.$#\"]{1,200})\(.*\) does not exist", ("name",)),
    ("no_routine", r"(?:PROCEDURE|FUNCTION) ([A-Za-z0-9_.$#`]{1,200}) does not exist$", ("name",)),
    ("no_routine", r"Could not find stored procedure " + _Q, ("name",)),
    ("no_routine", r"no such function: " + _NAME + "$", ("name",)),
    ("no_operator", r"operator does not exist", ()),
    # permissions and read-only databases
    (
        "permission",
        r"permission denied for (?:table|relation|sequence|view|schema|function|procedure) "
        r"([A-Za-z0-9_.$#\"]{1,200})$",
        ("table",),
    ),
    (
        "permission",
        r"([A-Z]{1,20}) command denied to user .* for table (?:" + _BQ + "|" + _Q + ")$",
        ("command", "table", "table"),
    ),
    (
        "permission",
        r"The ([A-Z]{1,20}) permission was denied on the object "
        + _Q
        + r"(?:, database '[^']{0,200}', schema "
        + _Q
        + r")?",
        ("command", "table", "schema"),
    ),
    ("readonly", r"attempt to write a readonly database$", ()),
    ("readonly", r"cannot execute \w+ in a read-only transaction$", ()),
    ("readonly", r"The MariaDB server is running with the --read-only option", ()),
    # the statement itself
    ("syntax", r"syntax error at or near ", ()),
    ("syntax", r"syntax error at end of input", ()),
    ("syntax", r"You have an error in your SQL syntax", ()),
    ("syntax", r"Incorrect syntax near ", ()),
    ("syntax", r'near ".*": syntax error$', ()),
    ("syntax", r"(?:incomplete input|unrecognized token: .*)$", ()),
    ("count", r"INSERT has more (?:expressions than target columns|target columns than expressions)", ()),
    ("count", r"Column count doesn't match value count", ()),
    ("count", r"\d+ values for \d+ columns$", ()),
    ("count", r"There are (?:fewer|more) columns in the INSERT statement than values", ()),
    ("params", r"The SQL contains \d+ parameter markers?, but \d+ parameters? (?:were|was) supplied", ()),
    # locks, deadlocks, timeouts
    ("lock", r"canceling statement due to lock timeout", ()),
    ("lock", r"could not obtain lock on (?:row in )?relation " + _DQ, ("table",)),
    ("lock", r"Lock wait timeout exceeded", ()),
    ("lock", r"Lock request time out period exceeded", ()),
    ("lock", r"database (?:table )?is locked$", ()),
    ("deadlock", r"deadlock detected", ()),
    ("deadlock", r"Deadlock found when trying to get lock", ()),
    ("deadlock", r"Transaction \(Process ID \d+\) was deadlocked on", ()),
    ("serialization", r"could not serialize access", ()),
    ("timeout", r"canceling statement due to statement timeout", ()),
    ("timeout", r"Query timeout expired", ()),
    ("timeout", r"Query execution was interrupted, maximum statement execution time exceeded", ()),
    ("timeout", r"Query execution was interrupted \(max_statement_time exceeded\)", ()),
    ("cancelled", r"canceling statement due to user request", ()),
    ("cancelled", r"Query execution was interrupted", ()),
    ("transaction", r"current transaction is aborted", ()),
    # connections and the server's state
    ("terminated", r"terminating connection due to (?:administrator command|idle)", ()),
    ("shutdown", r"the database system is (?:starting up|shutting down|in recovery mode)", ()),
    ("shutdown", r"Server shutdown in progress", ()),
    ("connection", r"server closed the connection unexpectedly", ()),
    ("connection", r"(?:SQL\w+ unable due to the connection lost|The connection has been lost)", ()),
    ("connection", r"could not (?:send data to|receive data from) (?:the )?server", ()),
    ("connection", r"no connection to the server", ()),
    ("connection", r"connection to server .* failed: (?:Connection refused|timeout expired|could not)", ()),
    ("no_database", r"(?:connection to server .* failed: (?:FATAL:\s*)?)?database \"[^\"]{0,200}\" does not exist", ()),
    ("login", r"(?:connection to server .* failed: (?:FATAL:\s*)?)?(?:password|Ident|Peer) authentication failed", ()),
    ("resources", r"(?:connection to server .* failed: (?:FATAL:\s*)?)?sorry, too many clients already", ()),
    ("connection", r"connection to server .* failed", ()),
    ("connection", r"Can't connect to (?:local )?(?:MySQL |MariaDB )?server", ()),
    ("connection", r"(?:MySQL |MariaDB )?[Ss]erver has gone away", ()),
    ("connection", r"Lost connection to (?:MySQL |MariaDB )?server", ()),
    ("connection", r"Connection was killed", ()),
    ("connection", r"Connection not open", ()),
    ("no_database", r"Unknown database ", ()),
    ("login", r"Access denied for user ", ()),
    ("resources", r"Too many connections", ()),
    ("connection", r"Communication link failure", ()),
    ("connection", r"TCP Provider:", ()),
    ("connection", r"Login timeout expired", ()),
    ("connection", r"A network-related or instance-specific error", ()),
    ("no_database", r"Cannot open database ", ()),
    ("login", r"Login failed for user ", ()),
    ("connection", r"(?:unable to open database file|connect failed)$", ()),
    ("resources", r"database or disk is full$", ()),
    ("resources", r"could not extend file|No space left on device|out of memory|out of shared memory", ()),
]

_PG_KEY: Final = re.compile(r"\s*;?\s*\nDETAIL:\s+Key \(([A-Za-z0-9_$#\", ]{1,200})\)=\(")
_COMPILED: Final = [(kind, re.compile(pattern, re.DOTALL), groups) for kind, pattern, groups in _PATTERNS]


def _join(details: list[str | None]) -> str:
    kept = [detail for detail in details if detail]
    return f" ({', '.join(kept)})" if kept else ""


def _of_table(table: str | None) -> str:
    return f" of table {table}" if table else ""


def _words(kind: str, names: dict[str, str | None]) -> tuple[str, bool]:
    """The message of a parsed ``kind`` with the (already sanitised) ``names`` found in the text."""
    name, table, column = names.get("name"), names.get("table"), names.get("column")
    kind_type, size = names.get("type"), names.get("size")
    if kind == "not_null_default":
        kind = "not_null"
        note = "NOT NULL, and it has no default"
    else:
        note = "NOT NULL"
    generic, data = _KINDS[kind]
    if kind == "unique":
        columns = names.get("columns")
        details = [name, f"column{'s' if columns and ',' in columns else ''} {columns}" if columns else None]
        return f"{generic}{_join([*details, f'table {table}' if table else None])}", data
    if kind == "not_null" and column:
        return f"column {column}{_of_table(table)} may not be empty ({note})", data
    if kind in ("foreign_key", "fk_parent"):
        referenced = names.get("referenced")
        details = [
            f"constraint {name}" if name else None,
            f"table {table}" if table else None,
            f"referenced table {referenced}" if referenced else None,
            f"column {column}" if column else None,
        ]
        return f"{generic}{_join(details)}", data
    if kind in ("check", "exclusion", "fk_or_check"):
        details = [name, f"table {table}" if table else None, f"column {column}" if column else None]
        return f"{generic}{_join(details)}", data
    if kind == "too_long":
        if column:
            return f"a value is too long for column {column}{_of_table(table)}", data
        if kind_type and size:
            return f"{generic} (type {kind_type}({size}))", data
        return generic, data
    if kind in ("wrong_type", "out_of_range", "truncated", "charset"):
        expected = f" (expected {kind_type})" if kind_type and kind == "wrong_type" else ""
        if kind == "out_of_range" and kind_type:
            expected = f" (type {kind_type})"
        if column:
            lead = {
                "wrong_type": "a value has the wrong type for column",
                "out_of_range": "a number is out of range for column",
                "truncated": "a value does not fit column",
                "charset": "a text value has characters that cannot be stored in column",
            }[kind]
            tail = " (data truncated)" if kind == "truncated" else ""
            tail += " (check the column's character set)" if kind == "charset" else ""
            return f"{lead} {column}{_of_table(table)}{expected}{tail}", data
        if kind == "wrong_type" and kind_type:
            return f"a value has the wrong type{expected}", data
        return f"{generic}{expected if kind == 'out_of_range' else ''}", data
    if kind == "no_table" and table:
        return f"the table {table} does not exist: {_CHECK_SQL}", data
    if kind == "no_column" and column:
        return f"the column {column}{_of_table(table)} does not exist: {_CHECK_SQL}", data
    if kind == "no_routine" and name:
        return f"the function or procedure {name} does not exist: {_CHECK_SQL}", data
    if kind == "permission" and table:
        command = names.get("command")
        schema = names.get("schema")
        target = f"{schema}.{table}" if schema and "." not in table else table
        right = f"the {command} permission" if command else "a permission it needs"
        return f"permission denied: the order connection's login lacks {right} on {target}", data
    if kind == "lock" and table:
        return f"a lock wait timed out (table {table} is locked by another session)", data
    return generic, data


def _names(kind: str, groups: tuple[str, ...], match: re.Match[str]) -> dict[str, str | None]:
    names: dict[str, str | None] = {}
    for key, value in zip(groups, match.groups(), strict=True):
        if value is None or names.get(key):
            continue
        if key == "qualified":
            names["column"], names["table"] = _column_and_table(value)
        elif key == "columns":
            names["columns"] = _identifiers(value)
        elif key == "expression":
            names["name"] = _strict_identifier(value)
        elif key == "type":
            names["type"] = _type_name(value)
        elif key == "size":
            names["size"] = value if value.isdigit() else None
        elif key == "command":
            names["command"] = value.upper() if value.isalpha() else None
        elif key == "given":
            continue
        else:
            names[key] = identifier(value)
    return names


def _parse(text: _Text) -> tuple[str, str, bool] | None:
    """The kind, message and data_error of a driver text whose shape is known."""
    for kind, pattern, groups in _COMPILED:
        if match := pattern.match(text.primary):
            names = _names(kind, groups, match)
            # PostgreSQL's DETAIL names a unique key's columns before the value: "Key (a, b)=(...)".
            key = _PG_KEY.match(text.rest) if kind == "unique" and text.dialect == "postgresql" else None
            if key and not names.get("columns"):
                names["columns"] = _identifiers(key.group(1))
            message, data = _words(kind, names)
            return ("not_null" if kind == "not_null_default" else kind), message, data
    return None


def _codes(dialect: str | None) -> dict[int, str]:
    if dialect == "mysql":
        return _MYSQL_CODES
    if dialect == "sqlserver":
        return _SQLSERVER_CODES
    return {}


def _by_code(text: _Text) -> str | None:
    if text.native is None:
        return None
    if text.dialect == "sqlite":
        return _SQLITE_EXTENDED.get(text.native) or _SQLITE_CODES.get(text.native & 0xFF)
    return _codes(text.dialect).get(text.native)


def _normalised(state: str | None) -> str | None:
    """ODBC 2.x SQLSTATEs (``S0002``, ``S1000``, ``S1T00``) as their ODBC 3 equivalents."""
    if state is None:
        return None
    if state.startswith("S0"):
        return "42" + state
    if state.startswith("S1"):
        return "HY" + state[2:]
    return state


def _state_and_text(exc: BaseException) -> tuple[str | None, str]:
    args = getattr(exc, "args", ()) or ()
    if len(args) >= 2 and isinstance(args[0], str) and _SQLSTATE.fullmatch(args[0]):
        return args[0], " ".join(str(arg) for arg in args[1:])
    if len(args) == 2 and isinstance(args[1], str) and _SQLSTATE.fullmatch(args[1]):
        return args[1], str(args[0])  # pyodbc's own errors: (message, SQLSTATE)
    text = " ".join(str(arg) for arg in args)
    state = _LEADING_STATE.match(text)
    return (state.group(1) if state else None), text


def _by_exception_class(exc: BaseException) -> bool:
    """For an unknown error: the order's fault when pyodbc says so (integrity, data, programming), else not."""
    try:
        import pyodbc
    except ImportError:  # pragma: no cover - pyodbc is installed wherever orders are raised
        return False
    return isinstance(exc, (pyodbc.IntegrityError, pyodbc.DataError, pyodbc.ProgrammingError, pyodbc.NotSupportedError))


def _generic(exc: BaseException, state: str | None, kind: str | None) -> DbError:
    """The words for a kind known only from the codes, or for the SQLSTATE class, and the SQLSTATE itself."""
    code = f" (SQLSTATE {state})" if state else ""
    if kind is not None:
        words, data = _KINDS[kind]
        return DbError(f"{words}{code}", state, data, kind)
    normal = _normalised(state)
    if normal is not None and (known := _STATES.get(normal)):
        words, data = _KINDS[known]
        return DbError(f"{words}{code}", state, data, known)
    if normal is not None:
        prefix = "HYT" if normal.startswith("HYT") else normal[:2]
        if prefix == "HYT":
            return DbError(f"{_KINDS['timeout'][0]}{code}", state, False, "timeout")
        if prefix in _CLASSES:
            words, class_data = _CLASSES[prefix]
            data = _by_exception_class(exc) if class_data is None else class_data
            return DbError(f"{words}{code}", state, data)
        return DbError(f"the database refused the statement{code}", state, _by_exception_class(exc))
    return DbError(f"the database call failed ({type(exc).__name__})", None, _by_exception_class(exc))


def describe(exc: BaseException) -> DbError:
    """What ``exc`` (a pyodbc error, or any exception from a database call) means, without any value it quotes.

    The message is safe to send out of this machine; log ``exc`` itself locally for the full driver text.
    """
    state, raw = _state_and_text(exc)
    try:
        text = _split(raw)
        if parsed := _parse(text):
            kind, message, data = parsed
            return DbError(message, state, data, kind)
        return _generic(exc, state, _by_code(text))
    except Exception:  # noqa: BLE001 - describing an error must never raise instead of it
        return _generic(exc, state, None)
