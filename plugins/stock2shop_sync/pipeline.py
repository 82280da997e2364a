"""The steps of a source's sync as plain functions: extract, validate, upload, report.

Operators are thin wrappers around these; tests call them directly. Each step reads its input from the
staging area and returns a small dict (paths and counts) for XCom.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from stock2shop_sync import staging
from stock2shop_sync.config import SourceConfig, resolve_mapping
from stock2shop_sync.connectors import get_connector
from stock2shop_sync.model.payloads import BUILDERS
from stock2shop_sync.model.validation import VALIDATORS, check_threshold

if TYPE_CHECKING:
    from stock2shop_sync.hooks.stock2shop import Stock2ShopHook

log = logging.getLogger(__name__)


def extract(config: SourceConfig, entity: str, run_id: str, since: datetime | None = None) -> dict[str, Any]:
    """Read ``entity`` from the source (changed since ``since`` where the source can filter) and stage it."""
    connector = get_connector(config, resolve_mapping(config))
    frame = connector.extract(entity, since=since)
    path = staging.write_frame(frame, staging.run_folder(config.source_id, run_id) / f"{entity}_extracted.parquet")
    log.info(
        "source %s: extracted %d %s rows%s -> %s",
        config.source_id,
        len(frame),
        entity,
        f" changed since {since.isoformat()}" if since else "",
        path,
    )
    return {"entity": entity, "path": path, "rows": len(frame), "since": since.isoformat() if since else None}


def window_start(config: SourceConfig, data_interval_start: datetime | None) -> datetime | None:
    """Where an incremental extract starts: the run's data interval start less the configured overlap.
    A run without a data interval (a manual run with no logical date) reads everything."""
    if data_interval_start is None:
        return None
    return data_interval_start - timedelta(minutes=config.api.overlap_minutes)


def merge(
    config: SourceConfig, extracted: dict[str, Any], linked: list[tuple[SourceConfig, dict[str, Any]]], run_id: str
) -> dict[str, Any]:
    """Merge each linked source's owned fields onto the primary's extracted products; report unmatched rows."""
    from stock2shop_sync.model.merge import merge_linked

    frame = staging.read_frame(extracted["path"])
    reports = {}
    for linked_config, linked_extract in linked:
        assert linked_config.link is not None
        linked_frame = staging.read_frame(linked_extract["path"])
        frame, report = merge_linked(frame, linked_config.source_id, linked_config.link, linked_frame)
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
    path = staging.write_frame(frame, folder / "products_merged.parquet")
    return {"entity": "products", "path": path, "rows": len(frame), "linked": reports}


def validate(config: SourceConfig, entity: str, extracted: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Validate the staged frame: stage the valid rows and a quarantine report; fail past the threshold."""
    frame = staging.read_frame(extracted["path"])
    result = VALIDATORS[entity](frame, config.source_id)
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
    return {"entity": entity, "path": valid_path, "quarantine_report": report_path, **counts}


def upload(config: SourceConfig, entity: str, validated: dict[str, Any], hook: Stock2ShopHook) -> dict[str, Any]:
    """Send the valid rows to Stock2Shop in batches."""
    frame = staging.read_frame(validated["path"])
    items = BUILDERS[entity](frame, config.stock2shop.source_id)
    if not items:
        log.info("source %s: no %s to upload", config.source_id, entity)
        return {"entity": entity, "uploaded": 0, "batches": 0}
    result = hook.queue(entity, items)
    log.info(
        "source %s: uploaded %d %s in %d batches (%d retried requests); Stock2Shop queued %d",
        config.source_id,
        result.items,
        entity,
        result.batches,
        result.retries,
        result.queued,
    )
    return {"entity": entity, "uploaded": result.items, "batches": result.batches, "queued": result.queued}


def report(config: SourceConfig, run_id: str, steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Write the run report (counts per entity and where the quarantine reports are)."""
    summary: dict[str, Any] = {"source_id": config.source_id, "run_id": run_id, "entities": {}}
    for entity in config.entities:
        extracted, validated, uploaded = (
            steps.get(f"{step}_{entity}") or {} for step in ("extract", "validate", "upload")
        )
        merged = steps.get(f"merge_{entity}") or {}
        summary["entities"][entity] = {
            "extracted": extracted.get("rows", 0),
            "valid": validated.get("valid", 0),
            "quarantined": validated.get("invalid", 0),
            "ignored": validated.get("ignored", 0),
            "deleted": validated.get("deleted", 0),
            "warnings": validated.get("warnings", 0),
            "uploaded": uploaded.get("uploaded", 0),
            "batches": uploaded.get("batches", 0),
            "quarantine_report": validated.get("quarantine_report"),
            **({"linked": merged["linked"]} if merged.get("linked") else {}),
        }
    folder = staging.run_folder(config.source_id, run_id)
    summary["report"] = staging.write_json(summary, folder / "run_report.json")
    staging.write_json(summary, staging.staging_root() / config.source_id / "latest_run_report.json")
    for entity, counts in summary["entities"].items():
        log.info(
            "source %s %s: extracted %d, valid %d, quarantined %d, ignored %d, uploaded %d",
            config.source_id,
            entity,
            counts["extracted"],
            counts["valid"],
            counts["quarantined"],
            counts["ignored"],
            counts["uploaded"],
        )
    return summary
