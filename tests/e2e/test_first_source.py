"""The README's "Your first source", run as a new user would: every command of that section, taken from the README
itself, in a fresh copy of the project, against a PostgreSQL database this test creates in the shape the section
describes (not a demo schema: an integer item id, fractional stock, debtors without e-mail addresses, an order
table whose key has no sequence, freight on the order header).

The only change made to the README's text is the database's name (``shopdb`` becomes this test's own database),
so that parallel or repeated runs do not share one. A command whose line says ``# exits 1`` must fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pyodbc

from sandbox.server import free_port
from tests.conftest import PG, ROOT, odbc_string

SECTION = "## Your first source"

SCHEMA = """
CREATE TABLE items (
    item_id INTEGER PRIMARY KEY, code VARCHAR(30) NOT NULL UNIQUE, name VARCHAR(100), category VARCHAR(50),
    sell_price NUMERIC(12, 2), on_hand NUMERIC(12, 3), discontinued BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE debtors (acc_no VARCHAR(12) PRIMARY KEY, company VARCHAR(100), on_hold BOOLEAN NOT NULL DEFAULT FALSE);
CREATE TABLE web_orders (
    order_no INTEGER PRIMARY KEY, web_ref VARCHAR(40) NOT NULL UNIQUE, order_date DATE NOT NULL,
    account VARCHAR(12) NOT NULL, customer_name VARCHAR(100), freight NUMERIC(12, 2), total_incl NUMERIC(12, 2));
CREATE TABLE web_order_lines (
    order_no INTEGER NOT NULL REFERENCES web_orders (order_no), line_no INTEGER NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items (item_id), qty NUMERIC(12, 3) NOT NULL, unit_price NUMERIC(12, 2),
    PRIMARY KEY (order_no, line_no));
INSERT INTO items VALUES
    (7, 'CHAIR-OAK', 'Oak dining chair', 'Furniture', 1499.00, 12, FALSE),
    (8, 'TABLE-PINE', 'Pine kitchen table  ', 'Furniture', 3250.50, 3, FALSE),
    (9, 'ROPE-NYLON', 'Nylon rope (per metre)', 'Hardware', 12.90, 2.5, FALSE),
    (10, 'STOOL-OLD', 'Bar stool (old range)', 'Furniture', 499.00, 0, TRUE);
INSERT INTO debtors VALUES ('CASH', 'Cash sales', FALSE), ('D1001', 'Blue Crane Interiors', FALSE),
    ('D1002', 'Karoo Lodge', TRUE);
INSERT INTO web_orders VALUES (1041, 'PHONE-77', '2026-11-30', 'D1001', 'Blue Crane Interiors', 0, 1723.85);
INSERT INTO web_order_lines VALUES (1041, 1, 7, 1, 1499.00);
"""


def _section(readme: str) -> str:
    start = readme.index(f"\n{SECTION}\n")
    end = readme.index("\n## ", start + len(SECTION) + 2)
    return readme[start:end]


def readme_script(database: str) -> str:
    """The section's code blocks as one bash script: ``bash`` blocks run as written, a ``yaml`` block whose first
    line is ``# <path>`` is written to that path (as the reader saves it)."""
    lines = ["set -euo pipefail"]
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", _section(readme_text()), flags=re.S):
        if lang == "yaml":
            first, _, _ = body.partition("\n")
            assert first.startswith("# include/"), f"a yaml block without its file name: {first!r}"
            lines.append(f"cat > {first[2:].strip()} <<'README_EOF'\n{body}README_EOF")
        elif lang == "bash":
            for line in body.replace("shopdb", database).splitlines():
                command, _, comment = line.partition("   # ")
                if comment.startswith("exits 1"):
                    lines.append(f'if {command}; then echo "README: expected to fail: {command}" >&2; exit 1; fi')
                else:
                    lines.append(line)
    return "\n".join(lines) + "\n"


def readme_text() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _fresh_copy(target: Path) -> None:
    """The project as a new clone has it (tracked and new files, nothing ignored), with this checkout's .venv
    (installed by make test before the tests run)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    # The venv is this checkout's: make must not reinstall into it from the copy (an editable install would point
    # it at the copy's src/). Its install rule is up to date when these are older than the venv's stamp.
    for name in ("requirements.txt", "requirements-dev.txt", "constraints.txt", "pyproject.toml"):
        os.utime(target / name, (0, 0))


def _create_database(name: str) -> None:
    admin = pyodbc.connect(odbc_string(PG, "postgres"), autocommit=True)
    try:
        for role in ("s2s_reader", "s2s_writer"):
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", role).fetchone():
                admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{role}-password'")
        admin.execute(f"CREATE DATABASE {name}")
    finally:
        admin.close()
    conn = pyodbc.connect(odbc_string(PG, name), autocommit=True)
    try:
        for statement in filter(str.strip, SCHEMA.split(";")):
            conn.execute(statement)
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO s2s_reader")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO s2s_writer")
        conn.execute("GRANT INSERT ON web_orders, web_order_lines TO s2s_writer")
    finally:
        conn.close()


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the test's own sandbox
        return json.load(response)


def test_the_readme_first_source_syncs_a_new_database_and_raises_its_order_once(tmp_path: Path) -> None:
    database = f"s2s_first_{uuid.uuid4().hex[:8]}"
    project = tmp_path / "s2s"
    _fresh_copy(project)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "S2S_", "SANDBOX_", "DEMO_DIR"))}
    env.pop("PYTHONPATH", None)
    env["SANDBOX_PORT"] = str(port)
    script = readme_script(database)
    assert "make run SOURCE=my_shop" in script, script
    assert "make sandbox-order" in script, script
    _create_database(database)
    try:
        run = subprocess.run(
            ["bash", "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=1200, check=False
        )
        output = run.stdout + run.stderr
        print(output)  # what the reader sees (shown with -s)
        assert run.returncode == 0, output[-6000:]
        # check-mapping, run on every row as the section does, named each debtor's missing e-mail and failed.
        assert "email must not be blank" in output, output[-4000:]
        assert "Orders: 1 pending, 1 raised" in output, output[-4000:]

        sandbox = f"http://127.0.0.1:{port}"
        products = {p["sku"]: p for p in _get(f"{sandbox}/sandbox/products?source_id=201")}
        active = {sku for sku, p in products.items() if str(p["product_active"]).lower() == "true"}
        assert active == {"CHAIR-OAK", "TABLE-PINE", "ROPE-NYLON"}, products
        assert set(products) - active == {"STOOL-OLD"}  # discontinued: sent as removed (product_active false)
        variant = products["ROPE-NYLON"]["payload"]["product"]["variants"]
        assert (variant["qty"], variant["price"]) == (2, 12.9), variant  # 2.5 m floored; the price exact
        assert products["TABLE-PINE"]["payload"]["product"]["title"] == "Pine kitchen table"

        def raised() -> list[tuple]:
            conn = pyodbc.connect(odbc_string(PG, database))
            try:
                return [
                    tuple(row)
                    for row in conn.execute(
                        "SELECT o.order_no, o.web_ref, o.account, o.freight, l.line_no, l.item_id, l.qty "
                        "FROM web_orders o JOIN web_order_lines l ON l.order_no = o.order_no "
                        "WHERE o.web_ref <> 'PHONE-77' ORDER BY l.line_no"
                    )
                ]
            finally:
                conn.close()

        orders = raised()
        # MAX(order_no) + 1 (no sequence), the guest's cash account, the SKU's integer item id, 2 chairs.
        assert [(r[0], r[1], r[2], r[4], r[5], float(r[6])) for r in orders] == [
            (1042, "S2S-90001", "CASH", 1, 7, 2.0)
        ], orders
        pending = _get(f"{sandbox}/sandbox/orders?source_id=201")
        assert [(o["order_id"], o.get("source_order_code")) for o in pending] == [("90001", "1042")], pending

        # Once: the next run, as the scheduler would make it, raises nothing again.
        exports = [line for line in script.splitlines() if line.startswith("export AIRFLOW_CONN_")]
        again = subprocess.run(
            ["bash", "-c", "\n".join([*exports, "make run SOURCE=my_shop"])], cwd=project, env=env,
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
        assert raised() == orders
    finally:
        subprocess.run(
            ["bash", "scripts/sandbox.sh", "stop"], cwd=project, env=env, capture_output=True, timeout=60, check=False
        )
        admin = pyodbc.connect(odbc_string(PG, "postgres"), autocommit=True)
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()
