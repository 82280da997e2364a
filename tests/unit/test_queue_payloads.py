"""Stock2Shop queue payloads built from validated frames."""

from __future__ import annotations

from typing import Any

import pandas as pd

from stock2shop_sync.model.canonical import ROW
from stock2shop_sync.model.payloads import build_customer_items, build_product_items
from stock2shop_sync.model.validation import validate_customers, validate_products


def validated(entity: str, *rows: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows)).astype("string")
    df.insert(0, ROW, range(1, len(df) + 1))
    result = (validate_products if entity == "products" else validate_customers)(df, "s")
    assert result.counts["invalid"] == 0, result.issues
    return result.valid


def variant(sku: str, size: str, **extra: Any) -> dict[str, Any]:
    return {
        "source_product_code": "TEE",
        "source_variant_code": sku,
        "sku": sku,
        "title": "Tee",
        "price": "100",
        "qty": "2",
        "product_active": "Active",
        "option1_name": "Size",
        "option1_value": size,
        **extra,
    }


def test_one_item_per_variant_with_product_fields_repeated() -> None:
    items = build_product_items(validated("products", variant("T-S", "S"), variant("T-M", "M")), 57)
    assert len(items) == 2
    assert [i["product"]["variants"]["sku"] for i in items] == ["T-S", "T-M"]
    for item in items:
        assert isinstance(item["product"]["variants"], dict)
        assert item["source"] == {
            "source_id": "57",
            "source_product_code": "TEE",
            "product_active": "true",
            "sync_token": "0",
            "fetch_token": "0",
        }
        assert item["product"]["title"] == "Tee"
        assert item["product"]["options"] == [{"name": "Size", "position": 1}]
    assert items[1]["product"]["variants"] == {
        "source_variant_code": "T-M",
        "sku": "T-M",
        "qty": 2,
        "price": 100.0,
        "inventory_management": "true",
        "option1": "M",
        "option2": None,
        "option3": None,
    }


def test_console_conventions_become_lists() -> None:
    row = variant(
        "T-L", "L",
        price_Retail="120", price_Wholesale="90.5", qty_JHB="3", qty_CPT="",
        meta_material="cotton", meta_fit=None, image1="https://img.example/t1.jpg", image2="https://img.example/t2.jpg",
        vendor="Acme", collection="Apparel", tags="cotton,summer", body_html="<p>Soft</p>", barcode="6001", grams="210",
    )  # fmt: skip
    (item,) = build_product_items(validated("products", row), 1)
    product = item["product"]
    assert product["variants"]["price_tiers"] == [
        {"tier": "Retail", "price": 120.0},
        {"tier": "Wholesale", "price": 90.5},
    ]
    assert product["variants"]["qty_availability"] == [
        {"description": "CPT", "qty": 0},
        {"description": "JHB", "qty": 3},
    ]
    assert product["meta"] == [{"key": "material", "value": "cotton"}]
    assert product["images"] == [
        {"src": "https://img.example/t1.jpg", "position": 1},
        {"src": "https://img.example/t2.jpg", "position": 2},
    ]
    assert (product["vendor"], product["collection"], product["tags"]) == ("Acme", "Apparel", "cotton,summer")
    assert product["body_html"] == "<p>Soft</p>"
    assert (product["variants"]["barcode"], product["variants"]["grams"]) == ("6001", 210)


def test_blank_optional_text_is_left_out() -> None:
    (item,) = build_product_items(validated("products", variant("T-S", "S", vendor="", collection="  ")), 1)
    assert "vendor" not in item["product"]
    assert "collection" not in item["product"]


def test_delete_row_is_sent_inactive() -> None:
    row = {"source_product_code": "OLD", "source_variant_code": "OLD", "sku": "OLD", "product_active": "Delete"}
    (item,) = build_product_items(validated("products", row), 1)
    assert item["source"]["product_active"] == "false"
    assert item["product"]["title"] == "OLD"  # Stock2Shop requires a title; the SKU stands in


def test_customer_envelope() -> None:
    rows = [
        {"source_customer_code": "C1", "customer_active": "Active", "first_name": "Ann", "last_name": "Lee",
         "email": " ann@example.com ", "meta_rep": "R7"},
        {"source_customer_code": "C2", "customer_active": "Delete"},
    ]  # fmt: skip
    first, second = build_customer_items(validated("customers", *rows), 9)
    assert first == {
        "source": {"source_id": "9", "source_customer_code": "C1", "customer_active": "true"},
        "customer": {
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
            "accepts_marketing": False,
            "meta": [{"key": "rep", "value": "R7"}],
        },
    }
    assert second["source"]["customer_active"] == "false"


def test_cp1252_read_as_latin1_is_repaired_and_control_characters_dropped() -> None:
    from stock2shop_sync.model.canonical import _clean_text

    assert _clean_text("Caf\xe9 Cr\xe8me \x96 50g") == "Café Crème – 50g"  # 0x96 arrived as U+0096
    assert _clean_text(b"Caf\xe9") == "Café"  # bytes that are not UTF-8 are read as cp1252
    assert _clean_text("ok\x00\x07 – 5\x81") == "ok – 5"  # not repairable: control characters dropped
    assert _clean_text("Bru\u0302le\u0301e") == "Brûlée"  # NFC
