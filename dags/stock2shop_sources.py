"""Airflow DAG factory entry point: one Stock2Shop sync DAG per ``include/sources/*.yaml``.

All logic lives in the installed ``stock2shop_sync`` package (``src/``); see its ``factory`` module.
"""

from __future__ import annotations

from stock2shop_sync.factory import build_dags

globals().update(build_dags())
