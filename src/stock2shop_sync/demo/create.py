"""Create a preset's demo database in a SQLite file.

``python -m stock2shop_sync.demo.create --preset P --sqlite FILE``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyodbc

from stock2shop_sync.demo import SEEDERS, seed


def main() -> None:
    """Parse the arguments and seed the file."""
    parser = argparse.ArgumentParser(description="Create a demo database for a preset in a SQLite file.")
    parser.add_argument("--preset", default="custom_database", choices=sorted(SEEDERS))
    parser.add_argument("--sqlite", required=True, help="path of the SQLite file to (re)create")
    args = parser.parse_args()
    path = Path(args.sqlite).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    conn = pyodbc.connect(f"DRIVER={{SQLite3}};Database={path}")
    try:
        counts = seed(args.preset, conn)
    finally:
        conn.close()
    print(f"{args.preset} demo database {path}: {counts['products']} product rows, {counts['customers']} customers")


if __name__ == "__main__":
    main()
