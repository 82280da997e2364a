"""The README's generated tables come from the presets' own declarations and the code's canonical fields, and
cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from stock2shop_sync.config import CUSTOMER_FIELDS, PRODUCT_FIELDS, Mapping, load_mapping, mappings_dir
from stock2shop_sync.model.canonical import FIELD_DOCS, field_doc
from stock2shop_sync.settings_doc import field_rows, main, render, settings_rows

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_tables_are_what_the_presets_declare() -> None:
    assert main(["--check", str(ROOT / "README.md")]) == 0, "run: python -m stock2shop_sync.settings_doc"


def test_every_setting_of_every_shipped_preset_is_documented() -> None:
    for path in sorted(mappings_dir().glob("*.yaml")):
        rows = settings_rows(load_mapping(path.stem))
        assert all(what for _, _, what in rows), path.name


def test_a_changed_default_shows_in_the_table() -> None:
    table = render("<!-- settings-table sage_evolution -->\nold\n<!-- /settings-table -->\n")
    assert "| `title_rule` | `common_prefix` |" in table
    assert "| `inactive_items` | `delete` |" in table
    assert "\nold\n" not in table


def test_an_undocumented_setting_is_refused() -> None:
    mapping = Mapping.model_validate({"name": "shop", "connector": "sql", "settings": {"colour_field": "s.Colour"}})
    with pytest.raises(ValueError, match="settings without a note: colour_field"):
        settings_rows(mapping)


# ---- the fields a mapping may map ------------------------------------------------------------------------------


def test_the_readme_has_a_generated_fields_table_per_entity() -> None:
    readme = (ROOT / "README.md").read_text()
    for entity in ("products", "customers"):
        assert f"<!-- fields-table {entity} -->\n| field | what it is | required | mapped by default in |" in readme
    assert main(["--check", str(ROOT / "README.md")]) == 0  # ... and they are what the code says


def test_every_canonical_field_is_in_the_table_with_the_presets_that_map_it() -> None:
    presets = [load_mapping(path.stem) for path in sorted(mappings_dir().glob("*.yaml"))]
    products = {row[0]: row for row in field_rows("products", presets)}
    customers = {row[0]: row for row in field_rows("customers", presets)}
    assert set(products) >= PRODUCT_FIELDS
    assert set(customers) >= CUSTOMER_FIELDS
    assert {"price_<tier>", "qty_<warehouse>", "meta_<key>", "variant_meta_<key>", "image<N>"} <= set(products)
    assert products["sku"][2] == "every row"
    assert products["source_variant_code"][2] == "every row (else from `sku`)"
    assert products["price"][2] == "active rows (else from a price-list query)"
    assert products["barcode"][2] == "no"
    assert "`custom_database`" in products["barcode"][3]
    assert "isync" not in products["barcode"][3]
    assert "`sage_evolution` (from its price-list query)" in products["price"][3]
    assert "`flat_file` (constant)" in products["product_active"][3]
    assert customers["full_name"][3] == "`sage_accounting`, `sage_evolution`, `sage_pastel_partner`"
    assert "`sage_evolution` (from `full_name`)" in customers["first_name"][3]
    assert customers["email"][2] == "active rows"
    table = render("<!-- fields-table products -->\nold\n<!-- /fields-table -->\n")
    assert "`flat_file`, `google_sheets` map every column named as one of these fields to it (`auto_fields`)." in table


def test_a_canonical_field_without_a_description_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from stock2shop_sync import settings_doc

    docs = {**FIELD_DOCS, "customers": tuple(d for d in FIELD_DOCS["customers"] if d.name != "full_name")}
    monkeypatch.setattr(settings_doc, "FIELD_DOCS", docs)
    with pytest.raises(ValueError, match=r"customers: fields without a FieldDoc: \['full_name'\]"):
        field_rows("customers", [])


def _valid_row(entity: str) -> dict[str, str | None]:
    """One row validation accepts, every other catalogued field of ``entity`` blank."""
    row: dict[str, str | None] = {doc.name: None for doc in FIELD_DOCS[entity] if "<" not in doc.name}
    if entity == "products":
        row.update(source_product_code="P1", source_variant_code="V1", sku="S1", title="Tee", price="10", qty="1",
                   product_active="Active")  # fmt: skip
    else:
        row.update(source_customer_code="C1", customer_active="Active", first_name="Ann", last_name="Lee",
                   email="ann@example.com")  # fmt: skip
    return row


@pytest.mark.parametrize("entity", ["products", "customers"])
def test_what_the_table_calls_required_is_what_validation_quarantines_a_row_for(entity: str) -> None:
    import pandas as pd

    from stock2shop_sync.model.canonical import ROW
    from stock2shop_sync.model.validation import VALIDATORS

    status = "product_active" if entity == "products" else "customer_active"

    def quarantined(changes: dict[str, str | None]) -> bool:
        frame = pd.DataFrame([{ROW: 1, **_valid_row(entity), **changes}]).astype({ROW: "int64"})
        frame = frame.astype({c: "string" for c in frame.columns if c != ROW})
        return VALIDATORS[entity](frame, "s").counts["invalid"] == 1

    assert not quarantined({})
    for doc in FIELD_DOCS[entity]:
        if "<" in doc.name or doc.name == status:
            continue
        on_active = quarantined({doc.name: None})
        on_deleted = quarantined({doc.name: None, status: "Delete"})
        assert (on_active, on_deleted) == {
            "every row": (True, True), "active rows": (True, False), "": (False, False)
        }[doc.required], doc.name  # fmt: skip
    assert quarantined({status: None})
    assert field_doc(entity, status).required == "every row"
