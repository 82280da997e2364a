"""A local stand-in for Sage Accounting's two APIs, following their published request and response shapes.

South Africa v2.0.0: ``GET /api/2.0.0/{Service}/Get`` for ``Item``, ``AdditionalPriceList``,
``AdditionalItemPrice`` and ``Customer``; HTTP Basic auth plus ``apikey`` and ``CompanyId``; OData ``$filter``
(``Modified gt datetime'...'``, ``Physical eq true``), ``$skip``, ``$top`` (at most 100); answers
``{"TotalResults", "ReturnedResults", "Results"}``. Over ``limit_per_window`` requests in a window: HTTP 429 and
the caller is blocked (as Sage blocks the IP for an hour).

Orders (both APIs, the documents Stock2Shop raises): v2.0.0 ``POST /api/2.0.0/{SalesOrder|TaxInvoice|Quote}/Save``
with ``{"CustomerId", "Date", "Reference", "Message", "Lines": [{"SelectionId", "Description", "Quantity",
"UnitPriceExclusive", "TaxTypeId", "Discount"}]}`` answering the saved document with its ``DocumentNumber``
(``SO``/``INV``/``QUO`` + 7 digits) and ``Exclusive`` total, and ``GET .../Get?$filter=Reference eq '...'``
answering the saved documents, ``Lines`` included; v3.1 ``POST /v3.1/sales_invoices|sales_quotes`` with
``{"sales_invoice": {"contact_id", "date", "reference", "invoice_lines": [{"product_id", "quantity", "unit_price",
...}]}}`` (or ``sales_quote``/``quote_lines``) answering 201 with ``invoice_number``/``quote_number`` and
``net_amount``, each line also given its ``product`` link (``{"id", "displayed_as", "$path"}``, as v3.1 answers a
line), and ``GET`` with ``search`` answering the same documents in ``$items``. Unknown customers or items are
refused (v2.0.0: HTTP 400 ``{"Message"}``; v3.1: 422 with ``$message``); ``throttle_next`` applies to the POST
too. ``documents`` keeps every document raised, a repeat too (telling a repeat apart is the client's job), so tests
can count the documents per reference. Faults are injected with :mod:`sandbox.faults` (``faults``, or ``POST
/sandbox/faults`` while it runs; under ``python -m sandbox --with-stand-ins``, ``POST /sage/sandbox/faults``).

Global v3.1: ``POST /token`` (refresh-token grant; the refresh token rotates and a used one is refused),
``GET /v3.1/stock_items`` and ``/v3.1/contacts`` with a bearer token that expires after ``token_lifetime``
requests, ``items_per_page`` (at most 200), ``page``, ``updated_or_created_since``; answers ``{"$total",
"$page", "$next", "$back", "$itemsPerPage", "$items"}``. ``throttle_next`` answers that many requests with 429
and ``Retry-After``.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.faults import FaultSettings, install


@dataclass
class SageState:
    """The company's data and what the stand-in has seen."""

    username: str = "sage-user"
    password: str = "sage-pass"
    apikey: str = "sage-api-key"
    company_id: str = "7001"
    items: list[dict[str, Any]] = field(default_factory=list)
    price_lists: list[dict[str, Any]] = field(default_factory=list)
    item_prices: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    limit_per_window: int = 100
    window: float = 60.0
    blocked: bool = False
    za_requests: list[dict[str, Any]] = field(default_factory=list)
    max_in_window: int = 0
    # global v3.1
    client_id: str = "client-1"
    client_secret: str = "client-secret"
    refresh_token: str = "refresh-0"
    used_refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: dict[str, int] = field(default_factory=dict)
    token_lifetime: int = 1000
    stock_items: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    throttle_next: int = 0
    global_requests: list[dict[str, Any]] = field(default_factory=list)
    # documents raised (orders): service or resource -> documents
    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _times: deque[float] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)


_MODIFIED = re.compile(r"Modified gt datetime'([^']+)'")
_EQUALS = re.compile(r"(\w+) eq '((?:[^']|'')*)'")
ZA_DOCUMENTS = {"SalesOrder": "SO", "TaxInvoice": "INV", "Quote": "QUO"}
GLOBAL_DOCUMENTS = {
    "sales_invoices": ("sales_invoice", "invoice_lines", "invoice_number", "SI-"),
    "sales_quotes": ("sales_quote", "quote_lines", "quote_number", "SQ-"),
}


def _odata(records: list[dict[str, Any]], expression: str | None) -> list[dict[str, Any]]:
    out = records
    if not expression:
        return out
    if match := _MODIFIED.search(expression):
        since = match.group(1)
        out = [r for r in out if r.get("Modified", "") > since]
    if "Physical eq true" in expression:
        out = [r for r in out if r.get("Physical")]
    for name, value in _EQUALS.findall(expression):
        out = [r for r in out if str(r.get(name, "")) == value.replace("''", "'")]
    return out


def create_sage_app(state: SageState, faults: FaultSettings | None = None) -> FastAPI:
    """The app serving ``state``; ``faults`` (or ``POST /sandbox/faults`` later) injects failures."""
    app = FastAPI(title="Sage Accounting stand-in")
    install(app, faults)

    def count_za() -> bool:
        """Count a request in the sliding window; False when it is one too many (the caller is then blocked)."""
        with state.lock:
            now = time.monotonic()
            while state._times and now - state._times[0] >= state.window:
                state._times.popleft()
            state._times.append(now)
            state.max_in_window = max(state.max_in_window, len(state._times))
            if len(state._times) > state.limit_per_window:
                state.blocked = True
            return not state.blocked

    @app.get("/api/2.0.0/{service}/Get")
    async def za_get(request: Request, service: str) -> JSONResponse:
        params = request.query_params
        state.za_requests.append({"service": service, **dict(params)})
        if not count_za():
            return JSONResponse({"Message": "Too many requests: this IP is blocked for an hour"}, status_code=429)
        import base64

        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{state.username}:{state.password}".encode()).decode()
        if not secrets.compare_digest(auth, expected) or params.get("apikey") != state.apikey:
            return JSONResponse({"Message": "Authorization has been denied for this request."}, status_code=401)
        if params.get("CompanyId") != state.company_id:
            return JSONResponse({"Message": "Invalid CompanyId"}, status_code=400)
        records = {
            "Item": state.items,
            "AdditionalPriceList": state.price_lists,
            "AdditionalItemPrice": state.item_prices,
            "Customer": state.customers,
            **{name: state.documents.setdefault(name, []) for name in ZA_DOCUMENTS},
        }.get(service)
        if records is None:
            return JSONResponse({"Message": f"No HTTP resource was found for {service}"}, status_code=404)
        selected = _odata(records, params.get("$filter"))
        skip, top = int(params.get("$skip", 0)), min(int(params.get("$top", 100)), 100)
        page = selected[skip : skip + top]
        return JSONResponse({"TotalResults": len(selected), "ReturnedResults": len(page), "Results": page})

    @app.post("/api/2.0.0/{service}/Save")
    async def za_save(request: Request, service: str) -> JSONResponse:
        import base64

        params = request.query_params
        state.za_requests.append({"service": f"{service}/Save", **dict(params)})
        if not count_za():
            return JSONResponse({"Message": "Too many requests: this IP is blocked for an hour"}, status_code=429)
        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{state.username}:{state.password}".encode()).decode()
        if not secrets.compare_digest(auth, expected) or params.get("apikey") != state.apikey:
            return JSONResponse({"Message": "Authorization has been denied for this request."}, status_code=401)
        if params.get("CompanyId") != state.company_id:
            return JSONResponse({"Message": "Invalid CompanyId"}, status_code=400)
        if service not in ZA_DOCUMENTS:
            return JSONResponse({"Message": f"No HTTP resource was found for {service}/Save"}, status_code=404)
        body = await request.json()
        customers = {c["ID"] for c in state.customers}
        items = {i["ID"]: i for i in state.items}
        if body.get("CustomerId") not in customers:
            return JSONResponse({"Message": f"Customer {body.get('CustomerId')} does not exist"}, status_code=400)
        for number, line in enumerate(body.get("Lines") or [], start=1):
            if line.get("SelectionId") not in items:
                return JSONResponse(
                    {"Message": f"Line {number}: item {line.get('SelectionId')} does not exist"}, status_code=400
                )
        if not body.get("Lines"):
            return JSONResponse({"Message": "A document needs at least one line"}, status_code=400)
        with state.lock:
            documents = state.documents.setdefault(service, [])
            total = round(
                sum(
                    line["Quantity"] * line["UnitPriceExclusive"] - (line.get("Discount") or 0)
                    for line in body["Lines"]
                ),
                2,
            )
            saved = {
                **body,
                "ID": len(documents) + 1,
                "DocumentNumber": f"{ZA_DOCUMENTS[service]}{len(documents) + 1:07d}",
                "Exclusive": total,
            }
            documents.append(saved)
        return JSONResponse(saved)

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("client_id") != state.client_id or form.get("client_secret") != state.client_secret:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        given = form.get("refresh_token")
        if form.get("grant_type") != "refresh_token" or given != state.refresh_token:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "refresh token not valid"}, status_code=400
            )
        with state.lock:
            state.used_refresh_tokens.add(str(given))
            state.refresh_token = f"refresh-{secrets.token_hex(6)}"
            access = f"access-{secrets.token_hex(8)}"
            state.access_tokens[access] = 0
        return JSONResponse(
            {"access_token": access, "refresh_token": state.refresh_token, "expires_in": 300, "token_type": "bearer"}
        )

    def global_list(request: Request, records: list[dict[str, Any]], resource: str) -> JSONResponse:
        params = request.query_params
        state.global_requests.append({"resource": resource, **dict(params)})
        with state.lock:
            if state.throttle_next > 0:
                state.throttle_next -= 1
                return JSONResponse({"$message": "Too Many Requests"}, status_code=429, headers={"Retry-After": "1"})
            header = request.headers.get("authorization", "")
            token = header.removeprefix("Bearer ")
            uses = state.access_tokens.get(token)
            if uses is None or uses >= state.token_lifetime:
                return JSONResponse([{"$severity": "error", "$dataCode": "ExpiredToken"}], status_code=401)
            state.access_tokens[token] = uses + 1
        per_page = int(params.get("items_per_page", 20))
        if per_page > 200:
            return JSONResponse(
                [{"$severity": "error", "$message": "items_per_page must be at most 200"}], status_code=400
            )
        selected = records
        if search := params.get("search"):
            keys = ("reference", "item_code", "name", "displayed_as")
            selected = [r for r in selected if any(search.lower() in str(r.get(k, "")).lower() for k in keys)]
        if since := params.get("updated_or_created_since"):
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
            selected = [r for r in selected if datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00")) >= moment]
        page = int(params.get("page", 1))
        chunk = selected[(page - 1) * per_page : page * per_page]
        extra = f"&updated_or_created_since={since}" if since else ""
        following = f"/{resource}?page={page + 1}&items_per_page={per_page}&attributes=all{extra}"
        return JSONResponse(
            {
                "$total": len(selected),
                "$page": page,
                "$next": following if page * per_page < len(selected) else None,
                "$back": f"/{resource}?page={page - 1}&items_per_page={per_page}" if page > 1 else None,
                "$itemsPerPage": per_page,
                "$items": chunk,
            }
        )

    @app.get("/v3.1/stock_items")
    async def stock_items(request: Request) -> JSONResponse:
        return global_list(request, state.stock_items, "stock_items")

    @app.get("/v3.1/contacts")
    async def contacts(request: Request) -> JSONResponse:
        if request.query_params.get("contact_types") != "CUSTOMER":
            return global_list(request, [], "contacts")
        return global_list(request, state.contacts, "contacts")

    # After the fixed routes, which it would otherwise shadow.
    @app.get("/v3.1/{resource}")
    async def documents(request: Request, resource: str) -> JSONResponse:
        if resource not in GLOBAL_DOCUMENTS:
            return JSONResponse([{"$severity": "error", "$message": f"no resource {resource}"}], status_code=404)
        return global_list(request, state.documents.setdefault(resource, []), resource)

    @app.post("/v3.1/{resource}")
    async def create_document(request: Request, resource: str) -> JSONResponse:
        if resource not in GLOBAL_DOCUMENTS:
            return JSONResponse([{"$severity": "error", "$message": f"no resource {resource}"}], status_code=404)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        state.global_requests.append({"resource": resource, "method": "POST"})
        with state.lock:
            if state.throttle_next > 0:
                state.throttle_next -= 1
                return JSONResponse({"$message": "Too Many Requests"}, status_code=429, headers={"Retry-After": "1"})
            uses = state.access_tokens.get(token)
            if uses is None or uses >= state.token_lifetime:
                return JSONResponse([{"$severity": "error", "$dataCode": "ExpiredToken"}], status_code=401)
            state.access_tokens[token] = uses + 1
        key, lines_key, number_key, prefix = GLOBAL_DOCUMENTS[resource]
        body = (await request.json()).get(key) or {}
        contacts = {c["id"] for c in state.contacts}
        products = {i["id"]: i for i in state.stock_items}
        if body.get("contact_id") not in contacts:
            return JSONResponse(
                [
                    {
                        "$severity": "error",
                        "$dataCode": "RecordInvalid",
                        "$message": f"contact {body.get('contact_id')} not found",
                        "$source": "contact_id",
                    }
                ],
                status_code=422,
            )
        for number, line in enumerate(body.get(lines_key) or [], start=1):
            if line.get("product_id") not in products:
                return JSONResponse(
                    [
                        {
                            "$severity": "error",
                            "$dataCode": "RecordInvalid",
                            "$message": f"line {number}: product {line.get('product_id')} not found",
                            "$source": f"{lines_key}[{number - 1}].product_id",
                        }
                    ],
                    status_code=422,
                )
        # As v3.1 answers a line: the product it sold as a link (the request's product_id is echoed as well).
        lines = [
            {
                **line,
                "product": {
                    "id": line["product_id"],
                    "displayed_as": products[line["product_id"]]["description"],
                    "$path": f"/products/{line['product_id']}",
                },
            }
            for line in body.get(lines_key) or []
        ]
        with state.lock:
            documents = state.documents.setdefault(resource, [])
            net = sum(x["quantity"] * x["unit_price"] - (x.get("discount_amount") or 0) for x in lines)
            saved = {
                **body,
                lines_key: lines,
                "net_amount": round(net, 2),
                "id": f"{prefix}{len(documents) + 1}",
                number_key: f"{prefix}{len(documents) + 1:05d}",
                "displayed_as": f"{prefix}{len(documents) + 1:05d}",
                "updated_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
            documents.append(saved)
        return JSONResponse(saved, status_code=201)

    return app


def demo_state() -> SageState:
    """A small outdoor shop: 230 stock items (both APIs), two additional price lists, five customers."""
    state = SageState()
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    state.price_lists = [{"ID": 1, "Description": "Wholesale"}, {"ID": 2, "Description": "Online Special"}]
    categories = ["Tents", "Sleeping Bags", "Stoves", "Lights"]
    for n in range(1, 231):
        modified = now.replace(day=1 + n % 20).strftime("%Y-%m-%dT%H:%M:%S")
        code = f"OUT-{n:04d}"
        state.items.append(
            {
                "ID": 5000 + n,
                "Code": code,
                "Description": f"{categories[n % 4][:-1]} model {n}",
                "Active": n % 50 != 0,
                "Physical": n % 23 != 0,
                "Category": {"ID": n % 4, "Description": categories[n % 4]},
                "QuantityOnHand": float(n % 17),
                "PriceExclusive": round(100 + n * 1.5, 2),
                "PriceInclusive": round((100 + n * 1.5) * 1.15, 2),
                "TextUserField1": code.rsplit("-", 1)[0],
                "TextUserField2": "Camping",
                "TextUserField3": "",
                "Modified": modified,
                "Created": "2025-01-01T00:00:00",
            }
        )
        state.item_prices.append(
            {"ID": n, "ItemId": 5000 + n, "AdditionalPriceListId": 1, "PriceExclusive": round(80 + n, 2)}
        )
        state.stock_items.append(
            {
                "id": f"si{n:04d}",
                "item_code": code,
                "description": f"{categories[n % 4][:-1]} model {n}",
                "barcode": f"60099{n:08d}",
                "active": n % 50 != 0,
                "quantity_in_stock": str(float(n % 17)),
                "sales_prices": [
                    {"price_name": "Selling Price", "price": f"{100 + n * 1.5:.2f}", "price_includes_tax": False},
                    {"price_name": "Trade", "price": f"{80 + n:.2f}", "price_includes_tax": False},
                ],
                "updated_at": f"{modified}Z",
            }
        )
    state.customers = [
        {
            "ID": 1,
            "Code": "TRAIL01",
            "Name": "Trailhead Outfitters",
            "ContactName": "Nadia Jacobs",
            "Email": "nadia@trailhead.co.za",
            "Active": True,
        },
        {
            "ID": 2,
            "Code": "SUMMIT02",
            "Name": "Summit Gear",
            "ContactName": "Ben Mokoena",
            "Email": "ben@summitgear.co.za",
            "Active": True,
        },
        {"ID": 3, "Code": "CLOSED03", "Name": "Closed Store", "ContactName": "", "Email": "", "Active": False},
    ]
    state.contacts = [
        {
            "id": "c1",
            "reference": "TRAIL01",
            "name": "Trailhead Outfitters",
            "email": "nadia@trailhead.co.uk",
            "updated_at": "2026-11-19T09:00:00Z",
        },
        {
            "id": "c2",
            "reference": "SUMMIT02",
            "name": "Summit Gear",
            "email": "ben@summitgear.co.uk",
            "updated_at": "2026-11-02T09:00:00Z",
        },
    ]
    return state
