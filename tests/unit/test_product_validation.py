"""Validation rules from Stock2Shop's field tables, one behaviour per test."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from stock2shop_sync.config import SiteSettings
from stock2shop_sync.model.canonical import ROW
from stock2shop_sync.model.validation import (
    ISSUE_COLUMNS,
    ValidationFailed,
    check_threshold,
    validate_customers,
    validate_products,
)

GOOD = {
    "source_product_code": "P1",
    "source_variant_code": "V1",
    "sku": "V1",
    "title": "Thing",
    "price": "10.50",
    "qty": "3",
    "product_active": "Active",
}


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame(list(rows)).astype("string")
    df.insert(0, ROW, range(1, len(df) + 1))
    return df


def product(**changes: Any) -> dict[str, Any]:
    row = dict(GOOD)
    if "sku" in changes and "source_variant_code" not in changes:
        changes["source_variant_code"] = changes["sku"]
    if changes.get("sku") and "source_product_code" not in changes:
        changes["source_product_code"] = changes["sku"]  # a simple product: its own product code
    row.update(changes)
    return row


def reasons(result: Any) -> list[tuple[int, str, str]]:
    return [(int(r.row), r.field, r.reason) for r in result.issues.itertuples()]


def test_a_good_row_is_typed() -> None:
    result = validate_products(frame(product()), "src")
    assert result.counts == {"rows": 1, "valid": 1, "invalid": 0, "ignored": 0, "deleted": 0, "warnings": 0}
    row = result.valid.iloc[0]
    assert row["price"] == 10.5
    assert row["qty"] == 3
    assert bool(row["product_active"]) is True
    assert bool(row["inventory_management"]) is True  # default when not mapped
    assert list(result.issues.columns) == ISSUE_COLUMNS


@pytest.mark.parametrize("flag", ["Ignore", "ignore", " IGNORE ", "I"])
def test_ignore_rows_are_dropped_and_counted_whatever_else_is_wrong(flag: str) -> None:
    result = validate_products(frame(product(), product(sku="V2", product_active=flag, price="abc", title=None)), "s")
    assert result.counts["ignored"] == 1
    assert result.counts["valid"] == 1
    assert result.counts["invalid"] == 0
    assert result.issues.empty
    assert list(result.valid["sku"]) == ["V1"]


def test_delete_rows_are_sent_inactive_without_price_or_title() -> None:
    result = validate_products(frame(product(product_active="delete", price=None, qty=None, title=None)), "s")
    assert result.counts["deleted"] == 1
    assert result.counts["valid"] == 1
    assert bool(result.valid.iloc[0]["product_active"]) is False


def test_delete_rows_still_need_their_codes() -> None:
    result = validate_products(frame(product(product_active="Delete", sku=None, source_variant_code="V1")), "s")
    assert reasons(result) == [(1, "sku", "sku is required")]


@pytest.mark.parametrize(
    ("value", "reason"),
    [(None, "product_active is blank; expected Ignore, Active or Delete"), ("Yes", "product_active must be Ignore, Active or Delete")],
)  # fmt: skip
def test_unknown_or_blank_active_flag_is_quarantined(value: str | None, reason: str) -> None:
    result = validate_products(frame(product(product_active=value)), "s")
    assert reasons(result) == [(1, "product_active", reason)]
    assert result.counts["invalid"] == 1
    assert result.valid.empty


@pytest.mark.parametrize("field", ["source_product_code", "source_variant_code", "sku", "title", "price", "qty"])
def test_required_fields(field: str) -> None:
    result = validate_products(frame(product(**{field: "  "})), "s")
    assert (1, field, f"{field} is required") in reasons(result)
    assert result.counts["invalid"] == 1


@pytest.mark.parametrize(
    ("price", "reason"),
    [("abc", "price must be a number"), ("NaN", "price must be a number"), ("inf", "price must be a number"),
     ("-0.01", "price must not be negative")],
)  # fmt: skip
def test_bad_prices(price: str, reason: str) -> None:
    result = validate_products(frame(product(price=price)), "s")
    assert reasons(result) == [(1, "price", reason)]


def test_price_with_thousands_separator_is_read() -> None:
    result = validate_products(frame(product(price="1,299.00")), "s")
    assert result.valid.iloc[0]["price"] == 1299.0


@pytest.mark.parametrize(("qty", "expected"), [("5.000", 5), ("0", 0), ("12", 12)])
def test_whole_quantities_are_accepted(qty: str, expected: int) -> None:
    result = validate_products(frame(product(qty=qty)), "s")
    assert result.valid.iloc[0]["qty"] == expected


@pytest.mark.parametrize("qty", ["2.5", "lots"])
def test_fractional_or_text_qty_is_quarantined(qty: str) -> None:
    result = validate_products(frame(product(qty=qty)), "s", SiteSettings(fractional_qty="error"))
    assert reasons(result) == [(1, "qty", "qty must be a whole number")]


def test_negative_qty_is_a_warning_and_sent_as_zero() -> None:
    result = validate_products(frame(product(qty="-4")), "s")
    assert result.counts["valid"] == 1
    assert result.counts["warnings"] == 1
    assert result.issues.iloc[0]["severity"] == "warning"
    assert result.valid.iloc[0]["qty"] == 0


def test_inventory_management_parsing() -> None:
    rows = [product(sku=f"V{i}", inventory_management=v) for i, v in enumerate(["1", "0", "yes", "No", None, "bogus"])]
    result = validate_products(frame(*rows), "s")
    assert list(result.valid["inventory_management"]) == [True, False, True, False, True]
    assert reasons(result) == [(6, "inventory_management", "inventory_management must be true or false")]


def test_duplicate_sku_quarantines_every_row_carrying_it() -> None:
    rows = [
        product(sku="A"),
        product(sku="B"),
        product(sku="A", source_variant_code="A2", source_product_code="A2"),
        product(sku="C"),
    ]
    result = validate_products(frame(*rows), "s")
    assert list(result.valid["sku"]) == ["B", "C"]
    assert reasons(result) == [
        (1, "sku", "sku is not unique within the source: it is on rows 1, 3"),
        (3, "sku", "sku is not unique within the source: it is on rows 1, 3"),
    ]


def test_option_value_needs_an_option_name() -> None:
    result = validate_products(frame(product(option1_name="Size", option1_value="M", option2_value="Red")), "s")
    assert reasons(result) == [(1, "option2_name", "option2_value is set but option2_name is blank")]


def test_price_tiers_and_warehouses_are_typed() -> None:
    row = product(price_Wholesale="80", price_Retail="x", qty_JHB="4", qty_CPT=None)
    result = validate_products(
        frame(row, product(sku="V2", price_Wholesale="70", price_Retail="90", qty_JHB="1", qty_CPT="2")), "s"
    )
    assert reasons(result) == [(1, "price_Retail", "price_Retail must be a non-negative number")]
    valid = result.valid.iloc[0]
    assert (valid["price_Wholesale"], valid["price_Retail"], valid["qty_JHB"], valid["qty_CPT"]) == (70.0, 90.0, 1, 2)


def test_blank_warehouse_qty_is_zero() -> None:
    result = validate_products(frame(product(qty_JHB=None)), "s")
    assert result.valid.iloc[0]["qty_JHB"] == 0


def test_issue_lines_name_source_row_record_field_and_value() -> None:
    result = validate_products(frame(product(), product(sku="BAD", price="12,x")), "shop_jhb")
    (issue,) = result.issues.to_dict("records")
    assert issue == {
        "source_id": "shop_jhb",
        "entity": "products",
        "row": 2,
        "record": "BAD",
        "field": "price",
        "value": "12,x",
        "severity": "error",
        "reason": "price must be a number",
    }


CUSTOMER = {
    "source_customer_code": "C1",
    "customer_active": "Active",
    "first_name": "Ann",
    "last_name": "Lee",
    "email": "ann@example.com",
}


def customer(**changes: Any) -> dict[str, Any]:
    return {**CUSTOMER, **changes}


@pytest.mark.parametrize(
    ("email", "reason"),
    [("", "email must not be blank"), (None, "email must not be blank"), ("ann(at)example.com", "email is not a valid address"),
     ("ann@localhost", "email is not a valid address")],
)  # fmt: skip
def test_customer_email(email: str | None, reason: str) -> None:
    result = validate_customers(frame(customer(email=email)), "s")
    assert reasons(result) == [(1, "email", reason)]


def test_customer_lifecycle_and_duplicates() -> None:
    rows = [
        customer(),
        customer(source_customer_code="C2", customer_active="Delete", email=""),
        customer(source_customer_code="C3", customer_active="ignore", email=""),
        customer(source_customer_code="C4"),
        customer(source_customer_code="C4", email="b@example.com"),
    ]
    result = validate_customers(frame(*rows), "s")
    assert result.counts == {"rows": 5, "valid": 2, "invalid": 2, "ignored": 1, "deleted": 1, "warnings": 0}
    assert list(result.valid["source_customer_code"]) == ["C1", "C2"]
    assert list(result.valid["customer_active"]) == [True, False]
    assert {r[1] for r in reasons(result)} == {"source_customer_code"}


def test_threshold() -> None:
    rows = [product(sku=f"V{i}") for i in range(8)] + [product(sku="X1", price="-1"), product(sku="X2", title="")]
    result = validate_products(frame(*rows), "shop_cpt")
    assert result.invalid_share == pytest.approx(0.2)
    check_threshold(result, "shop_cpt", 0.2)  # at the threshold: allowed
    with pytest.raises(ValidationFailed) as excinfo:
        check_threshold(result, "shop_cpt", 0.1)
    message = str(excinfo.value)
    assert "'shop_cpt'" in message
    assert "2 of 10 rows are invalid (20.0%)" in message
    assert "nothing was uploaded" in message


def grouped(
    sku: str, code: str, title: str, o1n: str | None, o1v: str | None, o2n: str | None = None, o2v: str | None = None
) -> dict[str, Any]:
    return product(
        sku=sku,
        source_product_code=code,
        title=title,
        option1_name=o1n,
        option1_value=o1v,
        option2_name=o2n,
        option2_value=o2v,
    )


def test_consistent_variants_pass_and_whitespace_does_not_split_a_group() -> None:
    result = validate_products(
        frame(grouped("A1", "A", "Tee", "Size", "S"), grouped("A2", "A", "Tee ", "Size", "M")), "s"
    )
    assert result.counts["valid"] == 2
    assert result.issues.empty


@pytest.mark.parametrize(
    ("rows", "field", "reason"),
    [
        (
            [grouped("B1", "B", "Hat", "Size", "S"), grouped("B2", "B", "Cap", "Size", "M")],
            "title",
            "variants of product B disagree on title: rows 1, 2",
        ),
        (
            [grouped("C1", "C", "X", "Size", "S"), grouped("C2", "C", "X", "Colour", "Red")],
            "option1_name",
            "variants of product C disagree on option 1's name: rows 1, 2",
        ),
        (
            [grouped("E1", "E", "Z", "Size", "S", "Colour", "Red"), grouped("E2", "E", "Z", "Size", "M")],
            "option1_value",
            "variants of product E disagree on which options they have: rows 1, 2",
        ),
        (
            [grouped("F1", "F", "W", None, None), grouped("F2", "F", "W", None, None)],
            "option1_value",
            "variants have the same option values: rows 1, 2",
        ),
    ],
)
def test_inconsistent_product_is_quarantined_whole(rows: list[dict[str, Any]], field: str, reason: str) -> None:
    result = validate_products(frame(*rows, product(sku="OTHER")), "s")
    assert list(result.valid["sku"]) == ["OTHER"]
    assert reasons(result) == [(1, field, reason), (2, field, reason)]


def test_one_bad_variant_holds_back_its_whole_product() -> None:
    rows = [
        grouped("D1", "D", "Y", "Size", "S"),
        grouped("D2", "D", "Y", "Size", "s"),
        grouped("D3", "D", "Y", "Size", "L"),
    ]
    result = validate_products(frame(*rows), "s")
    assert result.valid.empty
    assert reasons(result) == [
        (1, "option1_value", "variants have the same option values: rows 1, 2"),
        (2, "option1_value", "variants have the same option values: rows 1, 2"),
        (3, "source_product_code", "another variant of product D is invalid, so the whole product is held back"),
    ]
