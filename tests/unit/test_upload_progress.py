"""Upload progress: each accepted batch is recorded at once (a journal on a local filesystem, an object per batch on
an object store), applied by the next load, folded in by save."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from airflow.sdk import ObjectStoragePath

from stock2shop_sync.fingerprints import FingerprintStore, plan_upload
from stock2shop_sync.model.payloads import payload_lines
from tests.unit.test_payloads import simple, valid_products

S2S = 57


def current(*codes: str, price: str = "10") -> pl.DataFrame:
    return payload_lines("products", valid_products(*(simple(c, price=price) for c in codes)), S2S)


def store_at(tmp_path: Path) -> FingerprintStore:
    return FingerprintStore(ObjectStoragePath(f"file://{tmp_path / 'state'}"))


def test_recorded_batches_are_applied_by_the_next_load_and_cleared_by_save(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    now = current("A", "B", "C", "D")
    plan = plan_upload("products", now, store.load("s", "products"), present_keys=None, stock2shop_source_id=S2S)
    store.record_progress("s", "products", plan.batch(0, 2))  # then the process dies: no save

    loaded = store.load("s", "products")
    assert sorted(loaded["key"]) == ["A", "B"]
    again = plan_upload("products", now, loaded, present_keys=None, stock2shop_source_id=S2S)
    assert sorted(again.send["key"]) == ["C", "D"]  # the accepted batch is not sent again

    store.save("s", "products", again.accepted_fingerprints([(0, 2)]))
    assert sorted(store.load("s", "products")["key"]) == ["A", "B", "C", "D"]
    assert store.recovered("s", "products").height == 0
    assert not [p for p in store.progress_folder("s", "products").iterdir() if p.name.endswith(".parquet")]


def test_a_recorded_deletion_and_a_later_change_replay_in_order(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    first = plan_upload("products", current("A", "B"), store.load("s", "products"), present_keys=None,
                        stock2shop_source_id=S2S)  # fmt: skip
    store.save("s", "products", first.accepted_fingerprints([(0, 2)]))
    # B is gone from the source and A changed: a run records the deletion of B, then dies.
    gone = plan_upload("products", current("A"), store.load("s", "products"), present_keys=pl.Series(["A"]),
                       stock2shop_source_id=S2S)  # fmt: skip
    assert gone.send.filter(pl.col("deleted"))["key"].to_list() == ["B"]
    store.record_progress("s", "products", gone.batch(0, gone.send.height))
    changed = plan_upload("products", current("A", price="12"), store.load("s", "products"), present_keys=None,
                          stock2shop_source_id=S2S)  # fmt: skip
    store.record_progress("s", "products", changed.batch(0, 1))

    recovered = store.recovered("s", "products")
    assert sorted(recovered["key"]) == ["A", "B"]
    assert recovered.filter(pl.col("key") == "B")["deleted"].to_list() == [True]
    loaded = store.load("s", "products")
    assert loaded["key"].to_list() == ["A"]
    assert loaded["fingerprint"].to_list() == current("A", price="12")["fingerprint"].to_list()


def test_progress_from_another_hash_scheme_is_ignored(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    store = store_at(tmp_path)
    plan = plan_upload("products", current("A"), store.load("s", "products"), present_keys=None,
                       stock2shop_source_id=S2S)  # fmt: skip
    folder = store.progress_folder("s", "products")
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "00000000000000000001-old.parquet").open("wb") as handle:
        pq.write_table(plan.batch(0, 1).to_arrow(), handle)  # no scheme in its metadata
    assert store.load("s", "products").height == 0


def test_the_inactive_flag_marks_items_sent_inactive(tmp_path: Path) -> None:
    rows = valid_products(simple("ON"), simple("OFF", product_active="Delete"))
    plan = plan_upload("products", payload_lines("products", rows, S2S), store_at(tmp_path).load("s", "products"),
                       present_keys=None, stock2shop_source_id=S2S)  # fmt: skip
    batch = plan.batch(0, 2)
    assert dict(zip(batch["key"], batch["inactive"], strict=True)) == {"ON": False, "OFF": True}
    assert "line" not in batch.columns


def test_the_arrow_batch_is_the_same_rows(tmp_path: Path) -> None:
    rows = valid_products(simple("A"), simple("B", product_active="Delete"), simple("C"))
    plan = plan_upload("products", payload_lines("products", rows, S2S), store_at(tmp_path).load("s", "products"),
                       present_keys=None, stock2shop_source_id=S2S)  # fmt: skip
    assert plan.batch_table(1, 3).to_pylist() == plan.batch(1, 3).to_dicts()
    store = store_at(tmp_path)
    store.record_progress("s", "products", plan.batch_table(1, 3))  # as the upload records a batch
    assert store.recovered("s", "products")["key"].to_list() == ["B", "C"]


def test_on_a_local_filesystem_an_upload_appends_its_batches_to_one_journal(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    codes = [f"S{i}" for i in range(9)]
    plan = plan_upload("products", current(*codes), store.load("s", "products"), present_keys=None,
                       stock2shop_source_id=S2S)  # fmt: skip
    for start in range(0, 9, 3):
        store.record_progress("s", "products", plan.batch_table(start, start + 3))
    parts = [p.name for p in store.progress_folder("s", "products").iterdir()]
    assert len(parts) == 1
    assert parts[0].endswith(".arrows")
    # Read by another process (the next run) while this one still has it open, as after a kill.
    assert store_at(tmp_path).recovered("s", "products")["key"].to_list() == codes
    store.save("s", "products", plan.accepted_fingerprints([(0, 9)]))
    assert not list(store.progress_folder("s", "products").iterdir())
    store.record_progress("s", "products", plan.batch_table(0, 1))  # a later upload: a new journal
    assert store_at(tmp_path).recovered("s", "products")["key"].to_list() == ["S0"]


def test_a_journal_cut_short_by_a_kill_keeps_the_batches_written_before(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    plan = plan_upload("products", current("A", "B", "C", "D"), store.load("s", "products"), present_keys=None,
                       stock2shop_source_id=S2S)  # fmt: skip
    store.record_progress("s", "products", plan.batch_table(0, 2))
    (journal,) = store.progress_folder("s", "products").iterdir()
    whole = Path(journal.path).stat().st_size
    store.record_progress("s", "products", plan.batch_table(2, 4))
    grown = Path(journal.path).stat().st_size
    assert grown > whole
    for cut in (whole + 1, (whole + grown) // 2, grown - 1):  # killed while writing the second batch
        other = tmp_path / f"cut{cut}"
        folder = store_at(other).progress_folder("s", "products")
        folder.mkdir(parents=True)
        (Path(folder.path) / journal.name).write_bytes(Path(journal.path).read_bytes()[:cut])
        assert store_at(other).recovered("s", "products")["key"].to_list() == ["A", "B"], cut
        assert sorted(store_at(other).load("s", "products")["key"]) == ["A", "B"]
    # Killed before the first batch was whole: nothing was recorded, everything is sent again.
    empty = store_at(tmp_path / "early")
    folder = empty.progress_folder("s", "products")
    folder.mkdir(parents=True)
    (Path(folder.path) / journal.name).write_bytes(Path(journal.path).read_bytes()[:40])
    assert empty.recovered("s", "products").height == 0


def test_on_an_object_store_each_batch_is_an_object_of_its_own() -> None:
    import uuid

    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach("memory", fs=MemoryFileSystem())  # an object store: no appending, no local path
    store = FingerprintStore(ObjectStoragePath(f"memory://progress-{uuid.uuid4().hex}/state"))
    plan = plan_upload("products", current("A", "B", "C"), store.load("s", "products"), present_keys=None,
                       stock2shop_source_id=S2S)  # fmt: skip
    store.record_progress("s", "products", plan.batch_table(0, 2))
    store.record_progress("s", "products", plan.batch_table(2, 3))
    names = sorted(p.name for p in store.progress_folder("s", "products").iterdir())
    assert len(names) == 2
    assert all(n.endswith(".parquet") for n in names)
    assert store.recovered("s", "products")["key"].to_list() == ["A", "B", "C"]
    store.save("s", "products", plan.accepted_fingerprints([(0, 3)]))
    assert sorted(store.load("s", "products")["key"]) == ["A", "B", "C"]
    assert store.recovered("s", "products").height == 0
