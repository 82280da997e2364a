"""The window of changes a run extracts: params, the data interval, or a manual run's inferred interval."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stock2shop_sync.config import SourceConfig
from stock2shop_sync.pipeline import last_interval, resolve_window


def _config(schedule: str | None = "@hourly", overlap: int = 5) -> SourceConfig:
    return SourceConfig.model_validate(
        {
            "source_id": "shop",
            "type": "custom_database",
            "connection": {"conn_id": "x"},
            "stock2shop": {"source_id": 1},
            "schedule": schedule,
            "api": {"overlap_minutes": overlap},
        }
    )


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_a_scheduled_run_extracts_its_interval_with_the_overlap() -> None:
    assert resolve_window(_config(), {}, (at(3, 10), at(3, 11))) == (at(3, 9, 55), at(3, 11))


def test_full_sync_reads_everything_and_params_override_the_interval() -> None:
    assert resolve_window(_config(), {"full_sync": True}, (at(3, 10), at(3, 11))) == (None, None)
    window = resolve_window(_config(), {"since": "2026-11-01T00:00:00Z", "until": "2026-11-02"}, (at(3), at(4)))
    assert window == (at(1), at(2))
    with pytest.raises(ValueError, match=r"param since .* must be before until"):
        resolve_window(_config(), {"since": "2026-11-02", "until": "2026-11-01"}, (None, None))
    with pytest.raises(ValueError, match="param since must be an ISO date-time, not 'last week'"):
        resolve_window(_config(), {"since": "last week"}, (None, None))


def test_a_manual_run_without_a_logical_date_takes_the_last_complete_interval() -> None:
    run_after = at(22, 14, 30)

    assert resolve_window(_config("@hourly"), {}, (None, None), run_after) == (at(22, 12, 55), at(22, 14))
    assert resolve_window(_config("0 2 * * *", overlap=0), {}, (None, None), run_after) == (at(21, 2), at(22, 2))
    assert resolve_window(_config(None), {}, (None, None), run_after) == (None, None)  # manual-only: everything
    assert last_interval("@daily", at(22)) == (at(21), at(22))  # on a tick: the interval that just ended
    assert last_interval("@daily", at(22, 0, 1)) == (at(21), at(22))
