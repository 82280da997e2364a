"""The project's side of the local Stock2Shop sandbox: which sources it serves, and test web orders.

The sandbox (``python -m sandbox``) accepts items only for the Stock2Shop sources it knows. It serves the sources
configured in ``include/sources`` (their ``stock2shop.source_id``), so a new user's own source works against it
as the demos do (``make sandbox``, ``make run SOURCE=<id>``). A test order (``make sandbox-order``) lets them watch
a web order go into their own database before any real one does.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from stock2shop_sync.config import SourceConfig

#: Test orders are numbered from here, above the demo orders' ids.
FIRST_TEST_ORDER_ID = 90_001


class SandboxError(RuntimeError):
    """The sandbox cannot take the test order: not running, or it does not hold what the order needs."""


def sandbox_sources(configs: Iterable[SourceConfig]) -> dict[int, str]:
    """The Stock2Shop sources of the configured primary sources: Stock2Shop id -> description."""
    sources: dict[int, str] = {}
    for config in configs:
        if config.link is not None or config.stock2shop is None:
            continue  # a linked source feeds its primary's Stock2Shop source
        sources.setdefault(config.stock2shop.source_id, config.description or config.source_id)
    return sources


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the local sandbox
            return json.load(response)
    except urllib.error.URLError as exc:
        raise SandboxError(
            f"the sandbox does not answer at {url} ({exc.reason}); start it with `make sandbox`"
        ) from None


def post_test_order(
    config: SourceConfig, sandbox_url: str, lines: Sequence[tuple[str, float]], order_id: int | None = None
) -> dict[str, Any]:
    """Put one web order for ``config``'s source into the sandbox, as a channel would, and return it.

    Each line is ``(sku, qty)``; its title and price come from what the sandbox holds for that SKU, so an order
    can only name products the source has synced (the run's order routing refuses any other).

    :raises SandboxError: naming the SKU the sandbox does not hold, or the sandbox that does not answer.
    """
    if config.stock2shop is None or not config.orders.enabled:
        raise SandboxError(f"source {config.source_id} does not take orders (orders.enabled is not true)")
    s2s_id = config.stock2shop.source_id
    base = sandbox_url.rstrip("/")
    held = {
        str(row["sku"]).strip().lower(): row
        for row in _get(f"{base}/sandbox/products?source_id={s2s_id}")
        if row.get("sku") and row.get("product_active") not in (False, "false", 0)
    }
    items = []
    for number, (sku, qty) in enumerate(lines, start=1):
        row = held.get(sku.strip().lower())
        if row is None:
            raise SandboxError(
                f"the sandbox holds no active product with sku {sku!r} for source {config.source_id} "
                f"(Stock2Shop source {s2s_id}): run `make run SOURCE={config.source_id}` first, or pick one of "
                f"{', '.join(sorted(r['sku'] for r in held.values())[:10]) or 'none'}"
            )
        product = row["payload"].get("product") or {}
        variant = product.get("variants") or {}
        items.append(
            {
                "id": number,
                "sku": row["sku"],
                "source_id": s2s_id,
                "title": product.get("title") or row["sku"],
                "qty": qty,
                "price": float(variant.get("price") or 0),
                "tax_per_unit": 0,
                "tax_lines": [],
            }
        )
    if order_id is None:
        taken = [int(o["order_id"]) for o in _get(f"{base}/sandbox/orders") if str(o["order_id"]).isdigit()]
        order_id = max([FIRST_TEST_ORDER_ID - 1, *taken]) + 1
    order = {
        "id": order_id,
        "channel_order_code": f"TEST-{order_id}",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "customer": {"first_name": "Test", "last_name": "Customer", "email": "test.customer@example.com"},
        "notes": "a test order from make sandbox-order",
        "line_items": items,
    }
    request = urllib.request.Request(  # noqa: S310 - the local sandbox
        f"{base}/sandbox/orders",
        data=json.dumps({"system_orders": [order]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local sandbox
        response.read()
    return order


def parse_lines(text: str, qty: float) -> list[tuple[str, float]]:
    """``SKU1,SKU2`` (each ``qty`` times) or ``SKU1:2,SKU2:1`` as order lines."""
    lines = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        sku, _, count = part.partition(":")
        lines.append((sku.strip(), float(count) if count.strip() else qty))
    if not lines:
        raise SandboxError("name at least one SKU (SKU=<sku>[,<sku>...])")
    return lines


def sources_argument(sources: dict[int, str]) -> str:
    """The sandbox's ``--sources`` value: JSON, as descriptions may hold commas and colons."""
    return json.dumps({str(k): v for k, v in sources.items()})


# -- command-line entry points (python -m stock2shop_sync.cli ...) ----------------------------------------------
def print_sources() -> int:
    """``sandbox-sources``: the sandbox's ``--sources`` value for the configured sources."""
    from stock2shop_sync.config import load_all, sources_dir

    configs, _ = load_all()
    sources = sandbox_sources(configs)
    if not sources:
        import sys

        print(f"WARNING: no valid source config in {sources_dir()}: the sandbox serves no source", file=sys.stderr)
    print(sources_argument(sources))
    return 0


def _configured(source_id: str) -> SourceConfig | None:
    """The valid config of ``source_id``; prints why there is none."""
    from stock2shop_sync.config import load_all, sources_dir

    configs, errors = load_all()
    config = next((c for c in configs if c.source_id == source_id), None)
    if config is None:
        from pathlib import Path

        broken = [e for e in errors if e.source_id == source_id or Path(e.file).stem == source_id]
        known = ", ".join(sorted(c.source_id for c in configs if c.link is None)) or "none"
        missing = f"no source {source_id!r} in {sources_dir()} (known: {known})"
        print(f"ERROR  {broken[0]}" if broken else f"ERROR  {missing}")
    return config


def run_check(source_id: str, *, print_stock2shop_id: bool = False) -> int:
    """``run-check``: whether ``make run`` can run ``source_id`` (a valid primary config); optionally print the
    Stock2Shop source id it feeds."""
    config = _configured(source_id)
    if config is None:
        return 1
    if config.link is not None:
        print(f"ERROR  {source_id!r} is a linked source: run its primary, make run SOURCE={config.link.primary}")
        return 1
    if print_stock2shop_id:
        print(config.stock2shop.source_id if config.stock2shop else "")
    return 0


def place_test_order(source_id: str, sandbox_url: str, skus: str, qty: float) -> int:
    """``sandbox-order``: put a test web order for ``source_id`` into the sandbox."""
    config = _configured(source_id)
    if config is None:
        return 1
    try:
        order = post_test_order(config, sandbox_url, parse_lines(skus, qty))
    except SandboxError as exc:
        print(f"ERROR  {exc}")
        return 1
    lines = ", ".join(f"{item['sku']} x {item['qty']:g}" for item in order["line_items"])
    print(
        f"order {order['id']} ({lines}) is pending in the sandbox for source {source_id}; the source's next run "
        f"raises it (make run SOURCE={source_id})"
    )
    return 0
