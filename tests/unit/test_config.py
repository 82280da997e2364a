"""Source configs: the shipped ones load, and every broken file is reported by file, key and problem
without hiding the good configs beside it (``load_all`` and the ``check-config`` command)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stock2shop_sync.cli import main as cli
from stock2shop_sync.config import ConfigError, SourceConfig, load_all, load_source, mappings_dir, resolve_mapping
from tests.conftest import ROOT, write_source

SHIPPED_SOURCES = ROOT / "include" / "sources"
SHIPPED_FILES = sorted(SHIPPED_SOURCES.glob("*.yaml"))
KNOWN_PRESETS = sorted(p.stem for p in (ROOT / "include" / "mappings").glob("*.yaml"))


def _good(folder: Path) -> Path:
    return write_source(folder, "good", conn_id="s2s_good", driver="SQLite3", s2s_source_id=11)


def _broken(folder: Path, source_id: str, **extra: Any) -> Path:
    return write_source(folder, source_id, conn_id="s2s_broken", driver="SQLite3", s2s_source_id=12, **extra)


def _only_error(folder: Path) -> ConfigError:
    """The folder's single error, checking that the good config beside it still loads."""
    configs, errors = load_all(folder)
    assert [c.source_id for c in configs] == ["good"], "a broken file must never hide the good config"
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


@pytest.fixture
def folder(sources_dir: Path) -> Path:
    """The test's sources folder holding one good config (``good.yaml``)."""
    _good(sources_dir)
    return sources_dir


class TestShippedConfigs:
    def test_the_shipped_folder_has_configs(self) -> None:
        assert SHIPPED_FILES, f"no source configs in {SHIPPED_SOURCES}"
        assert (SHIPPED_SOURCES / "demo_custom_db.yaml") in SHIPPED_FILES

    @pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.stem)
    def test_each_shipped_config_loads_and_resolves_its_mapping(self, path: Path) -> None:
        config = load_source(path)
        assert config.source_id == path.stem
        assert config.path == str(path)
        mapping = resolve_mapping(config)
        assert mapping.name == config.mapping_name
        assert getattr(config, mapping.location) is not None, f"{path.name} lacks `{mapping.location}`"
        for entity in config.entities:
            assert getattr(mapping, entity) is not None, f"{mapping.name} cannot read {entity}"
        if mapping.connector == "sql":
            for entity in config.entities:
                query = mapping.entity(entity).query
                assert query
                assert "{{" not in query, "every {{setting}} placeholder must be filled in"

    def test_load_all_on_the_shipped_folder_reports_no_errors(self) -> None:
        configs, errors = load_all(SHIPPED_SOURCES)
        assert [str(e) for e in errors] == []
        assert sorted(c.source_id for c in configs) == sorted(p.stem for p in SHIPPED_FILES)
        dag_ids = [c.dag_id for c in configs]
        assert len(dag_ids) == len(set(dag_ids))

    def test_the_demo_custom_database_config(self) -> None:
        config = load_source(SHIPPED_SOURCES / "demo_custom_db.yaml")
        assert config.dag_id == "s2s_demo_custom_db"
        assert config.type == "custom_database"
        assert config.connection is not None
        assert config.connection.conn_id == "s2s_demo_custom_db"
        assert config.stock2shop is not None
        assert config.stock2shop.source_id == 101
        assert config.entities == ["products", "customers"]
        assert config.validation.max_invalid_share == pytest.approx(0.2)
        mapping = resolve_mapping(config)
        assert mapping.products is not None
        assert mapping.customers is not None
        assert mapping.products.fields["sku"] == "item_code"
        assert mapping.products.fields["product_active"] == "s2s_active"
        assert mapping.customers.fields["source_customer_code"] == "account"
        assert mapping.customers.fields["email"] == "email"

    def test_the_default_folder_is_the_shipped_one(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("S2S_SOURCES_DIR", raising=False)
        configs, errors = load_all()
        assert errors == []
        assert sorted(c.source_id for c in configs) == sorted(p.stem for p in SHIPPED_FILES)


class TestLoadAllReportsBrokenFiles:
    def test_a_good_folder_loads_without_errors(self, folder: Path) -> None:
        configs, errors = load_all(folder)
        assert errors == []
        assert len(configs) == 1
        config = configs[0]
        assert isinstance(config, SourceConfig)
        assert config.source_id == "good"
        assert config.path == str(folder / "good.yaml")
        assert config.stock2shop is not None
        assert config.stock2shop.source_id == 11
        # Without `entities` a source syncs what its mapping can read.
        assert config.entities == ["products", "customers"]

    def test_load_all_defaults_to_s2s_sources_dir(self, folder: Path) -> None:
        configs, errors = load_all()
        assert errors == []
        assert [c.source_id for c in configs] == ["good"]

    def test_invalid_yaml_names_the_line(self, folder: Path) -> None:
        path = folder / "broken_yaml.yaml"
        path.write_text("source_id: broken_yaml\ntype: custom_database\nconnection: a: b\nschedule: '@daily'\n")
        error = _only_error(folder)
        assert error.file == str(path)
        assert error.key == "line 3, column 14"
        assert "invalid YAML" in error.problem
        assert "mapping values are not allowed" in error.problem
        assert str(error) == f"{path}: line 3, column 14: {error.problem}"

    def test_a_file_that_is_not_a_mapping_is_reported(self, folder: Path) -> None:
        path = folder / "a_list.yaml"
        path.write_text("- source_id: a_list\n- type: custom_database\n")
        error = _only_error(folder)
        assert error.file == str(path)
        assert error.key == "(file)"
        assert "expected a mapping" in error.problem

    def test_unknown_top_level_key_is_named(self, folder: Path) -> None:
        path = _broken(folder, "typo", schedul="@daily")
        error = _only_error(folder)
        assert error.file == str(path)
        assert error.key == "schedul"
        assert "unknown key" in error.problem
        assert error.source_id == "typo"

    @pytest.mark.parametrize("source_id", ["Bad-Id", "9lives", "has space", "x" * 64])
    def test_bad_source_id_pattern(self, folder: Path, source_id: str) -> None:
        path = _broken(folder, "bad_id")
        path.write_text(path.read_text().replace("source_id: bad_id", f"source_id: '{source_id}'", 1))
        error = _only_error(folder)
        assert error.file == str(path)
        assert error.key == "source_id"
        assert "pattern" in error.problem

    @pytest.mark.parametrize("s2s_id", [0, -1])
    def test_stock2shop_source_id_must_be_positive(self, folder: Path, s2s_id: int) -> None:
        path = write_source(folder, "not_positive", conn_id="c", driver="SQLite3", s2s_source_id=s2s_id)
        error = _only_error(folder)
        assert error.file == str(path)
        assert error.key == "stock2shop.source_id"
        assert "greater than 0" in error.problem

    @pytest.mark.parametrize("key", ["type", "mapping"])
    def test_unknown_preset_is_named_with_the_known_ones(self, folder: Path, key: str) -> None:
        path = _broken(folder, "no_preset", **{key: "sage_unknown"})
        error = _only_error(folder)
        assert error.file == str(path)
        assert error.key == key
        assert "no mapping preset 'sage_unknown'" in error.problem
        assert "known presets" in error.problem
        assert "custom_database" in KNOWN_PRESETS
        for preset in KNOWN_PRESETS:
            assert repr(preset) in error.problem

    def test_unknown_field_in_mapping_overrides(self, folder: Path) -> None:
        path = _broken(folder, "odd_field", mapping_overrides={"products": {"fields": {"not_a_field": "col"}}})
        error = _only_error(folder)
        assert error.file == str(path)
        assert error.key == "mapping_overrides.products.fields.not_a_field"
        assert "unknown product field 'not_a_field'" in error.problem

    def test_pattern_fields_in_overrides_are_accepted(self, folder: Path) -> None:
        fields = {"price_Wholesale": "trade_price", "qty_JHB": "jhb_stock", "meta_colour": "colour", "image1": "pic"}
        path = _broken(folder, "patterns", mapping_overrides={"products": {"fields": fields}})
        configs, errors = load_all(folder)
        assert errors == []
        assert sorted(c.source_id for c in configs) == ["good", "patterns"]
        mapping = resolve_mapping(load_source(path))
        assert mapping.products is not None
        assert {k: mapping.products.fields[k] for k in fields} == fields
        assert mapping.products.fields["sku"] == "item_code", "the preset's other fields stay"

    @pytest.mark.parametrize(
        ("query", "problem"),
        [
            ("DELETE FROM products", "must start with SELECT or WITH, not 'DELETE'"),
            ("SELECT 1; DROP TABLE x", "'DROP'"),
            ("SELECT 1; SELECT 2", "single statement"),
            ("WITH t AS (SELECT 1) UPDATE products SET qty = 0", "'UPDATE'"),
        ],
    )
    def test_a_writing_override_query_is_refused(self, folder: Path, query: str, problem: str) -> None:
        path = _broken(folder, "writer", mapping_overrides={"products": {"query": query}})
        error = _only_error(folder)
        assert error.file == str(path)
        assert error.key == "mapping_overrides.products.query"
        assert problem in error.problem

    def test_a_read_only_override_query_is_kept(self, folder: Path) -> None:
        query = "SELECT item_code FROM products WHERE s2s_active <> 'Delete' -- DROP nothing"
        path = _broken(folder, "reader", mapping_overrides={"products": {"query": query}})
        mapping = resolve_mapping(load_source(path))
        assert mapping.products is not None
        assert mapping.products.query == query

    def test_the_same_source_id_twice_reports_the_second_file(self, folder: Path) -> None:
        second = folder / "zz_second.yaml"
        second.write_text((folder / "good.yaml").read_text())
        error = _only_error(folder)
        assert error.file == str(second)
        assert error.key == "source_id"
        assert "'good' is already used by" in error.problem
        assert str(folder / "good.yaml") in error.problem

    def test_every_broken_file_is_reported_and_the_good_one_still_loads(self, folder: Path) -> None:
        (folder / "a_yaml.yaml").write_text("source_id: a_yaml\nconnection: a: b\n")
        _broken(folder, "b_key", colour="red")
        write_source(folder, "c_zero", conn_id="c", driver="SQLite3", s2s_source_id=0)
        _broken(folder, "d_preset", type="nope")
        _broken(folder, "e_field", mapping_overrides={"products": {"fields": {"not_a_field": "x"}}})
        _broken(folder, "f_delete", mapping_overrides={"products": {"query": "DELETE FROM products"}})
        _broken(folder, "g_drop", mapping_overrides={"customers": {"query": "SELECT 1; DROP TABLE x"}})
        (folder / "zz_dup.yaml").write_text((folder / "good.yaml").read_text())

        configs, errors = load_all(folder)
        assert [c.source_id for c in configs] == ["good"]
        by_file = {Path(e.file).name: e.key for e in errors}
        assert by_file == {
            "a_yaml.yaml": "line 2, column 14",
            "b_key.yaml": "colour",
            "c_zero.yaml": "stock2shop.source_id",
            "d_preset.yaml": "type",
            "e_field.yaml": "mapping_overrides.products.fields.not_a_field",
            "f_delete.yaml": "mapping_overrides.products.query",
            "g_drop.yaml": "mapping_overrides.customers.query",
            "zz_dup.yaml": "source_id",
        }


class TestCheckConfigCommand:
    def test_a_good_folder_exits_0(self, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(["check-config", "--dir", str(folder)]) == 0
        out = capsys.readouterr().out
        assert "ERROR" not in out
        assert "OK     s2s_good" in out
        assert str(folder / "good.yaml") in out
        assert "Stock2Shop source 11" in out
        assert "1 valid source config(s), 0 with errors" in out

    def test_a_broken_folder_exits_1_naming_file_and_key(
        self, folder: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        bad_key = _broken(folder, "bad_key", colour="red")
        bad_query = _broken(folder, "bad_query", mapping_overrides={"products": {"query": "DELETE FROM products"}})
        assert cli(["check-config", "--dir", str(folder)]) == 1
        out = capsys.readouterr().out
        errors = [line for line in out.splitlines() if line.startswith("ERROR")]
        assert len(errors) == 2, out
        assert any(f"{bad_key}: colour: unknown key" in line for line in errors)
        assert any(f"{bad_query}: mapping_overrides.products.query: " in line for line in errors)
        assert "OK     s2s_good" in out, "the good config is still listed"
        assert "1 valid source config(s), 2 with errors" in out

    def test_an_empty_folder_exits_1(self, sources_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(["check-config", "--dir", str(sources_dir)]) == 1
        assert "0 valid source config(s), 0 with errors" in capsys.readouterr().out

    def test_the_shipped_folder_passes(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli(["check-config", "--dir", str(SHIPPED_SOURCES)]) == 0
        out = capsys.readouterr().out
        assert "ERROR" not in out
        assert f"{len(SHIPPED_FILES)} valid source config(s), 0 with errors" in out


def test_mappings_dir_holds_every_preset_a_shipped_config_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("S2S_MAPPINGS_DIR", raising=False)
    assert mappings_dir() == ROOT / "include" / "mappings"
    used = {load_source(p).mapping_name for p in SHIPPED_FILES}
    assert used <= set(KNOWN_PRESETS)
