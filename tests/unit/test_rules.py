"""A preset's site rules on canonical product rows: titles, status flags and missing price-list rows."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from stock2shop_sync.config import SiteSettings
from stock2shop_sync.model.canonical import CLEANED, clean_column
from stock2shop_sync.model.rules import VARIANT_TITLE, apply_product_rules, common_words


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    columns = sorted({k for row in rows for k in row})
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in rows]).astype("string")


def variant(code: str, title: str | None, product: str = "TEE", **extra: Any) -> dict[str, Any]:
    return {"source_product_code": product, "source_variant_code": code, "sku": code, "title": title, **extra}


def rules(df: pd.DataFrame, **settings: Any) -> pd.DataFrame:
    return apply_product_rules(df, SiteSettings(**settings), "shop")


class TestCommonWords:
    @pytest.mark.parametrize(
        ("titles", "expected"),
        [
            (["Classic Tee Red S", "Classic Tee Blue M"], "Classic Tee"),
            (["Classic Tee - Red", "Classic Tee - Blue"], "Classic Tee"),
            (["classic tee red", "Classic Tee Blue"], "classic tee"),
            (["Runner 2 (Black/42)", "Runner 2 (White/43)"], "Runner 2"),
            (["Mug", "Mug"], "Mug"),
            (["Red Shirt", "Blue Shirt"], ""),
            (["Only one title"], "Only one title"),
        ],
    )
    def test_the_words_all_titles_start_with(self, titles: list[str], expected: str) -> None:
        assert common_words(titles) == expected


class TestTitleRule:
    def test_common_prefix_gives_one_title_and_keeps_each_variants_own(self) -> None:
        out = rules(
            frame(variant("1", "Classic Tee Red S"), variant("2", "Classic Tee Blue M"), variant("9", "Mug", "MUG")),
            title_rule="common_prefix",
        )
        assert out["title"].tolist() == ["Classic Tee", "Classic Tee", "Mug"]
        assert out[VARIANT_TITLE].tolist()[:2] == ["Classic Tee Red S", "Classic Tee Blue M"]
        assert pd.isna(out[VARIANT_TITLE].iloc[2]), "a simple product's title is its own: no variant meta"

    def test_no_shared_word_falls_back_to_the_first_variant(self) -> None:
        out = rules(frame(variant("1", "Red Shirt"), variant("2", "Blue Shirt")), title_rule="common_prefix")
        assert out["title"].tolist() == ["Red Shirt", "Red Shirt"]

    def test_first_variant_in_the_sources_order(self) -> None:
        out = rules(frame(variant("20", "Tee Large"), variant("3", "Tee Small")), title_rule="first_variant")
        assert out["title"].tolist() == ["Tee Large", "Tee Large"]

    def test_field_takes_the_group_title_and_falls_back_when_blank(self) -> None:
        out = rules(
            frame(
                variant("1", "Classic Tee Red S", group_title=None),
                variant("2", "Classic Tee Blue M", group_title="The Classic Tee"),
                variant("3", "Cap Red", "CAP", group_title=None),
                variant("4", "Cap Blue", "CAP", group_title=None),
            ),
            title_rule="field",
        )
        assert out["title"].tolist() == ["The Classic Tee", "The Classic Tee", "Cap", "Cap"]
        assert "group_title" not in out.columns, "rule inputs are never sent"

    def test_agree_leaves_titles_as_they_are(self) -> None:
        df = frame(variant("1", "Classic Tee Red S"), variant("2", "Classic Tee Blue M"))
        out = rules(df, title_rule="agree")
        assert out["title"].tolist() == df["title"].tolist()
        assert VARIANT_TITLE not in out.columns


class TestStatusFlags:
    @pytest.mark.parametrize("inactive", ["0", "false", "False", "N", "f"])
    def test_an_inactive_item_is_sent_inactive_by_default(self, inactive: str) -> None:
        out = rules(frame(variant("1", "A", product_active="Active", item_active=inactive)))
        assert out["product_active"].tolist() == ["Delete"]
        assert "item_active" not in out.columns

    def test_an_inactive_item_is_ignored_when_the_site_says_so(self) -> None:
        df = frame(
            variant("1", "A", "A", product_active="Active", item_active="0"),
            variant("2", "B", "B", product_active="Active", item_active="1"),
            variant("3", "C", "C", product_active="Ignore", item_active="0"),
        )
        assert rules(df, inactive_items="ignore")["product_active"].tolist() == ["Ignore", "Active", "Ignore"]
        assert rules(df)["product_active"].tolist() == ["Delete", "Active", "Ignore"], "unpublished stays unpublished"

    def test_blocked_and_service_items(self) -> None:
        df = frame(
            variant("1", "A", "A", product_active="Active", item_blocked="Y", stock_item="Y"),
            variant("2", "B", "B", product_active="Active", item_blocked="N", stock_item="N"),
            variant("3", "C", "C", product_active="Active", item_blocked="true", stock_item="false"),
            variant("4", "D", "D", product_active="Active", service_item="1"),
        )
        assert rules(df)["product_active"].tolist() == ["Delete", "Ignore", "Ignore", "Ignore"]
        assert rules(df, service_items="sync")["product_active"].tolist() == ["Delete", "Active", "Delete", "Active"]

    def test_a_flag_that_is_neither_true_nor_false_changes_nothing(self, caplog: pytest.LogCaptureFixture) -> None:
        out = rules(frame(variant("1", "A", product_active="Active", item_active="maybe")))
        assert out["product_active"].tolist() == ["Active"]
        assert "neither true nor false" in caplog.text


class TestMissingPrices:
    def df(self) -> pd.DataFrame:
        return frame(variant("1", "A", "A", price="100", price_Retail="100", price_Trade=None))

    def test_omit_leaves_the_tier_out(self) -> None:
        assert pd.isna(rules(self.df())["price_Trade"].iloc[0])

    def test_default_list_and_zero(self) -> None:
        assert rules(self.df(), missing_price="default_list")["price_Trade"].tolist() == ["100"]
        assert rules(self.df(), missing_price="zero")["price_Trade"].tolist() == ["0"]


def test_clean_column_reports_the_rows_whose_control_characters_it_removed() -> None:
    removed: list[pd.Series] = []
    out = clean_column(pd.Series(["Tee\x07 Red", "Caf\u00e9", None, "plain"], dtype="string"), removed)
    assert out.tolist()[:2] == ["Tee Red", "Café"]
    assert removed[0].tolist() == [True, False, False, False]
    none: list[pd.Series] = []
    clean_column(pd.Series(["plain", "text"], dtype="string"), none)
    assert none == []
    assert CLEANED == "_cleaned"
