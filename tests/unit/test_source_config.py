"""Source configs and mappings: what loads, and how each problem is named (file, key, problem)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stock2shop_sync.cli import main as cli
from stock2shop_sync.config import ConfigError, load_all, load_source, resolve_mapping
from tests.conftest import ROOT, write_source


def _single_error(folder: Path) -> ConfigError:
    configs, errors = load_all(folder)
    assert [c.source_id for c in configs] == ["good"], "the good config must still load"
    assert len(errors) == 1, errors
    return errors[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "sources"
    path.mkdir()
    write_source(path, "good", conn_id="c", driver="SQLite3", s2s_source_id=1)
    return path


def test_every_shipped_config_loads_with_its_mapping() -> None:
    configs, errors = load_all(ROOT / "include" / "sources")
    assert errors == []
    assert configs
    for config in configs:
        mapping = resolve_mapping(config)
        assert mapping.products is not None
        assert getattr(config, mapping.location) is not None
        if mapping.connector == "sql":
            assert mapping.products.query


def test_invalid_yaml_names_the_line(folder: Path) -> None:
    (folder / "broken.yaml").write_text("source_id: broken\ntype: custom_database\nconnection: {conn_id: [x\n")
    error = _single_error(folder)
    assert error.file.endswith("broken.yaml")
    assert error.key.startswith("line ")
    assert "invalid YAML" in error.problem


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        ({"schedul": "@daily"}, "schedul", "unknown key"),
        ({"stock2shop": {"source_id": 0}}, "stock2shop.source_id", "greater than 0"),
        ({"entities": ["products", "products"]}, "", "entities lists an entity twice"),
        ({"validation": {"max_invalid_share": 1.5}}, "validation.max_invalid_share", "less than or equal to 1"),
        ({"schedule": "every hour"}, "schedule", "'every hour' is not a cron expression or preset"),
        ({"type": "sage_unknown"}, "type", "no mapping preset 'sage_unknown'"),
        ({"mapping_overrides": {"products": {"fields": {"colour": "col"}}}}, "mapping_overrides.products.fields.colour", "unknown product field"),
        ({"mapping_overrides": {"products": {"query": "DELETE FROM products"}}}, "mapping_overrides.products.query", "must start with SELECT or WITH"),
        ({"mapping_overrides": {"products": {"query": "SELECT 1; DROP TABLE products"}}}, "mapping_overrides.products.query", "DROP"),
        ({"mapping_overrides": {"customers": {"query": "WITH x AS (SELECT 1) UPDATE t SET a = 1"}}}, "mapping_overrides.customers.query", "UPDATE"),
    ],
)  # fmt: skip
def test_each_problem_names_file_key_and_problem(folder: Path, extra: dict, key: str, problem: str) -> None:
    base = {"conn_id": "c", "driver": "SQLite3", "s2s_source_id": 5}
    if "stock2shop" in extra:
        base["s2s_source_id"] = extra.pop("stock2shop")["source_id"]
    write_source(folder, "bad", **base, **extra)
    error = _single_error(folder)
    assert error.file.endswith("bad.yaml")
    if key:
        assert error.key == key
    assert problem in error.problem
    assert str(error).startswith(f"{error.file}: ")


def test_write_words_inside_literals_and_comments_are_allowed(folder: Path) -> None:
    query = "SELECT item_code FROM products -- DROP nothing\nWHERE s2s_active <> 'Delete' AND note <> 'it''s; UPDATE'"
    path = write_source(
        folder, "literal", conn_id="c", driver="SQLite3", s2s_source_id=4,
        mapping_overrides={"products": {"query": query}},
    )  # fmt: skip
    assert resolve_mapping(load_source(path)).products.query == query


def test_bad_source_id_is_refused(folder: Path) -> None:
    write_source(folder, "Bad-Id", conn_id="c", driver="SQLite3", s2s_source_id=1)
    error = _single_error(folder)
    assert error.key == "source_id"
    assert "pattern" in error.problem


def test_same_source_id_twice_reports_the_second(folder: Path) -> None:
    path = write_source(folder, "other", conn_id="c", driver="SQLite3", s2s_source_id=2)
    path.with_name("zz_copy.yaml").write_text(path.read_text())
    configs, errors = load_all(folder)
    assert sorted(c.source_id for c in configs) == ["good", "other"]
    assert len(errors) == 1
    assert errors[0].file.endswith("zz_copy.yaml")
    assert "already used by" in errors[0].problem


def test_override_merges_on_top_of_the_preset(folder: Path) -> None:
    path = write_source(
        folder, "override", conn_id="c", driver="SQLite3", s2s_source_id=3,
        mapping_overrides={"products": {"fields": {"barcode": "ean13"}, "defaults": {"vendor": "Acme"}}},
    )  # fmt: skip
    mapping = resolve_mapping(load_source(path))
    assert mapping.products.fields["barcode"] == "ean13"
    assert mapping.products.fields["sku"] == "item_code"  # the preset's other fields stay
    assert mapping.products.defaults == {"vendor": "Acme"}
    assert "FROM products p" in mapping.products.query


def test_check_config_command(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["check-config", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "OK     s2s_good" in out
    assert "1 valid source config(s), 0 with errors" in out

    write_source(folder, "broken", conn_id="c", driver="SQLite3", s2s_source_id=-1)
    assert cli(["check-config", "--dir", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "OK     s2s_good" in out
    assert "ERROR  " in out
    assert "broken.yaml: stock2shop.source_id: " in out


def test_check_config_says_where_the_order_ledger_lives_and_fails_when_orders_have_none(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, state_store: str
) -> None:
    assert cli(["check-config", "--dir", str(folder)]) == 0
    assert f"order ledger and synced SKUs: {state_store} (from S2S_STATE_URL)" in capsys.readouterr().out

    monkeypatch.delenv("S2S_STATE_URL")
    assert cli(["check-config", "--dir", str(folder)]) == 0  # no source takes orders: a warning only
    assert "WARN   order ledger: no state store is configured" in capsys.readouterr().out

    write_source(
        folder, "orders", conn_id="c", driver="SQLite3", s2s_source_id=4, orders={"enabled": True, "conn_id": "c"}
    )
    assert cli(["check-config", "--dir", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "ERROR  order ledger: no state store is configured" in out
    assert "AIRFLOW_CONN_S2S_STATE" in out


def test_a_state_url_with_a_password_is_shown_without_it() -> None:
    from stock2shop_sync.state import _sqlalchemy_url, safe_url

    assert safe_url("postgresql://sync:hunter22@db:5432/s2s_state") == "postgresql://sync:***@db:5432/s2s_state"
    assert _sqlalchemy_url("postgres://u@h/db").startswith(("postgresql://", "postgresql+psycopg2://"))
