"""Command-line checks for integrators: ``python -m stock2shop_sync.cli check-config | demo-summary``."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

from stock2shop_sync.config import load_all, sources_dir


def check_config(directory: str | None) -> int:
    """Validate every source config (and its mapping); print one line per file. Exit 1 on any error."""
    folder = Path(directory) if directory else sources_dir()
    configs, errors = load_all(folder)
    for config in configs:
        print(
            f"OK     {config.dag_id:<32} {config.path}  ({config.type}, mapping {config.mapping_name} -> "
            f"Stock2Shop source {config.stock2shop.source_id}; {', '.join(config.entities)}; "
            f"schedule {config.schedule or 'manual only'})"
        )
    for error in errors:
        print(f"ERROR  {error}")
    print(f"{len(configs)} valid source config(s), {len(errors)} with errors in {folder}")
    return 1 if errors or not configs else 0


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
    print(f"\nStock2Shop sync of source '{source_id}' (run {report['run_id']})")
    print(
        f"{'entity':<10} {'extracted':>9} {'valid':>6} {'quarantined':>11} "
        f"{'ignored':>7} {'deleted':>7} {'uploaded':>8}"
    )
    for entity, c in report["entities"].items():
        print(
            f"{entity:<10} {c['extracted']:>9} {c['valid']:>6} {c['quarantined']:>11} {c['ignored']:>7} "
            f"{c['deleted']:>7} {c['uploaded']:>8}"
        )
    for entity, c in report["entities"].items():
        if not c.get("quarantine_report"):
            continue
        import csv
        import io

        from airflow.sdk import ObjectStoragePath

        rows = list(csv.DictReader(io.StringIO(ObjectStoragePath(c["quarantine_report"]).read_text())))
        if rows:
            print(f"\nQuarantined / warned {entity} ({c['quarantine_report']}):")
            for row in rows:
                print(
                    f"  row {row['row']:>3} {row['record'] or '-':<14} {row['field']:<20} "
                    f"{row['severity']:<7} {row['reason']}"
                )
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
        f"{s2s_source} ({stats['accepted_batches']} accepted batches, {stats['logins']} logins, "
        f"{stats['rate_limited']} requests rate-limited so far)."
    )
    print(f"See them at {sandbox_url}/  (JSON: {sandbox_url}/sandbox/products, {sandbox_url}/sandbox/customers)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stock2shop_sync", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-config", help="validate every source config and mapping")
    check.add_argument("--dir", help="folder of source configs (default: S2S_SOURCES_DIR or include/sources)")
    summary = sub.add_parser("demo-summary", help="summarise the last run of a source and the sandbox")
    summary.add_argument("--source", default="demo_custom_db")
    summary.add_argument("--sandbox", default="http://127.0.0.1:8765")
    args = parser.parse_args(argv)
    if args.command == "check-config":
        return check_config(args.dir)
    return demo_summary(args.source, args.sandbox)


if __name__ == "__main__":
    sys.exit(main())
