"""Thin Airflow operators for each step of a source's sync.

Each operator loads the source's config from its file at run time, calls one function of
:mod:`stock2shop_sync.pipeline` and returns paths and counts for XCom. Errors that retrying cannot fix
(a broken config or mapping, bad data past the threshold, refused credentials, a 4xx answer) fail the task
at once; transient ones (network, 5xx, 429 after retries) let Airflow's retries run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from stock2shop_sync.config import SourceConfig


def _load(config_path: str) -> SourceConfig:
    from stock2shop_sync.config import ConfigError, load_source

    try:
        return load_source(config_path)
    except ConfigError as exc:
        raise AirflowFailException(f"invalid source config: {exc}") from None


def _params(context: Context) -> dict[str, Any]:
    return dict(context.get("params") or {})


def _skip_unless_selected(context: Context, entity: str) -> None:
    """Manual runs may pick entities (param ``entities``); the others' tasks are skipped, not failed."""
    selected = _params(context).get("entities")
    if selected and entity not in selected:
        raise AirflowSkipException(f"{entity} not selected in this run (entities={selected})")


def _window(config: SourceConfig, context: Context) -> tuple[Any, Any]:
    from stock2shop_sync import pipeline

    dag_run = context.get("dag_run")
    return pipeline.resolve_window(
        config,
        _params(context),
        (context.get("data_interval_start"), context.get("data_interval_end")),
        getattr(dag_run, "run_after", None),
    )


def _fail_fast(exc: Exception) -> bool:
    from stock2shop_sync.config import ConfigError
    from stock2shop_sync.connectors.sql import QueryTimeout
    from stock2shop_sync.hooks.stock2shop import Stock2ShopError
    from stock2shop_sync.model.canonical import MappingError
    from stock2shop_sync.model.orders import OrderError
    from stock2shop_sync.model.validation import ValidationFailed
    from stock2shop_sync.redact import SourceAuthError

    if isinstance(exc, (ConfigError, MappingError, ValidationFailed, OrderError, SourceAuthError, QueryTimeout)):
        return True
    if type(exc).__name__ == "AirflowNotFoundException":  # a connection that does not exist: retrying cannot help
        return True
    return isinstance(exc, Stock2ShopError) and not exc.retryable


class _SourceStepOperator(BaseOperator):
    """Base for a step of one source's sync for one entity."""

    template_fields: Sequence[str] = ("config_path", "entity")
    ui_color = "#e8f4fd"

    def __init__(self, *, config_path: str, entity: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config_path = config_path
        self.entity = entity

    def run_step(self, config: SourceConfig, context: Context) -> dict[str, Any]:
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, Any]:
        config = _load(self.config_path)
        try:
            return self.run_step(config, context)
        except Exception as exc:
            if _fail_fast(exc):
                raise AirflowFailException(str(exc)) from exc
            raise


class SourceExtractOperator(_SourceStepOperator):
    """Extract one entity from a source into a staged canonical Parquet frame."""

    ui_color = "#d4edda"

    def run_step(self, config: SourceConfig, context: Context) -> dict[str, Any]:
        from stock2shop_sync import pipeline

        _skip_unless_selected(context, self.entity)
        try:
            since, until = _window(config, context)
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from None
        return pipeline.extract(config, self.entity, context["run_id"], since=since, until=until)


class ValidateOperator(_SourceStepOperator):
    """Validate a staged frame against Stock2Shop's field contracts; quarantine invalid rows."""

    ui_color = "#fff3cd"

    def __init__(self, *, upstream_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.upstream_task_id = upstream_task_id

    def run_step(self, config: SourceConfig, context: Context) -> dict[str, Any]:
        from stock2shop_sync import pipeline

        extracted = context["ti"].xcom_pull(task_ids=self.upstream_task_id)
        return pipeline.validate(config, self.entity, extracted, context["run_id"])


class MergeLinkedOperator(_SourceStepOperator):
    """Merge linked sources' owned fields onto the primary's extracted products."""

    ui_color = "#d1ecf1"

    def __init__(self, *, upstream_task_id: str, linked: dict[str, str], **kwargs: Any) -> None:
        """:param linked: linked source config path -> the task id that extracted it."""
        super().__init__(**kwargs)
        self.upstream_task_id = upstream_task_id
        self.linked = linked

    def run_step(self, config: SourceConfig, context: Context) -> dict[str, Any]:
        from stock2shop_sync import pipeline

        ti = context["ti"]
        linked = [(_load(path), ti.xcom_pull(task_ids=task_id)) for path, task_id in self.linked.items()]
        return pipeline.merge(config, ti.xcom_pull(task_ids=self.upstream_task_id), linked, context["run_id"])


class Stock2ShopUploadOperator(_SourceStepOperator):
    """Upload validated rows of one entity to Stock2Shop's queue.

    :param upstream_task_id: the validate task, whose output it uploads.
    :param approval_task_id: the task that approved deletes above the cap
        (:class:`~stock2shop_sync.operators.approval.DeleteApprovalOperator`), if any.
    """

    ui_color = "#f8d7da"

    def __init__(self, *, upstream_task_id: str, approval_task_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.upstream_task_id = upstream_task_id
        self.approval_task_id = approval_task_id

    def run_step(self, config: SourceConfig, context: Context) -> dict[str, Any]:
        from stock2shop_sync import pipeline
        from stock2shop_sync.hooks.stock2shop import Stock2ShopHook
        from stock2shop_sync.state import StateStore

        validated = context["ti"].xcom_pull(task_ids=self.upstream_task_id)
        approval = (context["ti"].xcom_pull(task_ids=self.approval_task_id) if self.approval_task_id else None) or {}
        hook = Stock2ShopHook(config.stock2shop.conn_id)
        try:
            params = _params(context)
            return pipeline.upload(
                config,
                self.entity,
                validated,
                hook,
                StateStore(),
                dry_run=bool(params.get("dry_run")),
                full_sync=bool(params.get("full_sync")),
                deletes_approved=bool(approval.get("approved")),
            )
        finally:
            hook.close()


class PushOrdersOperator(BaseOperator):
    """Raise a source's pending Stock2Shop orders in the source, exactly once, and acknowledge them.

    Every order is tried; then, if any failed, the task fails with their list (so alerts fire). It fails at
    once (no Airflow retry) when every failure is one retrying cannot fix; transient failures let the task
    retry, and the ledger makes a retry safe.
    """

    template_fields: Sequence[str] = ("config_path",)
    ui_color = "#e0d4f7"

    def __init__(self, *, config_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config_path = config_path

    def execute(self, context: Context) -> dict[str, Any]:
        from stock2shop_sync import pipeline
        from stock2shop_sync.state import StateStore

        config = _load(self.config_path)
        _skip_unless_selected(context, "orders")
        dry_run = bool(_params(context).get("dry_run"))
        try:
            result = pipeline.push_orders(config, store=StateStore(), dry_run=dry_run)
        except Exception as exc:
            if _fail_fast(exc):
                raise AirflowFailException(str(exc)) from exc
            raise
        # Transient failures are retried by the next runs on their own; the task fails (and alerts) for a refusal
        # of an order's data, which needs a person, and for a transient failure that has lasted too long.
        problems = [p for p in result["problems"] if not p["transient"] or p["overdue"]]
        for waiting in (p for p in result["problems"] if p not in problems):
            self.log.warning(
                "%s: %s, retried by a later run: %s", waiting["order"], waiting["outcome"], waiting["error"]
            )
        if problems:
            context["ti"].xcom_push(key="return_value", value=result)  # the run report still sees the counts
            listing = "; ".join(f"{p['order']}: {p['outcome']}: {p['error']}" for p in problems[:20])
            message = f"{len(problems)} order(s) of {config.source_id} not raised: {listing}"
            if not any(p["transient"] for p in problems):
                raise AirflowFailException(message)
            raise RuntimeError(
                f"{message} (failing for more than {config.orders.alert_after_minutes} minutes; still retried)"
            )
        return result


class SyncReportOperator(BaseOperator):
    """Write the run's report whatever its steps did, log it, and fail when a step failed.

    It runs with ``trigger_rule="all_done"``: a run whose products synced and whose customers failed still gets a
    report with the products' counts. It reads each step's state through the Task SDK (a task cannot query the
    metadata database in Airflow 3) and its output through XCom, and writes per-step states, a status per entity
    and the counts of the steps that ran (:func:`stock2shop_sync.pipeline.report`). Then it raises
    :class:`AirflowFailException` naming the failed steps, so the run is still marked failed.

    :param config_path: the source's config file.
    :param steps: each entity's task ids in the order they run (``"orders"``: the orders push).
    """

    template_fields: Sequence[str] = ("config_path",)
    ui_color = "#e2e3e5"

    def __init__(self, *, config_path: str, steps: dict[str, list[str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config_path = config_path
        self.steps = steps

    def _states(self, context: Context, task_ids: list[str]) -> dict[str, str | None]:
        """Each step's state in this run, from the Execution API (``None``: no state, e.g. never scheduled)."""
        ti = context["ti"]
        found = ti.get_task_states(dag_id=ti.dag_id, task_ids=task_ids, run_ids=[ti.run_id]).get(ti.run_id) or {}
        states = {task_id: found.get(task_id) for task_id in task_ids}
        return {task_id: str(getattr(state, "value", state)) if state else None for task_id, state in states.items()}

    def execute(self, context: Context) -> dict[str, Any]:
        from stock2shop_sync import pipeline

        config = _load(self.config_path)
        ti = context["ti"]
        task_ids = [task_id for task_ids in self.steps.values() for task_id in task_ids]
        states = self._states(context, task_ids)
        # A failed step may still have pushed its output (push_orders does before failing): counts are kept.
        outputs = {task_id: ti.xcom_pull(task_ids=task_id) for task_id in task_ids}
        summary = pipeline.report(config, context["run_id"], outputs, states=states, plan=self.steps)
        if summary["state"] == "failed":
            not_run = [task_id for task_id, state in summary["steps"].items() if state == "upstream_failed"]
            raise AirflowFailException(
                f"steps failed: {', '.join(summary['failed_steps']) or '(none itself)'}"
                + (f"; not run because of them: {', '.join(not_run)}" if not_run else "")
                + f" (run report: {summary['report']})"
            )
        from stock2shop_sync.notifications import quality_notifiers

        for notifier in quality_notifiers(config, summary):
            try:
                notifier(context)
            except Exception:
                self.log.exception("could not send the data-quality warning through %s", type(notifier).__name__)
        return summary


class ConfigErrorOperator(BaseOperator):
    """Stands in for a source whose config is broken: fails with the config error, so it shows in the UI."""

    ui_color = "#f5c6cb"

    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def execute(self, context: Context) -> None:
        raise AirflowFailException(f"invalid source config: {self.error}")
