"""Raise a source's pending orders exactly once: inbox -> parse -> route -> claim -> sink -> acknowledge.

For each pending order:

1. the run *claims* the order in the ledger (compare-and-set with an owner token and a lease) before anything
   touches the ERP; an order another run holds is left to it (``claimed``);
2. the sink looks the order up by its reference and creates the document only if the ERP does not hold it; after
   an unclear answer to a create it looks again before any second attempt (:meth:`OrderSink.raise_order`); a
   document found under the reference must be this order's;
3. the ledger records ``raised`` with the document number;
4. the inbox is told (Stock2Shop gets the ``source_order_code``, or the file moves to ``processed/``);
5. the ledger records ``acknowledged`` and releases the claim.

A run that dies anywhere in 2-4 leaves the order pending and its claim to expire; the next run finds the document
at step 2 and acknowledges it instead of raising it again. A failed order never stops the others. Only refusals
of the order's data count towards ``orders.max_attempts`` (then it is given up, reported, and kept in the ledger
for ``retry-order``); transient failures (network, timeouts, 5xx, a locked table) are retried on every run after
a growing pause, and alerted on once they have lasted ``orders.alert_after_minutes``. Plain Python; the Airflow
operator only wires it up.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stock2shop_sync.inbox import InboxItem
from stock2shop_sync.model.orders import (
    OrderError,
    OutcomeUnknown,
    TransientOrderError,
    external_order_no,
    parse_order,
    route_order,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stock2shop_sync.config import SourceConfig
    from stock2shop_sync.connectors.base import OrderSink
    from stock2shop_sync.inbox import OrderInbox
    from stock2shop_sync.state import LedgerEntry, StateStore

log = logging.getLogger(__name__)

#: Outcomes: ``raised`` (created now), ``found`` (the ERP already held it: acknowledged, not raised again),
#: ``failed`` (will be retried), ``gave_up`` (max attempts reached), ``refused`` (unreadable, no id),
#: ``skipped`` (given up earlier; waits for ``retry-order``), ``would_raise`` (dry run), ``claimed`` (another
#: run holds it now), ``waiting`` (failed transiently a moment ago; tried again after its pause).
OK_OUTCOMES = ("raised", "found", "would_raise", "claimed", "waiting")


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
    #: A transient failure that has lasted past ``orders.alert_after_minutes``: the run alerts.
    overdue: bool = False


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
                    "overdue": o.overdue,
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
    owner: str | None = None,
) -> PushReport:
    """Raise every pending order of ``config``'s source once; see the module docstring.

    ``owner`` is this run's claim token (a fresh one by default).
    """
    ensure_takes_orders(config)
    ensure_sink_takes_shipping(config, sink)
    run = _Run(config, inbox, sink, store, sources_by_s2s_id, dry_run, owner or uuid.uuid4().hex, _now())
    report = PushReport(config.source_id)
    items = inbox.pending()
    items += _retried(config, store, {item.order_id for item in items if item.order_id})
    log.info("%d order(s) pending for %s in the %s inbox", len(items), config.source_id, inbox.kind)
    with sink:
        for item in items:
            try:
                outcome = run.push(item)
            except Exception as exc:
                log.exception("%s: unexpected error", item.where)
                # Its claim, if taken, expires; a later run looks the order up.
                outcome = OrderOutcome(item.where, item.order_id, "failed", error=_transient_words(exc), transient=True)
            report.outcomes.append(outcome)
            _log(outcome)
    if not dry_run:
        _settle_acknowledged(config, store, {item.order_id for item in items if item.order_id})
    return report


def _retried(config: SourceConfig, store: StateStore, pending: set[str]) -> list[InboxItem]:
    """Orders an operator brought back with ``retry-order`` that the inbox no longer lists (a given-up order is
    off Stock2Shop's pending list, or in the file inbox's ``failed/``): raised from the order kept in the ledger,
    on every run until it is acknowledged or given up again (a transient failure on the way must not lose it)."""
    items = []
    for entry in store.entries(config.source_id, ["retry", "failed", "raising", "raised"]):
        if entry.order_id in pending or not (entry.status == "retry" or entry.order_json):
            continue
        if not entry.order_json:
            log.error("order %s: retry asked, but the ledger kept no copy of it to raise", entry.order_id)
            continue
        kept = json.loads(entry.order_json)
        items.append(InboxItem(entry.order_id, kept["order"], kept.get("where") or f"order {entry.order_id}"))
    return items


def _settle_acknowledged(config: SourceConfig, store: StateStore, pending: set[str]) -> None:
    """An order the ledger has as ``raised`` that the inbox no longer lists was acknowledged, by an earlier run
    whose answer (or ledger write) was lost: record it so, so the ledger matches Stock2Shop."""
    now = _now()
    for entry in store.entries(config.source_id, ["raised"]):
        unowned = entry.owner is None or (entry.lease_until is not None and entry.lease_until < now)
        if entry.order_id not in pending and unowned and not entry.order_json:
            store.record(config.source_id, entry.order_id, "acknowledged", document_number=entry.document_number)
            log.info("order %s: no longer pending, so its acknowledgement went through", entry.order_id)


def ensure_takes_orders(config: SourceConfig) -> None:
    """:raises OrderError: if the source never takes orders (linked, a file or sheet, or orders.enabled off)."""
    if not config.orders.enabled or config.stock2shop is None:
        raise OrderError(
            f"source {config.source_id} ({config.type}) does not take orders: "
            + ("a linked source's orders go to its primary" if config.is_linked else "orders.enabled is off")
        )


def ensure_sink_takes_shipping(config: SourceConfig, sink: OrderSink) -> None:
    """:raises OrderError: if ``orders.shipping: header`` is set for a sink that builds documents from their lines
    only (the API sinks), which would drop every order's shipping."""
    if config.orders.shipping == "header" and not getattr(sink, "writes_header_shipping", False):
        raise OrderError(
            f"source {config.source_id}: orders.shipping is header, but its {type(sink).__name__} writes only an "
            "order's lines, so shipping would be lost; use orders.shipping: line with orders.shipping_code"
        )


def _log(outcome: OrderOutcome) -> None:
    if outcome.outcome in OK_OUTCOMES:
        document = f" as {outcome.document_number}" if outcome.document_number else ""
        log.info("%s: %s%s", outcome.where, outcome.outcome, document)
    else:
        log.error("%s: %s (attempt %d): %s", outcome.where, outcome.outcome, outcome.attempts, outcome.error)


class ClaimLost(Exception):
    """This run's claim on an order expired and another run took it: stop working on the order."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Run:
    """One push run: the settings and collaborators every order of it shares."""

    config: SourceConfig
    inbox: OrderInbox
    sink: OrderSink
    store: StateStore
    sources_by_s2s_id: Mapping[int, SourceConfig] | None
    dry_run: bool
    owner: str
    #: When the pending list was read: an order another run acknowledged after it is done, not claimed again.
    listed_at: datetime
    held: set[str] = field(default_factory=set)
    #: SKUs the source synced and later removed from Stock2Shop, with when: an order for one is discontinued.
    removed: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.held = self.store.synced_skus(self.config.source_id)
        self.removed = self.store.removed_skus(self.config.source_id)

    @property
    def source_id(self) -> str:
        return self.config.source_id

    def push(self, item: InboxItem) -> OrderOutcome:
        settings = self.config.orders
        assert self.config.stock2shop is not None
        if item.error or not item.order_id:
            error = item.error or f"{item.where} has no order id"
            if not self.dry_run:
                self.inbox.reject(item, error, final=True)
            return OrderOutcome(item.where, item.order_id, "refused", error=error)
        previous = self.store.entry(self.source_id, item.order_id)
        if previous is not None and previous.status == "gave_up":
            return _skipped(self.config, item, previous)
        if previous is not None and previous.next_attempt_at and previous.next_attempt_at > _now():
            return self._waiting(item, previous)
        waiting = False  # the problem is transient: the source has synced no products yet
        try:
            order = parse_order(item.raw, settings, self.config.stock2shop.source_id)
            route_order(order, self.config, self.held, self.sources_by_s2s_id, self.removed)
            reference: str | None = external_order_no(order, settings)
            problem: str | None = None
        except (OrderError, TransientOrderError) as exc:
            order, reference, problem = None, None, str(exc)
            waiting = isinstance(exc, TransientOrderError)
        if self.dry_run:
            if problem is not None or order is None:
                return OrderOutcome(item.where, item.order_id, "failed", error=problem)
            found = self.sink.find(order)
            return OrderOutcome(
                item.where, item.order_id, "found" if found else "would_raise", found.number if found else None
            )

        entry = self.store.claim(
            self.source_id,
            item.order_id,
            reference,
            owner=self.owner,
            lease_seconds=settings.claim_seconds,
            listed_at=self.listed_at,
        )
        if entry is None:
            current = self.store.entry(self.source_id, item.order_id)
            if current is not None and current.status == "gave_up":
                return _skipped(self.config, item, current)
            if current is not None and current.owner is None and current.next_attempt_at is not None:
                return self._waiting(item, current)
            done = current is not None and current.status == "acknowledged"
            return OrderOutcome(
                item.where,
                item.order_id,
                "claimed",
                current.document_number if done and current else None,
                "another run raised it" if done else "another run is working on it",
            )
        if problem is not None or order is None:
            return self._failed(item, entry, problem or "unreadable order", transient=waiting)

        def renew() -> None:
            if not self.store.renew(
                self.source_id, item.order_id, owner=self.owner, lease_seconds=settings.claim_seconds
            ):
                raise ClaimLost(f"order {item.order_id}: this run's claim expired and another run took the order")

        try:
            document, created = self.sink.raise_order(order, before_create=renew)
        except ClaimLost as exc:
            return OrderOutcome(item.where, item.order_id, "claimed", error=str(exc), attempts=entry.attempts)
        except OrderError as exc:
            return self._failed(item, entry, str(exc), transient=False)
        except Exception as exc:  # noqa: BLE001 - the ERP or network failed: retried on later runs
            unsettled = isinstance(exc, OutcomeUnknown)
            return self._failed(item, entry, _transient_words(exc), transient=True, unsettled=unsettled)
        self.store.record(self.source_id, item.order_id, "raised", document_number=document, owner=self.owner)
        try:
            self.inbox.acknowledge(item, document, order.customer_code)
        except Exception as exc:  # noqa: BLE001 - the document exists; the next run finds it and acknowledges
            error = f"raised as {document} but acknowledging failed: {_transient_words(exc)}"
            self.store.record(
                self.source_id, item.order_id, "raised", document_number=document, error=error, owner=self.owner,
                release=True,
            )  # fmt: skip
            return OrderOutcome(item.where, item.order_id, "failed", document, error, entry.attempts, transient=True)
        self.store.record(
            self.source_id, item.order_id, "acknowledged", document_number=document, owner=self.owner, release=True,
            data_failures=0, transient_failures=0, failing_since=None, next_attempt_at=None, order_json=None,
        )  # fmt: skip
        return OrderOutcome(item.where, item.order_id, "raised" if created else "found", document, None, entry.attempts)

    def _waiting(self, item: InboxItem, entry: LedgerEntry) -> OrderOutcome:
        when = f"{entry.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC" if entry.next_attempt_at else "its pause"
        return OrderOutcome(
            item.where,
            item.order_id,
            "waiting",
            error=f"failed transiently ({entry.last_error}); next try after {when}",
            attempts=entry.attempts,
            transient=True,
            overdue=self._overdue(entry),
        )

    def _overdue(self, entry: LedgerEntry) -> bool:
        limit = timedelta(minutes=self.config.orders.alert_after_minutes)
        return entry.failing_since is not None and _now() - entry.failing_since >= limit

    def _failed(
        self, item: InboxItem, entry: LedgerEntry, error: str, *, transient: bool, unsettled: bool = False
    ) -> OrderOutcome:
        """Record a failed attempt. Only refusals of the order's data count towards giving up: after a transient
        failure the ERP may hold the document (the failure came after its commit) and only a later attempt's
        lookup can tell, so those are retried on every run, after a pause that doubles up to an hour."""
        settings = self.config.orders
        order_id = entry.order_id
        now = _now()
        if transient:
            streak = entry.transient_failures + 1
            pause = min(settings.retry_backoff_seconds * 2 ** (streak - 1), 3_600)
            if unsettled:
                pause = max(pause, settings.settle_seconds)
            fields: dict[str, Any] = {
                "transient_failures": streak,
                "failing_since": entry.failing_since or now,
                "next_attempt_at": now + timedelta(seconds=pause) if pause else None,
            }
            final = False
        else:
            failures = entry.data_failures + 1
            final = failures >= settings.max_attempts
            fields = {
                "data_failures": failures,
                "transient_failures": 0,
                "failing_since": None,
                "next_attempt_at": None,
            }
            if final:
                fields["order_json"] = json.dumps({"order": item.raw, "where": item.where})
        self.store.record(
            self.source_id, order_id, "gave_up" if final else "failed", error=error, owner=self.owner, release=True,
            **fields,
        )  # fmt: skip
        try:
            self.inbox.reject(item, error, final=final)
        except Exception:
            log.exception("%s: could not report the failure to the inbox", item.where)
        overdue = transient and now - (entry.failing_since or now) >= timedelta(minutes=settings.alert_after_minutes)
        return OrderOutcome(
            item.where, order_id, "gave_up" if final else "failed", None, error, entry.attempts, transient, overdue
        )


def _skipped(config: SourceConfig, item: InboxItem, previous: LedgerEntry) -> OrderOutcome:
    return OrderOutcome(
        item.where,
        item.order_id,
        "skipped",
        error=f"given up after {previous.data_failures or previous.attempts} refusals ({previous.last_error}); "
        f"`make retry-order SOURCE={config.source_id} ORDER={item.order_id}` tries again",
        attempts=previous.attempts,
    )


def _transient_words(exc: BaseException) -> str:
    """A transient failure in words for the ledger and Stock2Shop: the kind of failure, never a driver's raw text
    with the order's values (SQL sinks describe database errors; HTTP errors are scrubbed of URLs and keys)."""
    from stock2shop_sync.redact import scrub

    if isinstance(exc, TransientOrderError):
        return str(exc)
    return f"{type(exc).__name__}: {scrub(str(exc))[:300]}"
