"""iSync: products paged from its HTTP API, endpoint and field names from the mapping; orders raised through
its order endpoint (:class:`IsyncOrderSink`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from stock2shop_sync.connectors.base import Document, OrderSink, SourceConnector
from stock2shop_sync.hooks.isync import IsyncError, IsyncHook, IsyncPagingError
from stock2shop_sync.model.orders import OrderError, external_order_no, header_fields, line_fields

if TYPE_CHECKING:
    from datetime import datetime

    from stock2shop_sync.model.orders import Order


class IsyncConnector(SourceConnector):
    """Read iSync products (one record per SKU); ``since`` sends the mapping's modified-since filter.

    The read checks its pages against the total iSync reports (see :meth:`IsyncHook.list_pages`); one that falls
    short fails the extract, naming the source, rather than count as a complete read.
    """

    filters_by_time = True  # sends `since`: a windowed read is not the whole source

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        assert self.config.connection is not None
        hook = IsyncHook(
            self.config.connection.conn_id,
            requests_per_minute=self.config.api.requests_per_minute,
            timeout=self.config.api.timeout_seconds,
        )
        options = dict(self.mapping.entity(entity).options)
        if self.config.api.page_size:
            options["page_size"] = self.config.api.page_size
        records = []
        try:
            for record in hook.list_pages(options, since=since):
                records.append(record)
                if limit is not None and len(records) >= limit:
                    break
        except IsyncPagingError as exc:
            # A read short of the API's total must fail: taken as complete, it would remove what it missed.
            message = f"source {self.config.source_id!r}, {entity}: {exc}"
            raise IsyncPagingError(message, retryable=exc.retryable) from None
        return pd.json_normalize(records) if records else self.empty_frame(entity)


class IsyncOrderSink(OrderSink):
    """Raise orders through iSync's order endpoint (path and identifiers from the mapping's ``orders.options``).

    Stock2Shop's documented map: ``PONumber`` <- the order's reference, ``DeliveryDetail`` <- the shipping
    address, each line's ``ProductStockID`` (or ``ThirdPartyBarcode``: option ``order_line_item``) <- SKU,
    ``Units`` <- qty, ``SellingPrice`` <- price; shipping is a service line (``LineType`` 4). An order already
    raised is found by its ``PONumber``.
    """

    def __init__(self, config: Any, mapping: Any) -> None:
        super().__init__(config, mapping)
        assert config.connection is not None
        self.options = {"path": "/api/orders", "items_key": "Orders", "order_line_item": "ProductStockID",
                        **mapping.orders.options}  # fmt: skip
        self.hook = IsyncHook(
            config.connection.conn_id,
            requests_per_minute=config.api.requests_per_minute,
            timeout=config.api.timeout_seconds,
        )

    def find(self, order: Order) -> Document | None:
        reference = external_order_no(order, self.settings)
        answer = self.hook.get_json(self.options["path"], {"PONumber": reference})
        orders = answer.get(self.options["items_key"], []) if isinstance(answer, dict) else answer
        found = [o for o in orders if str(o.get("PONumber")) == reference]
        if not found:
            return None
        identifier = self.options["order_line_item"]
        lines = found[0].get("Lines")
        return Document(
            str(found[0]["OrderNumber"]),
            tuple((str(line.get(identifier)), float(line.get("Units") or 0)) for line in lines)
            if isinstance(lines, list)
            else None,
        )

    def create(self, order: Order) -> str:
        header = header_fields(order, self.settings, self.document_type)
        identifier = self.options["order_line_item"]
        body = {
            "PONumber": header["external_order_no"],
            "CustomerCode": header["customer_code"],
            "OrderDate": header["order_date"],
            "Notes": header["notes"],
            "DeliveryDetail": {
                "Name": header["customer_name"],
                "Address1": header["delivery_address1"],
                "Address2": header["delivery_address2"],
                "City": header["delivery_city"],
                "PostalCode": header["delivery_zip"],
                "Country": header["delivery_country"],
                "Phone": header["delivery_phone"],
            },
            "Lines": [
                {
                    identifier: line["sku"],
                    "Units": line["qty"],
                    "SellingPrice": line["price"],
                    "LineType": 4 if line["is_shipping"] else 1,
                    "Description": line["description"],
                }
                for line in line_fields(order, self.settings)
            ],
        }
        try:
            return str(self.hook.post_json(self.options["path"], body)["OrderNumber"])
        except IsyncError as exc:
            if exc.retryable or exc.status == 401:
                raise
            raise OrderError(f"order {order.order_id}: {exc}") from None


CONNECTOR = IsyncConnector
ORDER_SINK = IsyncOrderSink
