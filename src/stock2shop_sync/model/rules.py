"""A preset's site rules, applied to a source's canonical product rows as they are extracted (before a linked
source adds its fields, so a linked sheet's title still wins over the ERP's).

- **Status flags.** An ERP's own flags (``item_active``, ``item_blocked``, ``service_item``, ``stock_item``: any
  truthy or falsy spelling, bit, boolean or Y/N, read here rather than compared in SQL, where ``= 1`` works on
  some servers only) decide, with ``settings.inactive_items`` and ``settings.service_items``, whether an item is
  sent, sent as inactive or ignored.
- **Missing price-list rows.** ``settings.missing_price``: leave the tier out, take the default list's price,
  or 0 as the site chose; never a silent 0.
- **Product titles.** ``settings.title_rule`` picks one title per product when its variants carry their own
  descriptions ("Classic Tee Red S"); a variant whose description differs keeps it as variant meta ``title``.

The flag and title-source columns are inputs of these rules only: they are removed from the frame here.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from stock2shop_sync.config import PRODUCT_RULE_FIELDS as RULE_FIELDS
from stock2shop_sync.model.validation import FALSE_WORDS, TRUE_WORDS

if TYPE_CHECKING:
    import pandas as pd

    from stock2shop_sync.config import SiteSettings

log = logging.getLogger(__name__)

#: The variant meta key a variant's own description is kept under when the product's title differs from it.
VARIANT_TITLE = "variant_meta_title"

# Validation's spellings, and -1: the true of a bit read through Pervasive or Access drivers.
_TRUE = TRUE_WORDS | {"-1"}
_FALSE = FALSE_WORDS
# Left over at the end of a shared prefix of words: separators such as "Classic Tee -" or "Shirt (".
_TRAILING = re.compile(r"[\s\-–—/,:;(|+&]+$")


def apply_product_rules(frame: pd.DataFrame, settings: SiteSettings, source_id: str) -> pd.DataFrame:
    """The canonical product rows with the site's status, price and title rules applied (see the module)."""
    frame = _apply_status(frame, settings, source_id)
    frame = _apply_missing_prices(frame, settings)
    frame = _apply_title_rule(frame, settings)
    return frame.drop(columns=[c for c in RULE_FIELDS if c in frame.columns])


def _flag(frame: pd.DataFrame, name: str, source_id: str) -> pd.Series | None:
    """True / False / NA per row for a flag column, or None when the source gave none."""
    import pandas as pd

    if name not in frame.columns:
        return None
    text = frame[name].astype("string").str.strip().str.lower()
    flag = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    flag[text.isin(_TRUE).fillna(False)] = True
    flag[text.isin(_FALSE).fillna(False)] = False
    unknown = text.notna() & flag.isna()
    if unknown.any():
        log.warning(
            "source %s: %d products have a %s value that is neither true nor false (e.g. %r); the flag is not "
            "applied to them",
            source_id,
            int(unknown.sum()),
            name,
            text[unknown].iloc[0],
        )
    return flag


def _apply_status(frame: pd.DataFrame, settings: SiteSettings, source_id: str) -> pd.DataFrame:
    import pandas as pd

    active, blocked = _flag(frame, "item_active", source_id), _flag(frame, "item_blocked", source_id)
    service, stock = _flag(frame, "service_item", source_id), _flag(frame, "stock_item", source_id)
    if all(flag is None for flag in (active, blocked, service, stock)):
        return frame
    none = pd.Series(False, index=frame.index)
    inactive = (active.eq(False).fillna(False) if active is not None else none) | (
        blocked.eq(True).fillna(False) if blocked is not None else none
    )
    non_stock = (service.eq(True).fillna(False) if service is not None else none) | (
        stock.eq(False).fillna(False) if stock is not None else none
    )
    frame = frame.copy()
    status = (
        frame["product_active"].astype("string")
        if "product_active" in frame.columns
        else pd.Series("Active", index=frame.index, dtype="string")
    )
    # Not published stays not published; an inactive item that is published is sent inactive or left alone.
    published = ~status.str.strip().str.lower().isin(["ignore", "i"]).fillna(False)
    status = status.mask(inactive & published, "Delete" if settings.inactive_items == "delete" else "Ignore")
    if settings.service_items == "ignore":
        status = status.mask(non_stock, "Ignore")
    frame["product_active"] = status
    return frame


def _apply_missing_prices(frame: pd.DataFrame, settings: SiteSettings) -> pd.DataFrame:
    tiers = [c for c in frame.columns if c.startswith("price_")]
    if not tiers or settings.missing_price == "omit":
        return frame
    frame = frame.copy()
    for column in tiers:
        if settings.missing_price == "zero":
            frame[column] = frame[column].fillna("0")
        elif "price" in frame.columns:  # default_list: the variant's price is the default list's
            frame[column] = frame[column].fillna(frame["price"])
    return frame


def common_words(titles: list[str]) -> str:
    """The words every title starts with (compared without regard to case, kept as the first title writes
    them), less trailing separators; empty when they share no word."""
    split = [t.split() for t in titles]
    shared = 0
    for words in zip(*split, strict=False):
        if len({w.casefold() for w in words}) != 1:
            break
        shared += 1
    if shared == len(split[0]) and all(len(w) == shared for w in split):
        return " ".join(split[0])
    return _TRAILING.sub("", " ".join(split[0][:shared]))


def _apply_title_rule(frame: pd.DataFrame, settings: SiteSettings) -> pd.DataFrame:
    import pandas as pd

    rule = settings.title_rule
    if rule == "agree" or "title" not in frame.columns or "source_product_code" not in frame.columns:
        return frame
    frame = frame.copy()
    own = frame["title"].astype("string")
    group_title = frame["group_title"].astype("string") if "group_title" in frame.columns else None
    titles: dict[object, str | None] = {}
    # Rows in the source's order: a product's first variant is its first row.
    for code, rows in frame.groupby("source_product_code", sort=False).groups.items():
        values = [str(v) for v in own.loc[rows].tolist() if pd.notna(v) and str(v).strip()]
        chosen: str | None = None
        if rule == "field" and group_title is not None:
            named = [str(v) for v in group_title.loc[rows].tolist() if pd.notna(v) and str(v).strip()]
            chosen = named[0] if named else None
        if chosen is None and values:
            chosen = values[0] if rule == "first_variant" else common_words(values) or values[0]
        titles[code] = chosen
    title = frame["source_product_code"].map(titles).astype("string")
    title = title.fillna(own)
    differs = own.notna() & (own.str.strip() != title.str.strip()).fillna(False)
    if differs.any():
        frame[VARIANT_TITLE] = own.where(differs)
    frame["title"] = title
    return frame
