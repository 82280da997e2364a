"""Deletes are counted whatever causes them, against what Stock2Shop holds, and capped with a minimum."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stock2shop_sync import staging
from stock2shop_sync.config import SourceConfig, ValidationSettings
from stock2shop_sync.deletes import (
    DeleteCount,
    DeletesRefused,
    approval_body,
    approval_subject,
    count_deletes,
    over_cap,
    refusal,
    tally,
)
from stock2shop_sync.fingerprints import FingerprintStore
from stock2shop_sync.model.payloads import payload_lines
from stock2shop_sync.pipeline import upload
from tests.unit.test_fingerprints import FailingHook
from tests.unit.test_payloads import canonical, tee, valid_products

S2S = 57


@pytest.fixture
def staged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("S2S_STAGING_URL", f"file://{tmp_path / 'staging'}")
    return tmp_path


def _tees(count: int, deleted: range = range(0), **extra: Any) -> list[dict[str, Any]]:
    return [
        tee(f"TEE-{n:02d}", str(n), **({"product_active": "Delete"} if n in deleted else {}), **extra)
        for n in range(count)
    ]


def _validated(rows: list[dict[str, Any]], name: str, *, complete: bool = True, **extra: Any) -> dict[str, Any]:
    folder = staging.run_folder("shop", name)
    path = staging.write_frame(valid_products(*rows), folder / "valid.parquet")
    return {"path": path, "complete": complete, **({"input_path": path} if complete else {}), **extra}


def _held(rows: list[dict[str, Any]]) -> Any:
    return payload_lines("products", valid_products(*rows), S2S).drop("line")


def test_within_the_minimum_a_tiny_catalogue_may_delete_most_of_itself() -> None:
    settings = ValidationSettings()
    assert (settings.max_delete_share, settings.delete_cap_min_items) == (0.2, 10)
    assert not over_cap(tally("products", 5, {"gone": ["A", "B", "C"]}), settings)
    assert over_cap(tally("products", 40, {"gone": [str(n) for n in range(10)]}), settings)  # 25% of 40
    assert not over_cap(tally("products", 100, {"flagged": [str(n) for n in range(20)]}), settings)  # 20%: at it
    assert over_cap(tally("products", 100, {"flagged": [str(n) for n in range(21)]}), settings)
    assert over_cap(tally("products", 3, {"gone": ["A"]}), ValidationSettings(delete_cap_min_items=0))


def test_flagged_delete_counts_once_against_what_stock2shop_holds_as_active(staged: Path) -> None:
    held = _held(_tees(20))
    now = _validated(_tees(20, deleted=range(12)), "run1")

    count = count_deletes("products", now, held, S2S)

    assert (count.held, count.gone, count.flagged, count.linked, count.share) == (20, 0, 12, 0, 0.6)
    assert dict(count.samples)["flagged"][:2] == ("TEE-00", "TEE-01")
    # Once sent inactive (the stored fingerprint is the inactive line), the same rows count no more.
    already = _held(_tees(20, deleted=range(12)))
    assert count_deletes("products", now, already, S2S).total == 0
    # A Delete row Stock2Shop never held deletes nothing.
    assert count_deletes("products", now, _held(_tees(20)[12:]), S2S).total == 0


def test_gone_and_flagged_add_up_and_a_window_never_counts_gone(staged: Path) -> None:
    held = _held(_tees(30))
    rows = _tees(20, deleted=range(5))  # 10 left the source, 5 flagged Delete
    assert count_deletes("products", _validated(rows, "full"), held, S2S).by_cause() == {
        "gone": 10,
        "flagged": 5,
        "linked": 0,
    }
    windowed = _validated(rows, "window", complete=False)
    assert count_deletes("products", windowed, held, S2S).by_cause() == {"gone": 0, "flagged": 5, "linked": 0}


def test_a_delete_that_came_through_a_linked_source_is_counted_as_such(staged: Path) -> None:
    held = _held(_tees(20))
    merged = _tees(20, deleted=range(12))
    primary = staging.write_frame(canonical(*_tees(20, deleted=range(4))), staging.run_folder("shop", "m") / "p.pq")

    count = count_deletes("products", _validated(merged, "merged", primary_path=primary), held, S2S)

    assert (count.flagged, count.linked) == (4, 8)
    assert DeleteCount.from_dict(count.as_dict()) == count


def test_the_approval_texts_name_the_source_the_entity_the_causes_and_a_sample() -> None:
    settings = ValidationSettings()
    count = tally("products", 38, {"flagged": [f"SKU-{n:02d}" for n in range(30)], "gone": ["OLD-1"]})

    assert approval_subject("shop", count) == "Stock2Shop source shop: delete 31 of 38 products?"
    body = approval_body("shop", count, settings)
    assert "**31** of the **38** products" in body
    assert "**81.6%**" in body
    assert "* 30 flagged Delete by the source's status field: `SKU-00`" in body
    assert "and 20 more" in body
    assert "* 1 no longer returned by a complete read: `OLD-1`" in body
    assert "24 hours" in body
    message = refusal("shop", count, settings, "rejected by admin")
    assert message.startswith("source 'shop': deletes of products rejected by admin: 31 of the 38 products")
    assert "nothing of products was uploaded" in message


def test_the_upload_refuses_deletes_above_the_cap_unless_approved(staged: Path) -> None:
    config = SourceConfig.model_validate(
        {
            "source_id": "shop",
            "type": "custom_database",
            "connection": {"conn_id": "x"},
            "stock2shop": {"source_id": S2S},
        }
    )
    upload(config, "products", _validated(_tees(20), "first"), FailingHook(accept=100))
    flagged = _validated(_tees(20, deleted=range(12)), "second")
    hook = FailingHook(accept=100)

    with pytest.raises(DeletesRefused, match=r"deletes of products not approved: 12 of the 20 products .*60\.0%"):
        upload(config, "products", flagged, hook)
    assert hook.sent == []
    assert upload(config, "products", flagged, hook, dry_run=True)["deletes"]["total"] == 12

    result = upload(config, "products", flagged, hook, deletes_approved=True)
    assert (result["changed"], len(hook.sent), result["deletes"]["flagged"]) == (12, 12, 12)
    assert FingerprintStore().load("shop", "products").height == 20


def test_on_delete_cap_takes_approve_or_fail_only() -> None:
    assert ValidationSettings(on_delete_cap="fail").on_delete_cap == "fail"
    with pytest.raises(ValueError, match="on_delete_cap"):
        ValidationSettings(on_delete_cap="ask")  # type: ignore[arg-type]


class _TI:
    def __init__(self, validated: dict[str, Any]) -> None:
        self.validated, self.id = validated, "ti-1"

    def xcom_pull(self, task_ids: str) -> dict[str, Any]:
        assert task_ids == "validate_products"
        return self.validated


def _approval(sources_dir: Path, **validation: Any) -> Any:
    from datetime import timedelta

    from stock2shop_sync.operators.approval import DeleteApprovalOperator
    from tests.conftest import write_source

    path = write_source(sources_dir, "shop", conn_id="x", driver="SQLite3", s2s_source_id=S2S, validation=validation)
    return DeleteApprovalOperator(
        task_id="approve_deletes_products",
        config_path=str(path),
        entity="products",
        upstream_task_id="validate_products",
        response_timeout=timedelta(hours=24),
    )


_OVER = tally("products", 33, {"flagged": [f"SKU-{n:02d}" for n in range(20)]}).as_dict()


def test_the_approval_returns_at_once_within_the_cap_and_asks_above_it(
    sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import TaskAwaitingInput

    asked: list[dict[str, Any]] = []
    monkeypatch.setattr("airflow.providers.standard.operators.hitl.upsert_hitl_detail", lambda **kw: asked.append(kw))
    operator = _approval(sources_dir)
    within = tally("products", 33, {"gone": ["A", "B"]}).as_dict()

    assert operator.execute({"ti": _TI({"deletes": within}), "params": {}})["needed"] is False
    assert operator.execute({"ti": _TI({"deletes": _OVER}), "params": {"dry_run": True}})["dry_run"] is True
    assert asked == []
    with pytest.raises(TaskAwaitingInput):
        operator.execute({"ti": _TI({"deletes": _OVER}), "params": {}, "task_instance": _TI({})})
    [request] = asked
    assert request["subject"] == "Stock2Shop source shop: delete 20 of 33 products?"
    assert request["options"] == ["Approve", "Reject"]


def test_a_rejection_or_a_timeout_fails_the_task_with_the_reason_and_approval_lets_the_upload_send(
    sources_dir: Path,
) -> None:
    from datetime import UTC, datetime

    from airflow.sdk.exceptions import AirflowFailException

    operator, context = _approval(sources_dir), {"ti": _TI({"deletes": _OVER}), "params": {}}
    answer = {"params_input": {}, "responded_at": datetime.now(UTC), "responded_by_user": {"id": "1", "name": "ann"}}

    with pytest.raises(AirflowFailException, match="deletes of products rejected by ann: 20 of the 33 products"):
        operator.execute_complete(context, {**answer, "chosen_options": ["Reject"]})
    with pytest.raises(AirflowFailException, match="deletes of products not approved: no approval within 24 hours"):
        operator.execute_complete(context, {"error": "timed out", "error_type": "timeout"})
    approved = operator.execute_complete(context, {**answer, "chosen_options": ["Approve"]})
    assert (approved["approved"], approved["approved_by"], approved["total"]) == (True, "ann", 20)


def test_on_delete_cap_fail_fails_at_once_without_asking(sources_dir: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    operator = _approval(sources_dir, on_delete_cap="fail")
    with pytest.raises(AirflowFailException, match=r"deletes of products refused \(on_delete_cap: fail\): 20 of"):
        operator.execute({"ti": _TI({"deletes": _OVER}), "params": {}})
