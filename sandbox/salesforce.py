"""A local stand-in for the Salesforce REST query API as Sage Financials (built on Salesforce) exposes it.

``GET /services/data/v{version}/query/?q=<SOQL>`` with a bearer session id answers ``{"totalSize", "done",
"records", "nextRecordsUrl"}``; ``GET /services/data/v{version}/query/{locator}`` continues. It understands the
SOQL the mapping sends: ``FROM Product2`` or ``FROM PricebookEntry``, and ``LastModifiedDate > <datetime>``.
Served over TLS, because simple-salesforce only speaks https.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class SalesforceState:
    session_id: str = "00Dxx0000001gPL!AQ4AQFakeSessionId"
    page_size: int = 10
    products: list[dict[str, Any]] = field(default_factory=list)
    pricebook_entries: list[dict[str, Any]] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


_SINCE = re.compile(r"LastModifiedDate\s*>\s*(\S+)", re.IGNORECASE)


def create_salesforce_app(state: SalesforceState) -> FastAPI:
    app = FastAPI(title="Salesforce stand-in")

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
        source = state.products if re.search(r"\bFROM\s+Product2\b", q, re.I) else state.pricebook_entries
        if match := _SINCE.search(q):
            source = [r for r in source if r["LastModifiedDate"] > match.group(1)]
        locator = f"01g{len(state.cursors):05d}"
        state.cursors[locator] = source
        return page(version, locator, source, 0)

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
