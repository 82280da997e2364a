"""Sage Financials (formerly Sage Live, built on Salesforce): products by SOQL through the Salesforce provider.

The mapping's ``product_query`` is SOQL whose ``{{since}}`` becomes ``LastModifiedDate > <start>`` on an
incremental run (``LastModifiedDate != null`` on a full one); ``price_query`` reads price-book entries, one
tier per price book. The connection holds ``instance_url`` and the ``access_token`` (a Salesforce session id
from the connected app, as Stock2Shop's Financials settings name it) in its extra. Orders become trade
documents (:class:`SageFinancialsOrderSink`).
"""

# SOQL is built from the mapping's object and field names (configuration) and values quoted by _soql.
# ruff: noqa: S608

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

import pandas as pd

from stock2shop_sync.connectors.base import Document, OrderSink, SourceConnector
from stock2shop_sync.hooks.rest_api import mask
from stock2shop_sync.model.canonical import MappingError
from stock2shop_sync.model.orders import OrderError, external_order_no, header_fields, line_fields
from stock2shop_sync.model.pivots import join_columns, price_columns_from

if TYPE_CHECKING:
    from datetime import datetime

    from stock2shop_sync.model.orders import Order


def since_condition(since: datetime | None) -> str:
    """The SOQL condition for an incremental read (SOQL datetimes are unquoted ISO 8601 in UTC)."""
    if since is None:
        return "LastModifiedDate != null"
    return f"LastModifiedDate > {since.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def _records(result: dict[str, Any]) -> pd.DataFrame:
    records = [{k: v for k, v in r.items() if k != "attributes"} for r in result.get("records", [])]
    frame = pd.json_normalize(records) if records else pd.DataFrame()
    return frame.drop(
        columns=[c for c in frame.columns if c.endswith(".attributes.type") or c.endswith(".attributes.url")]
    )


class SageFinancialsConnector(SourceConnector):
    """Read Product2 records and price-book entries with SOQL."""

    filters_by_time = True  # sends `since`: a windowed read is not the whole source

    def hook(self) -> Any:
        from airflow.providers.salesforce.hooks.salesforce import SalesforceHook
        from airflow.sdk import BaseHook

        assert self.config.connection is not None
        conn_id = self.config.connection.conn_id
        token = BaseHook.get_connection(conn_id).extra_dejson.get("access_token")
        mask(token)
        return SalesforceHook(salesforce_conn_id=conn_id, session_id=token or None)

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        options = self.mapping.entity(entity).options
        if "product_query" not in options:
            raise MappingError(f"source {self.config.source_id!r}: the mapping has no {entity} product_query")
        hook = self.hook()
        frame = _records(hook.make_query(options["product_query"].replace("{{since}}", since_condition(since))))
        if frame.empty:
            return self.empty_frame(entity)  # nothing changed in the window
        if options.get("price_query") and not frame.empty:
            prices = _records(hook.make_query(options["price_query"]))
            if not prices.empty:
                wide = price_columns_from(
                    prices, key="Product2Id", name="Pricebook2.Name", value="UnitPrice", settings=self.mapping.settings
                )
                frame = join_columns(frame, options.get("key", "Id"), wide)
                self.pivoted += list(wide.columns)
        return frame if limit is None else frame.head(limit)


def _bound(session: Any, seconds: float) -> None:
    """Give every request of simple-salesforce's session a timeout (it sets none): a hung Salesforce call must
    fail, so the order is looked up and tried again, instead of holding the task for ever."""
    send = session.request

    def request(method: str, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", seconds)
        return send(method, url, **kwargs)

    session.request = request


def _soql(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SageFinancialsOrderSink(OrderSink):
    """Raise orders as Sage Financials trade documents: a header sObject, then one line sObject per line.

    Object and field names come from the mapping's ``orders.options`` (Sage's managed package is not publicly
    documented; the preset's names are assumed). Salesforce's REST API has no transaction across records, so a
    line that fails deletes the header (best effort) and :meth:`find` only accepts a header holding all its
    lines: a half-written document is removed and written again rather than acknowledged.
    """

    def __init__(self, config: Any, mapping: Any) -> None:
        super().__init__(config, mapping)
        self.o = mapping.orders.options
        self.connector = SageFinancialsConnector(config, mapping)
        self._sf: Any = None
        self._ids: dict[tuple[str, str], str] = {}

    @property
    def sf(self) -> Any:
        if self._sf is None:
            self._sf = self.connector.hook().get_conn()
            _bound(self._sf.session, self.config.api.timeout_seconds)
        return self._sf

    def _lookup(self, obj: str, field: str, value: str, what: str, order: Order) -> str:
        key = (obj, value)
        if key not in self._ids:
            records = self.sf.query(f"SELECT Id FROM {obj} WHERE {field} = {_soql(value)}")["records"]
            if not records:
                raise OrderError(f"order {order.order_id}: {what} {value!r} does not exist in Sage Financials")
            self._ids[key] = records[0]["Id"]
        return self._ids[key]

    def find(self, order: Order) -> Document | None:
        o = self.o
        reference = external_order_no(order, self.settings)
        headers = self.sf.query(
            f"SELECT Id, Name FROM {o['header_object']} WHERE {o['reference_field']} = {_soql(reference)}"
        )["records"]
        for header in headers:
            lines = self.sf.query(
                f"SELECT COUNT() FROM {o['line_object']} WHERE {o['line_parent_field']} = {_soql(header['Id'])}"
            )["totalSize"]
            if lines == len(order.lines):
                return Document(str(header["Name"]))
            self._delete(header["Id"])  # half-written by an attempt that died: remove, then write it again
        return None

    def _delete(self, header_id: str) -> None:
        o = self.o
        lines = self.sf.query(f"SELECT Id FROM {o['line_object']} WHERE {o['line_parent_field']} = {_soql(header_id)}")[
            "records"
        ]
        for line in lines:
            getattr(self.sf, o["line_object"]).delete(line["Id"])
        getattr(self.sf, o["header_object"]).delete(header_id)

    def create(self, order: Order) -> str:
        from simple_salesforce.exceptions import SalesforceMalformedRequest

        o = self.o
        header = header_fields(order, self.settings, self.document_type)
        account = self._lookup("Account", o["account_field_match"], order.customer_code or "", "customer", order)
        products = [
            None
            if line["is_shipping"] and not o.get("shipping_is_product", True)
            else self._lookup("Product2", o["product_field_match"], line["sku"], f"line {line['line_no']}: item", order)
            for line in line_fields(order, self.settings)
        ]
        header_id: str | None = None
        try:
            header_id = getattr(self.sf, o["header_object"]).create(
                {
                    o["reference_field"]: header["external_order_no"],
                    o["account_field"]: account,
                    o["date_field"]: header["order_date"],
                    o["type_field"]: self.document_type,
                }
            )["id"]
            for line, product in zip(line_fields(order, self.settings), products, strict=True):
                getattr(self.sf, o["line_object"]).create(
                    {
                        o["line_parent_field"]: header_id,
                        o["line_product_field"]: product,
                        o["line_quantity_field"]: line["qty"],
                        o["line_price_field"]: line["price"],
                        o["line_description_field"]: line["description"],
                    }
                )
        except SalesforceMalformedRequest as exc:
            if header_id:
                self._delete(header_id)
            detail = "; ".join(e.get("message", "") for e in exc.content) if isinstance(exc.content, list) else exc
            raise OrderError(f"order {order.order_id}: Sage Financials refused it: {detail}") from None
        name = self.sf.query(f"SELECT Id, Name FROM {o['header_object']} WHERE Id = {_soql(header_id)}")["records"]
        return str(name[0]["Name"])


CONNECTOR = SageFinancialsConnector
ORDER_SINK = SageFinancialsOrderSink
