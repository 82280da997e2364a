"""Secrets never leak: a complete run of every shipped demo source with distinctive made-up secrets, and every
byte the runs leave behind searched for them.

Every demo DAG of ``include/sources/demo_*.yaml`` runs with ``dag.test()`` against the sandbox and the API
stand-ins, each connection carrying a secret nobody else uses (the SQLite ODBC connections get a password too,
which the driver ignores). Added beside them: the Sage Accounting global API (client secret, rotating refresh
tokens), a linked Google Sheet (a service-account private key) and forced failures (a wrong Stock2Shop password,
a wrong Sage API key). Then every captured line of output (file-descriptor level: the task logs ``dag.test``
prints, stdout and stderr; and the raw log records), every row of the Airflow metadata database (XCom, task
instances, DAG runs; not ``variable``, where the rotated refresh token is kept on purpose), every file under the
test's folder (staging Parquet, run reports, quarantine CSVs, fingerprints under ``_state``, the state store, the
order drop) and the failures' exception texts are searched for each secret, also URL-quoted, JSON-escaped and as
HTTP Basic credentials. Zero occurrences are allowed.
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import sqlalchemy as sa
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.state import DagRunState, TaskInstanceState

from sandbox.app import SandboxSettings, create_app
from sandbox.isync import create_isync_app
from sandbox.isync import demo_state as isync_demo_state
from sandbox.sage_accounting import create_sage_app
from sandbox.sage_accounting import demo_state as sage_demo_state
from sandbox.salesforce import create_salesforce_app
from sandbox.salesforce import demo_state as salesforce_demo_state
from sandbox.server import running_app, self_signed_certificate
from sandbox.sheets import FakeSheets, create_sheets_app
from stock2shop_sync.demo import seed as seed_preset
from stock2shop_sync.demo.orders import API_ORDERS, FILE_ORDERS
from stock2shop_sync.hooks.stock2shop import Stock2ShopError, Stock2ShopHook
from tests.conftest import ENRICHMENT, MARIADB, ROOT, odbc_string, service_account_key, set_connection

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]

DAG_FILE = str(ROOT / "dags" / "stock2shop_sources.py")
TAG = uuid.uuid4().hex[:8]
S2S_USER = "secret-test-user"


def _secret(name: str) -> str:
    """A made-up secret that cannot occur by chance."""
    return f"Zq{name}-{TAG}-Xy7!pW"


@dataclass
class SecretBook:
    """The secrets of one test, and the texts and files gathered to be searched for them."""

    secrets: dict[str, str] = field(default_factory=dict)
    #: extra byte forms of a secret (e.g. HTTP Basic credentials), by the secret's name
    extra_forms: dict[str, list[bytes]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: str | None) -> None:
        if value:
            self.secrets[name] = value

    def add_basic(self, name: str, login: str, password: str) -> None:
        token = base64.b64encode(f"{login}:{password}".encode()).decode()
        self.extra_forms.setdefault(name, []).append(token.encode())

    def forms(self) -> dict[str, set[bytes]]:
        found: dict[str, set[bytes]] = {}
        for name, value in self.secrets.items():
            variants = {
                value,
                urllib.parse.quote(value, safe=""),
                urllib.parse.quote_plus(value),
                json.dumps(value)[1:-1],
                repr(value)[1:-1],
            }
            found[name] = {v.encode() for v in variants} | set(self.extra_forms.get(name, []))
        return found


def scan(book: SecretBook, files_under: list[Path], metadata_rows: dict[str, str]) -> dict[str, int]:
    """Search everything for every secret; print the figures; return occurrences per (secret, where)."""
    forms = book.forms()
    hits: dict[str, int] = {}
    scanned_files = scanned_bytes = 0

    def search(where: str, data: bytes) -> None:
        for name, variants in forms.items():
            count = sum(data.count(v) for v in variants)
            if count:
                hits[f"{name} in {where}"] = hits.get(f"{name} in {where}", 0) + count

    for root in files_under:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            scanned_files += 1
            scanned_bytes += len(data)
            search(str(path), data)
    text_bytes = 0
    for where, text in book.texts.items():
        print(f"  {where}: {len(text):,} characters")
    for where, text in {**book.texts, **metadata_rows}.items():
        data = text.encode("utf-8", "backslashreplace")
        text_bytes += len(data)
        search(where, data)
    print(
        f"\nsecret scan: {len(forms)} secrets ({sum(len(v) for v in forms.values())} forms); "
        f"{scanned_files} files ({scanned_bytes:,} bytes); {len(book.texts)} captured texts and "
        f"{len(metadata_rows)} metadata tables ({text_bytes:,} bytes); occurrences found: {sum(hits.values())}"
    )
    return hits


def metadata_dump() -> dict[str, str]:
    """Every row of every table of the Airflow metadata database but ``variable`` (where a rotated refresh token
    is stored on purpose) as text, one entry per table."""
    from airflow import settings

    dump: dict[str, str] = {}
    engine = settings.engine
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            if table == "variable":
                continue
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).fetchall()
            dump[f"metadata table {table}"] = "\n".join(repr(tuple(r)) for r in rows)
    return dump


def _seed_sqlite(preset: str, path: Path) -> None:
    seed_preset(preset, pyodbc.connect(f"DRIVER={{SQLite3}};Database={path}"))


def _run(dag_id: str, conf: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    dag = DagBag(dag_folder=DAG_FILE).dags[dag_id]
    run = dag.test(logical_date=None, run_conf=conf or {"full_sync": True})
    return run, {ti.task_id: ti.state for ti in run.get_task_instances()}


@dataclass
class World:
    """The running stand-ins and the test's folders."""

    book: SecretBook
    folder: Path
    sandbox: str
    sage: Any
    sheets: FakeSheets
    issued_s2s_tokens: set[str]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The shipped demo sources (copied, the Pastel order drop moved into the test's folder) plus the extra
    sources, their databases, the sandbox with the Sage and iSync stand-ins, Salesforce over TLS and Google."""
    book = SecretBook()
    folder = tmp_path / "run"
    sources = folder / "sources"
    sources.mkdir(parents=True)
    monkeypatch.setenv("S2S_SOURCES_DIR", str(sources))
    monkeypatch.setenv("S2S_STAGING_URL", f"file://{folder / 'staging'}")
    monkeypatch.setenv("S2S_STATE_URL", f"sqlite:///{folder / 'state.sqlite'}")
    drop = folder / "order-drop" / "pastel"
    drop.mkdir(parents=True)
    for path in sorted((ROOT / "include" / "sources").glob("demo_*.yaml")):
        config = yaml.safe_load(path.read_text())
        if config.get("orders", {}).get("inbox", {}).get("kind") == "files":
            config["orders"]["inbox"]["path"] = str(drop)
        (sources / path.name).write_text(yaml.safe_dump(config, sort_keys=False))

    # ODBC (SQLite) connections: a reader login with a password on each, and the orders' read-write logins
    databases = folder / "databases"
    databases.mkdir()
    for source_id, preset in (
        ("demo_custom_db", "custom_database"),
        ("demo_sage_evolution", "sage_evolution"),
        ("demo_sage_pastel_partner", "sage_pastel_partner"),
    ):
        path = databases / f"{source_id}.sqlite"
        _seed_sqlite(preset, path)
        for suffix in ("", "_orders"):
            password = _secret(f"OdbcPw-{source_id}{suffix}")
            book.add(f"ODBC password of s2s_{source_id}{suffix}", password)
            set_connection(
                monkeypatch,
                f"s2s_{source_id}{suffix}",
                {"conn_type": "odbc", "schema": str(path), "login": "reader", "password": password},
            )

    s2s_password = _secret("S2sLoginPw")
    book.add("Stock2Shop login password", s2s_password)
    book.add_basic("Stock2Shop login password", S2S_USER, s2s_password)

    sage = sage_demo_state()
    sage.password, sage.apikey = _secret("SagePw"), _secret("SageApikey")
    sage.client_secret, sage.refresh_token = _secret("SageClientSecret"), _secret("SageRefresh0")
    book.add("Sage Accounting password", sage.password)
    book.add_basic("Sage Accounting password", sage.username, sage.password)
    book.add("Sage Accounting apikey", sage.apikey)
    book.add("Sage Accounting client_secret", sage.client_secret)
    book.add("Sage Accounting first refresh token", sage.refresh_token)
    isync = isync_demo_state()
    isync.password = _secret("IsyncPw")
    book.add("iSync password", isync.password)
    book.add_basic("iSync password", isync.username, isync.password)
    salesforce = salesforce_demo_state()
    salesforce.session_id = f"00D{TAG}!{_secret('SalesforceToken')}"
    book.add("Salesforce access token", salesforce.session_id)
    sheets = FakeSheets(spreadsheets={"sheet-key-123": {"Enrichment": ENRICHMENT}})

    issued: set[str] = set()
    original = Stock2ShopHook.authenticate

    def recording_authenticate(self: Stock2ShopHook, *args: Any, **kwargs: Any) -> str:
        token = original(self, *args, **kwargs)
        issued.add(token)
        return token

    monkeypatch.setattr(Stock2ShopHook, "authenticate", recording_authenticate)

    sources_in_sandbox = {101: "custom", 102: "evolution", 103: "pastel", 104: "sage", 105: "isync", 106: "sf"}
    sources_in_sandbox |= {107: "sage global", 108: "bad login"}
    settings = SandboxSettings(users={S2S_USER: s2s_password}, sources=sources_in_sandbox, rate_limit=0)
    app = create_app(str(tmp_path / "sandbox.sqlite"), settings)
    app.mount("/sage", create_sage_app(sage))
    app.mount("/isync", create_isync_app(isync))
    cert, key = self_signed_certificate(str(tmp_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    with ExitStack() as stack:
        url = stack.enter_context(running_app(app))
        sf_url = stack.enter_context(running_app(create_salesforce_app(salesforce), certfile=cert, keyfile=key))
        google_url = stack.enter_context(running_app(create_sheets_app(sheets)))
        s2s = {"conn_type": "http", "host": url, "login": S2S_USER, "password": s2s_password}
        set_connection(monkeypatch, "stock2shop_default", s2s)
        set_connection(monkeypatch, "s2s_demo_sage_accounting", {
            "conn_type": "http", "host": f"{url}/sage", "login": sage.username, "password": sage.password,
            "extra": {"apikey": sage.apikey, "company_id": sage.company_id},
        })  # fmt: skip
        set_connection(monkeypatch, "s2s_secret_sage_global", {
            "conn_type": "http", "host": f"{url}/sage",
            "extra": {"client_id": sage.client_id, "client_secret": sage.client_secret,
                      "refresh_token": sage.refresh_token, "token_url": f"{url}/sage/token"},
        })  # fmt: skip
        set_connection(monkeypatch, "s2s_demo_isync", {
            "conn_type": "http", "host": f"{url}/isync", "login": isync.username, "password": isync.password,
        })  # fmt: skip
        set_connection(monkeypatch, "s2s_demo_sage_financials", {
            "conn_type": "salesforce",
            "extra": {"instance_url": sf_url, "access_token": salesforce.session_id, "version": "59.0"},
        })  # fmt: skip
        keyfile = service_account_key(f"{google_url}/token")
        keyfile["private_key_id"] = _secret("GooglePrivateKeyId")
        book.add("Google service-account private key", keyfile["private_key"])
        for n, line in enumerate(keyfile["private_key"].splitlines()):
            if "PRIVATE KEY" not in line:
                book.add(f"Google private key line {n}", line)
        book.add("Google private key id", keyfile["private_key_id"])
        set_connection(monkeypatch, "google_sheets_default", {
            "conn_type": "google_sheets", "extra": {"keyfile_dict": json.dumps(keyfile), "api_base_url": google_url},
        })  # fmt: skip

        # The extra sources: the Sage global API, and a linked sheet on the Evolution demo.
        demo_sage = yaml.safe_load((ROOT / "include" / "sources" / "demo_sage_accounting.yaml").read_text())
        (sources / "secret_sage_global.yaml").write_text(yaml.safe_dump({
            **demo_sage, "source_id": "secret_sage_global", "connection": {"conn_id": "s2s_secret_sage_global"},
            "api": {**demo_sage["api"], "region": "global"},
            "stock2shop": {"conn_id": "stock2shop_default", "source_id": 107},
        }))  # fmt: skip
        (sources / "secret_sheet.yaml").write_text(yaml.safe_dump({
            "source_id": "secret_sheet", "type": "google_sheets",
            "sheet": {"spreadsheet": "sheet-key-123", "worksheet": "Enrichment"},
            "link": {"primary": "demo_sage_evolution", "owns": ["body_html"]},
        }))  # fmt: skip

        # The demo's web orders: two for the custom database and one for Evolution through the order API,
        # one order file for Pastel.
        import requests

        requests.post(f"{url}/sandbox/orders", json={"system_orders": API_ORDERS}, timeout=10).raise_for_status()
        for order in FILE_ORDERS:
            (drop / f"{order['id']}.json").write_text(json.dumps({"system_order": order}))
        yield World(book, folder, url, sage, sheets, issued)


def _gather(world: World, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """The runs' output, the raw log records (formatted, before any masking) and the tokens issued at run time."""
    out, err = capfd.readouterr()
    world.book.texts["captured stdout"] = out
    world.book.texts["captured stderr"] = err
    world.book.texts.update(log_texts(caplog))
    for n, token in enumerate(sorted(world.issued_s2s_tokens)):
        world.book.add(f"Stock2Shop session token {n}", token)
    for n, token in enumerate(sorted(world.sage.used_refresh_tokens | {world.sage.refresh_token})):
        world.book.add(f"Sage refresh token {n}", token)
    for n, token in enumerate(sorted(world.sage.access_tokens)):
        world.book.add(f"Sage access token {n}", token)
    for n, token in enumerate(sorted(world.sheets.tokens)):
        world.book.add(f"Google access token {n}", token)


def log_texts(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    """The log records of the runs (``dag.test`` runs tasks in this process, so the task logs are these records):

    * every record, DEBUG included, through Airflow's secrets masker (``redact``, what the task log handler
      applies before writing): a secret a hook did not register (e.g. a token obtained at run time, which urllib3
      logs in URLs at DEBUG) shows here;
    * the records from INFO up as they were logged, before any masking: this project's own lines must not hold
      a secret even when the masker is not there to hide it.
    """
    from airflow.sdk._shared.secrets_masker import redact

    formatter = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    lines = [(r.levelno, formatter.format(r)) for r in caplog.records]
    return {
        "task log (all levels, as Airflow's masker writes it)": "\n".join(str(redact(line)) for _, line in lines),
        "log records from INFO up, unmasked": "\n".join(line for level, line in lines if level >= logging.INFO),
    }


def _exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(getattr(exc, "args", ""))


def test_no_secret_in_any_output_of_every_demo_run(
    world: World, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 then logs every URL, with its ``?token=``: the masker must hide it
    book = world.book
    demo_dags = sorted(
        f"s2s_{p.stem}"
        for p in (ROOT / "include" / "sources").glob("demo_*.yaml")
        if p.stem != "demo_custom_db_content"
    )
    assert len(demo_dags) == 6
    for dag_id in [*demo_dags, "s2s_secret_sage_global"]:
        run, states = _run(dag_id)
        assert run.state == DagRunState.SUCCESS, (dag_id, states)
        assert set(states.values()) <= {TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED}, (dag_id, states)
    assert world.issued_s2s_tokens, "the Stock2Shop token was never obtained"
    assert world.sage.used_refresh_tokens, "the Sage refresh token never rotated"
    assert world.sheets.tokens, "the Google sheet was never read with a token"
    processed = list((world.folder / "order-drop" / "pastel").rglob("*.json"))
    assert processed, "the Pastel order file was not taken"

    # Forced failures: a wrong Stock2Shop password, a wrong Sage API key; their errors are searched too.
    wrong_s2s = _secret("WrongS2sPw")
    book.add("wrong Stock2Shop password", wrong_s2s)
    book.add_basic("wrong Stock2Shop password", S2S_USER, wrong_s2s)
    set_connection(
        pytest.MonkeyPatch(), "s2s_wrong_login", {"conn_type": "http", "host": world.sandbox, "login": S2S_USER,
                                                   "password": wrong_s2s}
    )  # fmt: skip
    custom = yaml.safe_load((world.folder / "sources" / "demo_custom_db.yaml").read_text())
    custom.pop("orders")
    (world.folder / "sources" / "secret_bad_login.yaml").write_text(yaml.safe_dump({
        **custom, "source_id": "secret_bad_login", "stock2shop": {"conn_id": "s2s_wrong_login", "source_id": 108},
    }))  # fmt: skip
    run, states = _run("s2s_secret_bad_login")
    assert run.state == DagRunState.FAILED
    assert states["upload_products"] == TaskInstanceState.FAILED
    with pytest.raises(Stock2ShopError) as refused:
        Stock2ShopHook("s2s_wrong_login").authenticate()
    assert "refused the credentials of connection 's2s_wrong_login'" in str(refused.value)
    book.texts["exception: wrong Stock2Shop password"] = _exception_text(refused.value)

    from stock2shop_sync.hooks.sage_accounting import SageAccountingError, SageAccountingHook

    wrong_key = _secret("WrongSageApikey")
    book.add("wrong Sage apikey", wrong_key)
    conn = {"conn_type": "http", "host": f"{world.sandbox}/sage", "login": world.sage.username,
            "password": world.sage.password, "extra": {"apikey": wrong_key, "company_id": world.sage.company_id}}  # fmt: skip
    set_connection(pytest.MonkeyPatch(), "s2s_wrong_sage", conn)
    with pytest.raises(SageAccountingError) as sage_refused:
        list(SageAccountingHook("s2s_wrong_sage", region="za").list_za("Item"))
    book.texts["exception: wrong Sage apikey"] = _exception_text(sage_refused.value)

    _gather(world, capfd, caplog)
    task_log = book.texts["task log (all levels, as Airflow's masker writes it)"]
    assert "source demo_sage_pastel_partner: extracted" in task_log  # the task logs were captured
    assert "refused the credentials of connection 's2s_wrong_login'" in book.texts["captured stdout"] + task_log
    assert "?token=***&" in task_log, "no masked token URL in the DEBUG task logs"
    metadata = metadata_dump()
    assert "s2s_demo_sage_evolution" in metadata["metadata table xcom"]  # the XCom values are in the dump
    written = {p.name for p in world.folder.rglob("*") if p.is_file()}
    for expected in ("products_quarantine.csv", "latest_run_report.json", "products_fingerprints.parquet",
                     "products_extracted.parquet", "state.sqlite"):  # fmt: skip
        assert expected in written, expected
    hits = scan(book, [world.folder], metadata)
    assert hits == {}


@pytest.fixture
def db_login(mariadb_database: str) -> Iterator[dict[str, str]]:
    """A real MariaDB login with a password, allowed to read the fixture database (dropped afterwards). MariaDB,
    because the local PostgreSQL trusts loopback logins and would accept any password."""
    user, password = f"s2s_reader_{TAG}", _secret("DbReaderPw")
    admin = pyodbc.connect(odbc_string(MARIADB, None), autocommit=True)
    hosts = ("127.0.0.1", "localhost")
    try:
        for host in hosts:
            admin.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")
            admin.execute(f"GRANT SELECT ON {mariadb_database}.* TO '{user}'@'{host}'")
        yield {"login": user, "password": password, "database": mariadb_database}
    finally:
        for host in hosts:
            admin.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
        admin.close()


def test_wrong_database_password_names_the_source_and_never_the_password(
    db_login: dict[str, str],
    sources_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database refuses a wrong password for real; the error names the source and says authentication failed,
    from both readers, in the task log, and nothing anywhere holds the password (right or wrong)."""
    from stock2shop_sync import pipeline
    from stock2shop_sync.config import load_source
    from stock2shop_sync.redact import SourceAuthError

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("S2S_STAGING_URL", f"file://{tmp_path / 'staging'}")
    book = SecretBook()
    wrong = _secret("WrongDbPw")
    book.add("the right database password", db_login["password"])
    book.add("the wrong database password", wrong)
    base = {"conn_type": "odbc", "host": MARIADB["host"], "port": MARIADB["port"], "schema": db_login["database"],
            "login": db_login["login"]}  # fmt: skip
    set_connection(monkeypatch, "db_right", {**base, "password": db_login["password"]})
    set_connection(monkeypatch, "db_wrong", {**base, "password": wrong})
    for source_id, conn_id in (("db_shop_ok", "db_right"), ("db_shop_denied", "db_wrong")):
        (sources_dir / f"{source_id}.yaml").write_text(yaml.safe_dump({
            "source_id": source_id, "type": "custom_database",
            "connection": {"conn_id": conn_id, "driver": MARIADB["driver"]},
            "stock2shop": {"conn_id": "stock2shop_default", "source_id": 101},
        }))  # fmt: skip

    good = pipeline.extract(load_source(sources_dir / "db_shop_ok.yaml"), "products", "manual__ok")
    assert good["rows"] == 40
    for reader in ("arrow", "pyodbc"):
        monkeypatch.setenv("S2S_ODBC_READER", reader)
        with pytest.raises(SourceAuthError) as failed:
            pipeline.extract(load_source(sources_dir / "db_shop_denied.yaml"), "products", f"manual__{reader}")
        message = str(failed.value)
        assert "db_shop_denied" in message, message
        assert "authentication failed" in message, message
        assert wrong not in message
        book.texts[f"exception ({reader} reader)"] = _exception_text(failed.value)
    monkeypatch.delenv("S2S_ODBC_READER")

    run, states = _run("s2s_db_shop_denied", {})
    assert run.state == DagRunState.FAILED
    assert states["extract_products"] == TaskInstanceState.FAILED
    out, err = capfd.readouterr()
    book.texts["captured stdout"], book.texts["captured stderr"] = out, err
    book.texts.update(log_texts(caplog))
    assert "source db_shop_denied: authentication failed" in out + book.texts["log records from INFO up, unmasked"]
    hits = scan(book, [tmp_path], metadata_dump())
    assert hits == {}


def test_the_wrong_password_is_really_refused(db_login: dict[str, str]) -> None:
    """The role's password is checked by the server (so the test above is not passing for another reason)."""
    dsn = odbc_string({**MARIADB, "login": db_login["login"]}, db_login["database"])
    with closing(pyodbc.connect(dsn + f"PWD={db_login['password']};")) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone()[0] == 40
    with pytest.raises(pyodbc.Error, match="Access denied"):
        pyodbc.connect(dsn + "PWD=not-it;")


def test_the_scan_finds_a_planted_secret_in_every_form(tmp_path: Path) -> None:
    """The search itself works: a secret planted raw in a file, URL-quoted in a text and as HTTP Basic
    credentials in another is counted each time (so a zero above means none was there)."""
    book = SecretBook()
    secret = _secret("Planted")
    book.add("planted", secret)
    book.add_basic("planted", "someone", secret)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "report.json").write_text(json.dumps({"error": f"PWD={secret};"}))
    book.texts["a log line"] = f"GET /x?apikey={urllib.parse.quote(secret, safe='')} HTTP/1.1"
    basic = base64.b64encode(f"someone:{secret}".encode()).decode()
    hits = scan(book, [tmp_path], {"metadata table xcom": f"('Authorization: Basic {basic}',)"})
    assert hits == {
        f"planted in {tmp_path / 'nested' / 'report.json'}": 1,
        "planted in a log line": 1,
        "planted in metadata table xcom": 1,
    }
