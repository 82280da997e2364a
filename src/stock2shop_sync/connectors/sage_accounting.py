"""Sage Accounting (formerly Sage One): items and customers from South Africa's v2.0.0 API or the global v3.1 API.

One source type for both, chosen by ``api.region``. The global API's records are renamed to the v2.0.0 field names
(``Code``, ``Description``, ``Active``, ``QuantityOnHand``, ``PriceExclusive``...), so one mapping serves both;
additional price lists (v2.0.0) and sales price bands (v3.1) become ``price_<list>`` tiers. Orders go back as
documents through :class:`SageAccountingOrderSink`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from stock2shop_sync.connectors.base import Document, OrderSink, SourceConnector
from stock2shop_sync.hooks.sage_accounting import SageAccountingError, SageAccountingHook, SageAuthError
from stock2shop_sync.model.orders import OrderError, external_order_no, header_fields, line_fields
from stock2shop_sync.model.pivots import join_columns, price_columns_from

if TYPE_CHECKING:
    from datetime import datetime

    from stock2shop_sync.model.orders import Order

#: v3.1 field -> v2.0.0 field
GLOBAL_ITEM_FIELDS = {
    "id": "ID",
    "item_code": "Code",
    "description": "Description",
    "active": "Active",
    "quantity_in_stock": "QuantityOnHand",
    "barcode": "Barcode",
    "updated_at": "Modified",
}
GLOBAL_CONTACT_FIELDS = {"reference": "ID", "name": "Name", "email": "Email", "updated_at": "Modified"}
ZA_ITEM_COLUMNS = ["ID", "Code", "Description", "Active", "QuantityOnHand", "PriceExclusive", "PriceInclusive",
                   "Category.Description", "TextUserField1", "TextUserField2", "TextUserField3", "Barcode"]  # fmt: skip
ZA_CUSTOMER_COLUMNS = ["ID", "Name", "ContactName", "Email", "Active"]


def _frame(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    frame = pd.json_normalize(records) if records else pd.DataFrame()
    for name in columns:
        if name not in frame.columns:
            frame[name] = pd.NA
    return frame


class SageAccountingConnector(SourceConnector):
    """Read items and customers page by page within Sage's limits; ``since`` filters by modification time."""

    filters_by_time = True  # sends `since`: a windowed read is not the whole source

    def hook(self) -> SageAccountingHook:
        api = self.config.api
        assert self.config.connection is not None
        return SageAccountingHook(
            self.config.connection.conn_id,
            region=api.region or "za",
            requests_per_minute=api.requests_per_minute,
            requests_per_day=api.requests_per_day,
            timeout=api.timeout_seconds,
        )

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        hook = self.hook()
        options = self.mapping.entity(entity).options
        if hook.region == "za":
            frame = self._read_za(hook, entity, since, options)
        else:
            frame = self._read_global(hook, entity, since, options)
        return frame if limit is None else frame.head(limit)

    def _read_za(
        self, hook: SageAccountingHook, entity: str, since: datetime | None, options: dict[str, Any]
    ) -> pd.DataFrame:
        if entity == "customers":
            frame = _frame(list(hook.list_za("Customer", since=since)), ZA_CUSTOMER_COLUMNS)
            contact = frame["ContactName"].astype("string").str.strip()
            frame["ContactName"] = contact.mask(contact == "").fillna(frame["Name"].astype("string"))
            return frame
        items = _frame(list(hook.list_za("Item", since=since, odata_filter=options.get("filter"))), ZA_ITEM_COLUMNS)
        if options.get("additional_price_lists", True):
            lists = {row["ID"]: row["Description"] for row in hook.list_za("AdditionalPriceList")}
            prices = _frame(
                list(hook.list_za("AdditionalItemPrice")), ["ItemId", "AdditionalPriceListId", "PriceExclusive"]
            )
            prices["list"] = prices["AdditionalPriceListId"].map(lists)
            price_field = options.get("price_field", "PriceExclusive")
            settings = self.mapping.settings
            if settings.price_lists is None:  # every list the company has is a tier, priced or not
                settings = settings.model_copy(update={"price_lists": {name: name for name in lists.values()}})
            wide = price_columns_from(prices, key="ItemId", name="list", value=price_field, settings=settings)
            items = join_columns(items, "ID", wide)
            self.pivoted += list(wide.columns)
        return items

    def _read_global(
        self, hook: SageAccountingHook, entity: str, since: datetime | None, options: dict[str, Any]
    ) -> pd.DataFrame:
        if entity == "customers":
            records = list(hook.list_global("contacts", since=since, params={"contact_types": "CUSTOMER"}))
            rows = [{v: record.get(k) for k, v in GLOBAL_CONTACT_FIELDS.items()} for record in records]
            for row in rows:
                row["ContactName"], row["Active"] = row.get("Name"), True  # contacts are customers while listed
            return _frame(rows, ZA_CUSTOMER_COLUMNS)
        records = list(hook.list_global("stock_items", since=since))
        rows = []
        default_band = options.get("default_price_band", "Selling Price")
        for record in records:
            row = {v: record.get(k) for k, v in GLOBAL_ITEM_FIELDS.items()}
            for band in record.get("sales_prices") or []:
                row[f"band {band.get('price_name')}"] = band.get("price")
                if band.get("price_name") == default_band:
                    row["PriceExclusive"] = band.get("price")
            rows.append(row)
        frame = _frame(rows, ZA_ITEM_COLUMNS)
        bands = {c[5:]: c for c in frame.columns if c.startswith("band ")}
        if bands:
            wide = price_columns_from(frame, key="ID", columns=bands, settings=self.mapping.settings)
            frame = join_columns(frame.drop(columns=list(bands.values())), "ID", wide)
            self.pivoted += list(wide.columns)
        return frame


#: document type -> (v2.0.0 service, v3.1 resource); v3.1 has no sales orders.
DOCUMENTS = {
    "tax_invoice": ("TaxInvoice", "sales_invoices"),
    "sales_order": ("SalesOrder", None),
    "quote": ("Quote", "sales_quotes"),
}
GLOBAL_KEYS = {
    "sales_invoices": ("sales_invoice", "invoice_lines", "invoice_number"),
    "sales_quotes": ("sales_quote", "quote_lines", "quote_number"),
}


def _document(record: dict[str, Any], number: str, lines_key: str, quantity: str) -> Document:
    lines = record.get(lines_key)
    return Document(
        str(record[number]),
        tuple((None, float(line.get(quantity) or 0)) for line in lines) if isinstance(lines, list) else None,
    )


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class SageAccountingOrderSink(OrderSink):
    """Raise orders as Sage Accounting documents: ``SalesOrder``/``TaxInvoice``/``Quote`` on South Africa's
    v2.0.0 API, ``sales_invoices``/``sales_quotes`` on v3.1. The document's ``Reference`` (v3.1 ``reference``)
    is the order's reference, which :meth:`find` looks up. Customers and items are looked up by code; one that
    Sage does not have fails the order naming it."""

    def __init__(self, config: Any, mapping: Any) -> None:
        super().__init__(config, mapping)
        self.connector = SageAccountingConnector(config, mapping)
        self.hook = self.connector.hook()
        service, resource = DOCUMENTS[self.document_type]
        if self.hook.region == "global" and resource is None:
            raise OrderError(
                f"source {config.source_id}: Sage Accounting's v3.1 API has no {self.document_type} documents; "
                "choose orders.document_type tax_invoice or quote"
            )
        self.service, self.resource = service, resource
        self._ids: dict[tuple[str, str], Any] = {}

    def _za_id(self, service: str, code: str, what: str, order: Order) -> Any:
        key = (service, code)
        if key not in self._ids:
            found = list(self.hook.list_za(service, odata_filter=f"Code eq {_quoted(code)}"))
            if not found:
                raise OrderError(f"order {order.order_id}: {what} {code!r} does not exist in Sage Accounting")
            self._ids[key] = found[0]["ID"]
        return self._ids[key]

    def _global_id(self, resource: str, field: str, code: str, what: str, order: Order, **params: Any) -> Any:
        key = (resource, code)
        if key not in self._ids:
            found = [
                r for r in self.hook.list_global(resource, params={"search": code, **params}) if r.get(field) == code
            ]
            if not found:
                raise OrderError(f"order {order.order_id}: {what} {code!r} does not exist in Sage Accounting")
            self._ids[key] = found[0]["id"]
        return self._ids[key]

    def find(self, order: Order) -> Document | None:
        """The document under the order's ``Reference``; its lines carry Sage's item ids, not the codes, so only
        their quantities are compared with the order's."""
        reference = external_order_no(order, self.settings)
        if self.hook.region == "za":
            found = list(self.hook.list_za(self.service, odata_filter=f"Reference eq {_quoted(reference)}"))
            return _document(found[0], "DocumentNumber", "Lines", "Quantity") if found else None
        _, lines_key, number = GLOBAL_KEYS[self.resource]
        found = [
            r
            for r in self.hook.list_global(self.resource, params={"search": reference})
            if r.get("reference") == reference
        ]
        return _document(found[0], number, lines_key, "quantity") if found else None

    def create(self, order: Order) -> str:
        header = header_fields(order, self.settings, self.document_type)
        lines = line_fields(order, self.settings)
        try:
            if self.hook.region == "za":
                document = {
                    "CustomerId": self._za_id("Customer", order.customer_code or "", "customer", order),
                    "Date": header["order_date"],
                    "Reference": header["external_order_no"],
                    "Message": header["notes"],
                    "Lines": [
                        {
                            "SelectionId": self._za_id("Item", line["sku"], f"line {line['line_no']}: item", order),
                            "Description": line["description"],
                            "Quantity": line["qty"],
                            "UnitPriceExclusive": line["price"],
                            "TaxTypeId": line["tax_code"],
                            "Discount": line["discount"],
                        }
                        for line in lines
                    ],
                }
                return str(self.hook.save_za(self.service, document)["DocumentNumber"])
            key, lines_key, number = GLOBAL_KEYS[self.resource]
            contact = self._global_id(
                "contacts", "reference", order.customer_code or "", "customer", order, contact_types="CUSTOMER"
            )
            body = {
                key: {
                    "contact_id": contact,
                    "date": header["order_date"],
                    "reference": header["external_order_no"],
                    "notes": header["notes"],
                    lines_key: [
                        {
                            "product_id": self._global_id(
                                "stock_items", "item_code", line["sku"], f"line {line['line_no']}: item", order
                            ),
                            "description": line["description"],
                            "quantity": line["qty"],
                            "unit_price": line["price"],
                            "tax_rate_id": line["tax_code"],
                            "discount_amount": line["discount"],
                        }
                        for line in lines
                    ],
                }
            }
            return str(self.hook.create_global(self.resource, body)[number])
        except SageAccountingError as exc:
            if exc.retryable or exc.status == 401 or isinstance(exc, SageAuthError):
                raise
            raise OrderError(f"order {order.order_id}: {exc}") from None


CONNECTOR = SageAccountingConnector
ORDER_SINK = SageAccountingOrderSink
