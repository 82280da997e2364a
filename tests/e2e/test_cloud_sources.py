"""Cloud API sources through their generated DAGs: local stand-ins of the APIs, payloads in the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.state import DagRunState

from sandbox.isync import create_isync_app
from sandbox.isync import demo_state as isync_demo_state
from sandbox.sage_accounting import SageState, create_sage_app, demo_state
from sandbox.server import running_app
from tests.conftest import ROOT, set_connection
from tests.integration.test_isync import isync_connection
from tests.integration.test_sage_accounting import sage_connection

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]


def _run(folder: Path, config: dict[str, Any]) -> None:
    (folder / f"{config['source_id']}.yaml").write_text(yaml.safe_dump(config))
    dag = DagBag(dag_folder=str(ROOT / "dags" / "stock2shop_sources.py")).dags[f"s2s_{config['source_id']}"]
    # A manual run without a logical date reads its schedule's last interval; these sources' data is older, so
    # sync everything, as `make demo` does.
    run = dag.test(logical_date=None, run_conf={"full_sync": True})
    assert run.state == DagRunState.SUCCESS, {ti.task_id: ti.state for ti in run.get_task_instances()}
    # Then what the scheduler does every hour: read the last interval, in which nothing changed. An empty
    # window is a quiet success, not a mapping error about missing columns.
    dag = DagBag(dag_folder=str(ROOT / "dags" / "stock2shop_sources.py")).dags[f"s2s_{config['source_id']}"]
    quiet = dag.test(logical_date=None)
    assert quiet.state == DagRunState.SUCCESS, {ti.task_id: ti.state for ti in quiet.get_task_instances()}
    extracted = next(ti for ti in quiet.get_task_instances() if ti.task_id.endswith("extract_products"))
    assert extracted.xcom_pull(task_ids=extracted.task_id)["rows"] == 0


def _products(sandbox: str, s2s_id: int) -> dict[str, dict[str, Any]]:
    rows = requests.get(f"{sandbox}/sandbox/products", params={"source_id": s2s_id}, timeout=10).json()
    return {r["sku"]: r["payload"] for r in rows}


@pytest.fixture
def sage(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, SageState]]:
    state = demo_state()
    with running_app(create_sage_app(state)) as url:
        set_connection(monkeypatch, "sage_demo", sage_connection(url, state))
        yield url, state


@pytest.mark.parametrize("region", ["za", "global"])
def test_sage_accounting(region: str, sandbox: str, sources_dir: Path, sage: tuple[str, SageState]) -> None:
    _, state = sage
    demo = yaml.safe_load((ROOT / "include" / "sources" / "demo_sage_accounting.yaml").read_text())
    config = {**demo, "source_id": f"sage_{region}", "connection": {"conn_id": "sage_demo"}, "api": {**demo.get("api", {}), "region": region},
              "stock2shop": {"conn_id": "stock2shop_default", "source_id": 101}}  # fmt: skip
    _run(sources_dir, config)
    products = _products(sandbox, 101)
    physical = [i for i in state.items if i["Physical"]] if region == "za" else state.items
    assert len(products) == len(physical)
    tent = products["OUT-0004"]
    assert tent["source"]["source_product_code"] == "OUT-0004"
    assert tent["product"]["title"] == "Tent model 4"
    assert tent["product"]["variants"]["qty"] == 4
    assert tent["product"]["variants"]["price"] == 106.0
    assert tent["product"]["variants"]["inventory_management"] == "true"
    if region == "za":
        assert tent["source"]["product_active"] == "true"
        assert tent["product"]["variants"]["source_variant_code"] == "5004"
        assert tent["product"]["collection"] == "Tents"
        assert tent["product"]["product_type"] == "Camping"
        # Additional price lists become tiers; a list with no price for the SKU gives it no tier (missing_price:
        # omit), never a price of 0 a customer could order at.
        assert tent["product"]["variants"]["price_tiers"] == [{"tier": "Wholesale", "price": 84.0}]
        assert products["OUT-0050"]["source"]["product_active"] == "false"  # Active false -> Delete
        assert "OUT-0023" not in products  # not Physical: filtered by the mapping's OData filter
    else:
        assert tent["product"]["variants"]["source_variant_code"] == "si0004"
        assert tent["product"]["variants"]["price_tiers"] == [
            {"tier": "Selling Price", "price": 106.0},
            {"tier": "Trade", "price": 84.0},
        ]
        assert state.refresh_token != "refresh-0"  # rotated during the run, and stored in an Airflow Variable
    customers = requests.get(f"{sandbox}/sandbox/customers", params={"source_id": 101}, timeout=10).json()
    by_code = {c["source_customer_code"]: c["payload"] for c in customers}
    if region == "za":
        assert sorted(by_code) == ["1", "2", "3"]
        assert by_code["3"]["source"]["customer_active"] == "false"  # Active false -> Delete
        assert (by_code["1"]["customer"]["first_name"], by_code["1"]["customer"]["last_name"]) == ("Nadia", "Jacobs")
    else:
        assert sorted(by_code) == ["SUMMIT02", "TRAIL01"]
        assert by_code["TRAIL01"]["customer"]["email"] == "nadia@trailhead.co.uk"


def test_isync(sandbox: str, sources_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = isync_demo_state()
    with running_app(create_isync_app(state)) as url:
        set_connection(monkeypatch, "isync_demo", isync_connection(url, state))
        demo = yaml.safe_load((ROOT / "include" / "sources" / "demo_isync.yaml").read_text())
        _run(
            sources_dir,
            {
                **demo,
                "connection": {"conn_id": "isync_demo"},
                "stock2shop": {"conn_id": "stock2shop_default", "source_id": 102},
            },
        )
    products = _products(sandbox, 102)
    assert len(products) == 24
    jacket = products["JKT-PUFFER-NAV-M"]
    assert jacket["source"] == {
        "source_id": "102",
        "source_product_code": "JKT-PUFFER",
        "product_active": "true",
        "sync_token": "0",
        "fetch_token": "0",
    }
    product = jacket["product"]
    assert (product["title"], product["collection"], product["product_type"], product["vendor"]) == (
        "Puffer Jacket",
        "Outerwear",
        "Apparel",
        "Karoo Threads",
    )
    assert product["body_html"] == "<p>Puffer Jacket in navy.</p>"
    assert product["tags"] == "new,winter"  # sorted, as Stock2Shop sorts tags for its hash
    assert product["options"] == [{"name": "Size", "position": 1}, {"name": "Colour", "position": 2}]
    assert product["images"] == [{"src": "https://images.example.com/jkt-puffer-navy.jpg", "position": 1}]
    variant = product["variants"]
    assert (variant["sku"], variant["option1"], variant["option2"], variant["qty"], variant["price"]) == (
        "JKT-PUFFER-NAV-M",
        "M",
        "Navy",
        6 % 9,
        1299.0,
    )
    assert variant["price_tiers"] == [{"tier": "Retail", "price": 1299.0}, {"tier": "Wholesale", "price": 779.4}]
    assert products["DRS-WRAP-BLA-L"]["source"]["product_active"] == "false"  # WebSale N -> Delete
    assert products["DRS-WRAP-BLA-M"]["source"]["product_active"] == "true"


def test_sage_financials(sandbox: str, sources_dir: Path, salesforce: tuple[str, Any]) -> None:
    demo = yaml.safe_load((ROOT / "include" / "sources" / "demo_sage_financials.yaml").read_text())
    _run(sources_dir, {**demo, "stock2shop": {"conn_id": "stock2shop_default", "source_id": 103}})
    products = _products(sandbox, 103)
    assert len(products) == 25
    desk = products["OFF-003"]
    assert desk["source"]["source_product_code"] == "OFF-003"
    assert desk["product"]["title"] == "Desk 3"
    assert desk["product"]["collection"] == "Desks"
    assert desk["product"]["body_html"] == "<p>Desk number 3.</p>"
    assert desk["product"]["variants"]["source_variant_code"] == "01t000000000000003"
    assert (desk["product"]["variants"]["price"], desk["product"]["variants"]["qty"]) == (1030.0, 3)
    assert desk["product"]["variants"]["price_tiers"] == [
        {"tier": "Standard Price Book", "price": 1030.0},
        {"tier": "Trade", "price": 830.0},
    ]
    assert products["OFF-012"]["source"]["product_active"] == "false"  # IsActive false -> Delete
