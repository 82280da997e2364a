"""Build Stock2Shop queue payloads from validated canonical frames, vectorised.

Products follow ``POST /v1/products/queue`` (stock2shop-api-and-model.md, section 3.1): one queue item
per variant, ``variants`` an object, product-level fields repeated on each variant of a product.
Customers follow the contract we assume for ``POST /v1/customers/queue`` (README, "Stock2Shop API
contract"): the same ``source`` + entity envelope as products.

Console CSV conventions map to lists: ``price_<tier>`` -> ``price_tiers``, ``qty_<warehouse>`` ->
``qty_availability``, ``meta_<key>`` -> ``meta``, ``image1..N`` -> ``images``.

Each item is rendered straight to its JSON text by Polars expressions (no per-row Python), in a stable form:
tiers sorted by tier, warehouses by description, meta by key, tags sorted as Stock2Shop sorts them for its own
hash. :func:`payload_lines` returns one JSON line per item with its key and fingerprint; the upload compares
fingerprints with those of what Stock2Shop last accepted and sends only what changed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl

if TYPE_CHECKING:
    import pandas as pd

PRODUCT_TEXT_FIELDS = ("body_html", "collection", "product_type", "vendor", "tags")
_IMAGE = re.compile(r"^image([1-9][0-9]*)$")
#: Keys left out of an item when they have no value (as opposed to option1..3, which are sent as null).
_OMIT_WHEN_NULL = re.compile(r',"(?:body_html|collection|product_type|vendor|tags|barcode|meta|images)":(?:null|\[\])')
#: Seed of the fingerprint hash (Polars' 64-bit string hash); changing it re-sends every item once.
FINGERPRINT_SEED = 20261122
#: What the fingerprints were computed with: Polars documents that its hash may change between versions,
#: so fingerprints of another version are not compared (every item is sent once, then recorded again).
FINGERPRINT_SCHEME = f"polars-{pl.__version__}-seed{FINGERPRINT_SEED}"
KEYS = {"products": "sku", "customers": "source_customer_code"}


def _suffix_columns(columns: list[str], prefix: str) -> list[tuple[str, str]]:
    return sorted((c, c[len(prefix) :]) for c in columns if c.startswith(prefix))


def _text(df: pl.DataFrame, name: str) -> pl.Expr:
    """The column as text, null when missing, null or blank (values themselves are sent as they are)."""
    if name not in df.columns:
        return pl.lit(None, dtype=pl.String)
    column = pl.col(name).cast(pl.String)
    return pl.when(column.str.strip_chars() == "").then(None).otherwise(column)


def _bool_text(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.fill_null(False).cast(pl.Boolean)).then(pl.lit("true")).otherwise(pl.lit("false"))


def _meta(df: pl.DataFrame) -> list[pl.Expr]:
    metas = _suffix_columns(df.columns, "meta_")
    if not metas:
        return []
    pairs = pl.concat_list([pl.struct(key=pl.lit(key), value=_text(df, c)) for c, key in metas])
    return [pairs.list.filter(pl.element().struct.field("value").is_not_null()).alias("meta")]


def _frame(valid: pd.DataFrame) -> pl.DataFrame:
    # Arrow-backed conversion; pandas' nullable "string" columns become Utf8 with nulls.
    return pl.from_pandas(valid.reset_index(drop=True))


def _product_items(df: pl.DataFrame, stock2shop_source_id: int) -> pl.Expr:
    columns = df.columns
    tiers = _suffix_columns(columns, "price_")
    warehouses = _suffix_columns(columns, "qty_")
    numbered = sorted((int(m.group(1)), c) for c in columns if (m := _IMAGE.match(c)))
    images = [c for _, c in numbered]
    sku = pl.col("sku").cast(pl.String)

    product: list[pl.Expr] = [pl.coalesce(_text(df, "title"), sku).alias("title")]
    for name in PRODUCT_TEXT_FIELDS:
        if name not in columns:
            continue
        if name == "tags":  # Stock2Shop sorts the tags CSV for its hash: send them in that order
            tags = (
                _text(df, "tags")
                .str.split(",")
                .list.eval(pl.element().str.strip_chars())
                .list.filter(pl.element() != "")
                .list.unique()
                .list.sort()
                .list.join(",")
            )
            product.append(pl.when(tags == "").then(None).otherwise(tags).alias("tags"))
        else:
            product.append(_text(df, name).alias(name))
    options = pl.concat_list(
        [
            pl.struct(
                name=pl.when(_text(df, f"option{p}_value").is_not_null()).then(_text(df, f"option{p}_name")),
                position=pl.lit(p, dtype=pl.Int64),
            )
            for p in (1, 2, 3)
        ]
    )
    product.append(options.list.filter(pl.element().struct.field("name").is_not_null()).alias("options"))
    product += _meta(df)
    if images:
        sources = pl.concat_list([_text(df, c) for c in images]).list.drop_nulls()
        product.append(
            sources.list.eval(pl.struct(src=pl.element(), position=pl.int_range(1, pl.len() + 1))).alias("images")
        )

    variant: list[pl.Expr] = [
        pl.col("source_variant_code").cast(pl.String),
        sku.alias("sku"),
        pl.col("qty").cast(pl.Int64),
        pl.col("price").cast(pl.Float64) if "price" in columns else pl.lit(None, dtype=pl.Float64).alias("price"),
        _bool_text(pl.col("inventory_management")).alias("inventory_management"),
        *(_text(df, f"option{p}_value").alias(f"option{p}") for p in (1, 2, 3)),
    ]
    if "barcode" in columns:
        variant.append(_text(df, "barcode").alias("barcode"))
    if "grams" in columns:
        variant.append(pl.col("grams").cast(pl.Int64))
    if tiers:
        variant.append(
            pl.concat_list(
                [pl.struct(tier=pl.lit(t), price=pl.col(c).cast(pl.Float64).fill_null(0.0)) for c, t in tiers]
            ).alias("price_tiers")
        )
    if warehouses:
        variant.append(
            pl.concat_list(
                [pl.struct(description=pl.lit(w), qty=pl.col(c).cast(pl.Int64).fill_null(0)) for c, w in warehouses]
            ).alias("qty_availability")
        )
    product.append(pl.struct(variant).alias("variants"))

    sync_token = _text(df, "sync_token")
    source = pl.struct(
        source_id=pl.lit(str(stock2shop_source_id)),
        source_product_code=pl.col("source_product_code").cast(pl.String),
        product_active=_bool_text(pl.col("product_active")),
        sync_token=pl.coalesce(sync_token, pl.lit("0")),
        fetch_token=pl.lit("0"),
    )
    return pl.struct(source=source, product=pl.struct(product))


def _customer_items(df: pl.DataFrame, stock2shop_source_id: int) -> pl.Expr:
    accepts = pl.col("accepts_marketing") if "accepts_marketing" in df.columns else pl.lit(False)
    customer = [
        _text(df, "first_name").alias("first_name"),
        _text(df, "last_name").alias("last_name"),
        _text(df, "email").alias("email"),
        accepts.fill_null(False).cast(pl.Boolean).alias("accepts_marketing"),
        *_meta(df),
    ]
    source = pl.struct(
        source_id=pl.lit(str(stock2shop_source_id)),
        source_customer_code=pl.col("source_customer_code").cast(pl.String),
        customer_active=_bool_text(pl.col("customer_active")),
    )
    return pl.struct(source=source, customer=pl.struct(customer))


def payload_lines(entity: str, valid: pd.DataFrame, stock2shop_source_id: int) -> pl.DataFrame:
    """One row per queue item: ``key`` (SKU or customer code), ``line`` (the item's JSON) and ``fingerprint``.

    Products also carry ``source_product_code`` and ``source_variant_code``, which a later deletion needs.
    """
    df = _frame(valid)
    key = KEYS[entity]
    if df.height == 0:
        return empty_lines(entity)
    build = _product_items if entity == "products" else _customer_items
    extra = ["source_product_code", "source_variant_code"] if entity == "products" else []
    out = df.select(
        pl.col(key).cast(pl.String).alias("key"),
        *(pl.col(c).cast(pl.String) for c in extra),
        build(df, stock2shop_source_id).struct.json_encode().str.replace_all(_OMIT_WHEN_NULL.pattern, "").alias("line"),
    )
    return out.with_columns(fingerprint=pl.col("line").hash(seed=FINGERPRINT_SEED))


def empty_lines(entity: str) -> pl.DataFrame:
    """A frame of no items, with :func:`payload_lines`'s columns."""
    extra = {"source_product_code": pl.String, "source_variant_code": pl.String} if entity == "products" else {}
    return pl.DataFrame(schema={"key": pl.String, **extra, "line": pl.String, "fingerprint": pl.UInt64})


def build_product_items(valid: pd.DataFrame, stock2shop_source_id: int) -> list[dict[str, Any]]:
    """One ``system_products`` item per valid variant row, as Python objects (for reports and checks)."""
    return [orjson.loads(line) for line in payload_lines("products", valid, stock2shop_source_id)["line"]]


def build_customer_items(valid: pd.DataFrame, stock2shop_source_id: int) -> list[dict[str, Any]]:
    """One ``system_customers`` item per valid customer row (the contract we assume)."""
    return [orjson.loads(line) for line in payload_lines("customers", valid, stock2shop_source_id)["line"]]


BUILDERS = {"products": build_product_items, "customers": build_customer_items}
