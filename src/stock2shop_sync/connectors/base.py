"""The interfaces every source connector implements: reading entities, and raising orders where it takes them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stock2shop_sync.model.canonical import MappingError, to_canonical, total_qty
from stock2shop_sync.model.orders import OrderError, OutcomeUnknown, external_order_no
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
from stock2shop_sync.model.rules import apply_product_rules

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
        self.pivoted = []  # this entity's price and warehouse columns only (read_raw and subclasses add them)
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
        settings = self.mapping.settings
        if any(c.startswith("qty_") for c in self.pivoted) and "qty" not in section.fields:
            frame["qty"] = total_qty(frame, settings.fractional_qty)
        if entity == "products":
            frame = apply_product_rules(frame, settings, self.config.source_id)
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


@dataclass(frozen=True)
class Document:
    """An ERP document found by an order's reference, as the ERP reports it.

    ``lines``: the document's lines as (item code, quantity), where the ERP returns them; an item code of None
    means the ERP gives an id rather than the code, so only the quantity can be compared. None: no lines known.
    """

    number: str
    lines: tuple[tuple[str | None, float], ...] | None = None


class OrderSink:
    """Raises Stock2Shop orders as documents in one source (the ERP or database).

    A sink is opened once per run (``with sink:``) and used for many orders. Subclasses implement :meth:`find`
    (look the order up by the reference its document carries, ``external_order_no``) and :meth:`create` (make the
    document, return its number). :meth:`raise_order` is the one mechanism every sink shares to create a document
    exactly once: a lookup before every create, so an answer that does not prove the document was not stored (a
    timeout, a reset, a 5xx, a broken read) is resolved by looking, never by sending the create again blindly.
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

    def find(self, order: Order) -> Document | None:
        """The document the ERP holds under the order's reference, or None."""
        raise NotImplementedError

    def create(self, order: Order) -> str:
        """Create the order's document in one request (or transaction); its number."""
        raise NotImplementedError

    def create_checked(self, order: Order) -> tuple[str, bool]:
        """:meth:`create`; sinks that look up and create in one transaction override it and answer
        (number, False) when the transaction found the document already there."""
        return self.create(order), True

    def raise_order(self, order: Order, *, before_create: Callable[[], None] | None = None) -> tuple[str, bool]:
        """The order's document number, and whether this call created it (False: the ERP already held it).

        Up to ``orders.create_attempts`` creates, each after a lookup that shows the ERP does not hold the order
        yet. A create that timed out ends the attempts of this run (:class:`OutcomeUnknown`): the ERP may still be
        storing it, and a later run looks it up. A found document must be this order's (:func:`check_document`).
        ``before_create`` runs before every create (the push step renews its claim there, and stops if it was
        lost).

        :raises OrderError: the ERP refused the order's data, or holds another order under its reference.
        """
        attempts = self.settings.create_attempts
        unclear: Exception | None = None
        for attempt in range(1, attempts + 1):
            found = self.find(order)
            if found is not None:
                check_document(order, found, external_order_no(order, self.settings))
                if unclear is not None:
                    log.info("order %s: the create whose answer was lost had stored %s", order.order_id, found.number)
                return found.number, unclear is not None
            if before_create is not None:
                before_create()
            try:
                return self.create_checked(order)
            except OrderError:
                raise
            except Exception as exc:
                if in_flight(exc):
                    raise OutcomeUnknown(
                        f"order {order.order_id}: the create got no answer in time ({_brief(exc)}); the ERP may "
                        f"still be storing it, so it is looked up after {self.settings.settle_seconds}s, not resent"
                    ) from exc
                if attempt == attempts:
                    raise
                unclear = exc
                pause = self.settings.create_pause_seconds * 2 ** (attempt - 1)
                log.warning(
                    "order %s: create %d/%d got no clear answer (%s); looking it up in %.1fs before trying again",
                    order.order_id,
                    attempt,
                    attempts,
                    _brief(exc),
                    pause,
                )
                time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover


def in_flight(exc: BaseException) -> bool:
    """Whether a failed create may still be under way at the ERP: the client gave up waiting (a read timeout) or
    a gateway did (502, 504). A lookup right after proves nothing then."""
    if getattr(exc, "in_flight", False):
        return True
    if getattr(exc, "status", None) in (502, 504):
        return True
    import requests

    return isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectTimeout)


def _brief(exc: BaseException) -> str:
    from stock2shop_sync.redact import scrub

    return f"{type(exc).__name__}: {scrub(str(exc))[:200]}"


def _line_key(code: str | None, qty: float) -> tuple[str, float]:
    return (code.strip().lower() if code is not None else "", round(float(qty), 4))


def check_document(order: Order, found: Document, reference: str) -> None:
    """A document found under the order's reference must be this order: the same lines (item codes, where the
    ERP gives them, and quantities). Anything else (another channel's order with the same number, a document
    entered by hand) is an error naming both, never an acknowledgement.

    :raises OrderError: when the lines differ.
    """
    if found.lines is None:
        return
    with_codes = all(code is not None for code, _ in found.lines)
    theirs = sorted(_line_key(code if with_codes else None, qty) for code, qty in found.lines)
    ours = sorted(_line_key(line.sku if with_codes else None, line.qty) for line in order.lines)
    if theirs != ours:

        def show(lines: list[tuple[str, float]]) -> str:
            return ", ".join(f"{qty:g} x {code}" if code else f"{qty:g}" for code, qty in lines) or "no lines"

        raise OrderError(
            f"order {order.order_id}: the ERP already holds document {found.number} under its reference "
            f"{reference!r}, but that document is not this order (document: {show(theirs)}; order: {show(ours)}). "
            "It may be another channel's order with the same number or one entered by hand; resolve it in the ERP "
            "before this order can be raised"
        )
