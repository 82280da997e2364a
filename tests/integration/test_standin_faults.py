"""Faults injected into the ERP stand-ins' order creates (sandbox/faults.py with ``methods``), over real HTTP with
plain ``requests``: what each stand-in stores and answers, so an order-fault harness can fault a share of every
order sink's creates and count what was stored.

Each stand-in is served on loopback as the order tests serve it (``running_app``; Salesforce over TLS) and
faulted only on its order paths: iSync, Evolution Freedom, Sage Accounting (South Africa v2.0.0 and global v3.1)
and Salesforce (Sage Financials). Also: the same create sent again or concurrently is stored every time (telling
a repeat apart is the client's job), and stand-ins mounted in the Stock2Shop sandbox are faulted independently.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox import faults as sandbox_faults
from sandbox.app import SandboxSettings, create_app
from sandbox.evolution_freedom import FreedomState, create_freedom_app
from sandbox.faults import FaultInjector, FaultSettings
from sandbox.isync import create_isync_app
from sandbox.isync import demo_state as isync_state
from sandbox.sage_accounting import create_sage_app
from sandbox.sage_accounting import demo_state as sage_state
from sandbox.salesforce import create_salesforce_app
from sandbox.salesforce import demo_state as salesforce_state
from sandbox.server import running_app, self_signed_certificate

HEADER, LINE = "s2cor__Sage_INV_Trade_Document__c", "s2cor__Sage_INV_Trade_Document_Item__c"
CREATE_FAULTS = {"rate": 1.0, "kinds": ("accepted_then_error",), "methods": ("POST",)}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@dataclass
class Found:
    """A stored order as a lookup answers it, reduced to what a client compares: its number, its reference and
    its lines as (item, quantity)."""

    number: str
    reference: str
    lines: list[tuple[Any, float]]


@dataclass
class Client:
    """One stand-in, running: how to create an order with a reference, look it up, and count what it stored."""

    url: str
    state: Any
    app: Any
    create: Callable[[str], requests.Response]
    find: Callable[[str], requests.Response]
    #: the lookup's answer as the stored orders it found
    found: Callable[[requests.Response], list[Found]]
    #: every order stored with this reference (read from the stand-in's state)
    stored: Callable[[str], list[dict[str, Any]]]
    #: the (item, quantity) lines each create sends
    sent_lines: list[tuple[Any, float]]


def _isync(faults: FaultSettings | None) -> AbstractContextManager[Client]:
    @contextmanager
    def run() -> Iterator[Client]:
        state = isync_state()
        sku = state.products[0]["SKU"]
        auth = _basic(state.username, state.password)
        app = create_isync_app(state, faults)
        with running_app(app) as url:

            def create(ref: str) -> requests.Response:
                body = {"PONumber": ref, "CustomerCode": "KT001", "DeliveryDetail": {"City": "Cape Town"},
                        "Lines": [{"ProductStockID": sku, "Units": 2, "SellingPrice": 779.4},
                                  {"ProductStockID": "COURIER", "Units": 1, "SellingPrice": 80.0}]}  # fmt: skip
                return requests.post(f"{url}/api/orders", json=body, headers=auth, timeout=10)

            def find(ref: str) -> requests.Response:
                return requests.get(f"{url}/api/orders", params={"PONumber": ref}, headers=auth, timeout=10)

            def found(response: requests.Response) -> list[Found]:
                return [
                    Found(o["OrderNumber"], o["PONumber"], [(x["ProductStockID"], x["Units"]) for x in o["Lines"]])
                    for o in response.json()["Orders"]
                ]

            yield Client(
                url, state, app, create, find, found,
                lambda ref: [o for o in state.orders if o["PONumber"] == ref], [(sku, 2), ("COURIER", 1)],
            )  # fmt: skip

    return run()


def _freedom(faults: FaultSettings | None) -> AbstractContextManager[Client]:
    @contextmanager
    def run() -> Iterator[Client]:
        state = FreedomState()
        auth = _basic(state.username, state.password)
        app = create_freedom_app(state, faults)
        with running_app(app) as url:
            base = f"{url}/freedom.core/{state.database}/SDK/Rest"

            def create(ref: str) -> requests.Response:
                body = {"CustomerAccountCode": "RUN001", "ExternalOrderNo": ref, "DocumentType": "SalesOrder",
                        "Lines": [{"StockCode": "RUN-TEE-BLK-M", "WarehouseCode": "JHB", "Quantity": 2.0,
                                   "UnitSellingPrice": 399.0, "TaxCode": "1"}]}  # fmt: skip
                return requests.post(f"{base}/SalesOrderPlaceOrder", json=body, headers=auth, timeout=10)

            def find(ref: str) -> requests.Response:
                return requests.get(
                    f"{base}/SalesOrderLoadByExternalOrderNo", params={"ExternalOrderNo": ref}, headers=auth, timeout=10
                )

            def found(response: requests.Response) -> list[Found]:
                if response.status_code == 404:
                    return []
                o = response.json()
                return [
                    Found(o["OrderNo"], o["ExternalOrderNo"], [(x["StockCode"], x["Quantity"]) for x in o["Lines"]])
                ]

            yield Client(
                url, state, app, create, find, found,
                lambda ref: [o for o in state.orders if o["ExternalOrderNo"] == ref], [("RUN-TEE-BLK-M", 2.0)],
            )  # fmt: skip

    return run()


def _sage_za(faults: FaultSettings | None) -> AbstractContextManager[Client]:
    @contextmanager
    def run() -> Iterator[Client]:
        state = sage_state()
        auth = _basic(state.username, state.password)
        keys = {"apikey": state.apikey, "CompanyId": state.company_id}
        app = create_sage_app(state, faults)
        with running_app(app) as url:

            def create(ref: str) -> requests.Response:
                body = {"CustomerId": 2, "Date": "2026-11-20", "Reference": ref, "Message": "",
                        "Lines": [{"SelectionId": 5002, "Description": "Tent model 2", "Quantity": 2.0,
                                   "UnitPriceExclusive": 103.0, "TaxTypeId": 1, "Discount": 0.0}]}  # fmt: skip
                return requests.post(
                    f"{url}/api/2.0.0/TaxInvoice/Save", params=keys, json=body, headers=auth, timeout=10
                )

            def find(ref: str) -> requests.Response:
                params = {**keys, "$filter": f"Reference eq '{ref}'"}
                return requests.get(f"{url}/api/2.0.0/TaxInvoice/Get", params=params, headers=auth, timeout=10)

            def found(response: requests.Response) -> list[Found]:
                return [
                    Found(d["DocumentNumber"], d["Reference"], [(x["SelectionId"], x["Quantity"]) for x in d["Lines"]])
                    for d in response.json()["Results"]
                ]

            yield Client(
                url, state, app, create, find, found,
                lambda ref: [d for d in state.documents.get("TaxInvoice", []) if d["Reference"] == ref], [(5002, 2.0)],
            )  # fmt: skip

    return run()


def _sage_global(faults: FaultSettings | None) -> AbstractContextManager[Client]:
    @contextmanager
    def run() -> Iterator[Client]:
        state = sage_state()
        app = create_sage_app(state, faults)
        with running_app(app) as url:
            # POST /token is not under /v3.1/, so the create faults leave the login alone.
            grant = {"grant_type": "refresh_token", "client_id": state.client_id,
                     "client_secret": state.client_secret, "refresh_token": state.refresh_token}  # fmt: skip
            token = requests.post(f"{url}/token", data=grant, timeout=10).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}

            def create(ref: str) -> requests.Response:
                body = {"sales_invoice": {"contact_id": "c1", "date": "2026-11-20", "reference": ref, "notes": "",
                        "invoice_lines": [{"product_id": "si0003", "description": "Stove model 3", "quantity": 3.0,
                                           "unit_price": 104.5, "tax_rate_id": "ZA_STANDARD",
                                           "discount_amount": 0.0}]}}  # fmt: skip
                return requests.post(f"{url}/v3.1/sales_invoices", json=body, headers=bearer, timeout=10)

            def find(ref: str) -> requests.Response:
                return requests.get(f"{url}/v3.1/sales_invoices", params={"search": ref}, headers=bearer, timeout=10)

            def found(response: requests.Response) -> list[Found]:
                return [
                    Found(
                        d["invoice_number"],
                        d["reference"],
                        [(x["product"]["id"], x["quantity"]) for x in d["invoice_lines"]],
                    )
                    for d in response.json()["$items"]
                ]

            yield Client(
                url, state, app, create, find, found,
                lambda ref: [d for d in state.documents.get("sales_invoices", []) if d["reference"] == ref],
                [("si0003", 3.0)],
            )  # fmt: skip

    return run()


def _salesforce(faults: FaultSettings | None, folder: Path) -> AbstractContextManager[Client]:
    @contextmanager
    def run() -> Iterator[Client]:
        state = salesforce_state()
        cert, key = self_signed_certificate(str(folder))
        # Connection: close, so no TLS connection held by a response still in hand keeps the server from stopping.
        bearer = {"Authorization": f"Bearer {state.session_id}", "Connection": "close"}
        app = create_salesforce_app(state, faults)
        with running_app(app, certfile=cert, keyfile=key) as url:
            data = f"{url}/services/data/v59.0"

            def create(ref: str) -> requests.Response:
                body = {"s2cor__Account__c": "0015g00000OFFW02", "s2cor__Reference__c": ref,
                        "s2cor__Type__c": "sales_invoice"}  # fmt: skip
                return requests.post(f"{data}/sobjects/{HEADER}/", json=body, headers=bearer, timeout=10, verify=cert)

            def find(ref: str) -> requests.Response:
                q = f"SELECT Id, Name FROM {HEADER} WHERE s2cor__Reference__c = '{ref}'"
                return requests.get(f"{data}/query/", params={"q": q}, headers=bearer, timeout=10, verify=cert)

            def found(response: requests.Response) -> list[Found]:
                # A trade document's lines are records of their own, found by their parent's Id.
                out, page = [], response.json()
                headers = page["records"]
                while page.get("nextRecordsUrl"):  # ten records a page
                    page = requests.get(
                        f"{url}{page['nextRecordsUrl']}", headers=bearer, timeout=10, verify=cert
                    ).json()
                    headers += page["records"]
                for header in headers:
                    q = f"SELECT Id FROM {LINE} WHERE s2cor__Trade_Document__c = '{header['Id']}'"
                    lines = requests.get(f"{data}/query/", params={"q": q}, headers=bearer, timeout=10, verify=cert)
                    items = [(x["s2cor__Product__c"], x["s2cor__Quantity__c"]) for x in lines.json()["records"]]
                    out.append(Found(header["Name"], header["s2cor__Reference__c"], items))
                return out

            yield Client(
                url, state, app, create, find, found,
                lambda ref: [h for h in state.records.get(HEADER, []) if h["s2cor__Reference__c"] == ref], [],
            )  # fmt: skip

    return run()


STAND_INS = ["isync", "freedom", "sage_za", "sage_global", "salesforce"]


@pytest.fixture
def stand_in(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[FaultSettings | None], AbstractContextManager[Client]]:
    """Starts the parametrised stand-in with the given faults (``requests`` trusts the Salesforce certificate)."""
    name: str = request.param

    def start(faults: FaultSettings | None) -> AbstractContextManager[Client]:
        if name == "salesforce":
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "loopback.crt"))  # the control calls too
            return _salesforce(faults, tmp_path)
        return {"isync": _isync, "freedom": _freedom, "sage_za": _sage_za, "sage_global": _sage_global}[name](faults)

    return start


#: each stand-in's order endpoints, relative to its base URL: what a harness faults
PATHS = {"isync": ("/api/orders",), "freedom": ("/freedom.core/",), "sage_za": ("/api/2.0.0/",),
         "sage_global": ("/v3.1/",), "salesforce": ("/services/data/",)}  # fmt: skip


@pytest.mark.parametrize(
    ("stand_in", "paths"), [(n, PATHS[n]) for n in STAND_INS], indirect=["stand_in"], ids=STAND_INS
)
def test_a_create_accepted_then_failed_is_stored_and_the_lookups_are_not_faulted(
    stand_in: Callable[[FaultSettings | None], AbstractContextManager[Client]], paths: tuple[str, ...]
) -> None:
    with stand_in(FaultSettings(**CREATE_FAULTS, paths=paths)) as erp:
        response = erp.create("S2S-501")
        assert response.status_code == 503, response.text
        assert response.json() == {"errors": "injected: processed, then failed"}
        assert len(erp.stored("S2S-501")) == 1  # stored although the client was told it failed

        # The look-up (a GET) is not faulted, and finds the stored order with its lines.
        lookups = [erp.find("S2S-501") for _ in range(5)]
        assert {r.status_code for r in lookups} == {200}
        [found] = erp.found(lookups[0])
        assert found.reference == "S2S-501"
        if erp.sent_lines:
            assert found.lines == erp.sent_lines
        assert erp.found(erp.find("S2S-NONE")) == []

        # Sent again (as a client that believes it failed would), it is stored again: the client must look first.
        assert erp.create("S2S-501").status_code == 503
        assert len(erp.stored("S2S-501")) == 2
        assert len({f.number for f in erp.found(erp.find("S2S-501"))} | {found.number}) == (
            1 if isinstance(erp.state, FreedomState) else 2  # Freedom's load answers the first order only
        )

        report: dict[str, Any] = erp.app.state.faults.report()
        assert report["settings"]["methods"] == ("POST",)
        assert report["injected"] == {"accepted_then_error": 2}
        assert report["requests"] == 2  # the GETs were not even candidates
        assert sum(report["by_path"].values()) == 2
        assert all(path.startswith(paths) for path in report["by_path"])


@pytest.mark.parametrize(
    ("stand_in", "paths"), [(n, PATHS[n]) for n in STAND_INS], indirect=["stand_in"], ids=STAND_INS
)
def test_a_create_refused_with_503_stores_nothing(
    stand_in: Callable[[FaultSettings | None], AbstractContextManager[Client]], paths: tuple[str, ...]
) -> None:
    with stand_in(None) as erp:
        # Switched on while it runs, at the stand-in's own /sandbox/faults; the method in any case.
        report = sandbox_faults.configure(erp.url, rate=1.0, kinds=["error_503"], methods=["post"], paths=list(paths))
        assert report["settings"]["methods"] == ["POST"]

        response = erp.create("S2S-502")
        assert response.status_code == 503
        assert response.json() == {"errors": "injected: HTTP 503"}
        assert erp.stored("S2S-502") == []
        lookup = erp.find("S2S-502")
        assert lookup.status_code in {200, 404}  # Freedom answers an order it does not have with 404
        assert erp.found(lookup) == []
        assert sandbox_faults.report(erp.url)["injected"] == {"error_503": 1}

        # Off again: the same create is stored once.
        sandbox_faults.configure(erp.url)
        assert erp.create("S2S-502").status_code in {200, 201}
        [found] = erp.found(erp.find("S2S-502"))
        assert len(erp.stored("S2S-502")) == 1
        assert found.reference == "S2S-502"


@pytest.mark.parametrize("stand_in", STAND_INS, indirect=True)
def test_the_same_create_sent_concurrently_is_stored_each_time_under_its_own_number(
    stand_in: Callable[[FaultSettings | None], AbstractContextManager[Client]],
) -> None:
    with stand_in(None) as erp, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: erp.create("S2S-503"), range(16)))
        assert {r.status_code for r in answers} <= {200, 201}
        stored = erp.stored("S2S-503")
        assert len(stored) == 16
        numbers = [
            d.get("OrderNumber") or d.get("OrderNo") or d.get("DocumentNumber") or d.get("invoice_number") or d["Name"]
            for d in stored
        ]
        assert len(set(numbers)) == 16
        if not isinstance(erp.state, FreedomState):  # the others' look-ups answer every match
            assert sorted(f.number for f in erp.found(erp.find("S2S-503"))) == sorted(numbers)


def test_salesforce_never_reuses_an_id_or_auto_number_after_a_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "loopback.crt"))
    with _salesforce(None, tmp_path) as erp:
        first, second = erp.create("S2S-504").json()["id"], erp.create("S2S-505").json()["id"]
        headers = {"Authorization": f"Bearer {erp.state.session_id}", "Connection": "close"}
        deleted = requests.delete(
            f"{erp.url}/services/data/v59.0/sobjects/{HEADER}/{first}", headers=headers, timeout=10
        )
        assert deleted.status_code == 204
        third = erp.create("S2S-506").json()["id"]
        records = erp.state.records[HEADER]
        assert len({first, second, third}) == 3
        assert [r["Name"] for r in records] == ["TD-000002", "TD-000003"]


def test_mounted_stand_ins_are_faulted_each_by_its_own_settings(tmp_path: Path) -> None:
    """Under the Stock2Shop sandbox (as ``python -m sandbox --with-stand-ins`` serves them): each stand-in's faults
    are set at ``{base}/{prefix}/sandbox/faults`` and reach only it; the sandbox's own faults leave them alone."""
    isync, sage = isync_state(), sage_state()
    app = create_app(str(tmp_path / "sandbox.sqlite"), SandboxSettings())
    isync_app, sage_app = create_isync_app(isync), create_sage_app(sage)
    app.mount("/sage", sage_app)
    app.mount("/isync", isync_app)
    auth = _basic(isync.username, isync.password)
    body = {"PONumber": "S2S-601", "CustomerCode": "CASH", "Lines": [{"ProductStockID": "COURIER", "Units": 1}]}
    try:
        with running_app(app) as url:
            sandbox_faults.configure(f"{url}/isync", **CREATE_FAULTS)
            # The sandbox's own faults on every request: the stand-ins under it are not touched.
            sandbox_faults.configure(url, rate=1.0, kinds=["error_502"])

            assert requests.get(f"{url}/v1/sources", timeout=10).status_code == 502
            answer = requests.post(f"{url}/isync/api/orders", json=body, headers=auth, timeout=10)
            assert answer.status_code == 503  # iSync's own fault: stored, then failed
            assert [o["PONumber"] for o in isync.orders] == ["S2S-601"]
            found = requests.get(f"{url}/isync/api/orders", params={"PONumber": "S2S-601"}, headers=auth, timeout=10)
            assert found.status_code == 200
            assert found.json()["Orders"][0]["Lines"] == body["Lines"]
            sage_get = requests.get(f"{url}/sage/v3.1/sales_invoices", timeout=10)
            assert sage_get.status_code == 401  # reached Sage (no token), not faulted by anyone

            isync_report = sandbox_faults.report(f"{url}/isync")
            assert isync_report["by_path"] == {"/api/orders": 1}  # the path within iSync, without /isync
            assert isync_report["requests"] == 1
            sage_report = sandbox_faults.report(f"{url}/sage")
            assert (sage_report["requests"], sage_report["faulted"]) == (1, 0)  # a candidate, not faulted
            own = sandbox_faults.report(url)
            assert (own["requests"], own["by_path"]) == (1, {"/v1/sources": 1})  # /isync and /sage left to them

            # Its control endpoint is never faulted (a POST, under POST faults at rate 1): turned off, it stores.
            assert sandbox_faults.configure(f"{url}/isync")["settings"]["rate"] == 0.0
            again = requests.post(f"{url}/isync/api/orders", json=body, headers=auth, timeout=10)
            assert again.status_code == 201
            assert len(isync.orders) == 2
    finally:
        app.state.store.close()


def test_methods_filter_decides_by_method_in_any_case() -> None:
    injector = FaultInjector(FaultSettings(rate=1.0, kinds=("error_500",), methods=("post", "Put")))
    assert injector.settings.methods == ("POST", "PUT")
    assert injector.decide("/api/orders", "GET") is None
    assert injector.decide("/api/orders", "post") == "error_500"
    assert injector.decide("/api/orders", "PUT") == "error_500"
    assert injector.decide("/sandbox/faults", "POST") is None  # still excluded by path
    assert injector.requests == 2
    assert FaultSettings(methods="post").methods == ("POST",)  # type: ignore[arg-type]
    anything = FaultInjector(FaultSettings(rate=1.0, kinds=("error_500",)))
    assert anything.decide("/api/orders", "GET") == "error_500"  # no methods: every method may be faulted
