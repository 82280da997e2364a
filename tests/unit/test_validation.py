"""Validation of canonical frames against the Custom Database field tables and Stock2Shop's product model.

Frames are built as the canonical step hands them over: every column nullable text, plus ``_row`` (1..N).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from stock2shop_sync.config import SiteSettings
from stock2shop_sync.model.canonical import CLEANED, ROW
from stock2shop_sync.model.validation import (
    ISSUE_COLUMNS,
    ValidationFailed,
    ValidationResult,
    check_threshold,
    validate_customers,
    validate_products,
)

SOURCE = "shop_db"
COUNT_KEYS = {"rows", "valid", "invalid", "ignored", "deleted", "warnings"}


def canonical(*rows: dict[str, Any]) -> pd.DataFrame:
    """A canonical frame: text columns, ``_row`` = 1..N."""
    df = pd.DataFrame(list(rows)).astype("string")
    df.insert(0, ROW, pd.Series(range(1, len(df) + 1), dtype="int64"))
    return df


def item(code: str = "V1", **changes: Any) -> dict[str, Any]:
    """A valid simple product row (its SKU is its variant and product code)."""
    return {
        "source_product_code": code,
        "source_variant_code": code,
        "sku": code,
        "title": f"Item {code}",
        "price": "10.50",
        "qty": "3",
        "product_active": "Active",
        **changes,
    }


def customer(code: str = "C1", **changes: Any) -> dict[str, Any]:
    return {
        "source_customer_code": code,
        "customer_active": "Active",
        "first_name": "Thandi",
        "last_name": "Nkosi",
        "email": f"{code.lower()}@example.co.za",
        **changes,
    }


def issues(result: ValidationResult) -> list[tuple[int, str, str, str]]:
    """(row, field, severity, reason) per issue line."""
    return [(int(i.row), i.field, i.severity, i.reason) for i in result.issues.itertuples()]


def products(*rows: dict[str, Any]) -> ValidationResult:
    return validate_products(canonical(*rows), SOURCE)


def customers(*rows: dict[str, Any]) -> ValidationResult:
    return validate_customers(canonical(*rows), SOURCE)


class TestProductActive:
    def test_a_good_row_is_valid_and_typed(self) -> None:
        result = products(item())
        assert result.entity == "products"
        assert result.counts == {"rows": 1, "valid": 1, "invalid": 0, "ignored": 0, "deleted": 0, "warnings": 0}
        assert result.issues.empty
        row = result.valid.iloc[0]
        assert row["price"] == pytest.approx(10.5)
        assert row["qty"] == 3
        assert bool(row["product_active"]) is True
        assert bool(row["inventory_management"]) is True, "inventory is managed unless the source says no"
        assert row[ROW] == 1

    @pytest.mark.parametrize("flag", ["Ignore", "ignore", "IGNORE", " Ignore ", "I", "i"])
    def test_ignore_rows_are_dropped_and_counted(self, flag: str) -> None:
        # An ignored row is not checked at all: its bad price and missing title are not reported.
        result = products(item("V1"), item("V2", product_active=flag, price="abc", title=None))
        assert result.counts == {"rows": 2, "valid": 1, "invalid": 0, "ignored": 1, "deleted": 0, "warnings": 0}
        assert list(result.valid["sku"]) == ["V1"]
        assert result.issues.empty

    @pytest.mark.parametrize("flag", ["Delete", "delete", "DELETE", "D", "d"])
    def test_delete_rows_are_valid_and_inactive_without_price_or_title(self, flag: str) -> None:
        result = products(item("V1", product_active=flag, price=None, title=None, qty=None))
        assert result.counts == {"rows": 1, "valid": 1, "invalid": 0, "ignored": 0, "deleted": 1, "warnings": 0}
        assert result.issues.empty
        row = result.valid.iloc[0]
        assert bool(row["product_active"]) is False
        assert row["sku"] == "V1"
        assert row["qty"] == 0

    @pytest.mark.parametrize("flag", ["Active", "active", "A", "a"])
    def test_active_spellings(self, flag: str) -> None:
        result = products(item(product_active=flag))
        assert result.counts["valid"] == 1
        assert bool(result.valid.iloc[0]["product_active"]) is True

    def test_delete_rows_still_need_their_codes(self) -> None:
        result = products(item("V1", product_active="Delete", sku=None))
        assert issues(result) == [(1, "sku", "error", "sku is required")]
        assert result.counts["invalid"] == 1
        assert result.counts["deleted"] == 0

    @pytest.mark.parametrize(
        ("flag", "reason"),
        [
            (None, "product_active is blank; expected Ignore, Active or Delete"),
            ("   ", "product_active is blank; expected Ignore, Active or Delete"),
            ("Yes", "product_active must be Ignore, Active or Delete"),
            ("true", "product_active must be Ignore, Active or Delete"),
            ("X", "product_active must be Ignore, Active or Delete"),
        ],
    )
    def test_blank_or_unknown_flag_is_quarantined_with_a_reason(self, flag: str | None, reason: str) -> None:
        result = products(item("OK"), item("V1", product_active=flag))
        assert issues(result) == [(2, "product_active", "error", reason)]
        assert result.counts == {"rows": 2, "valid": 1, "invalid": 1, "ignored": 0, "deleted": 0, "warnings": 0}
        assert list(result.valid["sku"]) == ["OK"]


class TestRequiredFields:
    @pytest.mark.parametrize("field", ["source_product_code", "source_variant_code", "sku", "title", "price", "qty"])
    @pytest.mark.parametrize("blank", [None, "", "  "])
    def test_required_product_fields(self, field: str, blank: str | None) -> None:
        result = products(item("OK"), item("V1", **{field: blank}))
        assert (2, field, "error", f"{field} is required") in issues(result)
        assert result.counts["invalid"] == 1
        assert result.counts["valid"] == 1
        assert list(result.valid["sku"]) == ["OK"]

    def test_a_frame_without_a_required_column_quarantines_every_row(self) -> None:
        rows = [item("V1"), item("V2")]
        for row in rows:
            del row["title"]
        result = products(*rows)
        assert issues(result) == [
            (1, "title", "error", "title is required"),
            (2, "title", "error", "title is required"),
        ]
        assert result.valid.empty


class TestPrice:
    @pytest.mark.parametrize(
        ("price", "reason"),
        [
            ("abc", "price must be a number"),
            ("12abc", "price must be a number"),
            ("NaN", "price must be a number"),
            ("nan", "price must be a number"),
            ("inf", "price must be a number"),
            ("-Infinity", "price must be a number"),
            ("1e400", "price must be a number"),
            ("-0.01", "price must not be negative"),
            ("-5", "price must not be negative"),
        ],
    )
    def test_bad_prices_are_quarantined(self, price: str, reason: str) -> None:
        result = products(item(price=price))
        assert issues(result) == [(1, "price", "error", reason)]
        assert result.issues.loc[0, "value"] == price
        assert result.valid.empty

    @pytest.mark.parametrize(
        ("price", "expected"),
        [("0", 0.0), ("99.99", 99.99), (" 12 ", 12.0), ("1,299.00", 1299.0), ("10,50", 10.5), ("+5", 5.0)],
    )
    def test_good_prices_are_typed(self, price: str, expected: float) -> None:
        result = products(item(price=price))
        assert result.issues.empty
        assert result.valid["price"].dtype == "float64"
        assert result.valid.iloc[0]["price"] == pytest.approx(expected)


class TestQty:
    @pytest.mark.parametrize("qty", ["abc", "NaN", "inf"])
    def test_a_qty_that_is_no_number_is_rejected(self, qty: str) -> None:
        result = products(item(qty=qty))
        assert issues(result) == [(1, "qty", "error", "qty must be a whole number")]
        assert result.valid.empty

    @pytest.mark.parametrize(
        ("mode", "qty", "sent"), [("floor", "2.5", 2), ("floor", "0.1", 0), ("round", "2.5", 3), ("round", "2.4", 2)]
    )
    def test_fractional_stock_is_made_whole_with_a_warning(self, mode: str, qty: str, sent: int) -> None:
        result = validate_products(canonical(item(qty=qty)), SOURCE, SiteSettings(fractional_qty=mode))
        assert issues(result) == [
            (
                1,
                "qty",
                "warning",
                f"qty {float(qty):g} is not a whole number; sent as {sent} (settings.fractional_qty: {mode})",
            )
        ]
        assert result.valid["qty"].tolist() == [sent]
        assert result.counts["warnings"] == 1

    def test_fractional_stock_is_floored_by_default(self) -> None:
        assert products(item(qty="7.9")).valid["qty"].tolist() == [7]

    @pytest.mark.parametrize("qty", ["2.5", "0.1"])
    def test_fractional_stock_is_rejected_when_the_site_says_error(self, qty: str) -> None:
        result = validate_products(canonical(item(qty=qty)), SOURCE, SiteSettings(fractional_qty="error"))
        assert issues(result) == [(1, "qty", "error", "qty must be a whole number")]
        assert result.valid.empty

    @pytest.mark.parametrize(("qty", "expected"), [("5.000", 5), ("5", 5), ("0", 0), ("1,000", 1000)])
    def test_whole_qty_is_accepted(self, qty: str, expected: int) -> None:
        result = products(item(qty=qty))
        assert result.issues.empty
        assert result.valid["qty"].dtype == "int64"
        assert result.valid.iloc[0]["qty"] == expected

    def test_negative_qty_is_a_warning_and_sent_as_zero(self) -> None:
        result = products(item(qty="-4"))
        assert issues(result) == [
            (1, "qty", "warning", "qty is negative; sent as 0 (Stock2Shop clamps negative stock)")
        ]
        assert result.counts == {"rows": 1, "valid": 1, "invalid": 0, "ignored": 0, "deleted": 0, "warnings": 1}
        assert result.valid.iloc[0]["qty"] == 0

    def test_a_qty_too_large_for_an_integer_is_not_sent_negative(self) -> None:
        # A corrupt 20-digit stock figure must be quarantined, never wrap round to a negative quantity.
        result = products(item(qty="99999999999999999999"))
        sent = result.valid["qty"].tolist()
        assert all(q >= 0 for q in sent), f"qty 99999999999999999999 became {sent}"
        assert result.counts["invalid"] == 1
        assert [(r, f) for r, f, _, _ in issues(result)] == [(1, "qty")]


class TestInventoryManagement:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("1", True),
            ("0", False),
            ("yes", True),
            ("no", False),
            ("TRUE", True),
            ("false", False),
            ("Y", True),
            ("n", False),
            (None, True),
        ],
    )
    def test_parsed(self, value: str | None, expected: bool) -> None:
        result = products(item(inventory_management=value))
        assert result.issues.empty
        assert result.valid["inventory_management"].dtype == bool
        assert bool(result.valid.iloc[0]["inventory_management"]) is expected

    def test_bogus_value_is_quarantined(self) -> None:
        result = products(item("OK", inventory_management="1"), item("V1", inventory_management="bogus"))
        assert issues(result) == [(2, "inventory_management", "error", "inventory_management must be true or false")]
        assert result.issues.loc[0, "value"] == "bogus"
        assert list(result.valid["sku"]) == ["OK"]


class TestDuplicatesAndOptions:
    def test_duplicate_sku_quarantines_every_row_carrying_it(self) -> None:
        result = products(
            item("A"),
            item("B", sku="DUP"),
            item("C"),
            item("D", sku="DUP"),
            item("E", sku="DUP"),
        )
        reason = "sku is not unique within the source: it is on rows 2, 4, 5"
        assert issues(result) == [(2, "sku", "error", reason), (4, "sku", "error", reason), (5, "sku", "error", reason)]
        assert list(result.valid["sku"]) == ["A", "C"]
        assert result.counts["invalid"] == 3

    def test_duplicate_sku_on_an_ignored_row_does_not_count(self) -> None:
        result = products(item("A", sku="DUP"), item("B", sku="DUP", product_active="Ignore"))
        assert result.issues.empty
        assert result.counts == {"rows": 2, "valid": 1, "invalid": 0, "ignored": 1, "deleted": 0, "warnings": 0}

    def test_duplicate_sku_with_a_delete_row_counts(self) -> None:
        result = products(item("A", sku="DUP"), item("B", sku="DUP", product_active="Delete"))
        assert [(r, f) for r, f, _, _ in issues(result)] == [(1, "sku"), (2, "sku")]
        assert result.valid.empty

    @pytest.mark.parametrize("position", [1, 2, 3])
    def test_option_value_without_option_name(self, position: int) -> None:
        result = products(item(**{f"option{position}_value": "Red"}))
        assert issues(result) == [
            (
                1,
                f"option{position}_name",
                "error",
                f"option{position}_value is set but option{position}_name is blank",
            )
        ]
        assert result.valid.empty

    def test_option_name_and_value_together_are_valid(self) -> None:
        result = products(item(option1_name="Size", option1_value="XL", option2_name="Colour", option2_value="Red"))
        assert result.issues.empty
        row = result.valid.iloc[0]
        assert (row["option1_name"], row["option1_value"], row["option2_value"]) == ("Size", "XL", "Red")


class TestTierAndWarehouseColumns:
    def test_price_and_qty_columns_are_typed(self) -> None:
        result = products(item(price_Wholesale="8.50", **{"price_Cape Town": "9"}, qty_JHB="4", qty_CPT="2.000"))
        assert result.issues.empty
        valid = result.valid
        assert valid["price_Wholesale"].dtype == "float64"
        assert valid["price_Cape Town"].dtype == "float64"
        assert valid["qty_JHB"].dtype == "int64"
        assert valid["qty_CPT"].dtype == "int64"
        row = valid.iloc[0]
        assert row["price_Wholesale"] == pytest.approx(8.5)
        assert row["price_Cape Town"] == pytest.approx(9.0)
        assert (row["qty_JHB"], row["qty_CPT"]) == (4, 2)

    def test_blank_warehouse_is_zero_and_negative_warehouse_is_clamped(self) -> None:
        result = products(item(qty_JHB=None, qty_CPT="-3"))
        assert result.counts["valid"] == 1
        row = result.valid.iloc[0]
        assert (row["qty_JHB"], row["qty_CPT"]) == (0, 0)

    @pytest.mark.parametrize(
        ("column", "value", "reason"),
        [
            ("price_Wholesale", "abc", "price_Wholesale must be a non-negative number"),
            ("price_Wholesale", "-1", "price_Wholesale must be a non-negative number"),
            ("price_Wholesale", "inf", "price_Wholesale must be a non-negative number"),
            ("qty_JHB", "lots", "qty_JHB must be a whole number"),
        ],
    )
    def test_bad_tier_or_warehouse_is_quarantined(self, column: str, value: str, reason: str) -> None:
        result = products(item("OK", **{column: "5"}), item("V1", **{column: value}))
        assert issues(result) == [(2, column, "error", reason)]
        assert result.issues.loc[0, "value"] == value
        assert list(result.valid["sku"]) == ["OK"]

    def test_fractional_warehouse_stock_is_floored_with_a_warning(self) -> None:
        result = products(item("V1", qty_JHB="1.5", qty_CPT="3"))
        assert issues(result) == [
            (1, "qty_JHB", "warning", "qty_JHB 1.5 is not a whole number; sent as 1 (settings.fractional_qty: floor)")
        ]
        assert (result.valid.loc[0, "qty_JHB"], result.valid.loc[0, "qty_CPT"]) == (1, 3)

    def test_prices_and_tiers_are_rounded_to_cents(self) -> None:
        result = products(item(price="414.488", price_Trade="99.995"))
        assert (result.valid.loc[0, "price"], result.valid.loc[0, "price_Trade"]) == (414.49, 100.0)
        three = validate_products(canonical(item(price="414.4884")), SOURCE, SiteSettings(price_decimals=3))
        assert three.valid.loc[0, "price"] == 414.488

    def test_removed_control_characters_are_reported_as_warnings(self) -> None:
        frame = canonical(item("V1"), item("V2"))
        frame[CLEANED] = pd.Series([None, "body_html,title"], dtype="string")
        result = validate_products(frame, SOURCE)
        assert issues(result) == [
            (2, "body_html", "warning", "control characters were removed from body_html"),
            (2, "title", "warning", "control characters were removed from title"),
        ]
        assert result.counts["valid"] == 2
        assert CLEANED not in result.valid.columns


class TestCustomers:
    def test_a_good_customer_is_valid(self) -> None:
        result = customers(customer("C1", accepts_marketing="yes"))
        assert result.entity == "customers"
        assert result.counts == {"rows": 1, "valid": 1, "invalid": 0, "ignored": 0, "deleted": 0, "warnings": 0}
        row = result.valid.iloc[0]
        assert bool(row["customer_active"]) is True
        assert bool(row["accepts_marketing"]) is True
        assert row["email"] == "c1@example.co.za"

    @pytest.mark.parametrize("email", [None, "", "   "])
    def test_blank_email_is_quarantined(self, email: str | None) -> None:
        result = customers(customer("C1"), customer("C2", email=email))
        assert issues(result) == [(2, "email", "error", "email must not be blank")]
        assert list(result.valid["source_customer_code"]) == ["C1"]

    @pytest.mark.parametrize("email", ["not-an-email", "a@b", "a b@example.com", "@example.com", "a@@example.com"])
    def test_malformed_email_is_quarantined(self, email: str) -> None:
        result = customers(customer("C1", email=email))
        assert issues(result) == [(1, "email", "error", "email is not a valid address")]
        assert result.issues.loc[0, "value"] == email
        assert result.valid.empty

    def test_duplicate_account_quarantines_both_rows(self) -> None:
        result = customers(customer("C1"), customer("C2"), customer("C1", email="other@example.com"))
        reason = "source_customer_code is not unique within the source: it is on rows 1, 3"
        assert issues(result) == [
            (1, "source_customer_code", "error", reason),
            (3, "source_customer_code", "error", reason),
        ]
        assert list(result.valid["source_customer_code"]) == ["C2"]

    def test_delete_customer_is_valid_and_inactive_without_email_or_names(self) -> None:
        result = customers(customer("C1", customer_active="Delete", email=None, first_name=None, last_name=None))
        assert result.issues.empty
        assert result.counts == {"rows": 1, "valid": 1, "invalid": 0, "ignored": 0, "deleted": 1, "warnings": 0}
        assert bool(result.valid.iloc[0]["customer_active"]) is False

    def test_ignore_customer_is_dropped(self) -> None:
        result = customers(customer("C1"), customer("C2", customer_active="i", email="broken"))
        assert result.issues.empty
        assert result.counts["ignored"] == 1
        assert list(result.valid["source_customer_code"]) == ["C1"]

    @pytest.mark.parametrize("field", ["source_customer_code", "first_name", "last_name"])
    def test_required_customer_fields(self, field: str) -> None:
        result = customers(customer("C1", **{field: None}))
        assert (1, field, "error", f"{field} is required") in issues(result)
        assert result.valid.empty

    def test_unknown_customer_active_flag(self) -> None:
        result = customers(customer("C1", customer_active="On hold"))
        assert issues(result) == [(1, "customer_active", "error", "customer_active must be Ignore, Active or Delete")]


class TestIssuesFrame:
    def test_one_line_per_row_and_field_with_every_column(self) -> None:
        result = products(
            item("V1"),
            item("V2", price="abc", qty="2.5", title=None),
            item("V3", product_active="maybe"),
        )
        frame = result.issues
        assert list(frame.columns) == ISSUE_COLUMNS
        assert not frame.duplicated(["row", "field"]).any()
        assert frame[["row", "field"]].values.tolist() == [
            [2, "price"],
            [2, "qty"],
            [2, "title"],
            [3, "product_active"],
        ]
        assert set(frame["source_id"]) == {SOURCE}
        assert set(frame["entity"]) == {"products"}
        assert frame["severity"].tolist() == ["error", "warning", "error", "error"]  # 2.5 on hand: floored
        assert frame["record"].tolist() == ["V2", "V2", "V2", "V3"]
        assert frame["value"].tolist()[:2] == ["abc", "2.5"]
        assert pd.isna(frame["value"].iloc[2])
        assert frame["value"].iloc[3] == "maybe"
        assert result.counts == {"rows": 3, "valid": 1, "invalid": 2, "ignored": 0, "deleted": 0, "warnings": 1}

    def test_a_fractional_negative_qty_is_one_warning(self) -> None:
        result = products(item(qty="-2.5"))
        assert issues(result) == [
            (1, "qty", "warning", "qty -2.5 is not a whole number; sent as 0 (settings.fractional_qty: floor)")
        ]
        assert result.valid["qty"].tolist() == [0]

    def test_a_fractional_negative_qty_is_one_line(self) -> None:
        # "-2.5" is not a whole number: the row is quarantined for that, and is not also "sent as 0".
        result = validate_products(canonical(item(qty="-2.5")), SOURCE, SiteSettings(fractional_qty="error"))
        assert result.counts["invalid"] == 1
        assert not result.issues.duplicated(["row", "field"]).any(), issues(result)
        assert issues(result) == [(1, "qty", "error", "qty must be a whole number")]
        assert result.counts["warnings"] == 0

    def test_no_issues_gives_an_empty_frame_with_the_columns(self) -> None:
        result = products(item())
        assert result.issues.empty
        assert list(result.issues.columns) == ISSUE_COLUMNS

    def test_customer_issues_name_the_account(self) -> None:
        result = customers(customer("ACC-7", email="nope"))
        row = result.issues.iloc[0]
        assert (row["source_id"], row["entity"], row["record"], row["field"]) == (
            SOURCE,
            "customers",
            "ACC-7",
            "email",
        )

    def test_counts_add_up(self) -> None:
        result = products(
            item("A"),
            item("B", product_active="Delete", price=None),
            item("C", product_active="Ignore"),
            item("D", price="abc"),
            item("E", qty="-1"),
        )
        counts = result.counts
        assert set(counts) == COUNT_KEYS
        assert counts == {"rows": 5, "valid": 3, "invalid": 1, "ignored": 1, "deleted": 1, "warnings": 1}
        assert counts["valid"] + counts["invalid"] + counts["ignored"] == counts["rows"]
        assert len(result.valid) == counts["valid"]
        assert result.invalid_share == pytest.approx(1 / 4)


class TestThreshold:
    @staticmethod
    def _two_of_five_invalid() -> ValidationResult:
        # 6 rows, 1 ignored: 2 invalid of 5 considered = 40%.
        return products(
            item("A"),
            item("B"),
            item("C"),
            item("D", price="abc"),
            item("E", title=None),
            item("F", product_active="Ignore"),
        )

    def test_past_the_share_raises_naming_source_and_numbers(self) -> None:
        result = self._two_of_five_invalid()
        with pytest.raises(ValidationFailed) as raised:
            check_threshold(result, "shop_db", 0.25)
        message = str(raised.value)
        assert "'shop_db'" in message
        assert "products" in message
        assert "2 of 5 rows are invalid" in message
        assert "40.0%" in message
        assert "25.0%" in message

    @pytest.mark.parametrize("share", [0.4, 0.5, 1.0])
    def test_at_or_below_the_share_does_not_raise(self, share: float) -> None:
        check_threshold(self._two_of_five_invalid(), "shop_db", share)

    def test_zero_share_refuses_any_invalid_row(self) -> None:
        with pytest.raises(ValidationFailed, match="1 of 2 rows"):
            check_threshold(products(item("A"), item("B", price="abc")), "shop_db", 0.0)

    def test_zero_share_accepts_a_clean_frame(self) -> None:
        check_threshold(products(item("A"), item("B", product_active="Ignore")), "shop_db", 0.0)

    def test_all_rows_ignored_does_not_raise(self) -> None:
        result = products(item("A", product_active="I"), item("B", product_active="I"))
        assert result.invalid_share == 0.0
        check_threshold(result, "shop_db", 0.0)

    def test_customers_threshold_names_the_entity(self) -> None:
        result = customers(customer("C1", email=None), customer("C2"))
        with pytest.raises(ValidationFailed, match=r"source 'crm', customers: 1 of 2 rows are invalid \(50\.0%\)"):
            check_threshold(result, "crm", 0.2)


def test_canonical_text_is_trimmed_and_a_blank_cell_is_no_value_but_body_html_keeps_its_spaces() -> None:
    from stock2shop_sync.config import EntityMapping
    from stock2shop_sync.model.canonical import to_canonical

    raw = pd.DataFrame(
        {
            "sku": ["  A1 ", "B2", "\tC3\n", "D4"],
            "title": ["Hammer", "   ", None, "\u00a0Saw\u00a0"],
            "body_html": ["  <p>x</p> ", " ", "", "<b>y</b>"],
            "qty": [1, 2, None, 4],
        }
    )
    frame = to_canonical(raw, EntityMapping(auto_fields=True), source_id="s", entity="products")
    as_lists = {c: [None if pd.isna(v) else v for v in frame[c]] for c in ("sku", "title", "body_html", "qty")}
    assert as_lists == {
        "sku": ["A1", "B2", "C3", "D4"],
        "title": ["Hammer", None, None, "Saw"],
        "body_html": ["  <p>x</p> ", None, None, "<b>y</b>"],
        "qty": ["1.0", "2.0", None, "4.0"],  # a float column, as pandas reads a number column with a gap
    }
    assert all(frame[c].dtype == "string" for c in ("sku", "title", "body_html"))
