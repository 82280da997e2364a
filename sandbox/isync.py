"""A local stand-in for an iSync products API: HTTP Basic auth, paged with ``page``/``pageSize``, filtered with
``modifiedSince``; each page answers ``{"Page", "PageSize", "TotalCount", "Products"}``, ``TotalCount`` the count of
every product the filter selects (iSync publishes no API document: this is the shape we assume, and
``report_total=False`` drops the total to stand in for an API without one). ``truncate_pages`` cuts the last product
off a page (``{page: times}``, counted down per answer), as a proxy or a failing backend might. Records carry the
field names of Stock2Shop's iSync map (Style, SKU, Size, Colour, AvailableUnits, RetailSellingPrice, SellingPrice,
WebSale, ...). Orders: ``POST /api/orders`` with ``PONumber``, ``CustomerCode``, ``DeliveryDetail`` and ``Lines`` of
``ProductStockID`` (a SKU or a service item), ``Units``, ``SellingPrice``; answers the order with its
``OrderNumber``; ``GET /api/orders?PONumber=`` finds the orders with that ``PONumber`` (``{"Orders": [...]}``, each
as sent, ``Lines`` included, plus its ``OrderNumber``). Every order created is kept in ``orders``, a repeat too:
telling a repeat apart is the client's job. Faults are injected with :mod:`sandbox.faults` (``faults``, or
``POST /sandbox/faults`` while it runs)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.faults import FaultSettings, install


@dataclass
class IsyncState:
    username: str = "isync-user"
    password: str = "isync-pass"
    products: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    customers: set[str] = field(default_factory=lambda: {"CASH", "KT001"})
    service_items: set[str] = field(default_factory=lambda: {"COURIER"})
    orders: list[dict[str, Any]] = field(default_factory=list)
    #: Whether product pages carry ``TotalCount``.
    report_total: bool = True
    #: Page number -> how many more answers of that page drop their last product (a cut page).
    truncate_pages: dict[int, int] = field(default_factory=dict)


def create_isync_app(state: IsyncState, faults: FaultSettings | None = None) -> FastAPI:
    """The stand-in over ``state``; ``faults`` (or ``POST /sandbox/faults`` later) injects failures."""
    app = FastAPI(title="iSync stand-in")
    install(app, faults)

    def authorised(request: Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{state.username}:{state.password}".encode()).decode()
        return secrets.compare_digest(request.headers.get("authorization", ""), expected)

    @app.get("/api/orders")
    async def find_orders(request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"Message": "Unauthorised"}, status_code=401)
        wanted = request.query_params.get("PONumber")
        return JSONResponse({"Orders": [o for o in state.orders if wanted is None or o["PONumber"] == wanted]})

    @app.post("/api/orders")
    async def create_order(request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"Message": "Unauthorised"}, status_code=401)
        body = await request.json()
        if body.get("CustomerCode") not in state.customers:
            return JSONResponse({"Message": f"Unknown customer {body.get('CustomerCode')}"}, status_code=400)
        skus = {p["SKU"] for p in state.products} | state.service_items
        for number, line in enumerate(body.get("Lines") or [], start=1):
            if line.get("ProductStockID") not in skus:
                return JSONResponse(
                    {"Message": f"Line {number}: unknown ProductStockID {line.get('ProductStockID')}"}, status_code=400
                )
        order = {**body, "OrderNumber": f"ISO-{len(state.orders) + 1:06d}"}
        state.orders.append(order)
        return JSONResponse(order, status_code=201)

    @app.get("/api/products")
    async def products(request: Request) -> JSONResponse:
        params = dict(request.query_params)
        state.requests.append(params)
        expected = "Basic " + base64.b64encode(f"{state.username}:{state.password}".encode()).decode()
        if not secrets.compare_digest(request.headers.get("authorization", ""), expected):
            return JSONResponse({"Message": "Unauthorised"}, status_code=401)
        selected = state.products
        if since := params.get("modifiedSince"):
            selected = [p for p in selected if p["ModifiedDate"] > since]
        page, size = int(params.get("page", 1)), int(params.get("pageSize", 20))
        chunk = selected[(page - 1) * size : page * size]
        if chunk and state.truncate_pages.get(page, 0) > 0:
            state.truncate_pages[page] -= 1
            chunk = chunk[:-1]
        answer: dict[str, Any] = {"Page": page, "PageSize": size, "TotalCount": len(selected), "Products": chunk}
        if not state.report_total:
            del answer["TotalCount"]
        return JSONResponse(answer)

    return app


def demo_state() -> IsyncState:
    """An apparel range: styles in sizes and colours."""
    state = IsyncState()
    styles = [("JKT-PUFFER", "Puffer Jacket", "Outerwear", 1299.0), ("DRS-WRAP", "Wrap Dress", "Dresses", 699.0),
              ("JNS-SLIM", "Slim Jeans", "Denim", 899.0)]  # fmt: skip
    n = 0
    for style, title, product, price in styles:
        for colour in ("Black", "Navy"):
            for size in ("S", "M", "L", "XL"):
                n += 1
                state.products.append(
                    {
                        "Style": style,
                        "SKU": f"{style}-{colour[:3].upper()}-{size}",
                        "JobDescription": title,
                        "Product": product,
                        "ProductUD0": "Apparel",
                        "CustomField0": f"<p>{title} in {colour.lower()}.</p>",
                        "CustomField1": "winter,new",
                        "VariableField3": "Karoo Threads",
                        "Size": size,
                        "Colour": colour,
                        "AvailableUnits": n % 9,
                        "RetailSellingPrice": price,
                        "SellingPrice": round(price * 0.6, 2),
                        "WebSale": "Y" if n % 11 else "N",
                        "CustomField8": f"https://images.example.com/{style.lower()}-{colour.lower()}.jpg",
                        "CustomField9": "",
                        "ModifiedDate": f"2026-11-{1 + n % 20:02d}T08:00:00Z",
                    }
                )
    return state
