"""Sage Financials (formerly Sage Live, built on Salesforce): products by SOQL through the Salesforce provider.

The mapping's ``product_query`` is SOQL whose ``{{since}}`` becomes ``LastModifiedDate > <start>`` on an
incremental run (``LastModifiedDate != null`` on a full one); ``price_query`` reads price-book entries, one
tier per price book. The connection holds ``instance_url`` and the ``access_token`` (a Salesforce session id
from the connected app, as Stock2Shop's Financials settings name it) in its extra.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

import pandas as pd

from stock2shop_sync.connectors.base import SourceConnector
from stock2shop_sync.hooks.rest_api import mask
from stock2shop_sync.model.canonical import MappingError
from stock2shop_sync.model.pivots import join_columns, price_columns_from

if TYPE_CHECKING:
    from datetime import datetime


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
        if options.get("price_query") and not frame.empty:
            prices = _records(hook.make_query(options["price_query"]))
            if not prices.empty:
                wide = price_columns_from(
                    prices, key="Product2Id", name="Pricebook2.Name", value="UnitPrice", settings=self.mapping.settings
                )
                frame = join_columns(frame, options.get("key", "Id"), wide)
                self.pivoted += list(wide.columns)
        return frame if limit is None else frame.head(limit)


CONNECTOR = SageFinancialsConnector
