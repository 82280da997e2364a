"""Source configs and mappings: what loads, and how each problem is named (file, key, problem)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

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


def _overridden(folder: Path, preset: str = "custom_database", **overrides: Any) -> Path:
    return write_source(folder, "unmap", conn_id="c", driver="SQLite3", s2s_source_id=3, type=preset,
                        mapping_overrides=overrides)  # fmt: skip


def test_null_unmaps_a_preset_field_so_the_source_does_not_send_it(folder: Path) -> None:
    path = _overridden(folder, products={"fields": {"barcode": None, "grams": None}, "defaults": {"vendor": "Acme"}},
                       customers={"fields": {"email": None}})  # fmt: skip
    mapping = resolve_mapping(load_source(path))
    assert "barcode" not in mapping.products.fields
    assert "grams" not in mapping.products.fields
    assert mapping.products.fields["sku"] == "item_code"  # the preset's other fields stay
    assert mapping.products.defaults == {"vendor": "Acme"}
    # Stock2Shop needs an e-mail address on every active customer, but a site may have none yet: each such row is
    # then an ERROR line of check-mapping (the run quarantines it), not a config the DAG cannot even load.
    assert "email" not in mapping.customers.fields
    assert mapping.customers.fields["source_customer_code"] == "account"


def test_null_unmaps_a_constant_and_a_field_that_another_still_gives(folder: Path) -> None:
    # sku gives the variant code, and that the product code; the ERP's own flags give the status.
    path = _overridden(folder, "sage_evolution", products={
        "fields": {"source_product_code": None, "source_variant_code": None, "product_active": None},
        "defaults": {"inventory_management": None},
    })  # fmt: skip
    products = resolve_mapping(load_source(path)).products
    assert {"source_product_code", "source_variant_code", "product_active"}.isdisjoint(products.fields)
    assert products.defaults == {}
    assert products.fields["item_active"] == "item_active"


def test_a_flat_files_constant_can_be_removed(folder: Path) -> None:
    # Its columns map by their names (auto_fields): a file with its own product_active column needs no constant.
    path = _overridden(folder, "flat_file", products={"defaults": {"product_active": None}})
    data = yaml.safe_load(path.read_text())
    data.pop("connection")
    path.write_text(yaml.safe_dump({**data, "file": {"path": "/tmp/items.csv"}}))
    assert resolve_mapping(load_source(path)).products.defaults == {"inventory_management": True}


@pytest.mark.parametrize(
    ("preset", "overrides", "key", "problem"),
    [
        ("custom_database", {"products": {"fields": {"sku": None}}}, "products.fields.sku",
         "cannot unmap sku: every product row needs sku (the run quarantines a row without it) and nothing else gives "
         "it; map sku to another column instead"),
        ("custom_database", {"customers": {"fields": {"source_customer_code": None}}},
         "customers.fields.source_customer_code", "cannot unmap source_customer_code: every customer row needs"),
        ("custom_database", {"products": {"fields": {"product_active": None}}}, "products.fields.product_active",
         "every product row needs product_active"),
        # the variant code falls back on the SKU: not when both go
        ("custom_database", {"products": {"fields": {"source_variant_code": None, "sku": None}}},
         "products.fields.source_variant_code",
         "cannot unmap source_variant_code: every product row needs source_variant_code"),
        ("flat_file", {"products": {"fields": {"barcode": None}}}, "products.fields.barcode",
         "maps every column named as a Stock2Shop field to that field (auto_fields); rename or remove the source's "
         "column 'barcode' instead"),
        ("custom_database", {"products": {"fields": {"barcod": None}}}, "products.fields.barcod",
         "unknown product field 'barcod'"),
        ("custom_database", {"products": {"fields": {"barcode": ""}}}, "products.fields.barcode",
         "must name a source column; null unmaps the field, so the source does not send it"),
    ],
)  # fmt: skip
def test_a_field_every_row_needs_cannot_be_unmapped(
    folder: Path, preset: str, overrides: dict[str, Any], key: str, problem: str
) -> None:
    path = _overridden(folder, preset, **overrides)
    if preset == "flat_file":
        data = yaml.safe_load(path.read_text())
        data.pop("connection")
        path.write_text(yaml.safe_dump({**data, "file": {"path": "/tmp/items.csv"}}))
    with pytest.raises(ConfigError) as caught:
        resolve_mapping(load_source(path))
    error = caught.value
    assert (error.file, error.key, error.source_id) == (str(path), f"mapping_overrides.{key}", "unmap")
    assert problem in error.problem


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


# --- column settings: quoted identifiers, rendered in the source's dialect ---------------------------------------

SQL_SERVER, POSTGRES, MARIADB = "ODBC Driver 18 for SQL Server", "PostgreSQL Unicode", "MariaDB Unicode"
BRACKETS, ANSI, BACKTICKS = ("[", "]"), ('"', '"'), ("`", "`")
#: Driver -> the quotes a quoted part of a column setting is rendered in there.
QUOTING = {
    SQL_SERVER: BRACKETS,
    "FreeTDS": BRACKETS,
    "/usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so": BRACKETS,
    "Adaptive Server Enterprise": BRACKETS,
    POSTGRES: ANSI,
    "SQLite3": ANSI,
    "Pervasive ODBC Interface": ANSI,
    "HDBODBC": ANSI,
    MARIADB: BACKTICKS,
    "MySQL ODBC 8.0 Unicode Driver": BACKTICKS,
}


def _evolution(folder: Path, driver: str | None = "SQLite3", **settings: object) -> Path:
    return write_source(
        folder, "evo", conn_id="c", driver=driver, s2s_source_id=7, type="sage_evolution", settings=settings
    )


def _active_sql(path: Path) -> str:
    """What the products query holds where the preset says ``RTRIM({{active_field}})``."""
    query = resolve_mapping(load_source(path)).products.query
    return query.split("COALESCE(NULLIF(RTRIM(")[2].split("), ''), 'Ignore') AS s2s_active")[0]


@pytest.mark.parametrize(
    ("driver", "dialect"),
    [
        (SQL_SERVER, "sqlserver"), ("SQL Server Native Client 11.0", "sqlserver"), ("FreeTDS", "sqlserver"),
        ("Adaptive Server Enterprise", "sybase"), ("Sybase ASE ODBC Driver", "sybase"),
        (POSTGRES, "postgresql"), ("PostgreSQL ANSI", "postgresql"), ("/usr/lib/psqlodbcw.so", "postgresql"),
        (MARIADB, "mysql"), ("MySQL ODBC 8.0 Unicode Driver", "mysql"), ("/usr/lib/libmaodbc.so", "mysql"),
        ("SQLite3", "sqlite"), ("Pervasive ODBC Interface", "pervasive"), ("Pervasive ODBC Client Interface", "pervasive"),
        ("Actian Zen ODBC Interface", "pervasive"), ("HDBODBC", "hana"), ("Some Vendor ODBC", None), (None, None),
    ],
)  # fmt: skip
def test_a_driver_name_gives_its_dialect(driver: str | None, dialect: str | None) -> None:
    from stock2shop_sync.connectors.read_only import driver_dialect

    assert driver_dialect(driver) == dialect


@pytest.mark.parametrize("driver", list(QUOTING), ids=lambda d: str(d))
@pytest.mark.parametrize("form", ["[{}]", '"{}"', "`{}`"], ids=["brackets", "double_quotes", "backticks"])
def test_each_quote_form_renders_in_the_drivers_dialect(folder: Path, driver: str | None, form: str) -> None:
    path = _evolution(folder, driver, active_field="s." + form.format("ucIIWeb Status"))
    opening, closing = QUOTING[driver]
    assert _active_sql(path) == f"s.{opening}ucIIWeb Status{closing}"
    # The settings keep what the user wrote (for messages that name the setting).
    assert resolve_mapping(load_source(path)).settings.columns["active_field"] == "s." + form.format("ucIIWeb Status")


@pytest.mark.parametrize("driver", [SQL_SERVER, POSTGRES, MARIADB])
@pytest.mark.parametrize(
    ("setting", "rendered"),
    [
        ("[ucIIWebStatus]", "<ucIIWebStatus>"),  # no alias
        ("[s].[ucII Web]", "<s>.<ucII Web>"),  # a quoted alias too
        ("s.[a.b-c#1$]", "s.<a.b-c#1$>"),  # every character a quoted name may hold
        ('"Order"', "<Order>"),  # a reserved word
        ("  s.[ucII Web]  ", "s.<ucII Web>"),  # white space around the value is dropped, as it always was
        ("s.ucIIS2SActive", "s.ucIIS2SActive"),  # plain names exactly as written, in every dialect
        ("ucIIS2SActive", "ucIIS2SActive"),
        ("S.UCIIS2SACTIVE", "S.UCIIS2SACTIVE"),
        ("'Active'", "'Active'"),
        ("NULL", "NULL"),
    ],
)  # fmt: skip
def test_column_settings_render_per_dialect(folder: Path, driver: str | None, setting: str, rendered: str) -> None:
    opening, closing = QUOTING[driver]
    expected = rendered.replace("<", opening).replace(">", closing)
    assert _active_sql(_evolution(folder, driver, active_field=setting)) == expected


@pytest.mark.parametrize("driver", [None, "Some Vendor ODBC"])
def test_a_quoted_name_is_refused_when_the_drivers_quoting_is_not_known(folder: Path, driver: str | None) -> None:
    # Guessing is never safe: on MySQL/MariaDB "Name" is a string, so WHERE "Name" = 'x' would quietly be false.
    with pytest.raises(ConfigError, match=r"settings\.active_field: a quoted column name needs connection\.driver"):
        resolve_mapping(load_source(_evolution(folder, driver, active_field="s.[ucIIWeb Status]")))
    assert _active_sql(_evolution(folder, driver, active_field="s.ucIIWebStatus")) == "s.ucIIWebStatus"


def test_a_null_setting_is_null(folder: Path) -> None:
    assert _active_sql(_evolution(folder, MARIADB, active_field=None)) == "NULL"


@pytest.mark.parametrize(
    ("setting", "holds"),
    [
        ("s.Code; DROP TABLE StkItem", "';'"),
        ("s.[x]; DROP TABLE StkItem", "';'"),
        ("s.[x]] ; DROP TABLE StkItem --]", "';', '--'"),  # closing the bracket early
        ('s."x"" OR 1=1 --"', "'=', '--'"),  # a doubled quote to stay inside it
        ("s.`x`` OR 1=1`", "'='"),
        ('s.[x" OR "1"="1]', "'='"),  # another dialect's quote inside brackets
        ("s.[x`]", None),
        ("s.[x'y]", None),
        ('s."x]"', None),  # a bracket inside double quotes (rendered as [x]] on SQL Server)
        ("s.[x--y]", "'--'"),
        ("s.[x/*y*/]", "'/', '*'"),
        ("s.[x]/**/", "'/', '*'"),
        ("s.[x\ny]", "'\\n'"),
        ("s.[x\r\ny]", "'\\r', '\\n'"),
        ("s.[x\ty]", "'\\t'"),
        ("s.[x\x00y]", "'\\x00'"),
        ("s.[x\\y]", "'\\\\'"),
        ("s.[x\u2028y]", "'\\u2028'"),  # a Unicode line break
        ("s.[x\u02bcy]", "'ʼ'"),  # a modifier letter that best-fit code pages turn into '
        ("s.[x\uff07y]", "'＇'"),  # the full-width apostrophe
        ("s.[x;y]", "';'"),
        ("s.[x]y", None),  # text after the quoted name
        ("s.[x", None),  # unclosed
        ("s.x]", None),
        ("s.[]", None),  # empty
        ("s.[ x]", None),  # leading or trailing space inside the quotes
        ("s.[x ]", None),
        ("s.[" + "x" * 129 + "]", None),  # longer than any database's identifier
        ("s. [x]", None),  # white space around the dot
        ("a.s.[x]", None),  # three parts
        ("s.x OR 1=1", "'='"),
        ("(SELECT TOP 1 Code FROM StkItem)", "'(', ')'"),
        ("'Active' || s.Code", "'|'"),
        ("NULL; DELETE FROM StkItem", "';'"),
        ("", None),
    ],
)  # fmt: skip
def test_a_column_setting_that_could_escape_is_refused(folder: Path, setting: str, holds: str | None) -> None:
    _evolution(folder, MARIADB, active_field=setting)
    error = _single_error(folder)
    assert error.file.endswith("evo.yaml")
    assert error.key == "settings.active_field"
    assert error.problem.startswith("must be a column reference")
    assert 'quoted as [Name], "Name" or `Name`' in error.problem  # what is allowed
    assert "letters, digits, spaces and _ - . # $" in error.problem
    if holds:
        assert error.problem.endswith(f"(it holds {holds})")
    assert str(error).startswith(f"{error.file}: settings.active_field: must be a column reference")


@pytest.mark.parametrize("value", [5, ["s.x"], {"column": "s.x"}, True])
def test_a_column_setting_must_be_text(folder: Path, value: object) -> None:
    _evolution(folder, SQL_SERVER, active_field=value)
    error = _single_error(folder)
    assert (error.key, error.problem[:26]) == ("settings.active_field", "must be a column reference")


def test_a_preset_whose_default_setting_could_escape_is_refused() -> None:
    from pydantic import ValidationError

    from stock2shop_sync.config import SiteSettings

    with pytest.raises(ValidationError, match="active_field must be a column reference"):
        SiteSettings.model_validate({"active_field": "s.[x]; DROP TABLE StkItem"})


def test_only_a_valid_setting_can_be_rendered() -> None:
    from stock2shop_sync.config import render_column_setting

    assert render_column_setting("s.[x y]", "mysql") == "s.`x y`"
    with pytest.raises(ValueError, match="not a column setting"):
        render_column_setting("s.[x]; DROP TABLE StkItem", "sqlserver")
