"""``make order-faults``: orders exactly once under faults, for every order sink, through the real push step.

For each sink (SQL on SQLite, PostgreSQL and MariaDB; iSync; Sage Accounting za and global; Evolution Freedom;
Sage Financials) it puts ``--orders`` orders in a Stock2Shop sandbox, faults ``--rate`` of the sink's *create*
requests and runs :func:`stock2shop_sync.pipeline.push_orders` (what the DAG's push task runs) until nothing is
pending, then counts what the ERP holds and what Stock2Shop was told. HTTP sinks are faulted by their stand-in
servers (:mod:`sandbox.faults`: stored-then-503, stored-then-timeout, reset mid-answer, 429, 5xx before storing,
slow); SQL sinks by a connection whose commit fails the same ways (committed then the connection lost, lost
before the commit, a lock timeout, slow). Then, on PostgreSQL, two push runs of one source start at the same
moment in separate processes (each waits at a barrier after its first lookup), and in a second round the first of
them is SIGKILLed in the middle of a create and a third run starts after its claim has expired.

Prints one line per sink, ``ORDERS sink=<name> orders=<n> documents=<n> duplicates=<n> lost=<n> acked=<n>
faults=<n>``, then ``ORDERS overlap ...`` and ``ORDERS killed ...``; exits 1 if any line is not exactly once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the sandbox and bench packages; stock2shop_sync is installed
    sys.path.insert(0, str(ROOT))

SANDBOX_USER, SANDBOX_PASSWORD = "faults-user", "faults-pass"
S2S_SOURCE = 300
#: Seconds a request may take in the harness; the stand-ins' ``timeout`` fault answers later than this.
TIMEOUT = 1.0
HANG = 1.6
#: A short claim, so the killed run's claim expires within the run of the harness.
CLAIM_SECONDS = 3
#: How long a timed-out create is left to settle before its lookup: longer than the stand-ins' late answer.
SETTLE_SECONDS = 2
PG = "DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;PORT=5432;UID=postgres;"
MARIADB = "DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=3306;UID=root;"
SQL_SKUS = ("HW-HAMMER-16", "HW-TAPE-5M", "HW-DRILL-18V")
SQL_FAULTS = ("committed_then_lost", "lost_before_commit", "lock_timeout", "slow")


@dataclass
class Sink:
    """One sink under test: its source config, the codes its ERP knows, and how to count its documents."""

    name: str
    config: dict[str, Any]
    skus: tuple[str, ...]
    customer: str
    documents: Callable[[], list[tuple[str, str]]]  # (reference, document number) of every document
    faults: Callable[[], dict[str, int]]  # injected faults by kind
    prepare: Callable[[Any], None] = lambda sink: None


def _set_connection(conn_id: str, conn: dict[str, Any]) -> None:
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)


def _orders(count: int, skus: tuple[str, ...], customer: str, seed: int) -> list[dict[str, Any]]:
    """``count`` orders of one to three lines of ``skus``, 15% VAT, as Stock2Shop stores them."""
    pick = random.Random(seed)  # noqa: S311 - test data
    orders = []
    for n in range(1, count + 1):
        lines = []
        for number, sku in enumerate(pick.sample(skus, k=min(len(skus), pick.randint(1, 3))), start=1):
            qty, price = pick.randint(1, 4), round(pick.uniform(10, 500), 2)
            tax = round(price * 0.15, 2)
            lines.append(
                {"id": number, "sku": sku, "source_id": S2S_SOURCE, "title": f"Item {sku}", "qty": qty,
                 "price": price, "tax_per_unit": tax, "total_discount": 0,
                 "tax_lines": [{"code": "taxed", "rate": 15, "title": "VAT"}]}
            )  # fmt: skip
        orders.append(
            {"id": n, "client_id": 21, "channel_id": 1, "channel_order_code": f"WEB{n}",
             "created": "2026-12-01 09:15:00", "notes": f"order {n}",
             "customer": {"first_name": "Thandi", "last_name": "Nkosi", "email": "thandi@example.com"},
             "shipping_address": {"address1": "12 Long Street", "city": "Cape Town", "zip": "8001", "country": "ZA"},
             "sources": [{"source_id": S2S_SOURCE, "source_customer_code": customer}], "line_items": lines}
        )  # fmt: skip
    return orders


def _source_file(folder: Path, name: str, config: dict[str, Any]) -> Path:
    body = {
        "source_id": name,
        "stock2shop": {"conn_id": "stock2shop_default", "source_id": S2S_SOURCE},
        **config,
        "orders": {
            "enabled": True,
            "claim_seconds": CLAIM_SECONDS,
            "create_pause_seconds": 0.05,
            "retry_backoff_seconds": 0,
            "settle_seconds": SETTLE_SECONDS,
            **config.get("orders", {}),
        },
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


# -- SQL sinks: a connection whose commit fails ---------------------------------------------------------------
class _SqlFaults:
    """Seeded decisions for the commits of the SQL order sink (the create of a SQL sink is its transaction)."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.random = random.Random(seed)  # noqa: S311 - fault injection
        self.deck: list[str] = []
        self.injected: Counter[str] = Counter()
        self.lock = threading.Lock()

    def decide(self) -> str | None:
        with self.lock:
            if self.random.random() >= self.rate:
                return None
            if not self.deck:
                self.deck = list(SQL_FAULTS)
                self.random.shuffle(self.deck)
            kind = self.deck.pop()
            self.injected[kind] += 1
            return kind


class _FaultyConnection:
    """A pyodbc connection whose ``commit`` is faulted as :class:`_SqlFaults` decides; all else passes through."""

    def __init__(self, conn: Any, faults: _SqlFaults) -> None:
        self._conn = conn
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def commit(self) -> None:
        import pyodbc

        kind = self._faults.decide()
        if kind == "committed_then_lost":
            self._conn.commit()
            self._conn.close()
            raise pyodbc.OperationalError("08S01", "[injected] communication link failure after the commit")
        if kind == "lost_before_commit":
            self._conn.close()
            raise pyodbc.OperationalError("08S01", "[injected] communication link failure before the commit")
        if kind == "lock_timeout":
            self._conn.rollback()
            raise pyodbc.OperationalError("HY000", "[injected] Lock wait timeout exceeded; try restarting transaction")
        if kind == "slow":
            time.sleep(0.2)
        self._conn.commit()


@contextmanager
def _faulty_sql(faults: _SqlFaults) -> Iterator[None]:
    from stock2shop_sync.connectors.sql import SqlOrderSink

    real = SqlOrderSink._connection

    def connection(self: SqlOrderSink) -> Any:
        return _FaultyConnection(real(self), faults)

    SqlOrderSink._connection = connection  # type: ignore[method-assign]
    try:
        yield
    finally:
        SqlOrderSink._connection = real  # type: ignore[method-assign]


def _sql_database(kind: str, folder: Path, *, unique: bool = True) -> tuple[str, dict[str, Any], Callable[[], Any]]:
    """A fresh database of ``kind`` with the Custom Database order tables: (driver, connection, connect)."""
    import pyodbc

    from stock2shop_sync.demo import create_order_tables

    if kind == "sqlite":
        path = folder / f"erp-{uuid.uuid4().hex[:6]}.sqlite"
        driver, conn, odbc = (
            "SQLite3",
            {"conn_type": "odbc", "schema": str(path)},
            f"DRIVER={{SQLite3}};Database={path}",
        )
    else:
        name = f"s2s_faults_{uuid.uuid4().hex[:10]}"
        server = PG if kind == "postgresql" else MARIADB
        with closing(
            pyodbc.connect(server + ("DATABASE=postgres;" if kind == "postgresql" else ""), autocommit=True)
        ) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        driver = "PostgreSQL Unicode" if kind == "postgresql" else "MariaDB Unicode"
        port = 5432 if kind == "postgresql" else 3306
        login = "postgres" if kind == "postgresql" else "root"
        conn = {"conn_type": "odbc", "host": "127.0.0.1", "port": port, "login": login, "schema": name}
        odbc = server + f"DATABASE={name};"
    with closing(pyodbc.connect(odbc)) as erp:
        create_order_tables("custom_database", erp)
        if not unique:
            # Without the UNIQUE reference only the ledger and the sink's lookup stand between a race and a
            # duplicate: what the overlap round is about.
            erp.execute("ALTER TABLE sales_orders DROP CONSTRAINT sales_orders_external_ref_key")
            erp.commit()
    return driver, conn, lambda: pyodbc.connect(odbc)


def _sql_sink(kind: str, folder: Path, rate: float, seed: int, stack: ExitStack) -> Sink:
    driver, conn, connect = _sql_database(kind, folder)
    conn_id = f"faults_{kind}"
    _set_connection(conn_id, conn)
    faults = _SqlFaults(rate, seed)
    stack.enter_context(_faulty_sql(faults))

    def documents() -> list[tuple[str, str]]:
        with closing(connect()) as erp:
            return [(str(r[0]), str(r[1])) for r in erp.execute("SELECT external_ref, order_no FROM sales_orders")]

    return Sink(
        name=f"sql_{kind}",
        config={
            "type": "custom_database",
            "connection": {"conn_id": conn_id, "driver": driver},
            "orders": {"conn_id": conn_id, "default_customer_code": "CASH"},
        },
        skus=SQL_SKUS,
        customer="ACC001",
        documents=documents,
        faults=lambda: dict(sorted(faults.injected.items())),
    )


# -- HTTP sinks: the stand-ins fault their create requests --------------------------------------------------
def _fault_settings(rate: float, seed: int, paths: tuple[str, ...] = ("/",)) -> Any:
    from sandbox.faults import FaultSettings

    return FaultSettings(rate=rate, seed=seed, methods=("POST",), paths=paths, hang=HANG, retry_after=0.05, slow=0.2)


def _injected(app: Any) -> dict[str, int]:
    return {k: int(v) for k, v in app.state.faults.report()["injected"].items() if k != "token_expired"}


def _isync_sink(rate: float, seed: int, stack: ExitStack) -> Sink:
    from sandbox.isync import create_isync_app, demo_state
    from sandbox.server import running_app

    state = demo_state()
    app = create_isync_app(state, _fault_settings(rate, seed))
    url = stack.enter_context(running_app(app))
    _set_connection(
        "faults_isync", {"conn_type": "http", "host": url, "login": state.username, "password": state.password}
    )
    return Sink(
        name="isync",
        config={
            "type": "isync",
            "connection": {"conn_id": "faults_isync"},
            "api": {"timeout_seconds": TIMEOUT},
            "orders": {"default_customer_code": "CASH", "shipping_code": "COURIER"},
        },
        skus=tuple(p["SKU"] for p in state.products[:8]),
        customer="KT001",
        documents=lambda: [(o["PONumber"], o["OrderNumber"]) for o in state.orders],
        faults=lambda: _injected(app),
    )


def _sage_sink(region: str, rate: float, seed: int, stack: ExitStack) -> Sink:
    from sandbox.sage_accounting import create_sage_app, demo_state
    from sandbox.server import running_app
    from stock2shop_sync.hooks.sage_accounting import MemoryTokenStore

    state = demo_state()
    state.limit_per_window = 10**9  # the stand-in's rate limit is tested elsewhere; here only the faults count
    # The documents' creates only: a token refresh is not an order's create (Sage rotates the refresh token, so a
    # refresh whose answer is lost leaves the client with a spent one, whatever the client does).
    app = create_sage_app(state, _fault_settings(rate, seed, ("/api/2.0.0/", "/v3.1/")))
    url = stack.enter_context(running_app(app))
    _set_connection(
        f"faults_sage_{region}",
        {"conn_type": "http", "host": url, "login": state.username, "password": state.password,
         "extra": {"apikey": state.apikey, "company_id": state.company_id, "client_id": state.client_id,
                   "client_secret": state.client_secret, "refresh_token": state.refresh_token,
                   "token_url": f"{url}/token"}},
    )  # fmt: skip
    resource = "TaxInvoice" if region == "za" else "sales_invoices"
    reference, number = ("Reference", "DocumentNumber") if region == "za" else ("reference", "invoice_number")

    tokens = MemoryTokenStore()  # kept across runs, as the Airflow Variable is: Sage rotates the refresh token

    def prepare(sink: Any) -> None:
        sink.hook.token_store = tokens

    return Sink(
        name=f"sage_accounting_{region}",
        config={
            "type": "sage_accounting",
            "connection": {"conn_id": f"faults_sage_{region}"},
            "api": {"region": region, "timeout_seconds": TIMEOUT, "requests_per_minute": 100_000},
            "orders": {"document_type": "tax_invoice", "default_customer_code": "TRAIL01"},
        },
        skus=("OUT-0002", "OUT-0003", "OUT-0007"),
        customer="SUMMIT02" if region == "za" else "TRAIL01",
        documents=lambda: [(d[reference], d[number]) for d in state.documents.get(resource, [])],
        faults=lambda: _injected(app),
        prepare=prepare,
    )


def _freedom_sink(rate: float, seed: int, stack: ExitStack) -> Sink:
    from sandbox.evolution_freedom import FreedomState, create_freedom_app
    from sandbox.server import running_app

    state = FreedomState()
    app = create_freedom_app(state, _fault_settings(rate, seed))
    url = stack.enter_context(running_app(app))
    _set_connection(
        "faults_freedom",
        {"conn_type": "http", "host": url, "schema": state.database, "login": state.username,
         "password": state.password},
    )  # fmt: skip
    return Sink(
        name="evolution_freedom",
        config={
            "type": "sage_evolution",
            "connection": {"conn_id": "faults_evo_read", "driver": "SQLite3"},
            "mapping_overrides": {"orders": {"sink": "evolution_freedom"}},
            "api": {"timeout_seconds": TIMEOUT},
            "orders": {
                "conn_id": "faults_freedom",
                "default_customer_code": "CASH01",
                "shipping_code": "COURIER",
                "warehouse_code": "JHB",
                "tax_code": "1",
            },
        },
        skus=("RUN-TEE-BLK-M", "RUN-TEE-BLK-L"),
        customer="RUN001",
        documents=lambda: [(o["ExternalOrderNo"], o["OrderNo"]) for o in state.orders],
        faults=lambda: _injected(app),
    )


def _financials_sink(folder: Path, rate: float, seed: int, stack: ExitStack) -> Sink:
    from sandbox.salesforce import create_salesforce_app, demo_state
    from sandbox.server import running_app, self_signed_certificate

    cert, key = self_signed_certificate(str(folder))
    os.environ["REQUESTS_CA_BUNDLE"] = cert
    state = demo_state()
    app = create_salesforce_app(state, _fault_settings(rate, seed))
    url = stack.enter_context(running_app(app, certfile=cert, keyfile=key))
    _set_connection(
        "faults_financials",
        {
            "conn_type": "salesforce",
            "extra": {"instance_url": url, "access_token": state.session_id, "version": "59.0"},
        },
    )
    header = "s2cor__Sage_INV_Trade_Document__c"
    return Sink(
        name="sage_financials",
        config={
            "type": "sage_financials",
            "connection": {"conn_id": "faults_financials"},
            "api": {"timeout_seconds": TIMEOUT},
            "orders": {"default_customer_code": "CASH", "shipping_code": "OFF-025"},
        },
        skus=("OFF-001", "OFF-002"),
        customer="OFFW02",
        documents=lambda: [(r["s2cor__Reference__c"], r["Name"]) for r in state.records.get(header, [])],
        faults=lambda: _injected(app),
    )


# -- running a sink -------------------------------------------------------------------------------------------
@contextmanager
def _sandbox(folder: Path) -> Iterator[str]:
    from sandbox.app import SandboxSettings
    from sandbox.server import running_sandbox

    settings = SandboxSettings(users={SANDBOX_USER: SANDBOX_PASSWORD}, sources={S2S_SOURCE: "faults"}, rate_limit=0)
    with running_sandbox(str(folder / f"sandbox-{uuid.uuid4().hex[:6]}.sqlite"), settings) as url:
        _set_connection(
            "stock2shop_default",
            {"conn_type": "http", "host": url, "login": SANDBOX_USER, "password": SANDBOX_PASSWORD},
        )
        yield url


def _add_orders(url: str, orders: list[dict[str, Any]]) -> None:
    import requests

    for start in range(0, len(orders), 500):
        requests.post(f"{url}/sandbox/orders", json={"system_orders": orders[start : start + 500]}, timeout=60)


def _sandbox_orders(url: str) -> dict[str, dict[str, Any]]:
    import requests

    rows = requests.get(f"{url}/sandbox/orders", params={"source_id": S2S_SOURCE}, timeout=60).json()
    return {str(r["order_id"]): r for r in rows}


def _tally(name: str, count: int, documents: list[tuple[str, str]], acked: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The counts of one round: the ERP's documents against the orders, and what Stock2Shop was told."""
    ours = {f"S2S-{n}" for n in range(1, count + 1)}
    references = Counter(ref for ref, _ in documents if ref in ours)
    numbers = {ref: number for ref, number in documents}
    acknowledged = [k for k, row in acked.items() if row.get("source_order_code") == str(numbers.get(f"S2S-{k}", "\0"))]
    return {
        "sink": name,
        "orders": count,
        "documents": sum(references.values()),
        "duplicates": sum(n - 1 for n in references.values()),
        "lost": len(ours - set(references)),
        "acked": len(acknowledged),
    }


def run_sink(sink: Sink, folder: Path, count: int, seed: int, passes: int) -> dict[str, Any]:
    """Push ``count`` orders through ``sink`` until none is pending (at most ``passes`` runs); the tally."""
    from stock2shop_sync import pipeline
    from stock2shop_sync.config import load_source, resolve_mapping
    from stock2shop_sync.connectors import get_order_sink
    from stock2shop_sync.state import StateStore

    with _sandbox(folder) as url:
        config = load_source(_source_file(folder, sink.name, sink.config))
        os.environ["S2S_STATE_URL"] = f"sqlite:///{folder / f'state-{sink.name}.sqlite'}"
        store = StateStore()
        store.record_synced(sink.name, sink.skus + tuple(filter(None, [config.orders.shipping_code])))
        _add_orders(url, _orders(count, sink.skus, sink.customer, seed))
        runs = []
        started = time.monotonic()
        for _ in range(passes):
            order_sink = get_order_sink(config, resolve_mapping(config))
            sink.prepare(order_sink)
            result = pipeline.push_orders(config, store=store, sink=order_sink)
            runs.append(result["counts"])
            if result["counts"]["pending"] == 0:
                break
            if result["counts"].get("waiting") or result["counts"].get("failed"):
                time.sleep(SETTLE_SECONDS)  # as the schedule's next run would come later
        tally = _tally(sink.name, count, sink.documents(), _sandbox_orders(url))
    kinds = sink.faults()
    return {
        **tally,
        "faults": sum(kinds.values()),
        "kinds": kinds,
        "runs": len(runs),
        "seconds": round(time.monotonic() - started, 1),
    }


def _line(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    return " ".join(f"{k}={values[k]}" for k in keys)


SINK_KEYS = ("sink", "orders", "documents", "duplicates", "lost", "acked", "faults")


# -- two runs at once, and a run killed mid-create ------------------------------------------------------------
def _child(
    config_path: str, state_url: str, barrier: Any, kill_after: int | None, ready: Any, out: Any, quiet: bool
) -> None:
    """One push run in its own process: waits at ``barrier`` after its first lookup; with ``kill_after``, stops
    (for the parent to SIGKILL) once its ``kill_after``-th document is committed, before the run records it."""
    from stock2shop_sync import pipeline
    from stock2shop_sync.config import load_source
    from stock2shop_sync.connectors.sql import SqlOrderSink
    from stock2shop_sync.state import StateStore

    os.environ["S2S_STATE_URL"] = state_url  # the whole run's state (ledger, shared login) on PostgreSQL
    if quiet:
        _quiet()
    real_find, real_create = SqlOrderSink.find, SqlOrderSink.create_checked
    looked: list[bool] = []
    created: list[str] = []

    def find(self: SqlOrderSink, order: Any) -> Any:
        found = real_find(self, order)
        if not looked:
            looked.append(True)
            with suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=60)
        return found

    def create_checked(self: SqlOrderSink, order: Any) -> tuple[str, bool]:
        result = real_create(self, order)
        created.append(order.order_id)
        if len(created) == kill_after:
            ready.set()
            time.sleep(600)  # the parent kills this process here: committed, not yet recorded nor acknowledged
        return result

    SqlOrderSink.find, SqlOrderSink.create_checked = find, create_checked  # type: ignore[method-assign]
    result = pipeline.push_orders(load_source(config_path), store=StateStore(state_url))
    out.put({"counts": result["counts"], "problems": result["problems"]})


def _state_database() -> tuple[str, Callable[[], None]]:
    import pyodbc

    name = f"s2s_faults_state_{uuid.uuid4().hex[:8]}"
    with closing(pyodbc.connect(PG + "DATABASE=postgres;", autocommit=True)) as admin:
        admin.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        from stock2shop_sync.state import _ENGINES

        for url in [u for u in _ENGINES if u.endswith(name)]:
            _ENGINES.pop(url).dispose()
        with closing(pyodbc.connect(PG + "DATABASE=postgres;", autocommit=True)) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    return f"postgresql://postgres@127.0.0.1:5432/{name}", drop


def run_concurrent(folder: Path, count: int, seed: int, *, kill: bool, quiet: bool = True) -> dict[str, Any]:
    """Two push runs of one PostgreSQL source at once over ``count`` orders, the state store on PostgreSQL too;
    with ``kill``, the first is SIGKILLed mid-create and a third run starts once its claim has expired."""
    from stock2shop_sync import pipeline
    from stock2shop_sync.config import load_source
    from stock2shop_sync.state import StateStore

    driver, conn, connect = _sql_database("postgresql", folder, unique=False)
    _set_connection("faults_overlap", conn)
    name = "overlap_killed" if kill else "overlap"
    path = _source_file(
        folder,
        name,
        {"type": "custom_database", "connection": {"conn_id": "faults_overlap", "driver": driver},
         "orders": {"conn_id": "faults_overlap", "default_customer_code": "CASH"}},
    )  # fmt: skip
    state_url, drop_state = _state_database()
    spawn = multiprocessing.get_context("spawn")
    try:
        with _sandbox(folder) as url:
            StateStore(state_url).record_synced(name, SQL_SKUS)
            _add_orders(url, _orders(count, SQL_SKUS, "ACC001", seed))
            barrier, ready, out = spawn.Barrier(2), spawn.Event(), spawn.Queue()
            kill_after = max(count // 20, 1) if kill else None
            unused = spawn.Event()  # the second run is never killed; kept referenced until both have started
            first = spawn.Process(target=_child, args=(str(path), state_url, barrier, kill_after, ready, out, quiet))
            second = spawn.Process(target=_child, args=(str(path), state_url, barrier, None, unused, out, quiet))
            first.start()
            second.start()
            runs: list[dict[str, Any]] = []
            if kill:
                if not ready.wait(timeout=300):
                    raise RuntimeError("the first run never reached the order it was to be killed at")
                os.kill(first.pid or 0, signal.SIGKILL)
                first.join(timeout=30)
                second.join(timeout=600)
                runs.append(out.get(timeout=10))
                time.sleep(CLAIM_SECONDS + 0.5)  # the killed run's claim expires
                os.environ["S2S_STATE_URL"] = state_url
                third = pipeline.push_orders(load_source(path), store=StateStore(state_url))
                runs.append({"counts": third["counts"], "problems": third["problems"]})
            else:
                for process in (first, second):
                    process.join(timeout=600)
                runs += [out.get(timeout=10), out.get(timeout=10)]
            with closing(connect()) as erp:
                documents = [
                    (str(r[0]), str(r[1])) for r in erp.execute("SELECT external_ref, order_no FROM sales_orders")
                ]
            tally = _tally(name, count, documents, _sandbox_orders(url))
    finally:
        drop_state()
    failed = sum(r["counts"].get("failed", 0) + r["counts"].get("gave_up", 0) for r in runs)
    problems = [p for r in runs for p in r["problems"]]
    counts = [r["counts"] for r in runs]
    return {**tally, "failed": failed, "runs": counts, "problems": problems, "first_exit": first.exitcode}


def _quiet() -> None:
    """Keep the push step's log (every injected fault and its retry) out of the report."""
    import logging

    for name in ("stock2shop_sync", "airflow", "simple_salesforce"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders per sink (default 1000)")
    parser.add_argument("--rate", type=float, default=0.2, help="share of create requests faulted (default 0.2)")
    parser.add_argument("--overlap-orders", type=int, default=200, help="orders of the overlap rounds (default 200)")
    parser.add_argument("--sinks", default="all", help="comma-separated sink names, all, or none")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--passes", type=int, default=8, help="push runs per sink at most (default 8)")
    parser.add_argument("--no-overlap", action="store_true", help="skip the overlap and killed rounds")
    parser.add_argument("--verbose", action="store_true", help="show the push step's log (every fault and retry)")
    args = parser.parse_args(argv)
    if not args.verbose:
        _quiet()
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

    makers: dict[str, Callable[[Path, ExitStack], Sink]] = {
        "sql_sqlite": lambda f, s: _sql_sink("sqlite", f, args.rate, args.seed, s),
        "sql_postgresql": lambda f, s: _sql_sink("postgresql", f, args.rate, args.seed, s),
        "sql_mariadb": lambda f, s: _sql_sink("mariadb", f, args.rate, args.seed, s),
        "isync": lambda f, s: _isync_sink(args.rate, args.seed, s),
        "sage_accounting_za": lambda f, s: _sage_sink("za", args.rate, args.seed, s),
        "sage_accounting_global": lambda f, s: _sage_sink("global", args.rate, args.seed, s),
        "evolution_freedom": lambda f, s: _freedom_sink(args.rate, args.seed, s),
        "sage_financials": lambda f, s: _financials_sink(f, args.rate, args.seed, s),
    }
    chosen = list(makers) if args.sinks == "all" else [] if args.sinks == "none" else args.sinks.split(",")
    unknown = set(chosen) - set(makers)
    if unknown:
        parser.error(f"unknown sinks {sorted(unknown)}; known: {', '.join(makers)}")
    good = True
    with tempfile.TemporaryDirectory(prefix="s2s-order-faults-") as tmp:
        folder = Path(tmp)
        for name in chosen:
            with ExitStack() as stack:
                result = run_sink(makers[name](folder, stack), folder, args.orders, args.seed, args.passes)
            ok = result["documents"] == result["acked"] == args.orders and not result["duplicates"] + result["lost"]
            good &= ok
            print(f"ORDERS {_line(result, SINK_KEYS)}", flush=True)
            kinds = ", ".join(f"{kind} {n}" for kind, n in result["kinds"].items())
            verdict = "" if ok else "  <-- NOT EXACTLY ONCE"
            print(
                f"  {name}: {result['runs']} push run(s), {result['seconds']} s; faults: {kinds}{verdict}", flush=True
            )
        if not args.no_overlap:
            overlap = run_concurrent(folder, args.overlap_orders, args.seed, kill=False, quiet=not args.verbose)
            ok = overlap["documents"] == args.overlap_orders and not overlap["duplicates"] + overlap["failed"]
            good &= ok
            print(f"ORDERS overlap {_line(overlap, ('orders', 'documents', 'duplicates', 'failed'))}", flush=True)
            print(f"  runs: {overlap['runs']}")
            for problem in overlap["problems"][:10]:
                print(f"  {problem['order']}: {problem['outcome']}: {problem['error']}")
            killed = run_concurrent(folder, args.overlap_orders, args.seed, kill=True, quiet=not args.verbose)
            ok = killed["documents"] == args.overlap_orders and not killed["duplicates"] + killed["lost"]
            ok &= killed["first_exit"] == -signal.SIGKILL
            good &= ok
            print(f"ORDERS killed {_line(killed, ('orders', 'documents', 'duplicates', 'lost'))}", flush=True)
            print(f"  runs after the kill: {killed['runs']}; acknowledged {killed['acked']}")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
