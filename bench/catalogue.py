"""The benchmark's synthetic catalogue in the PostgreSQL server of this machine, and its linked CSV.

Tables follow the Custom Database preset (``products``, ``product_groups``), plus ``price_list_prices`` (three
tiers per variant) and ``warehouse_stock`` (two warehouses per variant), which ``bench/bench_mapping.yaml``
pivots into ``price_<tier>`` and ``qty_<warehouse>``. Every row is valid, so counts are exact. Rows are built
column-wise with Polars and loaded with ``COPY``.

``python -m bench.catalogue [--variants N --products M]`` creates it and prints how long that took.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import polars as pl

HOST = "host=127.0.0.1 port=5432 user=postgres"
TIERS = ("Retail", "Trade", "Wholesale")
WAREHOUSES = ("JHB", "CPT")
SIZES = ("S", "M", "L", "XL", "XXL", "3XL")
COLOURS = ("Black", "Navy", "Red", "White", "Olive", "Sand", "Grey")
CATEGORIES = ("Apparel", "Footwear", "Outdoor", "Hardware", "Kitchen", "Garden", "Toys", "Office")
BRANDS = ("Karoo", "Summit", "Harbour", "Acacia", "Baobab", "Fynbos")
#: What the linked CSV provides (its config's ``link.owns``): a product-level attribute and a variant's barcode.
LINKED_OWNS = ["barcode", "meta_material"]

DDL = """
DROP TABLE IF EXISTS products, product_groups, price_list_prices, warehouse_stock, customers;
CREATE TABLE product_groups (group_code VARCHAR(40) PRIMARY KEY, option1_name VARCHAR(40),
                             option2_name VARCHAR(40), option3_name VARCHAR(40));
CREATE TABLE products (id INTEGER PRIMARY KEY, item_code VARCHAR(40), group_code VARCHAR(40),
                       description VARCHAR(200), category VARCHAR(80), brand VARCHAR(80), barcode VARCHAR(40),
                       selling_price DECIMAL(12, 2), qty_on_hand DECIMAL(12, 3), s2s_active VARCHAR(10),
                       inventory_managed SMALLINT, option1 VARCHAR(40), option2 VARCHAR(40), option3 VARCHAR(40),
                       weight_grams INTEGER, updated_at TIMESTAMP);
CREATE TABLE price_list_prices (item_code VARCHAR(40), tier VARCHAR(40), price DECIMAL(12, 2));
CREATE TABLE warehouse_stock (item_code VARCHAR(40), warehouse VARCHAR(10), qty DECIMAL(12, 3));
CREATE TABLE customers (account VARCHAR(20) PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60),
                        email VARCHAR(120), s2s_active VARCHAR(10), updated_at TIMESTAMP);
"""
INDEXES = """
CREATE INDEX price_list_prices_item ON price_list_prices (item_code);
CREATE INDEX warehouse_stock_item ON warehouse_stock (item_code);
CREATE INDEX products_updated_at ON products (updated_at);
CREATE UNIQUE INDEX products_item_code ON products (item_code);
ANALYZE;
"""


def _connect(database: str):
    import psycopg2

    return psycopg2.connect(f"{HOST} dbname={database}")


def _copy(cursor, table: str, frame: pl.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="")
    buffer.seek(0)
    columns = ", ".join(frame.columns)
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '')", buffer)


def _products(variants: int, products: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = np.arange(variants)
    group = n * products // variants  # variants spread evenly over the products
    position = n - np.searchsorted(group, group)  # 0, 1, 2... within each product
    frame = pl.DataFrame({"id": n + 1, "group": group, "position": position})
    return frame.with_columns(
        item_code=pl.format("SKU-{}", pl.col("id").cast(pl.String).str.zfill(7)),
        group_code=pl.format("GRP-{}", pl.col("group").cast(pl.String).str.zfill(6)),
        description=pl.format("Product {} {}", pl.col("group"), pl.lit("Classic")),
        category=pl.Series(np.array(CATEGORIES)[group % len(CATEGORIES)]),
        brand=pl.Series(np.array(BRANDS)[group % len(BRANDS)]),
        barcode=pl.format("600{}", pl.col("id").cast(pl.String).str.zfill(10)),
        selling_price=pl.Series(np.round(rng.uniform(10, 5000, variants), 2)),
        qty_on_hand=pl.Series(rng.integers(0, 200, variants)),
        s2s_active=pl.lit("Active"),
        inventory_managed=pl.lit(1),
        option1=pl.Series(np.array(SIZES)[position % len(SIZES)]),
        option2=pl.Series(np.array(COLOURS)[(position // len(SIZES)) % len(COLOURS)]),
        option3=pl.lit(None, dtype=pl.String),
        weight_grams=pl.Series(rng.integers(50, 5000, variants)),
        updated_at=pl.lit("2026-11-01 00:00:00"),
    ).drop("group", "position")


def create_catalogue(
    database: str = "s2s_bench", *, variants: int = 1_000_000, products: int = 250_000, seed: int = 7
) -> dict[str, float]:
    """(Re)create ``database`` with the catalogue; returns row counts and the seconds it took."""
    started = time.perf_counter()
    admin = _connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database}"')
        cursor.execute(f'CREATE DATABASE "{database}"')
    admin.close()
    rows = _products(variants, products, seed)
    rng = np.random.default_rng(seed + 1)
    codes = rows.get_column("item_code")
    prices = pl.DataFrame(
        {
            "item_code": pl.concat([codes] * len(TIERS)),
            "tier": np.repeat(np.array(TIERS), variants),
            "price": np.round(
                np.concatenate([rows.get_column("selling_price").to_numpy() * f for f in (1.0, 0.85, 0.7)]), 2
            ),
        }
    )
    stock = pl.DataFrame(
        {
            "item_code": pl.concat([codes] * len(WAREHOUSES)),
            "warehouse": np.repeat(np.array(WAREHOUSES), variants),
            "qty": rng.integers(0, 100, variants * len(WAREHOUSES)),
        }
    )
    groups = pl.DataFrame(
        {
            "group_code": rows.get_column("group_code").unique(maintain_order=True),
        }
    ).with_columns(option1_name=pl.lit("Size"), option2_name=pl.lit("Colour"), option3_name=pl.lit(None, pl.String))
    conn = _connect(database)
    with conn, conn.cursor() as cursor:
        cursor.execute(DDL)
        _copy(cursor, "product_groups", groups)
        _copy(cursor, "products", rows)
        _copy(cursor, "price_list_prices", prices)
        _copy(cursor, "warehouse_stock", stock)
        cursor.execute(INDEXES)
    conn.close()
    return {"variants": variants, "products": groups.height, "seconds": time.perf_counter() - started}


def catalogue_size(database: str = "s2s_bench") -> int:
    """Variants in the catalogue, or 0 when there is none."""
    import psycopg2

    try:
        conn = _connect(database)
    except psycopg2.OperationalError:
        return 0
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM products")
            return int(cursor.fetchone()[0])
    except psycopg2.Error:
        return 0
    finally:
        conn.close()


def change_catalogue(database: str = "s2s_bench", *, share: float = 0.01, seed: int = 11) -> int:
    """Change the selling price (and so the Retail tier) of ``share`` of the variants; returns how many."""
    conn = _connect(database)
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM products")
        total = int(cursor.fetchone()[0])
        count = round(total * share)
        chosen = np.random.default_rng(seed).choice(np.arange(1, total + 1), size=count, replace=False)
        cursor.execute("CREATE TEMP TABLE changed (id INTEGER PRIMARY KEY)")
        _copy(cursor, "changed", pl.DataFrame({"id": chosen}))
        cursor.execute(
            "UPDATE products p SET selling_price = p.selling_price + 1, updated_at = now() FROM changed c "
            "WHERE p.id = c.id"
        )
        updated = cursor.rowcount
        cursor.execute(
            "UPDATE price_list_prices l SET price = p.selling_price FROM products p, changed c "
            "WHERE c.id = p.id AND l.item_code = p.item_code AND l.tier = 'Retail'"
        )
    conn.close()
    return updated


def linked_csv(path: Path, *, variants: int = 1_000_000, products: int = 250_000, seed: int = 7) -> int:
    """The linked source's CSV: one row per variant (same codes as the catalogue) with the fields it owns
    (``LINKED_OWNS``): a product's material (product level) and a variant's barcode (variant level)."""
    rows = _products(variants, products, seed).select(
        source_product_code="group_code",
        source_variant_code="item_code",
        barcode=pl.format("700{}", pl.col("id").cast(pl.String).str.zfill(10)),
        meta_material=pl.Series(np.array(("cotton", "wool", "steel", "oak", "nylon"))[np.arange(variants) % 5]),
    )
    rows.write_csv(path)
    return rows.height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="s2s_bench")
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=250_000)
    args = parser.parse_args()
    print(create_catalogue(args.database, variants=args.variants, products=args.products))


if __name__ == "__main__":
    main()
