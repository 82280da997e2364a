"""Build one Airflow DAG per source config. No database or network I/O happens here (parse time).

A source's DAG, per entity it syncs and in a task group named for it: ``extract_<entity> >> validate_<entity> >>
approve_deletes_<entity> >> upload_<entity>`` (the approval asks a person only when the run would delete more than
the cap, see :mod:`stock2shop_sync.deletes`); then ``push_orders`` (sources that take orders) and ``report``, which
runs whatever happened before it and fails the run when a step failed. Uploads run one after another because a
new Stock2Shop login invalidates older tokens.

A broken config never hides the other sources: it becomes a DAG of its own, tagged ``config-error``, whose
description and docs carry the error and whose only task fails with it, in a run of its own as soon as the
scheduler sees it. ``make check-config`` prints the same errors from the command line.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, CronDataIntervalTimetable, Param, TaskGroup

from stock2shop_sync.config import ConfigError, SourceConfig, linked_sources, load_all
from stock2shop_sync.operators.approval import DeleteApprovalOperator
from stock2shop_sync.operators.sync import (
    ConfigErrorOperator,
    MergeLinkedOperator,
    PushOrdersOperator,
    SourceExtractOperator,
    Stock2ShopUploadOperator,
    SyncReportOperator,
    ValidateOperator,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger(__name__)

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
DEFAULT_ARGS = {
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=15),
}


def _location(config: SourceConfig) -> str:
    if config.connection is not None:
        return f"connection `{config.connection.conn_id}`"
    if config.file is not None:
        return f"file `{config.file.path}`"
    if config.sheet is not None:
        return f"sheet `{config.sheet.csv_url or config.sheet.spreadsheet}`"
    return "(nothing)"


def connection_ids(config: SourceConfig) -> list[str]:
    """The Airflow connections a source reads, writes orders and uploads through, sorted and without repeats."""
    ids = {
        config.connection.conn_id if config.connection else None,
        config.orders.conn_id,
        config.stock2shop.conn_id if config.stock2shop else None,
    }
    return sorted(i for i in ids if i)


def connection_env_var(conn_id: str) -> str:
    """The environment variable Airflow reads connection ``conn_id`` from (``AIRFLOW_CONN_<CONN_ID>``)."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def env_connections(config: SourceConfig) -> dict[str, str]:
    """The source's connections that are set by an environment variable of this process: conn_id -> variable.

    Airflow looks connections up in the environment before the metadata database, so such a connection cannot be
    changed on the UI's Connections page. Only the environment is read (safe at parse time).
    """
    return {c: connection_env_var(c) for c in connection_ids(config) if os.environ.get(connection_env_var(c))}


def _doc(config: SourceConfig) -> str:
    shadowed = "".join(
        f"* connection `{conn_id}` comes from the environment variable {var}: edits on the UI's Connections page "
        "are not used\n"
        for conn_id, var in env_connections(config).items()
    )
    return (
        f"### Stock2Shop source `{config.source_id}`\n\n{config.description}\n\n"
        f"* type: `{config.type}` (mapping `{config.mapping_name}`)\n"
        f"* Stock2Shop source id: `{config.stock2shop.source_id}` via connection `{config.stock2shop.conn_id}`\n"
        f"* reads from: {_location(config)}\n"
        f"* entities: {', '.join(config.entities)}\n"
        f"* config file: `{config.path}`\n"
        f"{shadowed}"
    )


def _display_name(config: SourceConfig) -> str:
    """The name the UI lists the DAG under: the source's description, then its id (the dag id stays ``s2s_<id>``)."""
    description = " ".join(config.description.split())
    if len(description) > 150:
        description = description[:149].rstrip() + "…"
    return f"{description} ({config.source_id})" if description else config.source_id


def _params(config: SourceConfig) -> dict[str, Param]:
    """The trigger form of a source's DAG. Every param has a default, so scheduled runs need none of them."""
    entities = [*config.entities, *(["orders"] if config.orders.enabled else [])]
    return {
        "full_sync": Param(
            False,
            type="boolean",
            title="Full sync",
            description=(
                "Read every record, not only those changed in the run's window, and send every item to "
                "Stock2Shop even when its fingerprint says it has not changed (repairs drift)."
            ),
            section="What to sync",
        ),
        # `examples` makes the trigger form show a multi-select of these (it reads `examples`, or a top-level
        # `enum`, of an array param; an `enum` only on the items gives a free-text box); `items.enum` still
        # refuses a name that is not one of them.
        "entities": Param(
            entities,
            type="array",
            items={"type": "string", "enum": entities},
            examples=entities,
            uniqueItems=True,
            title="Entities",
            description="Which entities this run syncs; the others' tasks are skipped.",
            section="What to sync",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Extract, merge and validate, and report what would be sent; send nothing, raise no order.",
            section="What to sync",
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Changed since",
            description="Start of the window of changes to extract (overrides the run's data interval).",
            section="Window",
        ),
        "until": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Changed until",
            description="End of the window (exclusive). Leave both empty for the run's own interval.",
            section="Window",
        ),
    }


def _pool(name: str | None) -> dict[str, Any]:
    return {"pool": name} if name else {}


def _alerting(config: SourceConfig) -> dict[str, Any]:
    from stock2shop_sync.notifications import failure_notifiers

    notifiers = failure_notifiers(config) if config.alerts.any else []
    return {"on_failure_callback": notifiers} if notifiers else {}


def build_source_dag(
    config: SourceConfig, linked: list[SourceConfig] | None = None, broken_links: list[ConfigError] | None = None
) -> DAG:
    """The DAG ``s2s_<source_id>`` for one valid primary source config and its linked sources.

    With linked sources, products go ``extract_products`` + ``extract_linked_<id>`` -> ``merge_products`` ->
    ``validate_products``. A linked source whose config is broken holds the products back (a task that fails
    with its error) rather than letting the primary overwrite the fields it owns.
    """
    linked = linked or []
    broken_links = broken_links or []
    schedule = CronDataIntervalTimetable(config.schedule, timezone="UTC") if config.schedule else None
    with DAG(
        dag_id=config.dag_id,
        dag_display_name=_display_name(config),
        description=config.description or f"Sync {config.type} source {config.source_id} into Stock2Shop",
        doc_md=_doc(config),
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=config.paused,
        params=_params(config),
        tags=sorted({"stock2shop", config.type, *config.tags}),
        default_args={**DEFAULT_ARGS, "owner": config.owner, **_alerting(config)},
        dagrun_timeout=timedelta(minutes=config.timeouts.run_minutes),
    ) as dag:
        limits = config.timeouts
        # Each entity's tasks in the order they run (an entity's task group), then the orders push: what the
        # report reads the state and output of.
        steps: dict[str, list[str]] = {}
        previous_upload = None
        for entity in config.entities:
            common = {"config_path": config.path, "entity": entity}
            # No group prefix: task ids stay `extract_products` etc., which XCom pulls and the report rely on.
            with TaskGroup(group_id=entity, prefix_group_id=False, tooltip=f"sync {entity} of {config.source_id}"):
                extract = SourceExtractOperator(
                    task_id=f"extract_{entity}",
                    execution_timeout=timedelta(minutes=limits.extract_minutes),
                    **_pool(config.read_pool),
                    **common,
                )
                entity_steps = [extract.task_id]
                before_validate = extract
                if entity == "products" and (linked or broken_links):
                    extracts = {
                        other.path: SourceExtractOperator(
                            task_id=f"extract_linked_{other.source_id}",
                            config_path=other.path,
                            entity="products",
                            execution_timeout=timedelta(minutes=other.timeouts.extract_minutes),
                            **_pool(other.read_pool),
                        )
                        for other in linked
                    }
                    before_validate = MergeLinkedOperator(
                        task_id="merge_products",
                        upstream_task_id=extract.task_id,
                        linked={path: task.task_id for path, task in extracts.items()},
                        execution_timeout=timedelta(minutes=limits.merge_minutes),
                        **common,
                    )
                    [extract, *extracts.values()] >> before_validate
                    entity_steps += [task.task_id for task in extracts.values()]
                    for error in broken_links:
                        stem = "".join(ch if ch.isalnum() else "_" for ch in Path(error.file).stem.lower())
                        held = ConfigErrorOperator(task_id=f"linked_config_error_{stem}", error=str(error))
                        held >> before_validate
                        entity_steps.append(held.task_id)
                    entity_steps.append(before_validate.task_id)
                validate = ValidateOperator(
                    task_id=f"validate_{entity}",
                    upstream_task_id=before_validate.task_id,
                    execution_timeout=timedelta(minutes=limits.validate_minutes),
                    **common,
                )
                approve = DeleteApprovalOperator(
                    task_id=f"approve_deletes_{entity}",
                    upstream_task_id=validate.task_id,
                    response_timeout=timedelta(hours=config.validation.delete_approval_hours),
                    # Its own work (reading validate's count) is as short as the report's; the wait is not in it.
                    execution_timeout=timedelta(minutes=limits.report_minutes),
                    **common,
                )
                upload = Stock2ShopUploadOperator(
                    task_id=f"upload_{entity}",
                    upstream_task_id=validate.task_id,
                    approval_task_id=approve.task_id,
                    execution_timeout=timedelta(minutes=limits.upload_minutes),
                    **_pool(config.upload_pool),
                    **common,
                )
                before_validate >> validate >> approve >> upload
            if previous_upload is not None:
                previous_upload >> upload
            previous_upload = upload
            steps[entity] = [*entity_steps, validate.task_id, approve.task_id, upload.task_id]
        if config.orders.enabled:
            # Orders flow even when the catalogue sync failed: they wait for it, never on it.
            # One push of a source at a time (make pools creates the pool); exactly-once rests on the ledger's claims.
            push = PushOrdersOperator(
                task_id="push_orders",
                config_path=config.path,
                trigger_rule="all_done",
                pool=config.order_pool,
                execution_timeout=timedelta(minutes=limits.orders_minutes),
            )
            dag.get_task(steps[config.entities[-1]][-1]) >> push
            steps["orders"] = [push.task_id]
        # all_done: the report runs whatever happened before it, so a run whose customers failed still says what its
        # products did. It then fails when a step failed, so the run (judged by its leaves) is failed too. It sends
        # no failure alert of its own: the failed step has sent one.
        report = SyncReportOperator(
            task_id="report",
            config_path=config.path,
            steps=steps,
            trigger_rule="all_done",
            on_failure_callback=None,
            execution_timeout=timedelta(minutes=limits.report_minutes),
        )
        # Downstream of every step (linked extracts too), so it runs only once all of them have finished.
        [dag.get_task(task_id) for task_ids in steps.values() for task_id in task_ids] >> report
    return dag


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in name.lower())


def build_error_dag(error: ConfigError, dag_id: str | None = None) -> DAG:
    """A stand-in DAG that makes a broken config visible in the UI.

    It runs once on its own (``@once``, unpaused), so its failed run shows red in the DAG list as soon as the
    scheduler sees it, without anyone triggering it. A dag id that already had scheduled runs (a source whose
    config broke later) is not run again by ``@once``; its display name and description still say CONFIG ERROR.
    """
    with DAG(
        dag_id=dag_id or f"s2s_{_safe(error.source_id or Path(error.file).stem)}",
        dag_display_name=f"CONFIG ERROR: {Path(error.file).stem}",
        description=f"CONFIG ERROR: {error}"[:200],
        doc_md=(
            f"### Invalid source config\n\n* file: `{error.file}`\n* key: `{error.key}`\n* problem: {error.problem}\n"
        ),
        schedule="@once",
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=False,
        tags=["stock2shop", "config-error"],
    ) as dag:
        ConfigErrorOperator(task_id="config_error", error=str(error))
    return dag


def build_dags(directory: Path | str | None = None) -> dict[str, DAG]:
    """Every source's DAG, keyed by dag id, plus one stand-in DAG per broken config."""
    configs, errors = load_all(directory)
    dags: dict[str, DAG] = {}
    for config in configs:
        if config.is_linked:
            continue  # a linked source is extracted inside its primary's DAG
        broken = [e for e in errors if e.holds_back(config.source_id)]
        try:
            dags[config.dag_id] = build_source_dag(config, linked_sources(configs, config), broken)
        except Exception as exc:  # one source's bug must never hide the other sources' DAGs
            log.exception("could not build the DAG of source %s", config.source_id)
            failure = ConfigError(
                config.path, "(dag)", f"the DAG could not be built: {type(exc).__name__}: {exc}", config.source_id
            )
            dags[config.dag_id] = build_error_dag(failure, config.dag_id)
    for error in errors:
        log.error("Stock2Shop source config error: %s", error)
        dag_id = f"s2s_{_safe(error.source_id or Path(error.file).stem)}"
        if dag_id in dags:  # e.g. a second file claiming a source id that a valid file already has
            dag_id = f"s2s_{_safe(Path(error.file).stem)}_config_error"
        dags[dag_id] = build_error_dag(error, dag_id)
    dags[MAINTENANCE_DAG_ID] = build_maintenance_dag()
    return dags


MAINTENANCE_DAG_ID = "s2s_maintenance"


def build_maintenance_dag() -> DAG:
    """The daily ``s2s_maintenance`` DAG: removes staging run folders older than ``S2S_STAGING_RETENTION_DAYS``
    (:mod:`stock2shop_sync.retention`); ``_state`` stays."""
    from stock2shop_sync.operators.maintenance import PruneStagingOperator

    with DAG(
        dag_id=MAINTENANCE_DAG_ID,
        description="Remove old staging run folders (staged rows hold customer data); _state stays",
        schedule=CronDataIntervalTimetable("17 3 * * *", timezone="UTC"),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["stock2shop", "maintenance"],
        default_args={**DEFAULT_ARGS, "owner": "stock2shop"},
    ) as dag:
        PruneStagingOperator(task_id="prune_staging", execution_timeout=timedelta(hours=1))
    return dag


def dag_ids(dags: Iterable[DAG]) -> list[str]:
    return sorted(d.dag_id for d in dags)
