"""Stock2Shop queue items built from validated frames (stock2shop-api-and-model.md, section 3.1; the README's
assumed customer contract). Frames go through validation first, so their dtypes are the real ones."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from stock2shop_sync.model.canonical import ROW
from stock2shop_sync.model.payloads import BUILDERS, build_customer_items, build_product_items
from stock2shop_sync.model.validation import validate_customers, validate_products

S2S_SOURCE_ID = 57


def canonical(*rows: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows)).astype("string")
    df.insert(0, ROW, pd.Series(range(1, len(df) + 1), dtype="int64"))
    return df


def valid_products(*rows: dict[str, Any]) -> pd.DataFrame:
    result = validate_products(canonical(*rows), "shop_db")
    assert result.counts["invalid"] == 0, result.issues.to_dict("records")
    return result.valid


def valid_customers(*rows: dict[str, Any]) -> pd.DataFrame:
    result = validate_customers(canonical(*rows), "shop_db")
    assert result.counts["invalid"] == 0, result.issues.to_dict("records")
    return result.valid


def products(*rows: dict[str, Any]) -> list[dict[str, Any]]:
    return build_product_items(valid_products(*rows), S2S_SOURCE_ID)


def simple(code: str = "HAMMER", **extra: Any) -> dict[str, Any]:
    return {
        "source_product_code": code,
        "source_variant_code": code,
        "sku": code,
        "title": "Claw Hammer",
        "price": "199.90",
        "qty": "7",
        "product_active": "Active",
        **extra,
    }


def tee(sku: str, size: str, **extra: Any) -> dict[str, Any]:
    return {
        "source_product_code": "TEE",
        "source_variant_code": sku,
        "sku": sku,
        "title": "Classic Tee",
        "collection": "T-Shirts",
        "vendor": "Acme",
        "price": "100",
        "qty": "2",
        "product_active": "Active",
        "option1_name": "Size",
        "option1_value": size,
        **extra,
    }


def customer(code: str = "C1", **extra: Any) -> dict[str, Any]:
    return {
        "source_customer_code": code,
        "customer_active": "Active",
        "first_name": "Thandi",
        "last_name": "Nkosi",
        "email": "thandi@example.co.za",
        **extra,
    }


class TestProductItems:
    def test_one_item_per_variant_sharing_the_product(self) -> None:
        items = products(tee("TEE-S", "S"), tee("TEE-M", "M"), tee("TEE-L", "L"))
        assert len(items) == 3
        assert [i["product"]["variants"]["sku"] for i in items] == ["TEE-S", "TEE-M", "TEE-L"]
        assert [i["product"]["variants"]["option1"] for i in items] == ["S", "M", "L"]
        for item in items:
            assert item["source"]["source_product_code"] == "TEE"
            assert item["product"]["title"] == "Classic Tee"
            assert item["product"]["collection"] == "T-Shirts"
            assert item["product"]["vendor"] == "Acme"
            assert item["product"]["options"] == [{"name": "Size", "position": 1}]

    def test_variants_is_an_object_not_a_list(self) -> None:
        (item,) = products(simple())
        assert isinstance(item["product"]["variants"], dict)
        assert set(item) == {"source", "product"}

    def test_source_fields(self) -> None:
        (item,) = products(simple())
        assert item["source"] == {
            "source_id": "57",
            "source_product_code": "HAMMER",
            "product_active": "true",
            "sync_token": "0",
            "fetch_token": "0",
        }

    def test_a_source_sync_token_is_passed_on(self) -> None:
        (item,) = products(simple(sync_token="2024-05-01T10:00:00"))
        assert item["source"]["sync_token"] == "2024-05-01T10:00:00"
        assert item["source"]["fetch_token"] == "0"

    def test_variant_fields_are_typed(self) -> None:
        (item,) = products(simple(inventory_management="0", barcode="6001234567890", grams="250.4"))
        variant = item["product"]["variants"]
        assert variant == {
            "source_variant_code": "HAMMER",
            "sku": "HAMMER",
            "qty": 7,
            "price": pytest.approx(199.9),
            "inventory_management": "false",
            "option1": None,
            "option2": None,
            "option3": None,
            "barcode": "6001234567890",
            "grams": 250,
        }
        assert type(variant["qty"]) is int
        assert type(variant["price"]) is float
        assert type(variant["grams"]) is int

    def test_inventory_management_defaults_to_true(self) -> None:
        (item,) = products(simple())
        assert item["product"]["variants"]["inventory_management"] == "true"

    def test_negative_qty_is_sent_as_zero(self) -> None:
        (item,) = products(simple(qty="-3"))
        assert item["product"]["variants"]["qty"] == 0

    def test_delete_row_is_sent_inactive(self) -> None:
        (item,) = products(simple(product_active="Delete", title=None, price=None, qty=None))
        assert item["source"]["product_active"] == "false"
        assert item["source"]["source_product_code"] == "HAMMER"
        assert item["product"]["title"] == "HAMMER", "a title is still required: the SKU stands in"
        assert item["product"]["variants"]["sku"] == "HAMMER"
        assert item["product"]["variants"]["qty"] == 0

    def test_active_and_delete_rows_side_by_side(self) -> None:
        items = products(simple("A"), simple("B", product_active="D"), simple("C", product_active="Ignore"))
        assert [(i["source"]["source_product_code"], i["source"]["product_active"]) for i in items] == [
            ("A", "true"),
            ("B", "false"),
        ]

    def test_items_are_json_serialisable(self) -> None:
        items = products(
            tee("TEE-S", "S", price_Wholesale="80", qty_JHB="3", meta_material="cotton", image1="https://img/t.jpg"),
            simple(product_active="Delete", price=None, title=None),
        )
        assert json.loads(json.dumps(items)) == items

    def test_builders_map_entities(self) -> None:
        assert BUILDERS["products"] is build_product_items
        assert BUILDERS["customers"] is build_customer_items

    def test_no_rows_no_items(self) -> None:
        valid = validate_products(canonical(simple(product_active="Ignore")), "shop_db").valid
        assert build_product_items(valid, S2S_SOURCE_ID) == []


class TestOptions:
    def test_options_only_for_positions_with_name_and_value(self) -> None:
        (item,) = products(
            simple(
                option1_name="Size",
                option1_value="XL",
                option2_name="Colour",  # a name without a value is not an option
                option2_value=None,
                option3_name="Fit",
                option3_value="Slim",
            )
        )
        assert item["product"]["options"] == [{"name": "Size", "position": 1}, {"name": "Fit", "position": 3}]
        variant = item["product"]["variants"]
        assert (variant["option1"], variant["option2"], variant["option3"]) == ("XL", None, "Slim")

    def test_a_simple_product_has_no_options(self) -> None:
        (item,) = products(simple())
        assert item["product"]["options"] == []

    def test_option_positions_are_integers(self) -> None:
        (item,) = products(simple(option2_name="Colour", option2_value="Red"))
        assert item["product"]["options"] == [{"name": "Colour", "position": 2}]
        assert type(item["product"]["options"][0]["position"]) is int


class TestConsoleColumns:
    def test_price_tiers_from_price_columns(self) -> None:
        (item,) = products(simple(price_Wholesale="80.00", price_Retail="120", **{"price_Cape Town": "110.5"}))
        tiers = item["product"]["variants"]["price_tiers"]
        assert sorted(tiers, key=lambda t: t["tier"]) == [
            {"tier": "Cape Town", "price": pytest.approx(110.5)},
            {"tier": "Retail", "price": pytest.approx(120.0)},
            {"tier": "Wholesale", "price": pytest.approx(80.0)},
        ]
        assert item["product"]["variants"]["price"] == pytest.approx(199.9), "the default price stays separate"

    def test_a_blank_tier_is_left_out_never_sent_as_zero(self) -> None:
        # A price a customer could order at must not appear from nowhere: a variant with no price in a list
        # has no tier for it. Sites whose channel needs every tier choose settings.missing_price (model/rules.py).
        items = products(simple("A", price_Trade="50"), simple("B", price_Trade=None))
        assert [i["product"]["variants"]["price_tiers"] for i in items] == [[{"tier": "Trade", "price": 50.0}], []]

    def test_the_variants_own_meta_goes_on_the_variant(self) -> None:
        (item,) = products(simple(meta_colour="Red", variant_meta_title="Classic Tee Red S"))
        assert item["product"]["meta"] == [{"key": "colour", "value": "Red"}]
        assert item["product"]["variants"]["meta"] == [{"key": "title", "value": "Classic Tee Red S"}]

    def test_qty_availability_from_qty_columns(self) -> None:
        (item,) = products(simple(qty_JHB="4", qty_CPT="-2", qty_DBN=None))
        warehouses = item["product"]["variants"]["qty_availability"]
        assert sorted(warehouses, key=lambda w: w["description"]) == [
            {"description": "CPT", "qty": 0},
            {"description": "DBN", "qty": 0},
            {"description": "JHB", "qty": 4},
        ]
        assert all(type(w["qty"]) is int for w in warehouses)
        assert item["product"]["variants"]["qty"] == 7, "the total qty is its own column"

    def test_no_tier_or_warehouse_columns_no_lists(self) -> None:
        (item,) = products(simple())
        assert "price_tiers" not in item["product"]["variants"]
        assert "qty_availability" not in item["product"]["variants"]

    def test_meta_from_meta_columns_skipping_blanks(self) -> None:
        (item,) = products(simple(meta_material="steel", meta_origin="  ", meta_warranty="2 years", meta_blank=None))
        meta = item["product"]["meta"]
        assert sorted(meta, key=lambda m: m["key"]) == [
            {"key": "material", "value": "steel"},
            {"key": "warranty", "value": "2 years"},
        ]

    def test_no_meta_values_no_meta_key(self) -> None:
        (item,) = products(simple(meta_material=None))
        assert "meta" not in item["product"]

    def test_images_in_column_order_skipping_blanks(self) -> None:
        (item,) = products(
            simple(image10="https://img/10.jpg", image2=None, image1="https://img/1.jpg", image3="https://img/3.jpg")
        )
        assert item["product"]["images"] == [
            {"src": "https://img/1.jpg", "position": 1},
            {"src": "https://img/3.jpg", "position": 2},
            {"src": "https://img/10.jpg", "position": 3},
        ]

    def test_no_images_no_images_key(self) -> None:
        (item,) = products(simple(image1=None))
        assert "images" not in item["product"]


class TestOptionalText:
    def test_blank_optional_text_is_omitted(self) -> None:
        (item,) = products(
            simple(body_html="   ", collection=None, product_type="", vendor="Stanley", tags=None, barcode="  ")
        )
        product = item["product"]
        assert "body_html" not in product
        assert "collection" not in product
        assert "product_type" not in product
        assert "tags" not in product
        assert product["vendor"] == "Stanley"
        assert "barcode" not in product["variants"]

    def test_present_optional_text_is_sent(self) -> None:
        (item,) = products(
            simple(body_html="<p>Forged steel.</p>", collection="Tools", product_type="Hammers", tags="steel,tools")
        )
        product = item["product"]
        assert product["body_html"] == "<p>Forged steel.</p>"
        assert product["collection"] == "Tools"
        assert product["product_type"] == "Hammers"
        assert product["tags"] == "steel,tools"

    def test_no_grams_column_no_grams(self) -> None:
        (item,) = products(simple())
        assert "grams" not in item["product"]["variants"]


class TestCustomerItems:
    def test_envelope(self) -> None:
        (item,) = build_customer_items(valid_customers(customer(accepts_marketing="yes")), S2S_SOURCE_ID)
        assert item == {
            "source": {"source_id": "57", "source_customer_code": "C1", "customer_active": "true"},
            "customer": {
                "first_name": "Thandi",
                "last_name": "Nkosi",
                "email": "thandi@example.co.za",
                "accepts_marketing": True,
            },
        }

    def test_one_item_per_customer(self) -> None:
        items = build_customer_items(
            valid_customers(
                customer("C1"), customer("C2", email="c2@example.com"), customer("C3", customer_active="I")
            ),
            S2S_SOURCE_ID,
        )
        assert [i["source"]["source_customer_code"] for i in items] == ["C1", "C2"]
        assert [i["customer"]["email"] for i in items] == ["thandi@example.co.za", "c2@example.com"]

    def test_accepts_marketing_defaults_to_false(self) -> None:
        (item,) = build_customer_items(valid_customers(customer()), S2S_SOURCE_ID)
        assert item["customer"]["accepts_marketing"] is False

    def test_delete_customer_is_sent_inactive(self) -> None:
        (item,) = build_customer_items(
            valid_customers(customer("C9", customer_active="Delete", email=None)), S2S_SOURCE_ID
        )
        assert item["source"] == {"source_id": "57", "source_customer_code": "C9", "customer_active": "false"}

    def test_customer_meta(self) -> None:
        (item,) = build_customer_items(valid_customers(customer(meta_rep_id="123", meta_note=None)), S2S_SOURCE_ID)
        assert item["customer"]["meta"] == [{"key": "rep_id", "value": "123"}]

    def test_no_customer_meta_no_meta_key(self) -> None:
        (item,) = build_customer_items(valid_customers(customer()), S2S_SOURCE_ID)
        assert "meta" not in item["customer"]

    def test_customer_items_are_json_serialisable(self) -> None:
        items = build_customer_items(valid_customers(customer(meta_rep_id="7")), S2S_SOURCE_ID)
        assert json.loads(json.dumps(items)) == items


@pytest.mark.parametrize("entity", ["products", "customers"])
def test_lines_from_the_staged_parquet_read_by_polars_are_the_pandas_frames_lines(entity: str, tmp_path: Any) -> None:
    from airflow.sdk import ObjectStoragePath

    from stock2shop_sync import staging
    from stock2shop_sync.model.payloads import payload_lines

    if entity == "products":
        valid = valid_products(
            tee("TEE-S", "S", price_Retail="90", qty_JHB="3", meta_colour="red"),
            tee("TEE-M", "M", price_Retail="", qty_JHB="", tags="a,b"),
            simple("HAMMER", barcode="600123", grams="450", product_active="Delete"),
        )
    else:
        valid = valid_customers(customer("C1", accept_marketing="yes"), customer("C2", email="b@example.com"))
    path = staging.write_frame(valid, ObjectStoragePath(f"file://{tmp_path}/valid.parquet"))
    from_pandas = payload_lines(entity, staging.read_frame(path), S2S_SOURCE_ID)
    from_polars = payload_lines(entity, staging.read_polars(path), S2S_SOURCE_ID)
    assert from_polars.equals(from_pandas)
    assert from_polars.height == len(valid)


@pytest.mark.parametrize("entity", ["products", "customers"])
def test_a_staged_canonical_frame_renders_the_same_lines_without_looking_for_blanks(entity: str, tmp_path: Any) -> None:
    """The upload renders the validated file as canonical: ``to_canonical`` made every blank value null (also
    in a field it does not trim), so looking for blanks again changes no line."""
    from airflow.sdk import ObjectStoragePath

    from stock2shop_sync import staging
    from stock2shop_sync.config import EntityMapping
    from stock2shop_sync.model.canonical import to_canonical
    from stock2shop_sync.model.payloads import payload_lines

    if entity == "products":
        rows = [
            tee("TEE-M", "M", tags=" ", vendor=" ", meta_colour="\t", option2_name=" ", sync_token=""),
            simple("SAW", barcode="  ", body_html=" \n", collection="", image1=" ", image2="b.jpg"),
        ]
    else:
        rows = [customer("C1", meta_note=" "), customer("C2", meta_rep="\t", accepts_marketing="")]
    raw = pd.DataFrame(rows).astype("string")
    frame = to_canonical(raw, EntityMapping(auto_fields=True), source_id="s", entity=entity)
    result = (validate_products if entity == "products" else validate_customers)(frame, "s")
    assert result.counts["invalid"] == 0, result.issues.to_dict("records")
    path = staging.write_frame(result.valid, ObjectStoragePath(f"file://{tmp_path}/valid.parquet"))
    looked = payload_lines(entity, staging.read_polars(path), S2S_SOURCE_ID)
    assert payload_lines(entity, staging.read_polars(path), S2S_SOURCE_ID, canonical=True).equals(looked)
    assert '" "' not in "".join(looked.get_column("line"))  # the blanks were sent as missing, not as text
