"""DAG integrity: every shipped config builds, broken configs are visible without hiding others, parse time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import CronDataIntervalTimetable
from airflow.sdk.exceptions import ParamValidationError

from tests.conftest import ROOT, write_source

DAG_FILE = ROOT / "dags" / "stock2shop_sources.py"


def _dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAG_FILE))


def test_shipped_configs_build_without_import_errors() -> None:
    bag = _dagbag()
    assert bag.import_errors == {}
    from stock2shop_sync.config import load_all

    configs, errors = load_all(ROOT / "include" / "sources")
    assert errors == []
    assert len(configs) == len(list((ROOT / "include" / "sources").glob("*.yaml")))
    for config in configs:
        if config.link is not None:  # a linked source runs inside its primary's DAG
            assert f"extract_linked_{config.source_id}" in bag.dags[f"s2s_{config.link.primary}"].task_dict
            assert config.dag_id not in bag.dags
            continue
        dag = bag.dags.get(config.dag_id)
        assert dag is not None, config.source_id
        assert "config-error" not in dag.tags


def test_source_dag_shape_and_policies() -> None:
    dag = _dagbag().dags["s2s_demo_custom_db"]
    assert set(dag.task_dict) == {
        "extract_products",
        "extract_linked_demo_custom_db_content",
        "merge_products",
        "validate_products",
        "approve_deletes_products",
        "upload_products",
        "extract_customers",
        "validate_customers",
        "approve_deletes_customers",
        "upload_customers",
        "push_orders",
        "report",
    }
    assert dag.task_dict["extract_products"].downstream_task_ids == {"merge_products", "report"}
    assert dag.task_dict["extract_linked_demo_custom_db_content"].downstream_task_ids == {"merge_products", "report"}
    assert dag.task_dict["merge_products"].downstream_task_ids == {"validate_products", "report"}
    assert dag.task_dict["extract_customers"].downstream_task_ids == {"validate_customers", "report"}
    for entity in ("products", "customers"):
        # Deletes past the cap wait for a person between validate and upload.
        assert f"approve_deletes_{entity}" in dag.task_dict[f"validate_{entity}"].downstream_task_ids
        assert f"upload_{entity}" in dag.task_dict[f"approve_deletes_{entity}"].downstream_task_ids
    # One Stock2Shop login at a time: customers upload after products.
    assert "upload_customers" in dag.task_dict["upload_products"].downstream_task_ids
    assert dag.task_dict["upload_customers"].downstream_task_ids == {"push_orders", "report"}
    # Orders flow even when the catalogue sync failed; the report runs whatever happened (and fails itself when a
    # step failed), sending no alert of its own.
    assert dag.task_dict["push_orders"].trigger_rule == "all_done"
    assert dag.task_dict["push_orders"].downstream_task_ids == {"report"}
    report = dag.task_dict["report"]
    assert report.trigger_rule == "all_done"
    # Every step feeds the report, so it runs once all of them have finished.
    assert report.upstream_task_ids == {
        "extract_products",
        "extract_linked_demo_custom_db_content",
        "merge_products",
        "validate_products",
        "approve_deletes_products",
        "upload_products",
        "extract_customers",
        "validate_customers",
        "approve_deletes_customers",
        "upload_customers",
        "push_orders",
    }
    assert report.steps == {
        "products": [
            "extract_products",
            "extract_linked_demo_custom_db_content",
            "merge_products",
            "validate_products",
            "approve_deletes_products",
            "upload_products",
        ],
        "customers": ["extract_customers", "validate_customers", "approve_deletes_customers", "upload_customers"],
        "orders": ["push_orders"],
    }
    # One task group per entity, without a prefix: the graph keeps products and customers apart, task ids stay.
    groups = {t.task_id: t.task_group.group_id for t in dag.tasks if t.task_group and t.task_group.group_id}
    assert groups == {
        "extract_products": "products",
        "extract_linked_demo_custom_db_content": "products",
        "merge_products": "products",
        "validate_products": "products",
        "approve_deletes_products": "products",
        "upload_products": "products",
        "extract_customers": "customers",
        "validate_customers": "customers",
        "approve_deletes_customers": "customers",
        "upload_customers": "customers",
    }
    assert set(dag.task_group.children) == {"products", "customers", "push_orders", "report"}
    assert dag.dag_id == "s2s_demo_custom_db"
    description = "Demo hardware and apparel shop in a custom SQL database (SQLite over ODBC)"
    assert dag.dag_display_name == f"{description} (demo_custom_db)"
    params = dag.params.dump()
    assert params["entities"] == ["products", "customers", "orders"]
    # The trigger form shows a multi-select for an array param with `examples`; items.enum still validates.
    entities = dag.params.get_param("entities")
    assert entities.schema["examples"] == ["products", "customers", "orders"]
    assert entities.schema["items"]["enum"] == ["products", "customers", "orders"]
    assert entities.resolve(["customers"]) == ["customers"]
    with pytest.raises(ParamValidationError):
        entities.resolve(["customer"])
    assert (params["full_sync"], params["dry_run"], params["since"], params["until"]) == (False, False, None, None)
    assert dag.params.get_param("since").schema["format"] == "date-time"
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert {"stock2shop", "custom_database", "demo"} <= set(dag.tags)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    # An approval's answer is final: a retry would ask again.
    assert all(task.retries == (0 if task.task_id.startswith("approve_deletes_") else 2) for task in dag.tasks)
    assert dag.is_paused_upon_creation is False
    # A source whose system `make up` cannot reach starts paused instead of failing every hour.
    assert _dagbag().dags["s2s_demo_sage_financials"].is_paused_upon_creation is True


def test_broken_config_is_visible_and_others_still_load(sources_dir: Path) -> None:
    write_source(sources_dir, "good_one", conn_id="c1", driver="SQLite3", s2s_source_id=101)
    write_source(sources_dir, "good_two", conn_id="c2", driver="SQLite3", s2s_source_id=102)
    write_source(sources_dir, "bad_target", conn_id="c3", driver="SQLite3", s2s_source_id=0)
    (sources_dir / "not_yaml.yaml").write_text("source_id: [unclosed\n")

    bag = _dagbag()
    assert bag.import_errors == {}
    assert {"s2s_good_one", "s2s_good_two", "s2s_bad_target", "s2s_not_yaml"} <= set(bag.dag_ids)
    broken = bag.dags["s2s_bad_target"]
    assert "config-error" in broken.tags
    assert "stock2shop.source_id" in broken.description
    assert "bad_target.yaml" in broken.description
    assert list(broken.task_dict) == ["config_error"]
    assert "invalid YAML" in bag.dags["s2s_not_yaml"].description
    assert "config-error" not in bag.dags["s2s_good_one"].tags
    # It runs once on its own, unpaused, so its failure shows red without a manual trigger.
    assert type(broken.timetable).__name__ == "OnceTimetable"
    assert broken.is_paused_upon_creation is False
    assert broken.dag_display_name == "CONFIG ERROR: bad_target"
    assert bag.dags["s2s_not_yaml"].dag_display_name == "CONFIG ERROR: not_yaml"
    assert bag.dags["s2s_good_one"].dag_display_name == "test source good_one (good_one)"


def test_broken_config_task_fails_with_the_error(sources_dir: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    write_source(sources_dir, "bad_entities", conn_id="c", driver="SQLite3", s2s_source_id=1, entities=["orders"])
    task = _dagbag().dags["s2s_bad_entities"].get_task("config_error")
    with pytest.raises(AirflowFailException, match=r"bad_entities\.yaml: entities\.0: "):
        task.execute({})


def test_fifty_sources_build_fifty_dags_from_one_file(sources_dir: Path) -> None:
    """Many sources, one DAG file. How long parsing takes is measured by `make bench` (not a timed test)."""
    template = ROOT / "include" / "sources" / "demo_custom_db.yaml"
    for n in range(50):
        text = template.read_text().replace("source_id: demo_custom_db", f"source_id: shop_{n:03d}")
        (sources_dir / f"shop_{n:03d}.yaml").write_text(text.replace("source_id: 101", f"source_id: {n + 1}"))
    shutil.copy(template, sources_dir / "zz_demo.yaml")
    bag = _dagbag()
    assert bag.import_errors == {}
    assert len([d for d in bag.dag_ids if d.startswith("s2s_shop_")]) == 50
    (stat,) = bag.dagbag_stats  # one DAG file builds every source's DAG
    assert stat.dag_num == len(bag.dag_ids)


def test_order_pushes_run_in_a_pool_of_their_own_which_ensure_pools_creates(
    airflow_db: None, sources_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.models.pool import Pool

    from stock2shop_sync import cli
    from stock2shop_sync.config import load_source
    from stock2shop_sync.factory import build_source_dag as build_dag

    shop = write_source(
        sources_dir, "pool_shop", conn_id="x", driver="SQLite3", s2s_source_id=101,
        orders={"enabled": True, "conn_id": "x"},
    )  # fmt: skip
    named = write_source(
        sources_dir, "pool_named", conn_id="x", driver="SQLite3", s2s_source_id=102,
        orders={"enabled": True, "conn_id": "x", "pool": "erp_writes"},
    )  # fmt: skip

    sage = sources_dir / "pool_sage.yaml"
    sage.write_text(
        "source_id: pool_sage\ntype: sage_accounting\nconnection: {conn_id: sage_company_7001}\n"
        "stock2shop: {source_id: 103, conn_id: s2s_user_b, pool: user_b_uploads}\nentities: [products]\n"
    )
    dag = build_dag(load_source(shop))
    assert dag.task_dict["push_orders"].pool == "s2s_orders_pool_shop"
    # One pool per Stock2Shop API user for uploads, none for a database's reads.
    assert dag.task_dict["upload_products"].pool == "s2s_api_stock2shop_default"
    assert dag.task_dict["extract_products"].pool == "default_pool"
    assert build_dag(load_source(named)).task_dict["push_orders"].pool == "erp_writes"
    sage_dag = build_dag(load_source(sage))
    assert sage_dag.task_dict["extract_products"].pool == "s2s_sage_sage_company_7001"  # per Sage company
    assert sage_dag.task_dict["upload_products"].pool == "user_b_uploads"
    assert cli.main(["ensure-pools", "--dir", str(sources_dir)]) == 0
    assert cli.main(["ensure-pools", "--dir", str(sources_dir)]) == 0  # a second call changes nothing
    out = capsys.readouterr().out
    assert "created pool s2s_orders_pool_shop (1 slot)" in out
    assert "pool erp_writes exists" in out
    assert "created pool s2s_api_stock2shop_default (1 slot): uploads of Stock2Shop connection" in out
    for name in ("s2s_orders_pool_shop", "erp_writes", "s2s_api_stock2shop_default", "s2s_sage_sage_company_7001"):
        pool = Pool.get_pool(name)
        assert pool is not None
        assert pool.slots == 1


def test_the_report_sends_no_failure_alert_of_its_own(sources_dir: Path) -> None:
    """Every step alerts when it fails; the report, which then fails too, would only repeat it."""
    from stock2shop_sync.config import load_source
    from stock2shop_sync.factory import build_source_dag

    path = write_source(
        sources_dir, "alerting", conn_id="c", driver="SQLite3", s2s_source_id=1,
        alerts={"webhook": {"conn_id": "hooks", "endpoint": "/alerts"}},
    )  # fmt: skip
    dag = build_source_dag(load_source(path))
    assert dag.task_dict["validate_products"].on_failure_callback
    assert not dag.task_dict["report"].on_failure_callback


def test_docs_name_the_connections_an_environment_variable_shadows(
    sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stock2shop_sync.config import load_source
    from stock2shop_sync.factory import build_source_dag

    path = write_source(
        sources_dir, "shadowed", conn_id="erp_read", driver="SQLite3", s2s_source_id=1,
        orders={"enabled": True, "conn_id": "erp_write"},
    )  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_ERP_READ", '{"conn_type": "odbc"}')
    monkeypatch.setenv("AIRFLOW_CONN_STOCK2SHOP_DEFAULT", '{"conn_type": "http"}')
    doc = build_source_dag(load_source(path)).doc_md
    assert (
        "connection `erp_read` comes from the environment variable AIRFLOW_CONN_ERP_READ: edits on the UI's "
        "Connections page are not used"
    ) in doc
    assert "connection `stock2shop_default` comes from the environment variable AIRFLOW_CONN_STOCK2SHOP_DEFAULT" in doc
    assert "AIRFLOW_CONN_ERP_WRITE" not in doc  # not set: the UI's (or a secrets backend's) copy is used


def test_check_config_warns_when_an_environment_variable_shadows_a_ui_connection(
    airflow_db: None, sources_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    from stock2shop_sync import cli

    write_source(
        sources_dir, "twice", conn_id="twice_erp", driver="SQLite3", s2s_source_id=1,
        orders={"enabled": True, "conn_id": "twice_orders"},
    )  # fmt: skip
    in_ui = ("twice_erp", "twice_orders")
    with create_session() as session:
        session.add_all(Connection(conn_id=conn_id, conn_type="odbc") for conn_id in in_ui)
    try:
        monkeypatch.setenv("AIRFLOW_CONN_TWICE_ERP", '{"conn_type": "odbc"}')  # shadows the UI's copy
        monkeypatch.setenv("AIRFLOW_CONN_STOCK2SHOP_DEFAULT", '{"conn_type": "http"}')  # only in the environment
        assert cli.main(["check-config", "--dir", str(sources_dir)]) == 0
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id.in_(in_ui)).delete(synchronize_session=False)
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING connection 'twice_erp' is defined both in the metadata database (UI) and by AIRFLOW_CONN_TWICE_ERP; "
        "the environment variable wins"
    ]


@pytest.mark.parametrize("database", ["missing", "unmigrated"])
def test_check_config_skips_the_connection_check_without_a_metadata_database(
    database: str, sources_dir: Path, tmp_path: Path
) -> None:
    """``make check-config`` before ``airflow db migrate``: no warning, no error, and no database file made."""
    import os
    import subprocess
    import sys

    write_source(sources_dir, "early", conn_id="early_erp", driver="SQLite3", s2s_source_id=1)
    home = tmp_path / "home"
    home.mkdir()
    db_file = home / "airflow.db"
    if database == "unmigrated":
        db_file.touch()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db_file}",
        "AIRFLOW_CONN_EARLY_ERP": '{"conn_type": "odbc"}',
    }
    done = subprocess.run(
        [sys.executable, "-m", "stock2shop_sync.cli", "check-config", "--dir", str(sources_dir)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK     s2s_early" in done.stdout
    assert "WARNING" not in done.stdout
    assert db_file.exists() is (database == "unmigrated")
