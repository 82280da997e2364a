"""Command-line tools for integrators: ``python -m stock2shop_sync.cli check-config | check-mapping | demo-summary |
retry-order | order-ddl``."""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stock2shop_sync.config import load_all, sources_dir


def check_config(directory: str | None) -> int:
    """Validate every source config (and its mapping); print one line per file. Exit 1 on any error."""
    folder = Path(directory) if directory else sources_dir()
    configs, errors = load_all(folder)
    for config in configs:
        if config.link is not None:
            print(
                f"OK     {'(linked: ' + config.link.primary + ')':<32} {config.path}  ({config.type}; owns "
                f"{', '.join(config.link.owns)} of {config.link.primary}'s products)"
            )
            continue
        assert config.stock2shop is not None
        print(
            f"OK     {config.dag_id:<32} {config.path}  ({config.type}, mapping {config.mapping_name} -> "
            f"Stock2Shop source {config.stock2shop.source_id}; {', '.join(config.entities)}; "
            f"schedule {config.schedule or 'manual only'})"
        )
    for error in errors:
        print(f"ERROR  {error}")
    print(f"{len(configs)} valid source config(s), {len(errors)} with errors in {folder}")
    _print_shadowed_connections(configs)
    ledger_ok = _print_state_store(takes_orders=any(c.orders.enabled for c in configs))
    return 1 if errors or not configs or not ledger_ok else 0


def _print_shadowed_connections(configs: list[Any]) -> None:
    """Warn about each connection the sources use that is both in the metadata database (made or edited on the UI's
    Connections page) and in an ``AIRFLOW_CONN_<ID>`` environment variable: Airflow reads the environment first,
    so the UI's copy is silently ignored. Nothing is printed when the database cannot be read."""
    from stock2shop_sync.factory import env_connections

    from_env: dict[str, str] = {}
    for config in configs:
        from_env.update(env_connections(config))
    in_db = _connections_in_metadata_db(sorted(from_env)) if from_env else set()
    for conn_id in sorted(in_db):
        print(
            f"WARNING connection {conn_id!r} is defined both in the metadata database (UI) and by "
            f"{from_env[conn_id]}; the environment variable wins"
        )


def _connections_in_metadata_db(conn_ids: list[str]) -> set[str]:
    """Which of ``conn_ids`` the Airflow metadata database's connection table holds; empty when there is no
    database yet, it is not migrated or it does not answer (this check is a courtesy and must not fail the command).
    A SQLite database file that does not exist is not created."""
    try:
        from airflow import settings
        from airflow.models.connection import Connection
        from sqlalchemy import select

        engine = settings.engine
        if engine is None:
            return set()
        url = engine.url
        if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
            return set()
        from airflow.utils.session import create_session

        with create_session() as session:
            return set(session.scalars(select(Connection.conn_id).where(Connection.conn_id.in_(conn_ids))))
    except Exception:  # noqa: BLE001 - a missing, unmigrated or unreachable database only skips the check
        return set()


def _print_state_store(*, takes_orders: bool) -> bool:
    """Say where the order ledger lives and whether it answers; False when a source takes orders and it does not."""
    from stock2shop_sync.state import StateStore, StateStoreError

    try:
        store = StateStore()
    except StateStoreError as exc:
        print(f"{'ERROR' if takes_orders else 'WARN '}  order ledger: {exc}")
        return not takes_orders
    print(f"order ledger and synced SKUs: {store.describe()}")
    return True


def _needed_columns(section: Any) -> list[tuple[str, str, dict[str, str]]]:
    """(label, query, {what: column}) for the main query and each auxiliary query of a mapping section."""
    parts = [("main", section.query, {**section.fields, **({"key": section.key} if section.key else {})})]
    if section.price_lists is not None:
        spec = section.price_lists
        needed = {"key": spec.key, **({"name": spec.name, "value": spec.value} if not spec.columns else {})}
        needed.update({f"list {name}": column for name, column in spec.columns.items()})
        parts.append(("price_lists", spec.query, needed))
    if section.warehouses is not None:
        spec = section.warehouses
        needed = {"key": spec.key, "name": spec.name, "on_hand": spec.on_hand}
        needed.update({k: v for k, v in (("on_sales_order", spec.on_sales_order), ("reserved", spec.reserved)) if v})
        parts.append(("warehouses", spec.query, needed))
    return parts


def _driver_message(exc: Exception) -> str:
    text = str(exc.args[1] if len(exc.args) > 1 else exc)
    return re.sub(r"\s*\(SQLExecDirectW\)|\s*\(\d+\)\s*", " ", text).strip() or type(exc).__name__


#: ERROR lines, and WARN lines, printed per entity (each in full); the rest are counted.
SHOWN_ISSUES = 20


@dataclass
class _Tally:
    """What a mapping check found: problems with the mapping itself (a query that fails, a column it does not
    return, a linked source that cannot be read), rows the run would quarantine, other errors, and warnings."""

    mapping: int = 0
    quarantined: int = 0
    errors: int = 0
    warnings: int = 0
    #: Whether an entity was checked on a sample (the source had more rows than were read).
    sampled: bool = False

    @property
    def failed(self) -> bool:
        """Whether the check fails: the mapping is broken, the run would fail, or it would quarantine a row (each
        one an ERROR line). A new site's mapping is not done while a row it reads would not reach Stock2Shop, even
        where the run would leave the row out and go on."""
        return bool(self.mapping or self.errors or self.quarantined)


def check_mapping(source_id: str, limit: int | None) -> int:
    """Connect to the source, run its mapping on a few rows (``limit`` None: every row) as a run would, and report
    what does not fit. Exit 1 when the mapping is broken, the run would fail, or any row read would be quarantined
    (each such row is an ERROR line with its reason); 0 when every row read would be sent (warnings allowed).

    Each entity is read by a connector of its own, as each extract task of a run reads it; products are merged
    with the source's linked sources and every entity is staged and validated by the run's own rules
    (:data:`~stock2shop_sync.model.validation.VALIDATORS`, as :func:`~stock2shop_sync.pipeline.validate` does). An
    issue the run quarantines a row for is an ERROR, one it only warns about a WARN.
    """
    from stock2shop_sync.config import linked_sources, resolve_mapping

    configs, errors = load_all()
    config = next((c for c in configs if c.source_id == source_id), None)
    if config is None:
        broken = [e for e in errors if e.source_id == source_id or Path(e.file).stem == source_id]
        print(f"ERROR  {broken[0]}" if broken else f"ERROR  no source {source_id!r} in {sources_dir()}")
        return 1
    if config.link is not None:
        print(
            f"NOTE   {source_id!r} is a linked source: the run reads it with {config.link.primary!r} and merges it "
            f"into that source's products, so it is checked there"
        )
        return check_mapping(config.link.primary, limit)
    mapping = resolve_mapping(config)
    linked = linked_sources(configs, config)
    broken_links = [e for e in errors if e.holds_back(source_id)]
    print(
        f"Checking source {source_id!r} ({config.type}, mapping {mapping.name}) on "
        + (f"{limit} rows per query" if limit else "every row")
        + (f", with linked source(s) {', '.join(c.source_id for c in linked)}" if linked else "")
    )
    tally = _Tally()
    for entity in config.entities:
        print(f"\n== {entity}")
        products = entity == "products"
        _check_entity(
            config, mapping, entity, limit, tally, linked if products else [], broken_links if products else []
        )
    if not tally.failed:
        warned = f"; {tally.warnings} warning(s) (the run sends those rows and only reports them)"
        print(f"\nOK: source {source_id!r}: the mapping works" + (warned if tally.warnings else ""))
        return 0
    parts = [
        f"{count} {what}"
        for count, what in (
            (tally.mapping, "mapping problem(s)"),
            (tally.quarantined, f"{'sample ' if tally.sampled else ''}row(s) the run would quarantine"),
            (tally.errors, "other error(s)"),
            (tally.warnings, "warning(s)"),
        )
        if count
    ]
    print(f"\nFAILED: source {source_id!r}: {', '.join(parts)}")
    if tally.quarantined:
        others = " (besides the other problems)" if tally.mapping or tally.errors else ""
        print(
            f"exit 1 because {tally.quarantined} {'sample ' if tally.sampled else ''}row(s) would be quarantined"
            f"{others}: each ERROR line above gives a row's reason; fix the data or the mapping until every row "
            "would be sent"
        )
    return 1


def _check_entity(
    config: Any,
    mapping: Any,
    entity: str,
    limit: int | None,
    tally: _Tally,
    linked: list[Any],
    broken_links: list[Any],
) -> None:
    """Check one entity: its queries' columns, then its rows as the run extracts, merges and validates them."""
    import tempfile

    from stock2shop_sync import staging
    from stock2shop_sync.connectors import get_connector
    from stock2shop_sync.connectors.base import SourceConnector
    from stock2shop_sync.model.payloads import BUILDERS
    from stock2shop_sync.model.validation import VALIDATORS, ValidationFailed, check_threshold

    # A connector of its own for each entity, as each extract task of a run has: one connector's pivoted price
    # and warehouse columns must not be looked for in another entity's rows.
    connector = get_connector(config, mapping)
    section = mapping.entity(entity)
    # A SQL source's queries are run first, on their own, to name the column or setting a failing one lacks;
    # other connectors (files, APIs) are only read as the run reads them.
    runs_queries = type(connector).read_query is not SourceConnector.read_query
    if section.query and runs_queries and not _check_queries(connector, mapping, entity, section, limit, tally):
        return
    try:
        frame = connector.extract(entity, limit=limit)
    except Exception as exc:  # noqa: BLE001 - every driver and mapping error is reported, not raised
        print(f"ERROR  {entity}: {_driver_message(exc)}")
        tally.mapping += 1
        return
    # Fewer rows than asked for: the source has no more, and every rule saw all of them.
    partial = limit is not None and len(frame) >= limit
    tally.sampled |= partial
    with tempfile.TemporaryDirectory(prefix="s2s-check-mapping-") as folder:
        # Staged and read back as the run's tasks hand frames on, so the validation sees the same types.
        path = staging.write_frame(frame, _local(folder, f"{entity}_extracted.parquet"))
        if linked or broken_links:
            path = _merge_linked(path, folder, linked, broken_links, partial, tally)
        frame = staging.read_frame(path)
    result = VALIDATORS[entity](frame, config.source_id, mapping.settings)
    counts = result.counts
    print(
        f"       {'sample' if partial else 'every row'}: {counts['rows']} rows, {counts['valid']} valid, "
        f"{counts['invalid']} quarantined, {counts['ignored']} ignored, {counts['warnings']} warning(s)"
    )
    _print_issues(entity, result.issues)
    errors = int((result.issues["severity"] == "error").sum())
    tally.quarantined += counts["invalid"]
    tally.warnings += len(result.issues) - errors
    if errors and not counts["invalid"]:
        tally.errors += 1  # only on rows the run ignores (not quarantined, not sent): still the run's errors
    try:
        check_threshold(result, config.source_id, config.validation.max_invalid_share)
    except ValidationFailed as exc:
        if partial:
            print(
                f"NOTE   {entity}: {result.invalid_share:.0%} of the sample is quarantined, more than "
                f"validation.max_invalid_share ({config.validation.max_invalid_share:.0%}):\n"
                f"       a run that finds that share in the whole source uploads no {entity}"
            )
        else:
            print(f"ERROR  {exc}")
            tally.errors += 1
    if partial and entity == "products":
        print(
            f"NOTE   products: a sample of {len(frame)} rows. The run compares all the variants of a product (title, "
            "or the title\n"
            "       settings.title_rule makes of them; option names and values) and SKUs across every row, so a "
            "variant\n"
            "       outside the sample can still get a product quarantined or retitled. --limit 0 (make check-mapping "
            "LIMIT=0)\n"
            "       checks every row."
        )
    items = BUILDERS[entity](result.valid, config.stock2shop.source_id)
    if items:
        print(f"       first Stock2Shop {entity[:-1]} payload:")
        print("\n".join("       " + line for line in json.dumps(items[0], indent=2, ensure_ascii=False).splitlines()))


def _print_issues(entity: str, issues: Any) -> None:
    """The quarantine report's lines, each in full: the first :data:`SHOWN_ISSUES` ERROR lines (rows the run would
    quarantine), then the first :data:`SHOWN_ISSUES` WARN lines, each kind followed by how many more there are."""
    for severity, label in (("error", "ERROR"), ("warning", "WARN ")):
        lines = issues[issues["severity"] == severity] if severity == "error" else issues[issues["severity"] != "error"]
        for issue in lines.head(SHOWN_ISSUES).itertuples():
            record = "-" if _missing(issue.record) else issue.record
            value = "blank" if _missing(issue.value) else repr(issue.value)
            print(f"{label}  {entity} row {issue.row} {record}: {issue.field}: {issue.reason} (value: {value})")
        if len(lines) > SHOWN_ISSUES:
            what = "ERROR line(s)" if severity == "error" else "warning(s)"
            print(f"       ... and {len(lines) - SHOWN_ISSUES} more {what}")


def _check_queries(connector: Any, mapping: Any, entity: str, section: Any, limit: int | None, tally: _Tally) -> bool:
    """Run each of the section's queries on ``limit`` rows; report failures and mapped columns they lack."""
    entity_ok = True
    for label, query, needed in _needed_columns(section):
        query_ok = True
        try:
            raw = connector.read_query(query, limit=limit)
        except Exception as exc:  # noqa: BLE001 - every driver error is reported, not raised
            message = _driver_message(exc)
            print(f"ERROR  {entity} {label} query failed: {message}")
            hints = [
                f"settings.{k} = {v}"
                for k, v in mapping.settings.columns.items()
                if v != "NULL" and v.split(".")[-1].lower() in message.lower()
            ]
            if hints:
                print(f"       the column comes from {', '.join(hints)}: does this site have it?")
            tally.mapping += 1
            entity_ok = False
            continue
        returned = {str(c).lower(): str(c) for c in raw.columns}
        for what, column in needed.items():
            if column.lower() not in returned:
                close = difflib.get_close_matches(column.lower(), list(returned), n=1)
                hint = f"; did you mean {returned[close[0]]!r}?" if close else ""
                print(
                    f"ERROR  {entity} {label} query: no column {column!r} for {what}{hint} "
                    f"It returned {sorted(returned.values())}"
                )
                tally.mapping += 1
                entity_ok = query_ok = False
        if query_ok:
            rows = f"{len(raw)} {'sample ' if limit else ''}rows"
            print(f"OK     {entity} {label} query: {rows}, {len(raw.columns)} columns")
    return entity_ok


def _merge_linked(
    path: str, folder: str, linked: list[Any], broken_links: list[Any], partial: bool, tally: _Tally
) -> str:
    """The staged products with each linked source's fields merged on, as the run's merge step does; the path of
    the merged frame. A linked source is read in full (the sampled products may be anywhere in it)."""
    from stock2shop_sync import staging
    from stock2shop_sync.config import resolve_mapping
    from stock2shop_sync.connectors import get_connector
    from stock2shop_sync.model.merge import merge_linked

    for error in broken_links:
        print(f"ERROR  products: linked source config {error}: the run holds the products back until it is fixed")
        tally.mapping += 1
    merged = staging.read_polars(path)
    for other in linked:
        try:
            rows = get_connector(other, resolve_mapping(other)).extract("products")
        except Exception as exc:  # noqa: BLE001
            print(f"ERROR  products: linked source {other.source_id!r} could not be read: {_driver_message(exc)}")
            tally.mapping += 1
            continue
        rows_path = staging.write_frame(rows, _local(folder, f"linked_{other.source_id}.parquet"))
        # On a sample, the linked rows of the products not sampled would look unmatched.
        merged, report = merge_linked(
            merged, other.source_id, other.link, staging.read_polars(rows_path), report_unmatched=not partial
        )
        sampled = report.products_enriched + report.products_not_enriched
        print(
            f"OK     products linked source {other.source_id!r}: {', '.join(report.fields) or 'no fields'} for "
            f"{report.products_enriched} of the {sampled} products read"
        )
        warnings = [f"{problem}" for problem in report.unreadable]
        if report.missing_fields:
            warnings.append(f"it owns {', '.join(report.missing_fields)} but has no such column")
        if report.unmatched_codes:
            warnings.append(
                f"{len(report.unmatched_codes)} row(s) match no product and are not created: "
                + ", ".join(report.unmatched_codes[:10])
            )
        for warning in warnings:
            print(f"WARN   products linked source {other.source_id!r}: {warning}")
        tally.warnings += len(warnings)
    return staging.write_polars(merged, _local(folder, "products_merged.parquet"))


def _local(folder: str, name: str) -> Any:
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{Path(folder) / name}")


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


#: Warning lines the demo summary shows one by one; past that they are counted by field and kind.
SHOWN_WARNINGS = 10


def _print_quarantine(entity: str, report: str, rows: list[dict[str, str]]) -> None:
    """Every quarantined row with its reason; warnings one by one when few, else counted by field and kind (a
    real catalogue's fractional stock gives hundreds), with an example of each. The report has them all."""
    import re
    from collections import Counter

    def line(row: dict[str, str]) -> str:
        return (
            f"  row {row['row']:>5} {row['record'] or '-':<16} {row['field']:<20} {row['severity']:<7} {row['reason']}"
        )

    errors = [r for r in rows if r["severity"] == "error"]
    warnings = [r for r in rows if r["severity"] != "error"]
    print(f"\nQuarantined / warned {entity} ({report}):")
    for row in errors:
        print(line(row))
    if len(warnings) <= SHOWN_WARNINGS:
        for row in warnings:
            print(line(row))
        return
    # The kind of a warning is its reason without the values in it ("qty_JHB 2.5 is not a whole number; ...").
    keyed = [((r["field"], re.sub(r"-?\d[\d.,]*", "#", r["reason"])), r) for r in warnings]
    kinds = Counter(key for key, _ in keyed)
    examples: dict[tuple[str, str], dict[str, str]] = {}
    for key, row in keyed:
        examples.setdefault(key, row)
    print(f"  {len(warnings)} warnings (the rows were sent), by kind:")
    for key, count in kinds.most_common():
        example = examples[key]
        print(f"  {count:>5} x {key[0]:<20} e.g. row {example['row']} {example['record'] or '-'}: {example['reason']}")


def demo_summary(source_id: str, sandbox_url: str) -> int:
    """Print what the last run of ``source_id`` did and what the sandbox now holds."""
    from stock2shop_sync.config import load_all as _load
    from stock2shop_sync.staging import staging_root

    report_path = staging_root() / source_id / "latest_run_report.json"
    if not report_path.exists():
        print(f"no run report for {source_id} at {report_path}: did the DAG run?")
        return 1
    report = json.loads(report_path.read_text())
    configs, _ = _load()
    s2s_source = next((c.stock2shop.source_id for c in configs if c.source_id == source_id), None)
    print(f"\nStock2Shop sync of source '{source_id}' (run {report['run_id']}{_run_state(report)})")
    print(
        f"{'entity':<10} {'extracted':>9} {'valid':>6} {'quarantined':>11} "
        f"{'ignored':>7} {'deleted':>7} {'uploaded':>8}  status"
    )
    for entity, c in report["entities"].items():
        print(
            f"{entity:<10} {c['extracted']:>9} {c['valid']:>6} {c['quarantined']:>11} {c['ignored']:>7} "
            f"{c['deleted']:>7} {c['uploaded']:>8}  {_status(c)}"
        )
    for c in report["entities"].values():
        for linked_id, link in (c.get("linked") or {}).items():
            print(
                f"\nLinked source {linked_id}: {', '.join(link['fields']) or 'no fields'} for "
                f"{link['products_enriched']} products ({link['products_not_enriched']} not in it); "
                f"{link['unmatched']} row(s) match no product and were not created"
                + (f": {', '.join(link['unmatched_codes'][:10])}" if link["unmatched_codes"] else "")
            )
            for problem in link["unreadable"][:10]:
                print(f"  {problem}")
    for entity, c in report["entities"].items():
        if not c.get("quarantine_report"):
            continue
        import csv
        import io

        from airflow.sdk import ObjectStoragePath

        rows = list(csv.DictReader(io.StringIO(ObjectStoragePath(c["quarantine_report"]).read_text())))
        if rows:
            _print_quarantine(entity, c["quarantine_report"], rows)
    try:
        with urllib.request.urlopen(f"{sandbox_url}/sandbox/stats", timeout=5) as response:  # noqa: S310 - loopback
            stats = json.load(response)
        query = f"?source_id={s2s_source}" if s2s_source else ""
        with urllib.request.urlopen(f"{sandbox_url}/sandbox/products{query}", timeout=5) as response:  # noqa: S310
            products = json.load(response)
        with urllib.request.urlopen(f"{sandbox_url}/sandbox/customers{query}", timeout=5) as response:  # noqa: S310
            customers = json.load(response)
    except OSError as exc:
        print(f"\nthe sandbox at {sandbox_url} did not answer: {exc}")
        return 1
    print(
        f"\nThe sandbox holds {len(products)} variants and {len(customers)} customers for Stock2Shop source "
        f"{s2s_source} (sandbox totals so far: {stats['accepted_batches']} accepted batches, {stats['logins']} logins, "
        f"{stats['rate_limited']} requests rate-limited)."
    )
    print(f"See them at {sandbox_url}/  (JSON: {sandbox_url}/sandbox/products, {sandbox_url}/sandbox/customers)")
    orders = report.get("orders") or {}
    if orders.get("counts") is not None:
        _print_orders(orders, source_id)
    elif orders:
        print(f"\nOrders: {_status(orders)}")
    return 0


def _run_state(report: dict[str, Any]) -> str:
    """``, failed: steps ...`` for a run report of a failed run; empty for a successful one (or an older report)."""
    if report.get("state") != "failed":
        return ""
    return f", failed: {', '.join(report.get('failed_steps') or []) or 'see the step states'}"


def _status(part: dict[str, Any]) -> str:
    """An entity's (or the orders') status in a run report: ``synced``, ``skipped``, ``failed at <step>``."""
    status = part.get("status", "")
    return f"{status} at {part['failed_step']}" if part.get("failed_step") else status


def _print_orders(orders: dict[str, Any], source_id: str) -> None:
    from stock2shop_sync.state import StateStore

    counts = orders["counts"]
    print(
        "\nOrders: "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + (" (dry run: nothing written)" if orders.get("dry_run") else "")
    )
    for problem in orders["problems"]:
        print(f"  {problem['order']}: {problem['outcome']} (attempt {problem['attempts']}): {problem['error']}")
    # The order ledger knows every order raised for this source, whichever inbox it came from.
    for entry in StateStore().entries(source_id, statuses=["acknowledged"]):
        print(f"  Stock2Shop order {entry.order_id} -> ERP document {entry.document_number}")


def ensure_pools(directory: str | None) -> int:
    """Create the one-slot Airflow pools the sources' tasks run in, where missing: each order-taking source's
    pushes, each Stock2Shop API user's uploads, each Sage Accounting company's reads (see ``SourceConfig.pools``).

    Run after ``airflow db migrate``: a task whose pool does not exist is never scheduled. An existing pool is
    left as it is (its slots may have been changed in the UI).
    """
    from airflow.models.pool import Pool

    configs, _ = load_all(Path(directory) if directory else sources_dir())
    wanted: dict[str, str] = {}
    for config in configs:
        for name, purpose in config.pools().items():
            wanted.setdefault(name, purpose)
    for name, purpose in sorted(wanted.items()):
        if Pool.get_pool(name) is None:
            Pool.create_or_update_pool(name, 1, purpose, include_deferred=False)
            print(f"created pool {name} (1 slot): {purpose}")
        else:
            print(f"pool {name} exists: {purpose}")
    return 0


def retry_order(source_id: str, order_id: str) -> int:
    """Bring a given-up order back: the next run raises it once (from the copy the ledger kept, since Stock2Shop
    no longer lists it as pending) and acknowledges it. A failing order is tried at once, without its pause."""
    from stock2shop_sync.state import StateStore

    store = StateStore()
    entry = store.entry(source_id, order_id)
    if entry is None:
        print(f"the ledger has no order {order_id} for source {source_id}")
        return 1
    if entry.status in ("acknowledged", "raised"):
        print(f"order {order_id} of {source_id} is already {entry.status} as ERP document {entry.document_number}")
        return 1
    if entry.status == "gave_up" and not entry.order_json:
        print(
            f"order {order_id} of {source_id} was given up by an older release, which kept no copy of it; "
            "re-send it to the source from Stock2Shop's console"
        )
        return 1
    store.retry(source_id, order_id)
    print(
        f"order {order_id} of {source_id} ({entry.status}, {entry.data_failures} refusals, last error: "
        f"{entry.last_error}) will be raised on the next run"
    )
    return 0


def order_ddl(source_id: str, dialect: str) -> int:
    """Print the DDL of a source's order tables (its preset's ``orders.ddl``) for a database dialect."""
    from stock2shop_sync.config import PROJECT_ROOT, ConfigError, load_source, resolve_mapping
    from stock2shop_sync.connectors.sql import order_ddl as render

    matches = [c for c in load_all()[0] if c.source_id == source_id]
    try:
        config = matches[0] if matches else load_source(sources_dir() / f"{source_id}.yaml")
    except (ConfigError, FileNotFoundError) as exc:
        print(f"no valid source {source_id!r}: {exc}")
        return 1
    mapping = resolve_mapping(config)
    if mapping.orders is None or not mapping.orders.ddl:
        sink = mapping.orders.sink if mapping.orders else "nothing"
        print(f"mapping {mapping.name!r} ships no order tables (its orders go through {sink})")
        return 1
    for statement in render((PROJECT_ROOT / mapping.orders.ddl).read_text(encoding="utf-8"), dialect):
        print(statement + ";\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stock2shop_sync", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-config", help="validate every source config and mapping")
    check.add_argument("--dir", help="folder of source configs (default: S2S_SOURCES_DIR or include/sources)")
    mapping = sub.add_parser("check-mapping", help="run a source's mapping on a few rows and report problems")
    mapping.add_argument("source", help="the source_id of a config in include/sources")
    mapping.add_argument("--limit", type=int, default=5, help="rows per query (default 5; 0: every row, as a run)")
    summary = sub.add_parser("demo-summary", help="summarise the last run of a source and the sandbox")
    summary.add_argument("--source", default="demo_custom_db")
    summary.add_argument("--sandbox", default="http://127.0.0.1:8765")
    pools = sub.add_parser("ensure-pools", help="create the Airflow pool of each source's order pushes")
    pools.add_argument("--dir", help="folder of source configs (default: S2S_SOURCES_DIR or include/sources)")
    retry = sub.add_parser("retry-order", help="let a given-up order be tried again on the next run")
    retry.add_argument("source")
    retry.add_argument("order")
    ddl = sub.add_parser("order-ddl", help="print the DDL of a source's order tables")
    ddl.add_argument("source")
    ddl.add_argument(
        "--dialect", default="sqlserver", choices=["sqlserver", "postgresql", "mysql", "sqlite", "pervasive"]
    )
    sub.add_parser("sandbox-sources", help="the local sandbox's sources: those configured (JSON)")
    order = sub.add_parser("sandbox-order", help="put a test web order for a source into the local sandbox")
    order.add_argument("source")
    order.add_argument("--sku", required=True, help="SKU[,SKU...] or SKU:qty[,SKU:qty...] the source has synced")
    order.add_argument("--qty", type=float, default=1, help="quantity of each SKU without its own (default 1)")
    order.add_argument("--sandbox", default="http://127.0.0.1:8765")
    run = sub.add_parser("run-check", help="whether make run can run a source (a valid, primary config)")
    run.add_argument("source")
    run.add_argument("--print-stock2shop-id", action="store_true")
    args = parser.parse_args(argv)
    if args.command in ("sandbox-sources", "sandbox-order", "run-check"):
        from stock2shop_sync import local_sandbox

        if args.command == "sandbox-sources":
            return local_sandbox.print_sources()
        if args.command == "run-check":
            return local_sandbox.run_check(args.source, print_stock2shop_id=args.print_stock2shop_id)
        return local_sandbox.place_test_order(args.source, args.sandbox, args.sku, args.qty)
    if args.command == "ensure-pools":
        return ensure_pools(args.dir)
    if args.command == "retry-order":
        return retry_order(args.source, args.order)
    if args.command == "order-ddl":
        return order_ddl(args.source, args.dialect)
    if args.command == "check-config":
        return check_config(args.dir)
    if args.command == "check-mapping":
        if args.limit < 0:
            parser.error("--limit must be 0 (every row) or more")
        return check_mapping(args.source, args.limit or None)
    return demo_summary(args.source, args.sandbox)


if __name__ == "__main__":
    sys.exit(main())
