"""The steps of a source's sync as plain functions: extract, merge, validate, upload, push orders, report.

Operators are thin wrappers around these; tests call them directly. Each step reads its input from the
staging area and returns a small dict (paths and counts) for XCom.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stock2shop_sync import staging
from stock2shop_sync.config import SourceConfig, resolve_mapping
from stock2shop_sync.connectors import get_connector
from stock2shop_sync.deletes import DeleteCount, DeletesRefused, count_deletes, over_cap, refusal
from stock2shop_sync.deletes import summary as deletes_summary
from stock2shop_sync.model.validation import VALIDATORS, check_threshold

if TYPE_CHECKING:
    from stock2shop_sync.fingerprints import FingerprintStore
    from stock2shop_sync.hooks.stock2shop import Stock2ShopHook
    from stock2shop_sync.state import StateStore

log = logging.getLogger(__name__)


def extract(
    config: SourceConfig, entity: str, run_id: str, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Read ``entity`` from the source (changed in ``[since, until)`` where the source can filter) and stage it.

    A windowed read becomes a complete one when the source's last complete read is ``incremental.full_read_hours``
    old (see :mod:`stock2shop_sync.read_log`), and is one anyway for a linked source and a source that cannot read
    only changes (a query without ``{{since}}``); the log line and the result say which read it was: ``since`` and
    ``until`` are the window actually read (``since`` None: everything; ``until`` None: up to now, as a window's
    end is applied only with the mapping's ``options.modified_field``). A linked source's result carries a hash of
    what it read, so the merge can tell whether it changed.
    """
    from stock2shop_sync.read_log import ReadLog, frame_hash

    read_started = datetime.now(UTC)
    requested = [moment.isoformat() if moment else None for moment in (since, until)]
    mapping = resolve_mapping(config)
    connector = get_connector(config, mapping)
    whole = None  # why everything is read although the run has a window
    if since is not None:
        if config.link is not None:
            whole = "a linked source is read whole"
        elif not connector.can_filter(entity):
            whole = (
                "the query has no {{since}}" if mapping.connector == "sql" else f"a {config.type} source is read whole"
            )
        elif why := ReadLog().full_read_due(config.source_id, entity, config.incremental.full_read_hours, read_started):
            whole = f"full read due: {why}"
            log.info("source %s: reading all %s instead of the window: %s", config.source_id, entity, why)
        if whole:
            since = until = None
    open_end = None  # the window's end, when the source cannot apply it (it reads the changes up to now)
    if since is not None and until is not None and not mapping.entity(entity).options.get("modified_field"):
        open_end, until = until, None
    frame = connector.extract(entity, since=since, until=until)
    complete = connector.read_everything
    path = staging.write_frame(frame, staging.run_folder(config.source_id, run_id) / f"{entity}_extracted.parquet")
    if since is not None:
        read = f"changed since {since.isoformat()}" + (f" until {until.isoformat()}" if until else "")
        if open_end is not None:
            read += f" up to now (the window ends {open_end.isoformat()}, which needs options.modified_field)"
    else:
        why_whole = whole or "the run asked for no window"
        read = "read everything" + (f" until {until.isoformat()}" if until else "") + f" ({why_whole})"
    log.info("source %s: extracted %d %s rows, %s -> %s", config.source_id, len(frame), entity, read, path)
    return {
        "entity": entity,
        "path": path,
        "rows": len(frame),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        # The run's window as it was asked for, whether or not the source could read only that.
        "requested_window": requested,
        # The whole source was read (no window applied): items missing from it were removed at the source.
        "complete": complete,
        "read_started": read_started.isoformat(),
        **({"content_hash": getattr(connector, "content_token", None) or frame_hash(frame)} if config.link else {}),
    }


def _as_datetime(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"param {name} must be an ISO date-time, not {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def last_interval(schedule: str, moment: datetime) -> tuple[datetime, datetime]:
    """The last complete interval of a cron schedule at ``moment`` (``CronDataIntervalTimetable``'s rule)."""
    from croniter import croniter

    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    ticks = croniter(schedule, moment)
    end = moment if croniter.match(schedule, moment) else ticks.get_prev(datetime)
    start = croniter(schedule, end).get_prev(datetime)
    return start, end


def resolve_window(
    config: SourceConfig,
    params: dict[str, Any],
    data_interval: tuple[datetime | None, datetime | None],
    run_after: datetime | None = None,
) -> tuple[datetime | None, datetime | None]:
    """The window of changes a run extracts, as ``(since, until)``; ``(None, None)`` reads everything.

    1. ``full_sync``: everything.
    2. ``since``/``until`` params (a manual re-sync of a chosen period), as given.
    3. the run's data interval (scheduled runs and backfills), less ``api.overlap_minutes`` at the start.
    4. a manual run without a logical date: the schedule's last complete interval before ``run_after``, with the
       same overlap (as Airflow infers a manual run's interval); a source without a schedule reads everything.
    """
    if params.get("full_sync"):
        return None, None
    since, until = _as_datetime(params.get("since"), "since"), _as_datetime(params.get("until"), "until")
    if since or until:
        if since and until and since >= until:
            raise ValueError(f"param since ({since.isoformat()}) must be before until ({until.isoformat()})")
        return since, until
    start, end = data_interval
    if (start is None or end is None or start >= end) and run_after is not None and config.schedule:
        start, end = last_interval(config.schedule, run_after)
    if start is None or end is None or start >= end:
        return None, None
    return start - timedelta(minutes=config.api.overlap_minutes), end


def merge(
    config: SourceConfig, extracted: dict[str, Any], linked: list[tuple[SourceConfig, dict[str, Any]]], run_id: str
) -> dict[str, Any]:
    """Merge each linked source's owned fields onto the primary's extracted products; report unmatched rows.

    A windowed extract holds only the primary's changed rows, which is enough only while the linked sources are
    as the last successful run merged them: when one changed, the primary is read again in full here, so the
    linked change reaches every product it touches.
    """
    from stock2shop_sync.model.merge import merge_linked
    from stock2shop_sync.read_log import ReadLog

    hashes = {c.source_id: e.get("content_hash") for c, e in linked}
    if linked and not extracted.get("complete"):
        changed = ReadLog().linked_changed(config.source_id, "products", hashes)
        if changed:
            log.info(
                "source %s: linked source(s) %s changed since the last successful run; the window's rows are not "
                "enough, so the primary is read in full",
                config.source_id,
                ", ".join(changed),
            )
            extracted = extract(config, "products", run_id)
    frame = staging.read_polars(extracted["path"])
    complete = bool(extracted.get("complete"))
    reports = {}
    for linked_config, linked_extract in linked:
        assert linked_config.link is not None
        linked_frame = staging.read_polars(linked_extract["path"])
        frame, report = merge_linked(
            frame, linked_config.source_id, linked_config.link, linked_frame, report_unmatched=complete
        )
        reports[linked_config.source_id] = report.as_dict()
        log.info(
            "source %s: linked source %s gave %s for %d products (%d not in it); %d of %d rows used",
            config.source_id,
            report.source_id,
            ", ".join(report.fields) or "no fields",
            report.products_enriched,
            report.products_not_enriched,
            report.used_rows,
            report.rows,
        )
        if report.unmatched_codes:
            log.warning(
                "linked source %s: %d rows match no product of %s and were not created: %s",
                report.source_id,
                len(report.unmatched_codes),
                config.source_id,
                ", ".join(report.unmatched_codes[:50]),
            )
        for problem in report.unreadable:
            log.warning("linked source %s: %s", report.source_id, problem)
        if report.missing_fields:
            log.warning("linked source %s owns %s but has no such column", report.source_id, report.missing_fields)
    folder = staging.run_folder(config.source_id, run_id)
    path = staging.write_polars(frame, folder / "products_merged.parquet")
    return {
        "entity": "products",
        "path": path,
        "rows": frame.height,
        "linked": reports,
        "complete": complete,
        "since": extracted.get("since"),
        "until": extracted.get("until"),
        "read_started": extracted.get("read_started"),
        "linked_hashes": hashes,
        # The primary's own rows: a Delete the merged rows carry and these do not came from a linked source.
        "primary_path": extracted["path"],
    }


def validate(config: SourceConfig, entity: str, extracted: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Validate the staged frame: stage the valid rows and a quarantine report; fail past the threshold."""
    frame = staging.read_frame(extracted["path"])
    result = VALIDATORS[entity](frame, config.source_id, resolve_mapping(config).settings)
    folder = staging.run_folder(config.source_id, run_id)
    valid_path = staging.write_frame(result.valid, folder / f"{entity}_valid.parquet")
    report_path = staging.write_csv(result.issues, folder / f"{entity}_quarantine.csv")
    counts = result.counts
    log.info(
        "source %s, %s: %d rows, %d valid, %d quarantined, %d ignored, %d to delete, %d warnings; report %s",
        config.source_id,
        entity,
        counts["rows"],
        counts["valid"],
        counts["invalid"],
        counts["ignored"],
        counts["deleted"],
        counts["warnings"],
        report_path,
    )
    for issue in result.issues.head(20).itertuples():
        log.warning("  row %s (%s) %s: %s [value %r]", issue.row, issue.record, issue.field, issue.reason, issue.value)
    if len(result.issues) > 20:
        log.warning("  ... and %d more issues in %s", len(result.issues) - 20, report_path)
    check_threshold(result, config.source_id, config.validation.max_invalid_share)
    validated = {
        "entity": entity,
        "path": valid_path,
        "quarantine_report": report_path,
        "input_path": extracted["path"],
        "complete": extracted.get("complete", False),
        "read_started": extracted.get("read_started"),
        **({"linked_hashes": extracted["linked_hashes"]} if "linked_hashes" in extracted else {}),
        **({"primary_path": extracted["primary_path"]} if "primary_path" in extracted else {}),
        **counts,
    }
    if config.stock2shop is not None:
        # Counted here, so the approval task between validate and upload knows whether to ask a person.
        count = _count_deletes(config, entity, validated)
        log.info("source %s, %s: would delete %s", config.source_id, entity, deletes_summary(count))
        validated["deletes"] = count.as_dict()
    return validated


def _count_deletes(config: SourceConfig, entity: str, validated: dict[str, Any]) -> DeleteCount:
    """What the run would delete (see :mod:`stock2shop_sync.deletes`), against the stored fingerprints."""
    from stock2shop_sync.fingerprints import FingerprintStore

    assert config.stock2shop is not None
    previous = FingerprintStore().load(config.source_id, entity)
    return count_deletes(entity, validated, previous, config.stock2shop.source_id)


def upload(
    config: SourceConfig,
    entity: str,
    validated: dict[str, Any],
    hook: Stock2ShopHook,
    store: StateStore | None = None,
    *,
    dry_run: bool = False,
    full_sync: bool = False,
    fingerprints: FingerprintStore | None = None,
    deletes_approved: bool = False,
) -> dict[str, Any]:
    """Send Stock2Shop what changed: new and changed items (by fingerprint), and deletions of accepted items the
    source no longer returns (when the extract read the whole source). ``full_sync`` sends every item.

    Deletes past the cap (:func:`stock2shop_sync.deletes.over_cap`, counted by validate) are sent only when
    ``deletes_approved`` (the approval task's answer); otherwise it raises :class:`DeletesRefused` and sends nothing.

    Fingerprints are recorded for exactly the batches Stock2Shop accepted, also when a later batch fails, so a
    retried or killed upload sends only what is still missing. A dry run reports what it would send.
    """

    from stock2shop_sync.fingerprints import FingerprintStore, plan_upload
    from stock2shop_sync.model.payloads import payload_lines

    assert config.stock2shop is not None
    fingerprints = fingerprints or FingerprintStore()
    s2s_id = config.stock2shop.source_id
    current = payload_lines(entity, staging.read_polars(validated["path"]), s2s_id, canonical=True)
    present = None
    if validated.get("complete") and validated.get("input_path"):
        from stock2shop_sync.model.payloads import KEYS

        present = staging.read_polars(validated["input_path"], columns=[KEYS[entity]]).to_series()
    previous = fingerprints.load(config.source_id, entity)  # with the batches a killed upload saw accepted
    if entity == "products" and store is not None and config.orders.enabled:
        _record_recovered_skus(config, store, fingerprints.recovered(config.source_id, entity))
    plan = plan_upload(entity, current, previous, present_keys=present, stock2shop_source_id=s2s_id, full=full_sync)
    counts = plan.counts
    deletes = (
        DeleteCount.from_dict(validated["deletes"])
        if validated.get("deletes")
        else count_deletes(entity, validated, previous, s2s_id)
    )
    if over_cap(deletes, config.validation) and not dry_run and not deletes_approved:
        raise DeletesRefused(refusal(config.source_id, deletes, config.validation, "not approved"))
    summary = (
        f"{counts['items']} {entity}: {counts['new']} new, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged, {counts['gone']} no longer in the source"
        + (" (full sync: sending all)" if full_sync else "")
    )
    if dry_run:
        log.info("source %s: dry run: %s; would send %d; nothing sent", config.source_id, summary, counts["to_send"])
        return {"entity": entity, "uploaded": 0, "batches": 0, "would_upload": counts["to_send"], "dry_run": True,
                "deletes": deletes.as_dict(), **_plan_counts(counts)}  # fmt: skip
    log.info("source %s: %s; sending %d", config.source_id, summary, counts["to_send"])
    if not plan.send.height:
        _record_read(config, entity, validated)
        return {"entity": entity, "uploaded": 0, "batches": 0, "deletes": deletes.as_dict(), **_plan_counts(counts)}
    accepted: list[tuple[int, int]] = []

    def on_accepted(start: int, stop: int) -> None:
        accepted.append((start, stop))
        # At once and durably, so that a task killed mid-upload (no finally) does not send this batch again.
        fingerprints.record_progress(config.source_id, entity, plan.batch_table(start, stop))

    try:
        result = hook.queue_lines(
            entity,
            plan.send.get_column("line"),
            concurrency=config.stock2shop.upload_concurrency,
            on_accepted=on_accepted,
        )
    finally:
        # Whatever happened, remember what Stock2Shop accepted (and, for orders, which SKUs it now holds).
        fingerprints.save(config.source_id, entity, plan.accepted_fingerprints(sorted(accepted)))
        if entity == "products" and store is not None and config.orders.enabled and accepted:
            _record_synced_skus(config, store, plan.send, accepted)
    _record_read(config, entity, validated)
    log.info(
        "source %s: uploaded %d %s in %d batches (%d retried requests); Stock2Shop queued %d",
        config.source_id,
        result.items,
        entity,
        result.batches,
        result.retries,
        result.queued,
    )
    return {"entity": entity, "uploaded": result.items, "batches": result.batches, "queued": result.queued,
            "deletes": deletes.as_dict(), **_plan_counts(counts)}  # fmt: skip


def _record_read(config: SourceConfig, entity: str, validated: dict[str, Any]) -> None:
    """Everything this run sent was accepted: note what it read (see :mod:`stock2shop_sync.read_log`)."""
    from stock2shop_sync.read_log import ReadLog

    ReadLog().record(
        config.source_id,
        entity,
        read_started=validated.get("read_started"),
        complete=bool(validated.get("complete")),
        linked=validated.get("linked_hashes"),
    )


def _plan_counts(counts: dict[str, int]) -> dict[str, int]:
    return {k: counts[k] for k in ("new", "changed", "unchanged", "gone")}


def _record_recovered_skus(config: SourceConfig, store: StateStore, recovered: Any) -> None:
    """The SKUs of batches an interrupted upload saw accepted but could not record (they are not sent again)."""
    if recovered.height:
        keys, inactive = recovered.get_column("key"), recovered.get_column("inactive")
        store.record_synced(config.source_id, keys.filter(~inactive).to_list(), keys.filter(inactive).to_list())


def _record_synced_skus(config: SourceConfig, store: StateStore, sent: Any, accepted: list[tuple[int, int]]) -> None:
    """Orders are routed by the SKUs Stock2Shop holds for a source: add the active ones accepted, drop the rest."""
    import numpy as np
    import polars as pl

    flags = np.zeros(sent.height, dtype=bool)
    for start, stop in accepted:
        flags[start:stop] = True
    done = sent.filter(pl.Series(flags))
    # An unescaped quote only occurs in the JSON's structure, never inside a string value.
    inactive = done.get_column("line").str.contains('"product_active":"false"', literal=True)
    keys = done.get_column("key")
    store.record_synced(config.source_id, keys.filter(~inactive).to_list(), keys.filter(inactive).to_list())


def push_orders(
    config: SourceConfig,
    *,
    store: StateStore,
    dry_run: bool = False,
    inbox: Any = None,
    sink: Any = None,
) -> dict[str, Any]:
    """Raise the source's pending orders exactly once (see :mod:`stock2shop_sync.order_push`)."""
    from pathlib import Path

    from stock2shop_sync.config import load_all
    from stock2shop_sync.connectors import get_order_sink
    from stock2shop_sync.inbox import inbox_for
    from stock2shop_sync.order_push import ensure_takes_orders
    from stock2shop_sync.order_push import push_orders as run_push

    ensure_takes_orders(config)
    others, _ = load_all(Path(config.path).parent) if config.path else ([], [])
    by_s2s_id = {c.stock2shop.source_id: c for c in others if c.stock2shop is not None}
    for linked in (c for c in others if c.link is not None):
        primary = next((c for c in others if c.source_id == linked.link.primary), None)
        if primary is not None and primary.stock2shop is not None:
            by_s2s_id.setdefault(primary.stock2shop.source_id, primary)
    result = run_push(
        config,
        inbox=inbox or inbox_for(config),
        sink=sink or get_order_sink(config, resolve_mapping(config)),
        store=store,
        sources_by_s2s_id=by_s2s_id,
        dry_run=dry_run,
    )
    log.info("%s", result.summary())
    return {"entity": "orders", "dry_run": dry_run, **result.as_dict()}


def _default_plan(config: SourceConfig, steps: dict[str, Any]) -> dict[str, list[str]]:
    """Each entity's step task ids as the DAG names them, when the caller gives none (a run outside Airflow)."""
    plan = {
        entity: [
            task_id
            for task_id in (
                f"extract_{entity}",
                f"merge_{entity}",
                f"validate_{entity}",
                f"approve_deletes_{entity}",
                f"upload_{entity}",
            )
            if not task_id.startswith(("merge_", "approve_deletes_")) or task_id in steps
        ]
        for entity in config.entities
    }
    if config.orders.enabled:
        plan["orders"] = ["push_orders"]
    return plan


def _entity_status(task_ids: list[str], states: dict[str, str | None]) -> tuple[str, str | None]:
    """An entity's status from its steps' states (in the order they run) and the step that failed, if any.

    ``synced``: every step succeeded. ``failed``: a step failed (the first failed one is named; when none failed
    itself, the first that could not run because a step of another entity failed). ``skipped``: not selected in
    this run. ``incomplete``: a step has no final state (it did not run, or the states are unknown).
    """
    ordered = [(task_id, states.get(task_id)) for task_id in task_ids]
    for wanted in ("failed", "upstream_failed"):
        failed = next((task_id for task_id, state in ordered if state == wanted), None)
        if failed is not None:
            return "failed", failed
    if all(state == "success" for _, state in ordered):
        return "synced", None
    if any(state == "skipped" for _, state in ordered) and all(s in ("success", "skipped") for _, s in ordered):
        return "skipped", None
    return "incomplete", None


def report(
    config: SourceConfig,
    run_id: str,
    steps: dict[str, dict[str, Any] | None],
    states: dict[str, str | None] | None = None,
    plan: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Write the run report: each step's state, a status per entity, the counts of the steps that ran and where
    the quarantine reports are. It is written for failed runs too (``latest_run_report.json`` is always the
    last run's).

    Args:
        config: the source.
        run_id: the Airflow run.
        steps: each step's output (its XCom) by task id; ``None`` or absent for a step that returned nothing.
        states: each step's task state (``success``, ``failed``, ``upstream_failed``, ``skipped``...); by default
            ``success`` for the steps that have an output.
        plan: each entity's step task ids in the order they run, ``"orders"`` the orders push; by default the DAG's
            names (``extract_<entity>``, ``merge_<entity>``, ``validate_<entity>``, ``approve_deletes_<entity>``,
            ``upload_<entity>``).

    Returns:
        The report: ``source_id``, ``run_id``, ``state`` (``success`` or ``failed``), ``failed_steps`` (the steps
        that failed), ``steps`` (task id -> state), ``entities`` (per entity: ``status``, ``failed_step``,
        ``steps`` and the counts), ``orders`` (the push's result with its ``status``, for sources that take
        orders) and ``report`` (where it was written).
    """
    plan = plan or _default_plan(config, steps)
    if states is None:
        states = {task_id: "success" for task_ids in plan.values() for task_id in task_ids if steps.get(task_id)}
    step_states = {task_id: states.get(task_id) for task_ids in plan.values() for task_id in task_ids}
    failed_steps = [task_id for task_id, state in step_states.items() if state == "failed"]
    not_run = [task_id for task_id, state in step_states.items() if state == "upstream_failed"]
    summary: dict[str, Any] = {
        "source_id": config.source_id,
        "run_id": run_id,
        "state": "failed" if failed_steps or not_run else "success",
        "failed_steps": failed_steps,
        "steps": step_states,
        "entities": {},
    }
    for entity in config.entities:
        extracted, validated, uploaded = (
            steps.get(f"{step}_{entity}") or {} for step in ("extract", "validate", "upload")
        )
        merged = steps.get(f"merge_{entity}") or {}
        approval = steps.get(f"approve_deletes_{entity}") or {}
        task_ids = plan.get(entity, [])
        status, failed_step = _entity_status(task_ids, step_states)
        summary["entities"][entity] = {
            "status": status,
            "failed_step": failed_step,
            "steps": {task_id: step_states.get(task_id) for task_id in task_ids},
            "extracted": extracted.get("rows", 0),
            "valid": validated.get("valid", 0),
            "quarantined": validated.get("invalid", 0),
            "ignored": validated.get("ignored", 0),
            "deleted": validated.get("deleted", 0),
            # What the run would delete in Stock2Shop, by cause, and who approved it when past the cap.
            **({"deletes": validated["deletes"]} if validated.get("deletes") else {}),
            **({"deletes_approved_by": approval["approved_by"]} if approval.get("approved_by") else {}),
            "warnings": validated.get("warnings", 0),
            "uploaded": uploaded.get("uploaded", 0),
            **({"would_upload": uploaded["would_upload"]} if uploaded.get("dry_run") else {}),
            "window": [extracted.get("since"), extracted.get("until")],
            "batches": uploaded.get("batches", 0),
            "quarantine_report": validated.get("quarantine_report"),
            **({"linked": merged["linked"]} if merged.get("linked") else {}),
        }
    if "orders" in plan:
        status, failed_step = _entity_status(plan["orders"], step_states)
        summary["orders"] = {"status": status, "failed_step": failed_step, **(steps.get("push_orders") or {})}
    folder = staging.run_folder(config.source_id, run_id)
    summary["report"] = staging.write_json(summary, folder / "run_report.json")
    staging.write_json(summary, staging.staging_root() / config.source_id / "latest_run_report.json")
    for entity, counts in summary["entities"].items():
        log.info(
            "source %s %s: %s%s; extracted %d, valid %d, quarantined %d, ignored %d, uploaded %d",
            config.source_id,
            entity,
            counts["status"],
            f" at {counts['failed_step']}" if counts["failed_step"] else "",
            counts["extracted"],
            counts["valid"],
            counts["quarantined"],
            counts["ignored"],
            counts["uploaded"],
        )
    if "orders" in summary:
        orders = summary["orders"]
        at = f" at {orders['failed_step']}" if orders["failed_step"] else ""
        log.info("source %s orders: %s%s", config.source_id, orders["status"], at)
    log.info(
        "source %s run %s: %s; step states: %s",
        config.source_id,
        run_id,
        summary["state"],
        ", ".join(f"{task_id} {state}" for task_id, state in step_states.items()),
    )
    return summary
