"""Operators of the ``s2s_maintenance`` DAG."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class PruneStagingOperator(BaseOperator):
    """Remove staging run folders older than ``S2S_STAGING_RETENTION_DAYS`` (default 14); ``_state`` stays."""

    ui_color = "#e2e3e5"

    def execute(self, context: Context) -> dict[str, Any]:
        from stock2shop_sync.retention import prune_staging, retention_days
        from stock2shop_sync.staging import staging_root

        days = retention_days()
        report = prune_staging(staging_root(), older_than=timedelta(days=days))
        self.log.info("staging older than %d days: %s", days, report.summary())
        return {"days": days, "removed": len(report.removed), "kept": report.kept, "bytes": report.bytes_removed}
