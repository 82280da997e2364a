"""Delta sync: fingerprints of rendered payloads decide what is sent; only accepted batches are recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from airflow.sdk import ObjectStoragePath

from stock2shop_sync import staging
from stock2shop_sync.fingerprints import FingerprintStore, plan_upload
from stock2shop_sync.hooks.stock2shop import Stock2ShopError, UploadResult
from stock2shop_sync.model.payloads import payload_lines
from stock2shop_sync.pipeline import upload
from tests.unit.test_payloads import simple, tee, valid_products

S2S = 57


def lines(*rows: dict[str, Any]) -> pl.DataFrame:
    return payload_lines("products", valid_products(*rows), S2S)


def stored(current: pl.DataFrame) -> pl.DataFrame:
    return current.drop("line")


def test_the_fingerprint_ignores_column_order_tag_order_and_blank_tags() -> None:
    first = lines(simple(tags="winter, new", price_Retail="10", price_Trade="8", qty_JHB="1", qty_CPT="2"))
    second = lines(simple(qty_CPT="2", qty_JHB="1", price_Trade="8", price_Retail="10", tags="new,,winter"))
    assert first["fingerprint"].to_list() == second["fingerprint"].to_list()
    item = orjson.loads(first["line"][0])
    assert [t["tier"] for t in item["product"]["variants"]["price_tiers"]] == ["Retail", "Trade"]
    assert [w["description"] for w in item["product"]["variants"]["qty_availability"]] == ["CPT", "JHB"]


def test_any_field_change_changes_the_fingerprint() -> None:
    base = lines(simple())["fingerprint"][0]
    for change in ({"price": "199.91"}, {"qty": "8"}, {"title": "Claw Hammer 2"}, {"product_active": "Delete"},
                   {"barcode": "600"}, {"meta_colour": "red"}):  # fmt: skip
        assert lines(simple(**change))["fingerprint"][0] != base, change


def test_plan_sends_new_and_changed_and_deletes_what_left_the_source() -> None:
    before = lines(tee("TEE-S", "S"), tee("TEE-M", "M"), tee("TEE-L", "L"))
    now = lines(tee("TEE-S", "S"), tee("TEE-M", "M", price="120"), tee("TEE-XL", "XL"))

    plan = plan_upload("products", now, stored(before), present_keys=now["key"], stock2shop_source_id=S2S)

    assert plan.counts == {"items": 3, "new": 1, "changed": 1, "unchanged": 1, "gone": 1, "to_send": 3}
    sent = [orjson.loads(line) for line in plan.send["line"]]
    assert [i["product"]["variants"]["sku"] for i in sent] == ["TEE-M", "TEE-XL", "TEE-L"]
    gone = sent[2]
    assert gone["source"] == {
        "source_id": "57",
        "source_product_code": "TEE",
        "product_active": "false",
        "sync_token": "0",
        "fetch_token": "0",
    }
    assert gone["product"]["variants"] == {"source_variant_code": "TEE-L", "sku": "TEE-L"}


def test_an_incremental_window_never_deletes() -> None:
    before = lines(tee("TEE-S", "S"), tee("TEE-M", "M"))
    now = lines(tee("TEE-M", "M", qty="9"))
    plan = plan_upload("products", now, stored(before), present_keys=None, stock2shop_source_id=S2S)
    assert plan.counts["gone"] == 0
    assert plan.send["key"].to_list() == ["TEE-M"]


def test_a_row_quarantined_this_run_is_not_deleted() -> None:
    before = lines(tee("TEE-S", "S"), tee("TEE-M", "M"))
    now = lines(tee("TEE-S", "S"))  # TEE-M was read but failed validation
    plan = plan_upload(
        "products", now, stored(before), present_keys=pl.Series(["TEE-S", "TEE-M"]), stock2shop_source_id=S2S
    )
    assert plan.counts["gone"] == 0
    assert plan.send.height == 0


def test_full_sync_sends_everything() -> None:
    before = lines(tee("TEE-S", "S"), tee("TEE-M", "M"))
    plan = plan_upload(
        "products", before, stored(before), present_keys=before["key"], stock2shop_source_id=S2S, full=True
    )
    assert plan.counts["unchanged"] == 2
    assert plan.send["key"].to_list() == ["TEE-S", "TEE-M"]


def test_only_accepted_batches_update_the_fingerprints() -> None:
    before = lines(tee("TEE-S", "S"), tee("TEE-M", "M"), tee("TEE-L", "L"))
    now = lines(tee("TEE-S", "S", qty="5"), tee("TEE-M", "M", qty="6"))
    plan = plan_upload("products", now, stored(before), present_keys=now["key"], stock2shop_source_id=S2S)
    assert plan.send["key"].to_list() == ["TEE-S", "TEE-M", "TEE-L"]  # two changes, one deletion

    kept = plan.accepted_fingerprints([(0, 1), (2, 3)])  # TEE-M's batch was not accepted
    by_key = dict(zip(kept["key"], kept["fingerprint"], strict=True))
    assert set(by_key) == {"TEE-S", "TEE-M"}  # TEE-L's deletion was accepted: forgotten
    assert by_key["TEE-S"] == now["fingerprint"][0]
    assert by_key["TEE-M"] == before["fingerprint"][1]  # still the old one: sent again next run


def test_the_store_round_trips_and_refuses_another_scheme(tmp_path: Path) -> None:
    store = FingerprintStore(ObjectStoragePath(f"file://{tmp_path}"))
    current = stored(lines(tee("TEE-S", "S")))
    store.save("shop", "products", current)
    assert store.load("shop", "products").equals(current)

    import pyarrow.parquet as pq

    path = tmp_path / "shop" / "products_fingerprints.parquet"
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({b"stock2shop.fingerprint_scheme": b"md5-v0"}), path)
    assert store.load("shop", "products").height == 0


class FailingHook:
    """Accepts the first ``accept`` batches of ``batch_size`` lines, then fails like an exhausted retry."""

    def __init__(self, accept: int, batch_size: int = 2) -> None:
        self.accept, self.batch_size, self.sent = accept, batch_size, []

    def queue_lines(self, entity: str, lines: Any, *, concurrency: int, on_accepted: Any) -> UploadResult:
        for batch, start in enumerate(range(0, len(lines), self.batch_size)):
            if batch >= self.accept:
                raise Stock2ShopError("HTTP 503 after 6 attempts", status=503, retryable=True)
            self.sent += list(lines[start : start + self.batch_size])
            on_accepted(start, min(start + self.batch_size, len(lines)))
        return UploadResult(items=len(lines), batches=len(lines) // self.batch_size)


def test_an_upload_that_fails_midway_resends_only_what_was_not_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stock2shop_sync.config import SourceConfig

    monkeypatch.setenv("S2S_STAGING_URL", f"file://{tmp_path / 'staging'}")
    config = SourceConfig.model_validate(
        {
            "source_id": "shop",
            "type": "custom_database",
            "connection": {"conn_id": "x"},
            "stock2shop": {"source_id": S2S},
        }
    )
    valid = valid_products(*(tee(f"TEE-{n}", str(n)) for n in range(5)))
    folder = staging.run_folder("shop", "run1")
    validated = {"path": staging.write_frame(valid, folder / "products_valid.parquet")}

    with pytest.raises(Stock2ShopError):
        upload(config, "products", validated, FailingHook(accept=1))
    second = FailingHook(accept=10)
    result = upload(config, "products", validated, second)
    third = FailingHook(accept=10)
    again = upload(config, "products", validated, third)

    assert [orjson.loads(line)["product"]["variants"]["sku"] for line in second.sent] == ["TEE-2", "TEE-3", "TEE-4"]
    assert (result["new"], result["unchanged"]) == (3, 2)
    assert third.sent == []
    assert again["unchanged"] == 5


def test_a_source_that_suddenly_returns_almost_nothing_deletes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stock2shop_sync.config import SourceConfig
    from stock2shop_sync.model.validation import ValidationFailed

    monkeypatch.setenv("S2S_STAGING_URL", f"file://{tmp_path / 'staging'}")
    config = SourceConfig.model_validate(
        {
            "source_id": "shop",
            "type": "custom_database",
            "connection": {"conn_id": "x"},
            "stock2shop": {"source_id": S2S},
            "validation": {"delete_cap_min_items": 5},
        }
    )
    folder = staging.run_folder("shop", "run1")
    everything = valid_products(*(tee(f"TEE-{n}", str(n)) for n in range(10)))
    full = {"path": staging.write_frame(everything, folder / "all.parquet"), "complete": True}
    full["input_path"] = full["path"]
    upload(config, "products", full, FailingHook(accept=100))
    few = valid_products(tee("TEE-0", "0"), tee("TEE-1", "1"))  # the table was emptied by mistake
    partial = {"path": staging.write_frame(few, folder / "few.parquet"), "complete": True}
    partial["input_path"] = partial["path"]
    hook = FailingHook(accept=100)

    with pytest.raises(
        ValidationFailed, match=r"not approved: 8 of the 10 products .* nothing of products was uploaded"
    ):
        upload(config, "products", partial, hook)

    assert hook.sent == []
    lenient = config.model_copy(update={"validation": config.validation.model_copy(update={"max_delete_share": 0.9})})
    result = upload(lenient, "products", partial, hook)
    assert (result["gone"], len(hook.sent)) == (8, 8)
