"""The local sandbox as ``make sandbox`` / ``make run`` start it: it serves the configured sources (not a fixed demo
list), refuses a port another process holds (naming it) rather than letting its health check find that process,
and takes a test web order only for a SKU the source has synced."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from sandbox.server import free_port
from tests.conftest import ROOT

CONFIG = """\
source_id: my_shop
type: custom_database
description: "My shop, Cape Town: stock database"
connection: {conn_id: my_shop_db, driver: SQLite3}
stock2shop: {conn_id: stock2shop_default, source_id: 201}
entities: [products]
orders: {enabled: true, conn_id: my_shop_orders, default_customer_code: CASH, shipping_code: SHIP}
"""


@pytest.fixture
def project_env(tmp_path: Path) -> dict[str, str]:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "my_shop.yaml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN", "SANDBOX_", "DEMO_DIR"))}
    env.update(S2S_SOURCES_DIR=str(sources), DEMO_DIR=str(tmp_path / "demo"), SANDBOX_PORT=str(free_port()))
    return env


def _sandbox(env: dict[str, str], action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "sandbox.sh"), action], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_the_sandbox_serves_the_configured_sources(project_env: dict[str, str]) -> None:
    listed = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "stock2shop_sync.cli", "sandbox-sources"],
        env=project_env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(listed.stdout) == {"201": "My shop, Cape Town: stock database"}  # commas and colons survive
    started = _sandbox(project_env, "start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        url = f"http://127.0.0.1:{project_env['SANDBOX_PORT']}"
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:  # noqa: S310 - loopback
            health = json.load(response)
        assert health["sources"] == [201]
        assert str(health["pid"]) == (Path(project_env["DEMO_DIR"]) / "sandbox.pid").read_text().strip()
        # A test order names only SKUs the sandbox holds for the source: nothing is synced yet.
        order = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "stock2shop_sync.cli", "sandbox-order", "my_shop",
             "--sku", "CHAIR-OAK", "--sandbox", url],
            env=project_env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert order.returncode == 1
        assert "holds no active product with sku 'CHAIR-OAK' for source my_shop" in order.stdout
    finally:
        _sandbox(project_env, "stop")


def test_a_port_another_process_holds_is_an_error_naming_it(project_env: dict[str, str]) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", int(project_env["SANDBOX_PORT"])))
        other.listen()
        started = _sandbox(project_env, "start")
    assert started.returncode != 0
    assert f"port {project_env['SANDBOX_PORT']} is in use by another process" in started.stderr
    assert not (Path(project_env["DEMO_DIR"]) / "sandbox.pid").exists()
