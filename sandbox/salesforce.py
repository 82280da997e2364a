"""A local stand-in for the Salesforce REST query API as Sage Financials (built on Salesforce) exposes it.

``GET /services/data/v{version}/query/?q=<SOQL>`` with a bearer session id answers ``{"totalSize", "done",
"records", "nextRecordsUrl"}``; ``GET /services/data/v{version}/query/{locator}`` continues. It understands the
SOQL the mapping sends: ``FROM Product2`` or ``FROM PricebookEntry``, and ``LastModifiedDate > <datetime>``;
for any other object, ``Field = 'value'`` conditions joined by AND, and ``SELECT COUNT()``. Orders: ``POST
/services/data/v{version}/sobjects/{object}/`` creates a record (lookups to Account and Product2 ids are checked,
as Salesforce's FIELD_INTEGRITY_EXCEPTION would), ``DELETE .../sobjects/{object}/{id}`` removes one; created
documents get an auto-number ``Name``. Ids and auto-numbers are never reused, as Salesforce's are not, also after a
delete; the same create sent twice makes two records (telling a repeat apart is the client's job), all kept in
``records``. Served over TLS, because simple-salesforce only speaks https. Faults are injected with
:mod:`sandbox.faults` (``faults``, or ``POST /sandbox/faults`` while it runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.faults import FaultSettings, install


@dataclass
class SalesforceState:
    session_id: str = "00Dxx0000001gPL!AQ4AQFakeSessionId"
    page_size: int = 10
    products: list[dict[str, Any]] = field(default_factory=list)
    pricebook_entries: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: lookup fields checked on create: object -> {field: object it must point at}
    lookups: dict[str, dict[str, str]] = field(default_factory=dict)
    #: records created so far per object, for ids and auto-numbers that a delete does not bring back
    created: dict[str, int] = field(default_factory=dict)
    #: per object, the digits after ``a`` that start its record ids (the object's key prefix)
    key_prefixes: dict[str, int] = field(default_factory=dict)


_SINCE = re.compile(r"LastModifiedDate\s*>\s*(\S+)", re.IGNORECASE)
_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
_EQUALS = re.compile(r"(\w+)\s*=\s*'((?:[^'\\]|\\.)*)'")


def create_salesforce_app(state: SalesforceState, faults: FaultSettings | None = None) -> FastAPI:
    """The stand-in over ``state``; ``faults`` (or ``POST /sandbox/faults`` later) injects failures."""
    app = FastAPI(title="Salesforce stand-in")
    install(app, faults)

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {state.session_id}"

    def page(version: str, locator: str, records: list[dict[str, Any]], offset: int) -> JSONResponse:
        chunk = records[offset : offset + state.page_size]
        done = offset + state.page_size >= len(records)
        body: dict[str, Any] = {"totalSize": len(records), "done": done, "records": chunk}
        if not done:
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{offset + state.page_size}"
        return JSONResponse(body)

    @app.get("/services/data/{version}/query/")
    async def query(request: Request, version: str, q: str) -> JSONResponse:
        state.requests.append(str(request.url.path))
        if not authorised(request):
            return JSONResponse(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], status_code=401
            )
        state.queries.append(q)
        match = _FROM.search(q)
        name = match.group(1) if match else ""
        source = {"Product2": state.products, "PricebookEntry": state.pricebook_entries, "Account": state.accounts}.get(
            name, state.records.get(name, [])
        )
        if match := _SINCE.search(q):
            source = [r for r in source if r["LastModifiedDate"] > match.group(1)]
        for field_name, value in _EQUALS.findall(q.split(" WHERE ", 1)[1] if " WHERE " in q else ""):
            source = [r for r in source if str(r.get(field_name)) == value.replace("\\'", "'")]
        if re.search(r"SELECT\s+COUNT\(\)", q, re.I):
            return JSONResponse({"totalSize": len(source), "done": True, "records": []})
        locator = f"01g{len(state.cursors):05d}"
        state.cursors[locator] = source
        return page(version, locator, source, 0)

    @app.post("/services/data/{version}/sobjects/{name}/")
    async def create(request: Request, version: str, name: str) -> JSONResponse:
        if not authorised(request):
            return JSONResponse(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], status_code=401
            )
        body = await request.json()
        targets = {"Account": state.accounts, "Product2": state.products, **state.records}
        for field_name, target in state.lookups.get(name, {}).items():
            if body.get(field_name) not in {r["Id"] for r in targets.get(target, [])}:
                return JSONResponse(
                    [{"message": f"{field_name}: id value of incorrect type: {body.get(field_name)}",
                      "errorCode": "FIELD_INTEGRITY_EXCEPTION", "fields": [field_name]}],
                    status_code=400,
                )  # fmt: skip
        # No await from here on: concurrent creates on the event loop cannot interleave and share a number.
        prefix = state.key_prefixes.setdefault(name, len(state.key_prefixes) + 1)
        # Records put in ``records`` by hand before the first create count as created.
        number = state.created[name] = state.created.get(name, len(state.records.get(name, []))) + 1
        record_id = f"a{prefix:02d}{number:012d}"
        record = {"attributes": {"type": name}, **body, "Id": record_id, "Name": f"TD-{number:06d}"}
        state.records.setdefault(name, []).append(record)
        return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)

    @app.delete("/services/data/{version}/sobjects/{name}/{record_id}")
    async def delete(request: Request, version: str, name: str, record_id: str) -> Response:
        if not authorised(request):
            return JSONResponse(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], status_code=401
            )
        state.records[name] = [r for r in state.records.get(name, []) if r["Id"] != record_id]
        return Response(status_code=204)

    @app.get("/services/data/{version}/query/{cursor}")
    async def more(request: Request, version: str, cursor: str) -> JSONResponse:
        state.requests.append(str(request.url.path))
        if not authorised(request):
            return JSONResponse(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], status_code=401
            )
        locator, _, offset = cursor.rpartition("-")
        return page(version, locator, state.cursors[locator], int(offset))

    return app


def demo_state() -> SalesforceState:
    """A Sage Financials company selling office furniture: Product2 records and two price books."""
    state = SalesforceState()
    families = ["Desks", "Chairs", "Storage"]
    state.accounts = [
        {"attributes": {"type": "Account"}, "Id": "0015g00000CASH01", "AccountNumber": "CASH", "Name": "Cash sales"},
        {
            "attributes": {"type": "Account"},
            "Id": "0015g00000OFFW02",
            "AccountNumber": "OFFW02",
            "Name": "Office World",
        },
    ]
    state.lookups = {
        "s2cor__Sage_INV_Trade_Document__c": {"s2cor__Account__c": "Account"},
        "s2cor__Sage_INV_Trade_Document_Item__c": {
            "s2cor__Trade_Document__c": "s2cor__Sage_INV_Trade_Document__c",
            "s2cor__Product__c": "Product2",
        },
    }
    for n in range(1, 26):
        product_id = f"01t{n:015d}"
        state.products.append(
            {
                "attributes": {"type": "Product2", "url": f"/services/data/v59.0/sobjects/Product2/{product_id}"},
                "Id": product_id,
                "ProductCode": f"OFF-{n:03d}",
                "Name": f"{families[n % 3][:-1]} {n}",
                "Description": f"<p>{families[n % 3][:-1]} number {n}.</p>",
                "Family": families[n % 3],
                "IsActive": n % 12 != 0,
                "StockKeepingUnit": f"OFF-{n:03d}",
                "Quantity_Available__c": float(n % 6),
                "LastModifiedDate": f"2026-11-{1 + n % 20:02d}T08:00:00.000+0000",
            }
        )
        for book, price in (("Standard Price Book", 1000 + n * 10), ("Trade", 800 + n * 10)):
            state.pricebook_entries.append(
                {
                    "attributes": {"type": "PricebookEntry"},
                    "Product2Id": product_id,
                    "UnitPrice": float(price),
                    "Pricebook2": {"attributes": {"type": "Pricebook2"}, "Name": book},
                    "LastModifiedDate": "2026-11-01T08:00:00.000+0000",
                }
            )
    return state
