"""The state store's synced-variant list keeps the SKUs a source removed from Stock2Shop, with when, on SQLite and
PostgreSQL; a list made by an older release (no ``removed_at``) is upgraded in place."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyodbc
import pytest
import sqlalchemy as sa

from stock2shop_sync import state
from stock2shop_sync.state import StateStore
from tests.conftest import PG, odbc_string


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, state_store: str) -> Iterator[str]:
    """An empty state store: the test's SQLite file, or a fresh database on the local PostgreSQL server."""
    if request.param == "sqlite":
        yield state_store
        return
    name = f"s2s_state_{uuid.uuid4().hex[:10]}"
    admin = pyodbc.connect(odbc_string(PG, "postgres"), autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        for key in [k for k in state._ENGINES if k.endswith(f"/{name}")]:
            state._ENGINES.pop(key).dispose()
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def test_removed_skus_are_kept_with_when_and_held_again_once_synced_as_active(state_url: str) -> None:
    store = StateStore(state_url)
    before = datetime.now(UTC) - timedelta(seconds=1)

    store.record_synced("shop", ["HW-1", " hw-2 ", "HW-3"])
    store.record_synced("shop", ["HW-4"], removed=["HW-2", "NEVER-HELD"])
    first_removed = store.removed_skus("shop")
    store.record_synced("shop", [], removed=["hw-2"])  # sent as inactive again: still removed since the first time

    assert store.synced_skus("shop") == {"hw-1", "hw-3", "hw-4"}
    removed = store.removed_skus("shop")
    assert set(removed) == {"hw-2", "never-held"}
    assert removed == first_removed
    assert all(before <= when <= datetime.now(UTC) for when in removed.values())
    assert store.synced_skus("other") == set()
    assert store.removed_skus("other") == {}

    store.record_synced("shop", ["HW-2"], removed=["HW-3"])  # HW-2 active again, HW-3 removed now

    assert store.synced_skus("shop") == {"hw-1", "hw-2", "hw-4"}
    assert set(store.removed_skus("shop")) == {"hw-3", "never-held"}
    # A SKU sent both ways in one batch is held: the upload's accepted rows decide, not the order of the lists.
    store.record_synced("shop", ["HW-5"], removed=["HW-5"])
    assert "hw-5" in store.synced_skus("shop")


def test_a_synced_variant_list_of_an_older_release_is_upgraded_in_place(state_url: str) -> None:
    old = sa.create_engine(state._sqlalchemy_url(state_url))
    with old.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE s2s_synced_variants (source_id VARCHAR(64) NOT NULL, sku_key VARCHAR(255) NOT NULL, "
                "sku VARCHAR(255) NOT NULL, updated_at TIMESTAMP NOT NULL, PRIMARY KEY (source_id, sku_key))"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO s2s_synced_variants VALUES ('shop', 'hw-1', 'HW-1', :at), ('shop', 'hw-2', 'HW-2', :at)"
            ),
            {"at": datetime(2026, 11, 1, 8, 0)},
        )
    old.dispose()

    store = StateStore(state_url)

    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("s2s_synced_variants")}
    assert "removed_at" in columns
    assert store.synced_skus("shop") == {"hw-1", "hw-2"}  # rows of the older release are held
    store.record_synced("shop", [], removed=["HW-2"])
    assert store.synced_skus("shop") == {"hw-1"}
    assert set(store.removed_skus("shop")) == {"hw-2"}
