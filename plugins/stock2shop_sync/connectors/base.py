"""The interfaces every source connector implements: reading entities, and raising orders where it takes them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from stock2shop_sync.model.canonical import MappingError, to_canonical, total_qty
from stock2shop_sync.model.pivots import (
    KEY,
    PivotError,
    as_text,
    join_tables,
    price_number_columns,
    price_table,
    warehouse_number_columns,
    warehouse_table,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    import pandas as pd
    import polars as pl

    from stock2shop_sync.config import Mapping, SourceConfig
    from stock2shop_sync.model.orders import Order


log = logging.getLogger(__name__)


class SourceConnector:
    """Reads one source's entities as raw frames; :meth:`extract` turns them into canonical frames.

    Subclasses implement :meth:`read_query` (run one of the mapping's queries). ``limit`` asks for at most
    that many rows (used by the mapping check).
    """

    def __init__(self, config: SourceConfig, mapping: Mapping) -> None:
        self.config = config
        self.mapping = mapping
        #: price_<tier> / qty_<warehouse> columns that read_raw pivoted in; they map to themselves.
        self.pivoted: list[str] = []
        #: Whether the last :meth:`extract` read everything the source has (no time window applied).
        self.read_everything = True

    #: Whether :meth:`read_raw` sends ``since`` to the source (APIs with a modified-since filter do; SQL
    #: mappings read their whole result set).
    filters_by_time: bool = False

    def can_filter(self, entity: str) -> bool:
        """Whether reading ``entity`` with a ``since`` reads only the window's changes (not the whole source)."""
        return self.filters_by_time

    def read_query(self, query: str, *, limit: int | None = None) -> pd.DataFrame:
        raise NotImplementedError

    def read_table(self, query: str, *, numbers: list[str]) -> pd.DataFrame | pl.DataFrame:
        """The rows of a price-list or warehouse query, which are only pivoted: as :meth:`read_query` gives them,
        or a Polars frame where the connector reads one without pandas on the way (``numbers``: the columns the
        pivot reads as numbers, which may then come as floating point instead of text)."""
        return self.read_query(query)

    def empty_frame(self, entity: str) -> pd.DataFrame:
        """No rows, but every column the mapping reads (once each: two fields may read one column), so an
        incremental window with no changes maps to an empty canonical frame instead of a mapping error."""
        import pandas as pd

        return pd.DataFrame(columns=list(dict.fromkeys(self.mapping.entity(entity).fields.values())))

    #: Whether the price-list and warehouse queries run beside the main query, each in a thread with its own
    #: connection, when the whole entity is read (connectors whose :meth:`read_query` allows it say so).
    concurrent_reads: bool = False

    def read_raw(self, entity: str, *, limit: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        """The entity's main rows, with price-list and warehouse columns joined on when the mapping has them."""
        section = self.mapping.entity(entity)
        if not section.query:
            raise MappingError(f"source {self.config.source_id!r}: mapping {self.mapping.name!r} has no {entity} query")
        settings = self.mapping.settings
        prices, stock = section.price_lists, section.warehouses
        parts: list[Callable[[], pl.DataFrame]] = []
        if prices is not None:
            numbers = price_number_columns(prices)
            parts.append(lambda: as_text(price_table(self.read_table(prices.query, numbers=numbers), prices, settings)))
        if stock is not None:
            amounts = warehouse_number_columns(stock)
            parts.append(
                lambda: as_text(warehouse_table(self.read_table(stock.query, numbers=amounts), stock, settings))
            )
        try:
            if self.concurrent_reads and limit is None and parts:
                from concurrent.futures import ThreadPoolExecutor

                # The database and its driver do most of the work of a read, and release the GIL while they do.
                with ThreadPoolExecutor(len(parts), thread_name_prefix=f"{self.config.source_id}-read") as pool:
                    pending = [pool.submit(part) for part in parts]
                    raw = self.read_query(section.query, limit=limit)
                    wide = [future.result() for future in pending]
            else:
                raw = self.read_query(section.query, limit=limit)
                wide = [part() for part in parts]
        except PivotError as exc:
            raise MappingError(f"source {self.config.source_id!r}, {entity}: {exc}") from None
        raw = join_tables(raw, section.key or "", wide)
        self.pivoted += [name for columns in wide for name in columns.columns if name != KEY]
        return raw

    def extract(
        self,
        entity: str,
        *,
        limit: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> pd.DataFrame:
        """Canonical rows of ``entity``; sources that can filter by modification time read only rows changed
        in ``[since, until)`` (None: unbounded). ``since`` is sent to the source; ``until`` is applied to the
        mapping's ``options.modified_field`` (rows changed later belong to the next window)."""
        section = self.mapping.entity(entity)
        raw = self.read_raw(entity, limit=limit, since=since)
        self.read_everything = limit is None and not (since is not None and self.can_filter(entity))
        if until is not None and self.mapping.entity(entity).options.get("modified_field"):
            self.read_everything = False
        if until is not None:
            raw = self._before(raw, entity, until)
        fields = dict(section.fields)
        for name in self.pivoted:
            fields.setdefault(name, name)
        if any(c.startswith("price_") for c in self.pivoted) and "price" not in fields:
            fields["price"] = self._default_price_column(raw)
        section = section.model_copy(update={"fields": fields})
        frame = to_canonical(raw, section, source_id=self.config.source_id, entity=entity)
        if any(c.startswith("qty_") for c in self.pivoted) and "qty" not in section.fields:
            frame["qty"] = total_qty(frame)
        return frame

    def _before(self, raw: pd.DataFrame, entity: str, until: datetime) -> pd.DataFrame:
        import pandas as pd

        column = self.mapping.entity(entity).options.get("modified_field")
        if not column:
            log.info(
                "source %s: %s has no modified_field, so the window's end (%s) cannot be applied; read up to now",
                self.config.source_id,
                entity,
                until.isoformat(),
            )
            return raw
        if column not in raw.columns:
            raise MappingError(
                f"source {self.config.source_id!r}, {entity}: options.modified_field {column!r} is not a column "
                f"the source returned ({', '.join(map(str, raw.columns[:20]))})"
            )
        modified = pd.to_datetime(raw[column], utc=True, errors="coerce", format="mixed")
        keep = modified.isna() | (modified < pd.Timestamp(until))
        dropped = int((~keep).sum())
        if dropped:
            log.info(
                "source %s: %d %s rows changed after %s are left for the next window",
                self.config.source_id,
                dropped,
                entity,
                until.isoformat(),
            )
        return raw[keep.to_numpy()].reset_index(drop=True)

    def _default_price_column(self, raw: pd.DataFrame) -> str:
        tiers = [c[6:] for c in self.pivoted if c.startswith("price_")]
        chosen = self.mapping.settings.default_price_list or (tiers[0] if len(tiers) == 1 else None)
        if chosen is None or chosen not in tiers:
            raise MappingError(
                f"source {self.config.source_id!r}: settings.default_price_list must name the price list that "
                f"gives the default price; it is {chosen!r} and the lists read are {tiers}"
            )
        return f"price_{chosen}"


class OrderSink:
    """Raises Stock2Shop orders as documents in one source (the ERP or database).

    A sink is opened once per run (``with sink:``) and used for many orders. :meth:`find` looks an order up by
    the reference the document carries (``external_order_no``); :meth:`create` makes the document and returns
    its number. :meth:`raise_order` is find-then-create; sinks that can do both in one transaction override it.
    Raise :class:`~stock2shop_sync.model.orders.OrderError` when the ERP refuses the order's data (retrying the
    same data cannot help); any other exception is taken as transient.
    """

    def __init__(self, config: SourceConfig, mapping: Mapping) -> None:
        if mapping.orders is None:
            raise ValueError(f"mapping {mapping.name!r} has no orders section")
        self.config = config
        self.mapping = mapping
        self.settings = config.orders
        self.document_type = config.orders.document_type or mapping.orders.document_types[0]

    def __enter__(self) -> OrderSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release connections; called once at the end of a run."""

    def find(self, order: Order) -> str | None:
        raise NotImplementedError

    def create(self, order: Order) -> str:
        raise NotImplementedError

    def raise_order(self, order: Order) -> tuple[str, bool]:
        """The order's document number, and whether this call created it (False: it already existed)."""
        existing = self.find(order)
        if existing:
            return existing, False
        return self.create(order), True
