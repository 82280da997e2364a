"""A local stand-in for Sage Evolution's Freedom REST service (the order operations this project uses).

``POST /freedom.core/{database}/SDK/Rest/SalesOrderPlaceOrder`` and ``GET .../SalesOrderLoadByExternalOrderNo``,
with HTTP Basic auth; stock codes, warehouses and customer accounts are checked against a small company, as
the SDK would (an unknown one is HTTP 400 with a message); orders are numbered SO0000001... Every order placed is
kept in ``orders`` as sent plus its ``OrderNo`` (the same order placed twice is kept twice: telling a repeat apart
is the client's job), and the load answers the first one with that ``ExternalOrderNo``, its ``Lines`` included.
Faults are injected with :mod:`sandbox.faults` (``faults``, or ``POST /sandbox/faults`` while it runs).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.faults import FaultSettings, install


@dataclass
class FreedomState:
    """The Evolution company behind the service and the orders placed."""

    database: str = "EvoDemo"
    username: str = "freedom-agent"
    password: str = "freedom-pass"
    accounts: set[str] = field(default_factory=lambda: {"CASH01", "RUN001"})
    stock_codes: set[str] = field(default_factory=lambda: {"RUN-TEE-BLK-M", "RUN-TEE-BLK-L", "COURIER"})
    warehouses: set[str] = field(default_factory=lambda: {"JHB", "CPT"})
    orders: list[dict[str, Any]] = field(default_factory=list)


def create_freedom_app(state: FreedomState, faults: FaultSettings | None = None) -> FastAPI:
    """The stand-in over ``state``; ``faults`` (or ``POST /sandbox/faults`` later) injects failures."""
    app = FastAPI(title="Evolution Freedom stand-in")
    install(app, faults)
    base = "/freedom.core/{database}/SDK/Rest"

    def refused(request: Request, database: str) -> JSONResponse | None:
        expected = "Basic " + base64.b64encode(f"{state.username}:{state.password}".encode()).decode()
        if not secrets.compare_digest(request.headers.get("authorization", ""), expected):
            return JSONResponse({"Message": "Agent authentication failed"}, status_code=401)
        if database != state.database:
            return JSONResponse({"Message": f"Unknown database {database}"}, status_code=400)
        return None

    @app.get(base + "/SalesOrderLoadByExternalOrderNo")
    async def load(request: Request, database: str, ExternalOrderNo: str) -> JSONResponse:
        if answer := refused(request, database):
            return answer
        found = [o for o in state.orders if o["ExternalOrderNo"] == ExternalOrderNo]
        if not found:
            return JSONResponse({"Message": "Sales order not found"}, status_code=404)
        return JSONResponse(found[0])

    @app.post(base + "/SalesOrderPlaceOrder")
    async def place(request: Request, database: str) -> JSONResponse:
        if answer := refused(request, database):
            return answer
        body = await request.json()
        if body.get("CustomerAccountCode") not in state.accounts:
            return JSONResponse({"Message": f"Customer account {body.get('CustomerAccountCode')} not found"}, 400)
        for number, line in enumerate(body.get("Lines") or [], start=1):
            if line.get("StockCode") not in state.stock_codes:
                return JSONResponse(
                    {"Message": f"Line {number}: inventory item {line.get('StockCode')} not found"}, 400
                )
            if line.get("WarehouseCode") not in state.warehouses:
                return JSONResponse({"Message": f"Line {number}: warehouse {line.get('WarehouseCode')} not found"}, 400)
        order = {**body, "OrderNo": f"SO{len(state.orders) + 1:07d}"}
        state.orders.append(order)
        return JSONResponse(order)

    return app
