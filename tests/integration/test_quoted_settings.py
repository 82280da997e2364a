"""A preset site whose UDF columns need quoting, configured with ``settings`` only (no query or mapping override).

An Evolution company's UDFs can have spaces in their names (``ucIIWeb Status``), be created quoted in mixed case
on PostgreSQL (``"ucIIWebGroup"``, which the plain ``s.ucIIWebGroup`` folds to ``uciiwebgroup`` and misses) or be
a reserved word (``Select``). The setting is written once, in any of the forms ``[Name]``, ``"Name"`` or
```Name```, and the query is rendered with the quoting of the source's driver: on MariaDB a double-quoted name
would be a string literal, so every item would silently get the same "status".

Also here: the customers queries' flag comparisons work on a real boolean column (PostgreSQL's ``BOOLEAN``,
MariaDB's ``BIT(1)``), where ``On_Hold = 1`` fails with "operator does not exist: boolean = integer".

Each database is a throwaway one on the local server (seeded like the session's, dropped after this module).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import pyodbc
import pytest
import yaml

from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_connector
from tests.conftest import MARIADB, PG, _server_database, odbc_string, set_connection

SERVERS = {"postgresql": PG, "mariadb": MARIADB}
#: The UDFs this site added to StkItem, and what they hold per StockLink (other items: NULL).
WEB_STATUS = {1001: "Active", 1002: "Active", 1201: "Active", 1202: "Delete"}
WEB_GROUP = {1001: "WEB-1001", 1201: "WEB-CAP"}
#: The site's settings: the UDFs, each quoted in a different one of the three forms (and the list giving `price`).
SETTINGS = {
    "active_field": "s.[ucIIWeb Status]",
    "group_field": "s.`ucIIWebGroup`",
    "brand_field": 's."Select"',
    "default_price_list": "Retail",
}


def _quote(kind: str, name: str) -> str:
    return f'"{name}"' if kind == "postgresql" else f"`{name}`"


@pytest.fixture(scope="module", params=sorted(SERVERS))
def company(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(kind, database): the demo companies in a fresh database, StkItem with the site's quoted UDFs filled in."""
    kind = request.param
    databases = _server_database(SERVERS[kind])  # creates and seeds it; closing the generator drops it
    database = next(databases)
    try:
        with closing(pyodbc.connect(odbc_string(SERVERS[kind], database))) as conn:
            status, group, brand = (_quote(kind, n) for n in ("ucIIWeb Status", "ucIIWebGroup", "Select"))
            for column, width in ((status, 10), (group, 40), (brand, 40)):
                conn.execute(f"ALTER TABLE StkItem ADD {column} VARCHAR({width})")
            update = "UPDATE StkItem SET {} = ? WHERE StockLink = ?"
            conn.cursor().executemany(update.format(status), [(v, k) for k, v in WEB_STATUS.items()])
            conn.cursor().executemany(update.format(group), [(v, k) for k, v in WEB_GROUP.items()])
            conn.execute(f"UPDATE StkItem SET {brand} = 'Stride Web'")
            conn.commit()
        yield kind, database
    finally:
        databases.close()


def _source(folder: Path, monkeypatch: pytest.MonkeyPatch, company: tuple[str, str], preset: str, **config: Any) -> Any:
    """A source config for ``preset`` on the company's database, with nothing but ``config`` (settings) added."""
    kind, database = company
    server = SERVERS[kind]
    conn = {"conn_type": "odbc", "host": server["host"], "port": server["port"], "login": server["login"]}
    set_connection(monkeypatch, f"s2s_quoted_{kind}", {**conn, "schema": database})
    path = folder / f"quoted_{kind}.yaml"
    data = {
        "source_id": f"quoted_{kind}",
        "type": preset,
        "connection": {"conn_id": f"s2s_quoted_{kind}", "driver": server["driver"]},
        "stock2shop": {"conn_id": "stock2shop_default", "source_id": 102},
        **config,
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_source(path)


def _extract(config: Any, entity: str) -> pd.DataFrame:
    return get_connector(config, resolve_mapping(config)).extract(entity)


def _by(frame: pd.DataFrame, key: str, field: str) -> dict[str, Any]:
    return {str(k).strip(): (None if pd.isna(v) else v) for k, v in zip(frame[key], frame[field], strict=True)}


def test_settings_alone_read_udfs_that_need_quoting(
    sources_dir: Path, monkeypatch: pytest.MonkeyPatch, company: tuple[str, str]
) -> None:
    config = _source(sources_dir, monkeypatch, company, "sage_evolution", settings=SETTINGS)
    query = resolve_mapping(config).products.query
    kind = company[0]
    quoted = {"postgresql": 's."ucIIWeb Status"', "mariadb": "s.`ucIIWeb Status`"}[kind]
    assert f"RTRIM({quoted})" in query
    frame = _extract(config, "products")
    active = _by(frame, "sku", "product_active")
    assert active["RUN-TEE-BLK-M"] == "Active"
    assert active["BOTTLE-750"] == "Delete"
    assert active["TRAIL-SHOE-8"] == "Ignore", "a blank UDF means not published (not the ucIIS2SActive UDF)"
    groups = _by(frame, "sku", "source_product_code")
    assert groups["RUN-TEE-BLK-M"] == "WEB-1001"  # the mixed-case UDF, not s.Code
    assert groups["CAP-ONE"] == "WEB-CAP"
    assert groups["BOTTLE-750"] == "BOTTLE-750"  # blank group: the item's own code
    assert set(_by(frame, "sku", "vendor").values()) == {"Stride Web"}  # the reserved-word UDF, not a constant


@pytest.mark.parametrize("setting", ["s.[ucIIWeb Status]", 's."ucIIWeb Status"', "s.`ucIIWeb Status`"])
def test_each_quote_form_reads_the_column_on_each_dialect(
    sources_dir: Path, monkeypatch: pytest.MonkeyPatch, company: tuple[str, str], setting: str
) -> None:
    config = _source(
        sources_dir, monkeypatch, company, "sage_evolution", settings={**SETTINGS, "active_field": setting}
    )
    active = _by(_extract(config, "products"), "sku", "product_active")
    # Rendered "ucIIWeb Status" on MariaDB would be the string itself for every item, never a status.
    assert {k: active[k] for k in ("RUN-TEE-BLK-M", "CAP-ONE", "BOTTLE-750", "SOCK-LOW")} == {
        "RUN-TEE-BLK-M": "Active",
        "CAP-ONE": "Active",
        "BOTTLE-750": "Delete",
        "SOCK-LOW": "Ignore",
    }


EVOLUTION_CUSTOMERS = {
    "RUNCLUB01": "Active",
    "TRISHOP02": "Active",
    "GYM0003": "Active",
    "OLDACC04": "Ignore",  # on hold
    "NOEMAIL05": "Active",
    "WEB0006": "Active",  # its UDF says Ignore, but customer_active_field is not set for this site
}
PASTEL_CUSTOMERS = {"BUILD01": "Active", "PLUMB02": "Active", "CASH": "Active", "OLD0099": "Ignore"}  # blocked


def _customers_active(folder: Path, monkeypatch: pytest.MonkeyPatch, company: tuple[str, str]) -> list[dict]:
    """customer_active per account: Evolution's, Pastel's, and Evolution's with the Client UDF deciding first."""
    found = []
    for preset, settings in (
        ("sage_evolution", {}),
        ("sage_pastel_partner", {}),
        ("sage_evolution", {"customer_active_field": "c.ucARS2SActive"}),
    ):
        config = _source(folder, monkeypatch, company, preset, entities=["customers"], settings=settings)
        every = _by(_extract(config, "customers"), "source_customer_code", "customer_active")
        # The hand-written accounts; the generated trade accounts (TR...) only show the flag is read the same way.
        generated = {code: state for code, state in every.items() if re.fullmatch(r"TR\d{5}", code)}
        found.append({code: state for code, state in every.items() if code not in generated})
        generated = list(generated.values())
        assert generated.count("Ignore") == (4 - 1 if preset == "sage_evolution" else 0), preset
    return found


def test_customer_flags_work_on_integer_and_boolean_columns(
    sources_dir: Path, monkeypatch: pytest.MonkeyPatch, company: tuple[str, str]
) -> None:
    expected = [EVOLUTION_CUSTOMERS, PASTEL_CUSTOMERS, {**EVOLUTION_CUSTOMERS, "WEB0006": "Ignore"}]
    assert _customers_active(sources_dir, monkeypatch, company) == expected  # SMALLINT flags, as seeded
    kind, database = company
    with closing(pyodbc.connect(odbc_string(SERVERS[kind], database), autocommit=True)) as conn:
        for table, column in (("Client", "On_Hold"), ("CustomerMaster", "Blocked")):
            if kind == "postgresql":
                conn.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE BOOLEAN USING {column} <> 0")
            else:
                conn.execute(f"ALTER TABLE {table} MODIFY {column} BIT(1) NOT NULL")
        if kind == "postgresql":  # what the presets compared before
            with pytest.raises(pyodbc.Error, match="boolean = integer"):
                conn.execute("SELECT 1 FROM Client c WHERE c.On_Hold = 1").fetchall()
    assert _customers_active(sources_dir, monkeypatch, company) == expected
