"""``make order-faults`` itself, on few orders: every sink's line says exactly once, and so do the overlap and
killed rounds (the full run, 1,000 orders a sink, is ``make order-faults``; its figures are in the README).

It runs in a process of its own, as ``make order-faults`` does: it sets connections in its environment."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT

SINKS = ["sql_sqlite", "sql_postgresql", "sql_mariadb", "isync", "sage_accounting_za", "sage_accounting_global",
         "evolution_freedom", "sage_financials"]  # fmt: skip


def test_every_sink_overlap_and_a_killed_run_end_exactly_once() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.order_faults", "--orders", "40", "--overlap-orders", "30", "--rate", "0.3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    lines = [line for line in run.stdout.splitlines() if line.startswith("ORDERS ")]
    sinks = {m.group(1): line for line in lines if (m := re.match(r"ORDERS sink=(\w+) ", line))}
    assert sorted(sinks) == sorted(SINKS), run.stdout + run.stderr[-3000:]
    for name, line in sinks.items():
        assert "orders=40 documents=40 duplicates=0 lost=0 acked=40" in line, line
        faults = re.search(r"faults=(\d+)", line)
        assert faults is not None, line
        assert int(faults.group(1)) > 0, f"{name}: no fault was injected"
    assert "ORDERS overlap orders=30 documents=30 duplicates=0 failed=0" in lines
    assert "ORDERS killed orders=30 documents=30 duplicates=0 lost=0" in lines
    assert run.returncode == 0, run.stdout
