"""Raise a source's pending orders exactly once: inbox -> parse -> route -> ledger -> sink -> acknowledge.

For each pending order:

1. the ledger records the attempt (status ``raising``) *before* anything touches the ERP;
2. the sink looks the order up by its reference and raises it only if the ERP does not hold it yet;
3. the ledger records ``raised`` with the document number;
4. the inbox is told (Stock2Shop gets the ``source_order_code``, or the file moves to ``processed/``);
5. the ledger records ``acknowledged``.

A run that dies anywhere in 2-4 leaves the order pending in the inbox; the next run finds its document in the
ERP at step 2 and acknowledges it instead of raising it again. A failed order never stops the others: it is
recorded with its error and retried on later runs; an order the ERP refuses (bad data) is given up after
``orders.max_attempts`` (reported, and moved to ``failed/`` by a file inbox), while transient failures
(network, a lost worker) are retried on every run: the document may already exist and only a lookup can tell.
Plain Python; the Airflow operator only wires it up.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stock2shop_sync.model.orders import OrderError, external_order_no, parse_order, route_order

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stock2shop_sync.config import SourceConfig
    from stock2shop_sync.connectors.base import OrderSink
    from stock2shop_sync.inbox import InboxItem, OrderInbox
    from stock2shop_sync.state import StateStore

log = logging.getLogger(__name__)

#: Outcomes: ``raised`` (created now), ``found`` (the ERP already held it: acknowledged, not raised again),
#: ``failed`` (will be retried), ``gave_up`` (max attempts reached), ``refused`` (unreadable, no id),
#: ``skipped`` (given up earlier; waits for ``retry-order``), ``would_raise`` (dry run).
OK_OUTCOMES = ("raised", "found", "would_raise")


@dataclass
class OrderOutcome:
    """What happened to one order in this run."""

    where: str
    order_id: str | None
    outcome: str
    document_number: str | None = None
    error: str | None = None
    attempts: int = 0
    transient: bool = False


@dataclass
class PushReport:
    """Every order's outcome in one run, for the task log, the run report and alerts."""

    source_id: str
    outcomes: list[OrderOutcome] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(o.outcome for o in self.outcomes)
        return {"pending": len(self.outcomes), **{k: counted[k] for k in sorted(counted)}}

    @property
    def problems(self) -> list[OrderOutcome]:
        return [o for o in self.outcomes if o.outcome not in OK_OUTCOMES]

    def summary(self) -> str:
        counts = self.counts
        parts = [f"{counts['pending']} pending"] + [f"{v} {k}" for k, v in counts.items() if k != "pending"]
        return f"orders of {self.source_id}: " + ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "problems": [
                {
                    "order": o.where,
                    "outcome": o.outcome,
                    "attempts": o.attempts,
                    "error": o.error,
                    "transient": o.transient,
                }
                for o in self.problems
            ],
        }


def push_orders(
    config: SourceConfig,
    *,
    inbox: OrderInbox,
    sink: OrderSink,
    store: StateStore,
    sources_by_s2s_id: Mapping[int, SourceConfig] | None = None,
    dry_run: bool = False,
) -> PushReport:
    """Raise every pending order of ``config``'s source once; see the module docstring."""
    ensure_takes_orders(config)
    report = PushReport(config.source_id)
    held = store.synced_skus(config.source_id)
    items = inbox.pending()
    log.info("%d order(s) pending for %s in the %s inbox", len(items), config.source_id, inbox.kind)
    with sink:
        for item in items:
            try:
                outcome = _push_one(config, item, inbox, sink, store, held, sources_by_s2s_id, dry_run)
            except Exception as exc:
                log.exception("%s: unexpected error", item.where)
                outcome = OrderOutcome(item.where, item.order_id, "failed", error=f"{type(exc).__name__}: {exc}")
            report.outcomes.append(outcome)
            _log(outcome)
    if not dry_run:
        _settle_acknowledged(config, store, {item.order_id for item in items if item.order_id})
    return report


def _settle_acknowledged(config: SourceConfig, store: StateStore, pending: set[str]) -> None:
    """An order the ledger has as ``raised`` that the inbox no longer lists was acknowledged, by an earlier run
    whose answer (or ledger write) was lost: record it so, so the ledger matches Stock2Shop."""
    for entry in store.entries(config.source_id, ["raised"]):
        if entry.order_id not in pending:
            store.record(config.source_id, entry.order_id, "acknowledged", document_number=entry.document_number)
            log.info("order %s: no longer pending, so its acknowledgement went through", entry.order_id)


def ensure_takes_orders(config: SourceConfig) -> None:
    """:raises OrderError: if the source never takes orders (linked, a file or sheet, or orders.enabled off)."""
    if not config.orders.enabled or config.stock2shop is None:
        raise OrderError(
            f"source {config.source_id} ({config.type}) does not take orders: "
            + ("a linked source's orders go to its primary" if config.is_linked else "orders.enabled is off")
        )


def _log(outcome: OrderOutcome) -> None:
    if outcome.outcome in OK_OUTCOMES:
        log.info("%s: %s as %s", outcome.where, outcome.outcome, outcome.document_number)
    else:
        log.error("%s: %s (attempt %d): %s", outcome.where, outcome.outcome, outcome.attempts, outcome.error)


def _push_one(
    config: SourceConfig,
    item: InboxItem,
    inbox: OrderInbox,
    sink: OrderSink,
    store: StateStore,
    held: set[str],
    sources_by_s2s_id: Mapping[int, SourceConfig] | None,
    dry_run: bool,
) -> OrderOutcome:
    settings = config.orders
    assert config.stock2shop is not None
    if item.error or not item.order_id:
        error = item.error or f"{item.where} has no order id"
        if not dry_run:
            inbox.reject(item, error, final=True)
        return OrderOutcome(item.where, item.order_id, "refused", error=error)
    previous = store.entry(config.source_id, item.order_id)
    if previous is not None and previous.status == "gave_up":
        return OrderOutcome(
            item.where,
            item.order_id,
            "skipped",
            error=f"given up after {previous.attempts} attempts ({previous.last_error}); "
            f"`make retry-order SOURCE={config.source_id} ORDER={item.order_id}` tries again",
            attempts=previous.attempts,
        )
    try:
        order = parse_order(item.raw, settings, config.stock2shop.source_id)
        route_order(order, config, held, sources_by_s2s_id)
        reference = external_order_no(order, settings)
    except OrderError as exc:
        return _failed(config, item, inbox, store, str(exc), transient=False, dry_run=dry_run)
    if dry_run:
        found = sink.find(order)
        return OrderOutcome(item.where, item.order_id, "found" if found else "would_raise", document_number=found)

    entry = store.begin_attempt(config.source_id, item.order_id, reference)
    try:
        document, created = sink.raise_order(order)
    except OrderError as exc:
        return _failed(config, item, inbox, store, str(exc), transient=False, attempts=entry.attempts)
    except Exception as exc:  # noqa: BLE001 - the ERP or network failed: retried on the next run
        return _failed(
            config, item, inbox, store, f"{type(exc).__name__}: {exc}", transient=True, attempts=entry.attempts
        )
    store.record(config.source_id, item.order_id, "raised", document_number=document)
    try:
        inbox.acknowledge(item, document, order.customer_code)
    except Exception as exc:  # noqa: BLE001 - the document exists; the next run finds it and acknowledges
        error = f"raised as {document} but acknowledging failed: {type(exc).__name__}: {exc}"
        store.record(config.source_id, item.order_id, "raised", document_number=document, error=error)
        return OrderOutcome(item.where, item.order_id, "failed", document, error, entry.attempts, transient=True)
    store.record(config.source_id, item.order_id, "acknowledged", document_number=document)
    return OrderOutcome(item.where, item.order_id, "raised" if created else "found", document, None, entry.attempts)


def _failed(
    config: SourceConfig,
    item: InboxItem,
    inbox: OrderInbox,
    store: StateStore,
    error: str,
    *,
    transient: bool,
    attempts: int | None = None,
    dry_run: bool = False,
) -> OrderOutcome:
    order_id = item.order_id or ""
    if dry_run:
        return OrderOutcome(item.where, order_id, "failed", error=error, transient=transient)
    if attempts is None:  # failed before an attempt was recorded (bad data): count it as one
        attempts = store.begin_attempt(config.source_id, order_id, None).attempts
    # Only data problems count towards giving up: after a transient failure the ERP may hold the document (the
    # failure came after its commit), and only a later attempt's lookup can tell, so those are always retried.
    final = not transient and attempts >= config.orders.max_attempts
    store.record(config.source_id, order_id, "gave_up" if final else "failed", error=error)
    try:
        inbox.reject(item, error, final=final)
    except Exception:
        log.exception("%s: could not report the failure to the inbox", item.where)
    return OrderOutcome(item.where, order_id, "gave_up" if final else "failed", None, error, attempts, transient)
