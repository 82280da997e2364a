"""``make bench``: the pipeline's stages on a synthetic catalogue, against the baseline a typical Airflow user
writes, in one run.

The catalogue (1,000,000 variants in 250,000 products, 3 price tiers, 2 warehouses) lives in the PostgreSQL
server of this machine (database ``s2s_bench``, created by :mod:`bench.catalogue`), with a linked CSV of the
same size. Each stage runs in its own process (as an Airflow task does) through :mod:`bench.stage`, which
reports its wall time and its own peak RSS. The sandbox runs in another process with a rate limit it
advertises; uploads stay inside it.

Prints a table, then one ``BENCH <name> key=value ...`` line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DATABASE = "s2s_bench"
SANDBOX_SOURCE = 900
DRIVER = "PostgreSQL Unicode"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Bench:
    """Folders, environment and the sandbox process of one benchmark run."""

    def __init__(self, work: Path, rate_limit: float, concurrency: int, variants: int, linked_path: Path) -> None:
        self.work = work
        self.rate_limit = rate_limit
        self.concurrency = concurrency
        self.variants = variants
        self.linked_path = linked_path
        self.port = _free_port()
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.env = self._environment()
        self.results: dict[str, dict[str, Any]] = {}
        #: stages run at the same time: their names and their wall time together
        self.parallel: dict[str, tuple[list[str], float]] = {}

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        mappings = self.work / "mappings"
        shutil.copytree(ROOT / "include" / "mappings", mappings)
        shutil.copy(ROOT / "bench" / "bench_mapping.yaml", mappings / "bench_custom_database.yaml")
        sources = self.work / "sources"
        sources.mkdir()
        self._write_sources(sources)
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "AIRFLOW_HOME": str(self.work / "airflow"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "S2S_SOURCES_DIR": str(sources),
                "S2S_MAPPINGS_DIR": str(mappings),
                "S2S_STAGING_URL": f"file://{self.work / 'staging'}",
                "S2S_STATE_URL": f"sqlite:///{self.work / 'state.sqlite'}",
                "AIRFLOW_CONN_S2S_BENCH": json.dumps(
                    {"conn_type": "odbc", "host": "127.0.0.1", "port": 5432, "schema": DATABASE, "login": "postgres"}
                ),
                "AIRFLOW_CONN_STOCK2SHOP_BENCH": json.dumps(
                    {
                        "conn_type": "http",
                        "host": f"http://127.0.0.1:{self.port}",
                        "login": "bench",
                        "password": "bench-password",
                    }
                ),
                "SANDBOX_USER": "bench",
                "SANDBOX_PASSWORD": "bench-password",
            }
        )
        return env

    def _write_sources(self, folder: Path) -> None:
        shop = {
            "source_id": "bench_shop",
            "type": "custom_database",
            "mapping": "bench_custom_database",
            "description": "Synthetic catalogue for make bench",
            "connection": {"conn_id": "s2s_bench", "driver": DRIVER},
            "stock2shop": {
                "conn_id": "stock2shop_bench",
                "source_id": SANDBOX_SOURCE,
                "upload_concurrency": self.concurrency,
            },
            "entities": ["products"],
            "schedule": None,
        }
        from bench.catalogue import LINKED_OWNS

        content = {
            "source_id": "bench_content",
            "type": "flat_file",
            "description": "Linked web content for make bench",
            "file": {"path": str(self.linked_path)},
            "link": {"primary": "bench_shop", "owns": LINKED_OWNS},
        }
        (folder / "bench_shop.yaml").write_text(yaml.safe_dump(shop, sort_keys=False))
        (folder / "bench_content.yaml").write_text(yaml.safe_dump(content, sort_keys=False))

    # -- sandbox -------------------------------------------------------------------------------------------
    def start_sandbox(self) -> None:
        self.sandbox = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "sandbox",
                "--port",
                str(self.port),
                "--db",
                str(self.work / "sandbox.sqlite"),
                "--sources",
                f"{SANDBOX_SOURCE}:Bench",
                "--rate-limit",
                str(self.rate_limit),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.work / "sandbox.log").open("wb"),
        )
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    return
            except OSError:
                if self.sandbox.poll() is not None:
                    raise SystemExit((self.work / "sandbox.log").read_text()) from None
                time.sleep(0.1)
        raise SystemExit("the sandbox did not start")

    def stop_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.terminate()
            self.sandbox.wait(timeout=30)

    def sandbox_stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/sandbox/stats", timeout=30) as answer:
            return json.load(answer)

    # -- stages --------------------------------------------------------------------------------------------
    def stage(self, name: str, stage: str, **args: Any) -> dict[str, Any]:
        return self.stages({name: (stage, args)})[name]

    def stages(self, runs: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        """Run stages at the same time, each in its own process (as Airflow runs tasks that do not depend on
        each other); their wall time together is from the first one's start of work to the last one's end."""
        started = time.perf_counter()
        processes = {
            name: subprocess.Popen(
                [PYTHON, "-m", "bench.stage", stage, json.dumps(args)],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, (stage, args) in runs.items()
        }
        results = {}
        for name, process in processes.items():
            stdout, stderr = process.communicate()
            line = next((x for x in stdout.splitlines() if x.startswith("STAGE ")), None)
            if process.returncode != 0 or line is None:
                sys.stderr.write(stdout[-4000:] + stderr[-8000:])
                raise SystemExit(f"bench stage {name} ({runs[name][0]}) failed")
            report = json.loads(line[len("STAGE ") :])
            report["process_s"] = time.perf_counter() - started
            self.results[name] = report
            results[name] = report["result"]
            print(f"  {name:<22} {report['seconds']:8.2f} s  cpu {report['cpu_s']:6.2f} s  "
                  f"peak RSS {report['peak_rss_mib']:7.0f} MiB", flush=True)  # fmt: skip
        if len(runs) > 1:
            reports = [self.results[name] for name in runs]
            wall = max(r["ended_at"] for r in reports) - min(r["started_at"] for r in reports)
            self.parallel["+".join(runs)] = (list(runs), wall)
            print(f"  {'(together)':<22} {wall:8.2f} s  wall, run at the same time", flush=True)
        return results

    def sync(self, prefix: str, run_id: str, *, full: bool, since: str | None = None) -> dict[str, Any]:
        """One run of the pipeline's stages; ``since`` is the run's window start, as a scheduled run gets it."""
        # extract_products and extract_linked_<id> are independent tasks of the DAG: they run at the same time.
        both = self.stages(
            {
                f"{prefix}_extract": ("extract", {"source": "bench_shop", "run_id": run_id, "since": since}),
                f"{prefix}_extract_linked": ("extract", {"source": "bench_content", "run_id": run_id}),
            }
        )
        extracted, linked = both[f"{prefix}_extract"], both[f"{prefix}_extract_linked"]
        merged = self.stage(
            f"{prefix}_merge", "merge", source="bench_shop", linked="bench_content", extracted=extracted,
            linked_extract=linked, run_id=run_id,
        )  # fmt: skip
        validated = self.stage(f"{prefix}_validate", "validate", source="bench_shop", extracted=merged, run_id=run_id)
        uploaded = self.stage(f"{prefix}_upload", "upload", source="bench_shop", validated=validated, full=full)
        return {"extracted": extracted, "merged": merged, "validated": validated, "uploaded": uploaded}

    def stage_seconds(self, prefix: str) -> float:
        """Wall time of a sync's stages: one after the other, except those run at the same time (their wall)."""
        names = [k for k in self.results if k.startswith(prefix + "_")]
        together = [(members, wall) for members, wall in self.parallel.values() if members[0] in names]
        grouped = {m for members, _ in together for m in members}
        return sum(self.results[k]["seconds"] for k in names if k not in grouped) + sum(w for _, w in together)

    def extract_wall(self, prefix: str) -> float:
        return next(w for members, w in self.parallel.values() if members[0] == f"{prefix}_extract")

    def stage_peak(self, prefix: str) -> float:
        return max(r["peak_rss_mib"] for k, r in self.results.items() if k.startswith(prefix + "_"))


def _parse_sources(bench: Bench, count: int) -> dict[str, Any]:
    folder = bench.work / "parse_sources"
    folder.mkdir()
    template = yaml.safe_load((ROOT / "include" / "sources" / "demo_custom_db.yaml").read_text())
    for n in range(count):
        config = {**template, "source_id": f"shop_{n:03d}", "stock2shop": {"source_id": n + 1}}
        (folder / f"shop_{n:03d}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = bench.env
    saved = env["S2S_SOURCES_DIR"], env["S2S_MAPPINGS_DIR"]
    env["S2S_SOURCES_DIR"], env["S2S_MAPPINGS_DIR"] = str(folder), str(ROOT / "include" / "mappings")
    try:
        return bench.stage("parse_100_sources", "parse", dag_file=str(ROOT / "dags" / "stock2shop_sources.py"))
    finally:
        env["S2S_SOURCES_DIR"], env["S2S_MAPPINGS_DIR"] = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=250_000)
    parser.add_argument("--change", type=float, default=0.01, help="share of variants changed before the re-sync")
    parser.add_argument("--rate-limit", type=float, default=400.0, help="requests/s the sandbox allows and advertises")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="upload requests in flight (stock2shop.upload_concurrency's default)"
    )
    parser.add_argument("--reuse", action="store_true", help="keep the s2s_bench database if it has the right size")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (staging, sandbox data)")
    args = parser.parse_args()

    from bench.catalogue import catalogue_size, change_catalogue, create_catalogue, linked_csv

    work = Path(tempfile.mkdtemp(prefix="s2s-bench-"))
    print(f"==> work folder {work}")
    started = time.perf_counter()
    if not (args.reuse and catalogue_size(DATABASE) == args.variants):
        create_catalogue(DATABASE, variants=args.variants, products=args.products)
    linked_path = work / "linked_content.csv"
    linked_rows = linked_csv(linked_path, variants=args.variants, products=args.products)
    print(f"==> catalogue: {args.variants:,} variants in {args.products:,} products, linked CSV {linked_rows:,} rows "
          f"({time.perf_counter() - started:.1f} s to prepare)")  # fmt: skip

    bench = Bench(work, args.rate_limit, args.concurrency, args.variants, linked_path)
    bench.start_sandbox()
    try:
        print("==> extraction, ours and the baseline (the products query alone)")
        ours_read = bench.stage("read_ours", "read_query", source="bench_shop")
        base_read = bench.stage("read_baseline", "baseline_extract", source="bench_shop")
        print("==> full sync (first run: every variant is new)")
        # The re-sync's window starts when the full sync started (less the 5 minutes' overlap a scheduled run
        # gets), as for an hourly schedule whose previous run was the full sync.
        window_start = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        full = bench.sync("full", "bench_full", full=False)
        print("==> baseline validation (row by row) of the same merged frame")
        bench.stage("validate_baseline", "baseline_validate", extracted=full["merged"])
        bench.stage("validate_rules", "validate_rules", extracted=full["merged"])
        changed = change_catalogue(DATABASE, share=args.change)
        print(f"==> {changed:,} variants changed ({args.change:.0%}); second sync")
        delta = bench.sync("delta", "bench_delta", full=False, since=window_start)
        print("==> DAG file parse with 100 source configs")
        parse = _parse_sources(bench, 100)
        stats = bench.sandbox_stats()
    finally:
        bench.stop_sandbox()

    r = bench.results
    full_s, delta_s = bench.stage_seconds("full"), bench.stage_seconds("delta")
    uploaded_full = full["uploaded"]["uploaded"]
    uploaded_delta = delta["uploaded"]["uploaded"]
    figures = [
        ("extract", {"rows": ours_read["rows"], "ours_s": r["read_ours"]["seconds"],
                     "baseline_s": r["read_baseline"]["seconds"],
                     "ratio": r["read_baseline"]["seconds"] / r["read_ours"]["seconds"],
                     "ours_rss_mib": r["read_ours"]["peak_rss_mib"],
                     "baseline_rss_mib": r["read_baseline"]["peak_rss_mib"],
                     "baseline_rows": base_read["rows"]}),
        ("validate", {"rows": full["validated"]["rows"], "ours_s": r["validate_rules"]["result"]["inner_s"],
                      "stage_s": r["full_validate"]["seconds"],
                      "baseline_s": r["validate_baseline"]["result"]["inner_s"],
                      "ratio": r["validate_baseline"]["result"]["inner_s"] / r["validate_rules"]["result"]["inner_s"],
                      "valid": full["validated"]["valid"], "quarantined": full["validated"]["invalid"],
                      "peak_rss_mib": r["full_validate"]["peak_rss_mib"]}),
        ("full_sync", {"variants": uploaded_full, "wall_s": full_s, "variants_per_s": uploaded_full / full_s,
                       "extract_s": bench.extract_wall("full"), "extract_primary_s": r["full_extract"]["seconds"],
                       "extract_linked_s": r["full_extract_linked"]["seconds"],
                       "merge_s": r["full_merge"]["seconds"], "validate_s": r["full_validate"]["seconds"],
                       "upload_s": r["full_upload"]["seconds"], "batches": full["uploaded"]["batches"],
                       "peak_rss_mib": bench.stage_peak("full")}),
        ("delta_sync", {"changed": changed, "rows_read": delta["extracted"]["rows"],
                        "complete_read": delta["merged"]["complete"], "uploaded": uploaded_delta, "wall_s": delta_s,
                        "relative_to_full": delta_s / full_s, "unchanged": delta["uploaded"].get("unchanged", 0),
                        "peak_rss_mib": bench.stage_peak("delta")}),
        ("parse", {"sources": 100, "dags": parse["dags"], "parse_s": parse["parse_s"], "errors": parse["errors"]}),
        ("sandbox", {"variants_held": stats.get("products"), "accepted_batches": stats.get("accepted_batches"),
                     "rate_limited": stats.get("rate_limited"), "rate_limit_per_s": args.rate_limit,
                     "concurrency": args.concurrency}),
    ]  # fmt: skip
    for name, report in r.items():
        figures.append((f"rss_{name}", {"peak_rss_mib": report["peak_rss_mib"], "seconds": report["seconds"]}))

    print()
    print(f"{'figure':<14} {'value':>14}  detail")
    print(f"{'extract':<14} {figures[0][1]['ratio']:>13.2f}x  ours {figures[0][1]['ours_s']:.2f} s vs OdbcHook.get_df "
          f"{figures[0][1]['baseline_s']:.2f} s on {ours_read['rows']:,} rows")  # fmt: skip
    print(f"{'validate':<14} {figures[1][1]['ours_s']:>12.2f} s  {full['validated']['rows']:,} rows, the rule checks "
          f"(row-wise baseline {figures[1][1]['baseline_s']:.2f} s, {figures[1][1]['ratio']:.1f}x, timed alike); "
          f"{figures[1][1]['stage_s']:.2f} s as a stage with its Parquet read and writes")  # fmt: skip
    print(f"{'full sync':<14} {full_s:>12.2f} s  {uploaded_full:,} variants, {uploaded_full / full_s:,.0f} variants/s "
          f"(extract || linked {figures[2][1]['extract_s']:.2f}, merge {figures[2][1]['merge_s']:.2f}, validate "
          f"{figures[2][1]['validate_s']:.2f}, upload {figures[2][1]['upload_s']:.2f})")  # fmt: skip
    print(f"{'1% re-sync':<14} {delta_s:>12.2f} s  uploaded {uploaded_delta:,} of {changed:,} changed; "
          f"{delta_s / full_s:.1%} of the full sync; read {delta['extracted']['rows']:,} changed rows "
          f"(window from {window_start[:19]})")  # fmt: skip
    ours_peak = max(x["peak_rss_mib"] for k, x in r.items() if k.startswith(("full_", "delta_")))
    print(
        f"{'peak RSS':<14} {ours_peak:>10.0f} MiB  the largest of any pipeline stage (each stage is its own "
        f"process); row-wise baseline validation {r['validate_baseline']['peak_rss_mib']:.0f} MiB"
    )
    print(f"{'DAG parse':<14} {parse['parse_s']:>12.3f} s  dags/stock2shop_sources.py with 100 source configs "
          f"({parse['dags']} DAGs)")  # fmt: skip
    print()
    for name, values in figures:
        text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
        print(f"BENCH {name} {text}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
