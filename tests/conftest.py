"""Shared fixtures: an isolated Airflow home, the sandbox on loopback, and real databases over ODBC.

The PostgreSQL (127.0.0.1:5432) and MariaDB (127.0.0.1:3306) servers of the machine are used for real:
each test session creates its own databases there and drops them afterwards. If a server is not running
the tests that need it fail with the connection error; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="s2s-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["S2S_STAGING_URL"] = f"file://{_HOME / 'staging'}"
os.environ.pop("S2S_SOURCES_DIR", None)
for _key in [k for k in os.environ if k.startswith("AIRFLOW_CONN_")]:
    del os.environ[_key]
if str(ROOT) not in sys.path:  # the sandbox and bench packages; stock2shop_sync is installed
    sys.path.insert(0, str(ROOT))

import pyodbc  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from sandbox.app import SandboxSettings  # noqa: E402
from sandbox.salesforce import SalesforceState, create_salesforce_app  # noqa: E402
from sandbox.salesforce import demo_state as salesforce_demo_state  # noqa: E402
from sandbox.server import running_app, running_sandbox, self_signed_certificate  # noqa: E402
from sandbox.sheets import FakeSheets, create_sheets_app  # noqa: E402
from stock2shop_sync.demo import SEEDERS  # noqa: E402
from stock2shop_sync.demo import seed as seed_preset  # noqa: E402

SANDBOX_USER, SANDBOX_PASSWORD = "sync-user", "s3cret-sandbox-pw"

PG = {"driver": "PostgreSQL Unicode", "host": "127.0.0.1", "port": 5432, "login": "postgres"}
MARIADB = {"driver": "MariaDB Unicode", "host": "127.0.0.1", "port": 3306, "login": "root"}


def odbc_string(server: dict[str, Any], database: str | None) -> str:
    parts = [
        f"DRIVER={{{server['driver']}}}",
        f"SERVER={server['host']}",
        f"PORT={server['port']}",
        f"UID={server['login']}",
    ]
    if database:
        parts.append(f"DATABASE={database}")
    return ";".join(parts) + ";"


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def write_source(folder: Path, source_id: str, *, conn_id: str, driver: str, s2s_source_id: int, **extra: Any) -> Path:
    """Write a source config YAML for tests."""
    config = {
        "source_id": source_id,
        "type": "custom_database",
        "description": f"test source {source_id}",
        "connection": {"conn_id": conn_id, "driver": driver},
        "stock2shop": {"conn_id": "stock2shop_default", "source_id": s2s_source_id},
        "validation": {"max_invalid_share": 0.3},
        **extra,
    }
    path = folder / f"{source_id}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def seed_all(conn: pyodbc.Connection) -> None:
    """Every preset's demo tables in one database (their table names do not collide), then close it."""
    try:
        for preset in SEEDERS:
            seed_preset(preset, conn)
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def state_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test gets its own state store (order ledger, synced SKUs): a SQLite file in its tmp folder."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    monkeypatch.setenv("S2S_STATE_URL", url)
    return url


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh sandbox (no rate limit) with sources 101-103; ``stock2shop_default`` points at it."""
    settings = SandboxSettings(
        users={SANDBOX_USER: SANDBOX_PASSWORD}, sources={101: "A", 102: "B", 103: "C"}, rate_limit=0
    )
    with running_sandbox(str(tmp_path / "sandbox.sqlite"), settings) as url:
        set_connection(
            monkeypatch,
            "stock2shop_default",
            {"conn_type": "http", "host": url, "login": SANDBOX_USER, "password": SANDBOX_PASSWORD},
        )
        yield url


@pytest.fixture
def sqlite_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The demo database in a fresh SQLite file, as Airflow connection ``s2s_test_sqlite``."""
    path = tmp_path / "custom_db.sqlite"
    seed_all(pyodbc.connect(f"DRIVER={{SQLite3}};Database={path}"))
    set_connection(monkeypatch, "s2s_test_sqlite", {"conn_type": "odbc", "schema": str(path)})
    return {"conn_id": "s2s_test_sqlite", "driver": "SQLite3", "path": path}


def _server_database(server: dict[str, Any]) -> Iterator[str]:
    name = f"s2s_test_{uuid.uuid4().hex[:10]}"
    admin = pyodbc.connect(
        odbc_string(server, "postgres" if "PostgreSQL" in server["driver"] else None), autocommit=True
    )
    try:
        admin.execute(f"CREATE DATABASE {name}")
        seed_all(pyodbc.connect(odbc_string(server, name)))
        yield name
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database on the local PostgreSQL server holding the demo tables (dropped after the session)."""
    yield from _server_database(PG)


@pytest.fixture(scope="session")
def mariadb_database() -> Iterator[str]:
    """A database on the local MariaDB server holding the demo tables (dropped after the session)."""
    yield from _server_database(MARIADB)


def _server_source(
    monkeypatch: pytest.MonkeyPatch, server: dict[str, Any], database: str, conn_id: str
) -> dict[str, Any]:
    conn = {
        "conn_type": "odbc",
        "host": server["host"],
        "port": server["port"],
        "login": server["login"],
        "schema": database,
    }
    set_connection(monkeypatch, conn_id, conn)
    return {"conn_id": conn_id, "driver": server["driver"], "database": database}


@pytest.fixture
def postgres_source(postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The session's PostgreSQL fixture database as Airflow connection ``s2s_test_pg``."""
    return _server_source(monkeypatch, PG, postgres_database, "s2s_test_pg")


@pytest.fixture
def mariadb_source(mariadb_database: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The session's MariaDB fixture database as Airflow connection ``s2s_test_mariadb``."""
    return _server_source(monkeypatch, MARIADB, mariadb_database, "s2s_test_mariadb")


@pytest.fixture
def sources_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder used as the deployment's source configs (``S2S_SOURCES_DIR``)."""
    folder = tmp_path / "sources"
    folder.mkdir()
    monkeypatch.setenv("S2S_SOURCES_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database in the session's Airflow home (needed by dag.test())."""
    from airflow.utils import db

    db.resetdb()


ENRICHMENT = [
    ["source_product_code", "title", "body_html", "collection", "meta_material", "image1"],
    [
        "TEE-CLASSIC",
        "Classic Organic Tee",
        "<p>Soft organic cotton.</p>",
        "T-Shirts",
        "cotton",
        "https://img.example/tee.jpg",
    ],
    ["HW-HAMMER-16", "Stanley Claw Hammer 16 oz", "<p>Forged steel.</p>", "Tools", "steel", ""],
    ["NOT-IN-ERP", "A product the ERP does not have"],
]


def service_account_key(token_uri: str) -> dict[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account",
        "project_id": "s2s-test",
        "private_key_id": "k1",
        "private_key": pem.decode(),
        "client_email": "sync@s2s-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, FakeSheets]]:
    """The Google API stand-in with one spreadsheet; ``google_sheets_default`` holds a service-account key for it."""
    state = FakeSheets(
        spreadsheets={"sheet-key-123": {"Enrichment": ENRICHMENT, "Empty": []}}, public={"sheet-key-123"}
    )
    with running_app(create_sheets_app(state)) as url:
        extra = {"keyfile_dict": json.dumps(service_account_key(f"{url}/token")), "api_base_url": url}
        set_connection(monkeypatch, "google_sheets_default", {"conn_type": "google_sheets", "extra": extra})
        yield url, state


def salesforce_connection(url: str, state: SalesforceState) -> dict[str, Any]:
    return {
        "conn_type": "salesforce",
        "extra": {"instance_url": url, "access_token": state.session_id, "version": "59.0"},
    }


@pytest.fixture
def salesforce(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, SalesforceState]]:
    """The stand-in over TLS; requests trusts its certificate through REQUESTS_CA_BUNDLE."""
    cert, key = self_signed_certificate(str(tmp_path_factory.mktemp("tls")))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    state = salesforce_demo_state()
    with running_app(create_salesforce_app(state), certfile=cert, keyfile=key) as url:
        set_connection(monkeypatch, "s2s_demo_sage_financials", salesforce_connection(url, state))
        yield url, state
