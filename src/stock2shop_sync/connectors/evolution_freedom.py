"""Sage 200 Evolution orders through Sage's "Freedom" REST service, the optional REST layer over Evolution's SDK.

Evolution's SDK is Windows-only; where a site runs Freedom, Linux workers can raise sales orders (and quotations)
through it instead of the staging tables of the SQL sink. Select it on a ``sage_evolution`` source with
``mapping_overrides: {orders: {sink: evolution_freedom}}`` and an HTTP connection in ``orders.conn_id``: ``host``
= the service's base URL (``http://evo-host:5000``), ``schema`` = the company database, ``login``/``password`` =
the Freedom agent (HTTP Basic).

Paths under ``{host}/freedom.core/{database}/SDK/Rest/`` (public detail is thin, so these are assumed and kept
here): ``SalesOrderPlaceOrder`` (POST the order: ``CustomerAccountCode``, ``OrderDate``, ``ExternalOrderNo``,
``DocumentType``, ``DeliverTo``, ``Lines`` of ``StockCode``/``WarehouseCode``/``Quantity``/``UnitSellingPrice``/
``TaxCode``; answers ``OrderNo``) and ``SalesOrderLoadByExternalOrderNo?ExternalOrderNo=`` (404 when absent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stock2shop_sync.connectors.base import Document, OrderSink
from stock2shop_sync.hooks.rest_api import ApiError, RestApiHook, mask
from stock2shop_sync.model.orders import OrderError, external_order_no, header_fields, line_fields

if TYPE_CHECKING:
    from stock2shop_sync.model.orders import Order

PLACE_ORDER = "SalesOrderPlaceOrder"
FIND_ORDER = "SalesOrderLoadByExternalOrderNo"


class FreedomError(ApiError):
    """A Freedom request failed."""


class EvolutionFreedomHook(RestApiHook):
    """Call Evolution's Freedom REST service with HTTP Basic auth.

    :param freedom_conn_id: Airflow connection: host (base URL), schema (database), login, password.
    """

    conn_name_attr = "freedom_conn_id"
    default_conn_name = "evolution_freedom_default"
    conn_type = "http"
    hook_name = "Sage Evolution Freedom"
    error_class = FreedomError

    def __init__(self, freedom_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(api_name="Sage Evolution Freedom", **kwargs)
        self.freedom_conn_id = freedom_conn_id

    def _target(self, operation: str) -> tuple[str, tuple[str, str]]:
        conn = self.get_connection(self.freedom_conn_id)
        mask(conn.password)
        if not conn.host or not conn.schema:
            raise FreedomError(
                f"connection {self.freedom_conn_id!r} needs host (the Freedom base URL) and schema (the database)"
            )
        base = conn.host.rstrip("/") if "://" in conn.host else f"http://{conn.host}:{conn.port or 5000}"
        return f"{base}/freedom.core/{conn.schema}/SDK/Rest/{operation}", (conn.login or "", conn.password or "")

    def call(self, method: str, operation: str, **kwargs: Any) -> Any:
        """One operation; 404 answers None, other 4xx raise with Freedom's message (not retryable). A POST places
        a document, so it is never sent again after an unclear answer (see :mod:`~stock2shop_sync.hooks.rest_api`)."""
        url, auth = self._target(operation)
        response = self._send(
            method, url, auth=auth, handled=(400, 401, 403, 404, 422), idempotent=method != "POST", **kwargs
        )
        if response.status_code in (401, 403):
            raise FreedomError(
                f"Freedom refused the credentials of connection {self.freedom_conn_id!r}", status=response.status_code
            )
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            try:
                detail = response.json().get("Message") or response.text[:300]
            except ValueError:
                detail = response.text[:300]
            raise FreedomError(f"Freedom refused {operation}: {detail}", status=response.status_code)
        return response.json()


class EvolutionFreedomOrderSink(OrderSink):
    """Raise orders as Evolution sales orders (or quotations) through Freedom; found again by ExternalOrderNo."""

    def __init__(self, config: Any, mapping: Any) -> None:
        super().__init__(config, mapping)
        if not config.orders.conn_id:
            raise OrderError(
                f"source {config.source_id}: the evolution_freedom sink needs orders.conn_id (the Freedom service's "
                "HTTP connection)"
            )
        self.hook = EvolutionFreedomHook(config.orders.conn_id, timeout=config.api.timeout_seconds)

    def find(self, order: Order) -> Document | None:
        found = self.hook.call("GET", FIND_ORDER, params={"ExternalOrderNo": external_order_no(order, self.settings)})
        if not found:
            return None
        lines = found.get("Lines")
        return Document(
            str(found["OrderNo"]),
            tuple((str(line.get("StockCode")), float(line.get("Quantity") or 0)) for line in lines)
            if isinstance(lines, list)
            else None,
        )

    def create(self, order: Order) -> str:
        header = header_fields(order, self.settings, self.document_type)
        body = {
            "CustomerAccountCode": header["customer_code"],
            "OrderDate": header["order_date"],
            "ExternalOrderNo": header["external_order_no"],
            "DocumentType": "Quotation" if self.document_type == "quotation" else "SalesOrder",
            "Message": header["notes"],
            "DeliverTo": [
                header[k]
                for k in ("customer_name", "delivery_address1", "delivery_address2", "delivery_city", "delivery_zip")
            ],
            "Lines": [
                {
                    "StockCode": line["sku"],
                    "Description": line["description"],
                    "WarehouseCode": line["warehouse_code"],
                    "Quantity": line["qty"],
                    "UnitSellingPrice": line["price"],
                    "TaxCode": line["tax_code"],
                }
                for line in line_fields(order, self.settings)
            ],
        }
        try:
            return str(self.hook.call("POST", PLACE_ORDER, json=body)["OrderNo"])
        except FreedomError as exc:
            if exc.retryable or exc.status in (401, 403):
                raise
            raise OrderError(f"order {order.order_id}: {exc}") from None


ORDER_SINK = EvolutionFreedomOrderSink
