"""iSync: products paged from its HTTP API, endpoint and field names from the mapping."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from stock2shop_sync.connectors.base import SourceConnector
from stock2shop_sync.hooks.isync import IsyncHook

if TYPE_CHECKING:
    from datetime import datetime


class IsyncConnector(SourceConnector):
    """Read iSync products (one record per SKU); ``since`` sends the mapping's modified-since filter."""

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        assert self.config.connection is not None
        hook = IsyncHook(self.config.connection.conn_id, requests_per_minute=self.config.api.requests_per_minute)
        options = dict(self.mapping.entity(entity).options)
        if self.config.api.page_size:
            options["page_size"] = self.config.api.page_size
        records = []
        for record in hook.list_pages(options, since=since):
            records.append(record)
            if limit is not None and len(records) >= limit:
                break
        return (
            pd.json_normalize(records)
            if records
            else pd.DataFrame(columns=list(self.mapping.entity(entity).fields.values()))
        )


CONNECTOR = IsyncConnector
