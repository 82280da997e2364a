"""One measured stage of the benchmark, in its own process (as an Airflow task runs): its wall time and its
peak RSS (``ru_maxrss`` of this process alone) are printed as one JSON line for :mod:`bench.run`.

``python -m bench.stage <stage> <json args>``
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any


def _config(source_id: str) -> Any:
    from stock2shop_sync.config import load_all

    configs, errors = load_all()
    if errors:
        raise SystemExit(f"bench configs do not load: {errors}")
    return next(c for c in configs if c.source_id == source_id)


def run(stage: str, args: dict[str, Any]) -> dict[str, Any]:
    from stock2shop_sync import pipeline

    if stage == "extract":
        from datetime import datetime

        since = datetime.fromisoformat(args["since"]) if args.get("since") else None
        return pipeline.extract(_config(args["source"]), "products", args["run_id"], since=since)
    if stage == "read_query":  # our reader on the products query alone, for the like-for-like comparison
        from stock2shop_sync.config import resolve_mapping
        from stock2shop_sync.connectors import get_connector

        config = _config(args["source"])
        mapping = resolve_mapping(config)
        frame = get_connector(config, mapping).read_query(mapping.entity("products").query or "")
        return {"rows": len(frame)}
    if stage == "baseline_extract":
        from bench.baseline import baseline_extract
        from stock2shop_sync.config import resolve_mapping
        from stock2shop_sync.connectors.sql import fill_since

        config = _config(args["source"])
        # The same statement our reader runs on a full read (``{{since}}`` is the earliest timestamp then).
        query = fill_since(resolve_mapping(config).entity("products").query or "", None)
        frame = baseline_extract(config.connection.conn_id, config.connection.driver, query)
        return {"rows": len(frame)}
    if stage == "merge":
        linked = [(_config(args["linked"]), args["linked_extract"])]
        return pipeline.merge(_config(args["source"]), args["extracted"], linked, args["run_id"])
    if stage == "validate":
        return pipeline.validate(_config(args["source"]), "products", args["extracted"], args["run_id"])
    if stage == "validate_rules":  # our rule checks alone, timed as the baseline's are (no Parquet read or write)
        from stock2shop_sync import staging
        from stock2shop_sync.model.validation import validate_products

        frame = staging.read_frame(args["extracted"]["path"])
        started = time.perf_counter()
        result = validate_products(frame, "bench_shop")
        return {"rows": len(frame), "valid": result.counts["valid"], "inner_s": time.perf_counter() - started}
    if stage == "baseline_validate":
        from bench.baseline import baseline_validate
        from stock2shop_sync import staging

        frame = staging.read_frame(args["extracted"]["path"])
        started = time.perf_counter()
        valid, errors = baseline_validate(frame)
        return {
            "rows": len(frame),
            "valid": len(valid),
            "errors": len(errors),
            "inner_s": time.perf_counter() - started,
        }
    if stage == "upload":
        from stock2shop_sync.hooks.stock2shop import Stock2ShopHook

        config = _config(args["source"])
        hook = Stock2ShopHook(config.stock2shop.conn_id)
        try:
            return pipeline.upload(config, "products", args["validated"], hook, full_sync=args.get("full", False))
        finally:
            hook.close()
    if stage == "parse":
        from airflow.dag_processing.dagbag import DagBag

        dag_file = args["dag_file"]
        import statistics

        DagBag(dag_folder=dag_file)  # warm imports, as a long-running DAG processor is
        seconds = []
        for _ in range(5):
            bag = DagBag(dag_folder=dag_file)
            (stat,) = bag.dagbag_stats
            seconds.append(stat.duration.total_seconds())
        return {"dags": len(bag.dag_ids), "errors": len(bag.import_errors), "parse_s": statistics.median(seconds),
                "parse_max_s": max(seconds)}  # fmt: skip
    raise SystemExit(f"unknown stage {stage!r}")


def _warm_imports() -> float:
    """Import what every stage uses before the clock starts: a stage's figure is its work, not the
    interpreter loading Airflow (reported separately as ``import_s``)."""
    started = time.perf_counter()
    import pandas  # noqa: F401
    import polars  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    from airflow.providers.odbc.hooks.odbc import OdbcHook  # noqa: F401

    from stock2shop_sync import fingerprints, pipeline  # noqa: F401
    from stock2shop_sync.connectors import flat_file, sql  # noqa: F401
    from stock2shop_sync.hooks import stock2shop  # noqa: F401

    return time.perf_counter() - started


def main() -> None:
    stage, args = sys.argv[1], json.loads(sys.argv[2])
    import_s = _warm_imports()
    started, started_at = time.perf_counter(), time.time()
    result = run(stage, args)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mib = usage.ru_maxrss / 1024
    report = {
        "stage": stage,
        "seconds": seconds,
        "started_at": started_at,
        "ended_at": started_at + seconds,
        "import_s": import_s,
        # CPU seconds of this process (all its threads, imports included): with the wall time, whether a stage
        # waited (for the database, the sandbox) or worked
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": peak_mib,
        "result": result,
    }
    print("STAGE " + json.dumps(report))


if __name__ == "__main__":
    main()
