"""Stock2Shop orders (``system_order``) as a source receives them: parsing, routing and the fields sinks write.

The shape follows stock2shop-api-and-model.md section 6.3: line items with sku, qty, price (excluding tax),
``tax_per_unit`` and ``tax_lines`` (``code`` is ``taxed`` or ``exempt``), shipping lines, a customer, billing and
shipping addresses, and ``sources[]`` carrying the source's ``source_order_code``/``source_customer_code``.
Everything here is plain Python: no Airflow, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from stock2shop_sync.config import OrderSettings, SourceConfig


class OrderError(Exception):
    """An order that cannot be raised as it stands; the message names the order, the line and the field."""


class TransientOrderError(Exception):
    """The ERP could not take the order now (connection lost, a lock, a timeout): retried on later runs. The
    message is already in words fit to send to Stock2Shop (no driver text with the order's values)."""


class OutcomeUnknown(TransientOrderError):
    """A create timed out (or a gateway gave up on it): the ERP may still be storing the document, so no lookup can
    tell yet. The order is looked up again after ``orders.settle_seconds``, never created again before that."""


@dataclass(frozen=True)
class OrderLine:
    """One line of the ERP document: a product line, or the shipping item when ``is_shipping``."""

    line_no: int
    sku: str
    description: str
    qty: float
    price: float  # unit price excluding tax
    tax_per_unit: float
    taxed: bool
    discount: float = 0.0
    source_id: int | None = None
    is_shipping: bool = False

    @property
    def total_excl(self) -> float:
        return round(self.price * self.qty - self.discount, 2)

    @property
    def tax(self) -> float:
        return round(self.tax_per_unit * self.qty, 2)

    @property
    def total_incl(self) -> float:
        return round(self.total_excl + self.tax, 2)


@dataclass(frozen=True)
class Order:
    """A parsed order, ready for a sink. ``raw`` is the ``system_order`` as received.

    ``lines`` are the document's lines. Shipping is one of them (``is_shipping``) with ``orders.shipping: line``;
    with ``header`` it is kept in ``header_shipping`` instead, outside the lines but inside the totals.
    """

    order_id: str
    channel_order_code: str
    created: str
    customer_code: str | None
    first_name: str
    last_name: str
    email: str
    notes: str
    shipping_address: dict[str, str]
    billing_address: dict[str, str]
    lines: tuple[OrderLine, ...]
    stated_total: float | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    channel_id: str = ""
    #: Shipping charged on the document's header (``orders.shipping: header``): no document line, but in the totals.
    header_shipping: tuple[OrderLine, ...] = ()

    @property
    def products(self) -> tuple[OrderLine, ...]:
        return tuple(line for line in self.lines if not line.is_shipping)

    @property
    def shipping(self) -> tuple[OrderLine, ...]:
        """Every shipping charge, whether a document line or on the header."""
        return tuple(line for line in self.lines if line.is_shipping) + self.header_shipping

    @property
    def shipping_excl(self) -> float:
        return round(sum(line.total_excl for line in self.shipping), 2)

    @property
    def shipping_tax(self) -> float:
        return round(sum(line.tax for line in self.shipping), 2)

    @property
    def total_excl(self) -> float:
        return round(sum(line.total_excl for line in self.lines + self.header_shipping), 2)

    @property
    def tax(self) -> float:
        return round(sum(line.tax for line in self.lines + self.header_shipping), 2)

    @property
    def total_incl(self) -> float:
        return round(self.total_excl + self.tax, 2)

    @property
    def customer_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


def order_id_of(raw: Any) -> str | None:
    """The Stock2Shop order id of a received order, if it has one (used before full parsing)."""
    if isinstance(raw, dict) and isinstance(raw.get("system_order"), dict):
        raw = raw["system_order"]
    if isinstance(raw, dict) and raw.get("id") not in (None, ""):
        return str(raw["id"]).strip()
    return None


def _number(value: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool):
        raise OrderError(f"{where} must be a number, not {value!r}")
    try:
        number = float(str(value).replace(" ", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise OrderError(f"{where} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise OrderError(f"{where} must be {'greater than 0' if positive else '0 or more'}, not {value!r}")
    return number


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _taxed(lines: Any, where: str) -> bool:
    """A line is taxed unless every tax line says ``exempt``; unknown codes are an error."""
    if not lines:
        return True
    if not isinstance(lines, list):
        raise OrderError(f"{where}.tax_lines must be a list")
    codes = {_text(t.get("code")).lower() if isinstance(t, dict) else "" for t in lines}
    unknown = codes - {"taxed", "exempt", ""}
    if unknown:
        raise OrderError(f"{where}.tax_lines code {sorted(unknown)[0]!r} is neither 'taxed' nor 'exempt'")
    return codes != {"exempt"}


def _address(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    keys = ("company", "address1", "address2", "city", "province", "zip", "country", "phone")
    return {k: _text(value.get(k)) for k in keys}


def parse_order(raw: Any, settings: OrderSettings, s2s_source_id: int) -> Order:
    """Parse a ``system_order`` (or ``{"system_order": {...}}``) for the Stock2Shop source ``s2s_source_id``.

    Shipping becomes a document line on ``orders.shipping_code`` (``orders.shipping: line``), or stays off the
    lines in :attr:`Order.header_shipping` (``header``); the totals include it either way.

    :raises OrderError: naming the order, the line and the field that is wrong.
    """
    if isinstance(raw, dict) and isinstance(raw.get("system_order"), dict):
        raw = raw["system_order"]
    if not isinstance(raw, dict):
        raise OrderError("an order must be a JSON object (a Stock2Shop system_order)")
    order_id = order_id_of(raw)
    if not order_id:
        raise OrderError("order has no id")
    label = f"order {order_id}"
    items = raw.get("line_items")
    if not isinstance(items, list) or not items:
        raise OrderError(f"{label}: line_items is missing or empty")
    lines: list[OrderLine] = []
    for number, item in enumerate(items, start=1):
        where = f"{label} line {number}"
        if not isinstance(item, dict):
            raise OrderError(f"{where}: must be an object")
        sku = _text(item.get("sku"))
        if not sku:
            raise OrderError(f"{where}: sku is required")
        where = f"{where} (sku {sku!r})"
        qty = _number(item.get("qty"), f"{where}: qty", positive=True)
        price = _number(item.get("price"), f"{where}: price")
        taxed = _taxed(item.get("tax_lines"), where)
        tax = item.get("tax_per_unit")
        tax_per_unit = _number(tax, f"{where}: tax_per_unit") if tax not in (None, "") else 0.0
        discount = _number(item.get("total_discount") or 0, f"{where}: total_discount")
        source = item.get("source_id")
        lines.append(
            OrderLine(
                line_no=number,
                sku=sku,
                description=_text(item.get("title")) or sku,
                qty=qty,
                price=price,
                tax_per_unit=tax_per_unit if taxed else 0.0,
                taxed=taxed,
                discount=discount,
                source_id=int(source) if str(source or "").strip().isdigit() else None,
            )
        )
    shipping = raw.get("shipping_lines") or []
    if not isinstance(shipping, list):
        raise OrderError(f"{label}: shipping_lines must be a list")
    on_header = settings.shipping == "header"
    header_shipping: list[OrderLine] = []
    for index, ship in enumerate(shipping, start=1):
        where = f"{label} shipping line {index}"
        if not isinstance(ship, dict):
            raise OrderError(f"{where}: must be an object")
        price = _number(ship.get("price") or 0, f"{where}: price")
        if price == 0:
            continue
        if not on_header and not settings.shipping_code:
            raise OrderError(
                f"{where}: shipping of {price:.2f} needs an ERP item to go on; set orders.shipping_code, or "
                "orders.shipping: header where the document carries shipping in a header column"
            )
        taxed = _taxed(ship.get("tax_lines"), where)
        tax = _number(ship.get("tax") or 0, f"{where}: tax") if taxed else 0.0
        charge = OrderLine(
            line_no=0 if on_header else len(lines) + 1,
            sku=settings.shipping_code or "",
            description=_text(ship.get("title")) or "Shipping",
            qty=1,
            price=price,
            tax_per_unit=tax,
            taxed=taxed,
            discount=_number(ship.get("total_discount") or 0, f"{where}: total_discount"),
            is_shipping=True,
        )
        (header_shipping if on_header else lines).append(charge)
    customer = raw.get("customer") if isinstance(raw.get("customer"), dict) else {}
    ours = [
        s
        for s in raw.get("sources") or []
        if isinstance(s, dict) and str(s.get("source_id", "")).strip() == str(s2s_source_id)
    ]
    customer_code = (
        (_text(ours[0].get("source_customer_code")) if ours else "")
        or _text(customer.get("source_customer_code"))
        or _text(settings.default_customer_code)
        or None
    )
    if customer_code is None:
        raise OrderError(
            f"{label}: no customer account: the order has no source_customer_code and "
            "orders.default_customer_code is not set"
        )
    created = _text(raw.get("created") or raw.get("ordered_date"))
    if not created:
        raise OrderError(f"{label}: created (the order date) is required")
    try:
        datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise OrderError(f"{label}: created {created!r} is not an ISO date/time") from None
    stated = raw.get("total")
    return Order(
        order_id=order_id,
        channel_order_code=_text(raw.get("channel_order_code")),
        created=created,
        customer_code=customer_code,
        first_name=_text(customer.get("first_name")),
        last_name=_text(customer.get("last_name")),
        email=_text(customer.get("email")),
        notes=_text(raw.get("notes")),
        shipping_address=_address(raw.get("shipping_address")),
        billing_address=_address(raw.get("billing_address")),
        lines=tuple(lines),
        stated_total=_number(stated, f"{label}: total") if stated not in (None, "") else None,
        raw=raw,
        channel_id=_text(raw.get("channel_id")),
        header_shipping=tuple(header_shipping),
    )


def sku_key(sku: str) -> str:
    """SKUs are matched trimmed and case-insensitively, as codes are everywhere in this project."""
    return sku.strip().lower()


def route_order(
    order: Order,
    config: SourceConfig,
    held_skus: set[str],
    sources_by_s2s_id: Mapping[int, SourceConfig] | None = None,
    removed_skus: Mapping[str, datetime] | None = None,
) -> None:
    """Check that ``order`` belongs to ``config``'s source: every line's source and SKU is this source's.

    Args:
        order: the parsed order.
        config: the source the order was sent to.
        held_skus: the (``sku_key``-normalised) SKUs this source holds in Stock2Shop.
        sources_by_s2s_id: every configured source by its Stock2Shop source id, to name a line's owner.
        removed_skus: SKUs this source synced and later removed from Stock2Shop (sent as inactive or deleted),
            with when, so an order for one is told apart from an order for a SKU the source never had.

    Raises:
        OrderError: for the first line that belongs elsewhere, or whose SKU was discontinued or is unknown.
        TransientOrderError: when the source has synced no products yet, so no SKU can be checked.
    """
    ours = config.stock2shop.source_id if config.stock2shop else None
    others = sources_by_s2s_id or {}
    for line in order.products:
        if line.source_id is not None and line.source_id != ours:
            owner = others.get(line.source_id)
            if owner is None:
                whose = f"Stock2Shop source {line.source_id}, which no config here feeds"
            elif owner.is_linked:
                whose = f"{owner.source_id}, a linked source, which never takes orders"
            elif not owner.orders.enabled:
                whose = f"{owner.source_id} (a {owner.type} source that does not take orders)"
            else:
                whose = f"{owner.source_id} (Stock2Shop source {line.source_id})"
            raise OrderError(
                f"order {order.order_id} line {line.line_no} (sku {line.sku!r}) belongs to {whose}, not to "
                f"{config.source_id} (Stock2Shop source {ours}); Stock2Shop sends each source only its own lines"
            )
        key = sku_key(line.sku)
        if key not in held_skus:
            removed = (removed_skus or {}).get(key)
            if not held_skus and not removed_skus:
                # Not the order's fault: nothing can be checked until the source's products are synced (a new
                # source, or a state store that was moved), so the order waits for that instead of counting
                # towards giving up.
                raise TransientOrderError(
                    f"order {order.order_id}: source {config.source_id} has not synced any products yet, so "
                    f"sku {line.sku!r} (line {line.line_no}) cannot be checked; run a products sync first"
                )
            if removed is not None:
                raise OrderError(
                    f"order {order.order_id} line {line.line_no}: sku {line.sku!r} was discontinued: source "
                    f"{config.source_id} removed it from Stock2Shop on {removed:%Y-%m-%d}; the order can be raised "
                    "once the product is synced as active again"
                )
            raise OrderError(
                f"order {order.order_id} line {line.line_no}: sku {line.sku!r} is not a product of source "
                f"{config.source_id}: it is unknown to the source, which never synced a product with that SKU"
            )


def external_order_no(order: Order, settings: OrderSettings) -> str:
    """The reference the ERP document carries, by which the order is looked up: ``S2S-<order id>`` by default.

    With ``orders.use_channel_order_code``, the channel's order number prefixed by the channel's id,
    ``C<channel id>-<channel order code>``: two channels each have an order 1001, and a reference shared by two
    orders would make the second one "found" as the first one's document and never raised.
    """
    if settings.use_channel_order_code:
        if not order.channel_order_code:
            raise OrderError(f"order {order.order_id}: channel_order_code is blank but use_channel_order_code is on")
        if not order.channel_id:
            raise OrderError(f"order {order.order_id}: channel_id is blank but use_channel_order_code is on")
        return f"C{order.channel_id}-{order.channel_order_code}"
    return f"S2S-{order.order_id}"


def header_fields(order: Order, settings: OrderSettings, document_type: str) -> dict[str, Any]:
    """The order header's named values (the ``:name`` parameters of SQL sinks; HTTP sinks build from them)."""
    ship = order.shipping_address
    return {
        "external_order_no": external_order_no(order, settings),
        "order_id": order.order_id,
        "channel_order_code": order.channel_order_code,
        "order_date": order.created[:10],
        "created": order.created,
        "customer_code": order.customer_code,
        "customer_name": order.customer_name,
        "email": order.email,
        "notes": order.notes,
        "document_type": document_type,
        "warehouse_code": settings.warehouse_code,
        "delivery_address1": ship.get("address1", ""),
        "delivery_address2": ship.get("address2", ""),
        "delivery_city": ship.get("city", ""),
        "delivery_province": ship.get("province", ""),
        "delivery_zip": ship.get("zip", ""),
        "delivery_country": ship.get("country", ""),
        "delivery_phone": ship.get("phone", ""),
        "total_excl": order.total_excl,
        "total_tax": order.tax,
        "total_incl": order.total_incl,
        # Always present (0 without shipping), so a header statement can write them into its own column; with
        # orders.shipping: line the same amounts are also the shipping line's.
        "shipping_excl": order.shipping_excl,
        "shipping_tax": order.shipping_tax,
        "shipping_incl": round(order.shipping_excl + order.shipping_tax, 2),
        "line_count": len(order.lines),
    }


def line_fields(order: Order, settings: OrderSettings) -> list[dict[str, Any]]:
    """One dict of named values per document line (products, then shipping), each with the header's key."""
    reference = external_order_no(order, settings)
    return [
        {
            "external_order_no": reference,
            "order_id": order.order_id,
            "line_no": line.line_no,
            "sku": line.sku,
            "description": line.description,
            "qty": line.qty,
            "price": line.price,
            "price_incl": round(line.price + line.tax_per_unit, 4),
            "discount": line.discount,
            "tax_code": settings.tax_code if line.taxed else settings.tax_exempt_code,
            "tax": line.tax,
            "total_excl": line.total_excl,
            "total_incl": line.total_incl,
            "warehouse_code": settings.warehouse_code,
            "is_shipping": 1 if line.is_shipping else 0,
        }
        for line in order.lines
    ]


def parse_all(raws: Iterable[Any], settings: OrderSettings, s2s_source_id: int) -> list[Order | OrderError]:
    """Parse many orders; a bad one becomes its error in place, never stopping the others."""
    out: list[Order | OrderError] = []
    for raw in raws:
        try:
            out.append(parse_order(raw, settings, s2s_source_id))
        except OrderError as exc:
            out.append(exc)
    return out
