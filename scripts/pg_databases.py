"""Create PostgreSQL databases where missing: ``python scripts/pg_databases.py <server URL> <name>...``.

Exits 1, saying so, when the server does not answer (``make up`` then falls back to SQLite). Used by
scripts/up.sh and scripts/cluster.sh.
"""

from __future__ import annotations

import sys

import psycopg2


def main(server: str, names: list[str]) -> int:
    try:
        conn = psycopg2.connect(server.rstrip("/") + "/postgres", connect_timeout=5)
    except psycopg2.Error as exc:
        print(f"PostgreSQL does not answer at {server}: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    conn.autocommit = True
    with conn.cursor() as cursor:
        for name in names:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE DATABASE {name}")
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
