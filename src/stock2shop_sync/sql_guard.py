"""Refuse an extract query that could do anything but read, by parsing it as the source's database would.

An extract query comes from a config file, and the extraction connection should be a login that may only read:
that login is the first line of defence (PostgreSQL, MariaDB/MySQL and SQLite sessions are also opened read-only,
:mod:`stock2shop_sync.connectors.read_only`; SQL Server and Pervasive have no such switch). This check is the
second: a query is parsed with sqlglot in the dialect of the source's ODBC driver, so comments, quoting, nested
comments and dollar quotes are read the way that database reads them, and it must be

* exactly one statement, and that a query: ``SELECT``, a set operation (``UNION``...) or ``WITH ... SELECT``;
* free of anything that writes, locks or runs something else inside it: a data-modifying CTE, ``SELECT ... INTO``
  (a new table, or a file on MySQL), a locking clause (``FOR UPDATE``/``FOR SHARE``, ``LOCK IN SHARE MODE``,
  SQL Server's ``UPDLOCK``/``XLOCK``/``TABLOCKX``... hints), ``NEXT VALUE FOR``, any other statement or a command
  sqlglot does not know (``SET``, ``COMMIT``, ``EXEC``, ``KILL``, ``SHUTDOWN``, ``BACKUP``, ``WAITFOR``...), and a
  call of any function in :data:`BLOCKED_FUNCTIONS` / :data:`BLOCKED_PREFIXES`, however its name is quoted,
  qualified or cased;
* on MySQL/MariaDB, free of executable comments (``/*! ... */``, whose content the server runs), and read the
  same with and without backslash escapes in strings (``NO_BACKSLASH_ESCAPES`` changes what ``'\\'`` means).

A statement sqlglot cannot parse is refused with the parser's message: what the check cannot read, it cannot
vouch for. For a driver whose dialect sqlglot has no reader for (Pervasive, HANA) or no driver at all, the query
must pass as SQL Server, PostgreSQL, MySQL and SQLite read it: portable SQL does, and no quote or comment can then
hide code from the check that one of those readings would expose.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from sqlglot import exp


class UnsafeQuery(ValueError):
    """An extract query the check refuses, with the reason in its message."""


#: sqlglot's readers for each dialect :func:`stock2shop_sync.connectors.read_only.driver_dialect` names; MySQL's
#: second reading (``mysql_strict``) is the server with ``NO_BACKSLASH_ESCAPES``. Sybase's Transact-SQL is the one
#: SQL Server grew from.
READERS: dict[str, tuple[str, ...]] = {
    "sqlserver": ("tsql",),
    "sybase": ("tsql",),
    "postgresql": ("postgres",),
    "mysql": ("mysql", "mysql_strict"),
    "sqlite": ("sqlite",),
}
#: Every reading, for a dialect with no reader of its own (Pervasive, HANA) or no driver given.
ALL_READERS = ("tsql", "postgres", "mysql", "mysql_strict", "sqlite")

#: Functions callable inside a SELECT that write, take locks, read or write the server's files, reach other
#: servers, run SQL given as text, or stop other sessions. Compared by name in lower case, without quotes or
#: schema (``"pg_catalog"."PG_READ_FILE"`` is ``pg_read_file``). Sleep-like functions are here too: a timeout
#: bounds a read only when one is set (``timeouts.odbc_query_seconds`` may be 0, and some drivers take none), and
#: while it waits the query holds the ERP's connection, its snapshot and on SQL Server its shared locks; no
#: extract needs to wait or burn CPU on purpose.
BLOCKED_FUNCTIONS = frozenset(
    {
        # PostgreSQL: sequences, settings, transaction ids, other sessions, files, SQL run from a string
        "nextval",
        "setval",
        "set_config",
        "txid_current",
        "pg_current_xact_id",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "lowrite",
        "loread",
        "pg_stat_file",
        # MySQL / MariaDB: files, UDFs that run shell commands, locks, waits
        "load_file",
        "sys_exec",
        "sys_eval",
        "get_lock",
        "release_lock",
        "release_all_locks",
        "sleep",
        "benchmark",
        "master_pos_wait",
        "source_pos_wait",
        "master_gtid_wait",
        "wait_for_executed_gtid_set",
        "lastval",
        # SQLite: extensions and the shell's file functions
        "load_extension",
        "writefile",
        "readfile",
        "edit",
        "fts3_tokenizer",
        # SQL Server: other servers and the server's files
        "openrowset",
        "opendatasource",
        "openquery",
        "fn_get_audit_file",
        "fn_trace_gettable",
    }
)
#: Families of such functions, by the start of their name.
BLOCKED_PREFIXES = (
    "pg_terminate",
    "pg_cancel",
    "pg_signal",
    "pg_reload",
    "pg_rotate",
    "pg_promote",
    "pg_read_",  # pg_read_file, pg_read_binary_file
    "pg_ls_",  # pg_ls_dir, pg_ls_logdir, pg_ls_waldir...
    "pg_file_",  # adminpack: pg_file_write, pg_file_unlink...
    "pg_advisory",
    "pg_try_advisory",
    "pg_sleep",
    "pg_notify",
    "pg_create_",  # replication slots, restore points
    "pg_drop_",
    "pg_replication_",
    "pg_logical_",  # reading a slot's changes consumes them
    "pg_switch_",
    "pg_wal_",
    "pg_backup_",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_stat_reset",
    "pg_import_",
    "pg_log_",
    "lo_",  # large objects: lo_import, lo_export, lo_unlink, lo_put...
    "dblink",  # dblink, dblink_exec, dblink_connect...
    "xp_",  # SQL Server extended procedures: xp_cmdshell, xp_dirtree...
    "sp_",  # SQL Server system procedures
    "fn_xe_",
)
#: SQL Server table hints that take or hold locks beyond a plain read's.
LOCKING_HINTS = frozenset(
    {"updlock", "xlock", "tablock", "tablockx", "holdlock", "paglock", "rowlock", "serializable", "repeatableread"}
)
#: A function name as it may be written: anything else (``U&"pg\\005fread_file"``) is refused.
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$#@]*")
#: The ODBC escapes :func:`stock2shop_sync.connectors.sql.since_literal` writes (and a user may): the driver turns
#: them into the database's own literal before the server sees the statement, so the check reads that literal.
_ODBC_DATETIME = re.compile(r"\{\s*(?:ts|d|t)\s+('[0-9: .-]*')\s*\}", re.IGNORECASE)


def check_read_only(sql: str, dialect: str | None) -> None:
    """Refuse ``sql`` unless it is one statement that only reads, as the database of ``dialect`` reads it.

    Args:
        sql: the statement as the run sends it (placeholders filled in).
        dialect: as :func:`stock2shop_sync.connectors.read_only.driver_dialect` names it; None (or one sqlglot
            has no reader for) checks it under every reading.

    Raises:
        UnsafeQuery: naming what is refused and why (and, under several readings, which one refused it).
    """
    readers = READERS.get(dialect or "", ALL_READERS)
    for reader in readers:
        problem = _problem(sql, reader)
        if problem:
            where = f" (read as {_READER_NAMES[reader]})" if len(readers) > 1 else ""
            raise UnsafeQuery(f"{problem}{where}")


_READER_NAMES = {
    "tsql": "SQL Server",
    "postgres": "PostgreSQL",
    "mysql": "MySQL",
    "mysql_strict": "MySQL with NO_BACKSLASH_ESCAPES",
    "sqlite": "SQLite",
}


#: ``{{since}}`` and ``{{#since}} ... {{/since}}`` as :func:`stock2shop_sync.connectors.sql.fill_since` reads them
#: (that module brings pandas with it, which parsing a config must not; a test keeps the two the same).
_SINCE = re.compile(r"\{\{\s*since\s*\}\}")
_SINCE_SECTION = re.compile(r"\{\{\s*#\s*since\s*\}\}(.*?)\{\{\s*/\s*since\s*\}\}", re.DOTALL)
#: A window start for the windowed form (any moment will do), written as
#: :func:`~stock2shop_sync.connectors.sql.since_literal` writes it.
SAMPLE_SINCE = "{ts '2026-01-01 00:00:00'}"
_EARLIEST = "{ts '1753-01-01 00:00:00'}"


def run_forms(query: str) -> dict[str, str]:
    """Each text a run may send for ``query``: a complete read (``{{#since}}`` sections left out) and a windowed
    one (sections kept), with ``{{since}}`` as the ODBC timestamp the run puts in. A section could otherwise hide
    a quote or a comment that changes how the rest is read."""
    return {
        "a complete read": _SINCE.sub(_EARLIEST, _SINCE_SECTION.sub(" ", query)),
        "a windowed read": _SINCE.sub(SAMPLE_SINCE, _SINCE_SECTION.sub(lambda m: m.group(1), query)),
    }


@functools.lru_cache(maxsize=1024)
def _problem(sql: str, reader: str) -> str | None:
    """Why ``sql`` read by ``reader`` is refused, or None. Cached: many sources share a preset's queries."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    text = _ODBC_DATETIME.sub(r"\1", sql)
    dialect = _dialect(reader)
    try:
        if reader.startswith("mysql") and (problem := _mysql_comment_problem(text, dialect)):
            return problem
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None and not _empty(s)]
    except SqlglotError as exc:
        return f"an extract query must be one statement that reads, and this one cannot be parsed ({_first_line(exc)})"
    if not statements:
        return "an extract query must be a single statement, and this one is empty"
    statement = statements[0]
    if not isinstance(statement, (exp.Select, exp.SetOperation, exp.Subquery)):
        if text.lstrip().upper().startswith("WITH"):
            return f"an extract query must be WITH ... SELECT, not WITH ... {_kind(statement)!r}"
        return f"an extract query must start with SELECT or WITH, not {_kind(statement)!r}"
    if len(statements) > 1:
        found = "found ';' inside it" if ";" in text else "found a second statement"
        kinds = ", ".join(repr(_kind(s)) for s in statements[1:4])
        return f"an extract query must be a single statement ({found}), but it contains {kinds} after the first"
    for node in statement.walk():
        if problem := _node_problem(node):
            return problem
    return None


def _node_problem(node: exp.Expression) -> str | None:
    """Why one node of a query's tree may not be in an extract query, or None."""
    from sqlglot import exp

    if isinstance(node, _statement_types()):
        return f"an extract query must only read, but it contains {_kind(node)!r}"
    if isinstance(node, exp.Into):
        return "an extract query must only read, but it contains 'INTO' (SELECT ... INTO writes a table or a file)"
    if isinstance(node, exp.Lock):
        return f"an extract query must not lock rows ('FOR {'UPDATE' if node.args.get('update') else 'SHARE'}')"
    if isinstance(node, exp.WithTableHint):
        hints = [h.name.lower() for h in node.expressions if h.name.lower() in LOCKING_HINTS]
        if hints:
            return f"an extract query must not lock rows (table hint {', '.join(h.upper() for h in hints)})"
    if isinstance(node, exp.NextValueFor):
        return "an extract query must only read, but it contains NEXT VALUE FOR (it advances a sequence)"
    if isinstance(node, exp.Func):
        return _function_problem(node)
    return None


def _function_problem(node: exp.Func) -> str | None:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        names = [node.name.lower()]
        if not _PLAIN_NAME.fullmatch(names[0]):
            return f"an extract query must call functions by plain names, not {node.name!r}"
    else:  # a function sqlglot knows: every name it goes by
        names = [name.lower() for name in type(node).sql_names()]
    for name in names:
        if name in BLOCKED_FUNCTIONS or name.startswith(BLOCKED_PREFIXES):
            return f"an extract query must only read, but it calls {name.upper()}() (see sql_guard.BLOCKED_FUNCTIONS)"
    return None


@functools.cache
def _statement_types() -> tuple[type[exp.Expression], ...]:
    """Node types that are statements (or commands) of their own, wherever they appear in a tree."""
    from sqlglot import exp

    names = (
        *("DML", "DDL", "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable"),
        *("Command", "Set", "Transaction", "Commit", "Rollback", "Use", "Copy", "Kill", "Execute", "ExecuteSql"),
        *("Pragma", "LoadData", "Grant", "Revoke", "Analyze", "Cache", "Uncache", "Refresh", "Declare", "Comment"),
        *("Describe", "Show", "Summarize", "Attach", "Detach", "Install", "Export"),
    )
    return tuple(getattr(exp, name) for name in names if isinstance(getattr(exp, name, None), type))


def _kind(node: exp.Expression) -> str:
    """What a statement is, for a message: ``DELETE``, ``SELECT``, a command's word (``SET``)."""
    from sqlglot import exp

    return str(node.this).upper() if isinstance(node, exp.Command) else node.key.upper()


def _empty(statement: exp.Expression) -> bool:
    """Whether a parsed statement is nothing but a trailing ``;`` (with any comment after it)."""
    from sqlglot import exp

    return isinstance(statement, exp.Semicolon)


def _first_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        first = errors[0]
        where = f" at line {first.get('line')}, column {first.get('col')}" if first.get("line") else ""
        near = f" near {first['highlight']!r}" if first.get("highlight") else ""
        return f"{first.get('description')}{where}{near}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _mysql_comment_problem(text: str, dialect: Any) -> str | None:
    """A MySQL/MariaDB executable comment (``/*! ... */``, ``/*M! ... */``) in ``text``: the server runs what it
    holds. Looked for between the tokens, so such text inside a string or a quoted name is left alone."""
    tokens = dialect.tokenize(text)
    position = 0
    for gap_end, next_start in [(t.start, t.end + 1) for t in tokens] + [(len(text), len(text))]:
        if re.search(r"/\*M?!", text[position:gap_end]):
            return "an extract query must not hold an executable comment (/*! ... */): MySQL and MariaDB run it"
        position = next_start
    return None


@functools.cache
def _dialect(reader: str) -> Any:
    """sqlglot's dialect for ``reader``; ``mysql_strict`` is MySQL whose strings take no backslash escapes."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.dialects.mysql import MySQL

    if reader != "mysql_strict":
        return Dialect.get_or_raise(reader)

    class MySQLStrict(MySQL):
        class Tokenizer(MySQL.Tokenizer):
            STRING_ESCAPES: ClassVar[list[str]] = ["'", '"']

    return MySQLStrict()
