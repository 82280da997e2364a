"""The ``approve_deletes_<entity>`` task: between validate and upload, a person approves deletes above the cap.

Built on Airflow's human-in-the-loop :class:`ApprovalOperator`. Within the cap (or in a dry run, which sends
nothing) it returns at once, writing no HITL record. Above it, it asks with a subject naming the source and
entity and a body from :func:`stock2shop_sync.deletes.approval_body`, and the task waits (``awaiting_input``)
until someone answers in the UI's "Required actions" or through the REST API, or until
``validation.delete_approval_hours`` pass. ``validation.on_delete_cap: fail`` fails it instead of asking.

Unlike :class:`ApprovalOperator`, which skips what follows on Reject, a rejection or a timeout fails the task:
the upload does not run (``upstream_failed``), and the run report and alerts see a failure with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import timedelta

    from airflow.sdk import Context

    from stock2shop_sync.config import SourceConfig
    from stock2shop_sync.deletes import DeleteCount


class DeleteApprovalOperator(ApprovalOperator):
    """Ask a person to approve one entity's deletes when they pass the cap; fail the run when refused.

    :param config_path: the source's config file.
    :param entity: ``products`` or ``customers``.
    :param upstream_task_id: the validate task, whose output carries the delete count (``deletes``).
    :param response_timeout: how long to wait for an answer (``validation.delete_approval_hours``).
    """

    template_fields: Sequence[str] = ("config_path", "entity")
    ui_color = "#fde2b8"

    def __init__(
        self,
        *,
        config_path: str,
        entity: str,
        upstream_task_id: str,
        response_timeout: timedelta,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            subject=f"Approve deletes of {entity}",  # replaced by the count's subject when it asks
            response_timeout=response_timeout,
            retries=0,  # an answer is final; a retry would ask again
            **kwargs,
        )
        self.config_path = config_path
        self.entity = entity
        self.upstream_task_id = upstream_task_id

    def _count(self, context: Context) -> tuple[SourceConfig, DeleteCount | None]:
        from stock2shop_sync.deletes import DeleteCount
        from stock2shop_sync.operators.sync import _load

        config = _load(self.config_path)
        validated = context["ti"].xcom_pull(task_ids=self.upstream_task_id) or {}
        found = validated.get("deletes")
        return config, DeleteCount.from_dict(found) if found else None

    def execute(self, context: Context) -> dict[str, Any]:
        from stock2shop_sync.deletes import approval_body, approval_subject, over_cap, refusal

        config, count = self._count(context)
        settings = config.validation
        if count is None or not over_cap(count, settings):
            self.log.info("deletes of %s within the cap: %s", self.entity, count.total if count else 0)
            return {"needed": False, **(count.as_dict() if count else {})}
        if (context.get("params") or {}).get("dry_run"):
            self.log.warning("dry run: the deletes would need approval: %s", refusal(config.source_id, count, settings,
                                                                                  "would need approval"))  # fmt: skip
            return {"needed": True, "dry_run": True, **count.as_dict()}
        if settings.on_delete_cap == "fail":
            raise AirflowFailException(refusal(config.source_id, count, settings, "refused (on_delete_cap: fail)"))
        self.subject = approval_subject(config.source_id, count)
        self.body = approval_body(config.source_id, count, settings)
        super().execute(context)  # records the request and parks the task until an answer or the timeout
        return {}  # not reached: the task resumes in execute_complete

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        from stock2shop_sync.deletes import refusal

        config, count = self._count(context)
        assert count is not None  # it asked because validate counted deletes
        settings = config.validation
        if event.get("error_type") == "timeout":
            why = f"not approved: no approval within {settings.delete_approval_hours:g} hours"
            raise AirflowFailException(refusal(config.source_id, count, settings, why))
        # The base class checks the answer; ApprovalOperator's own handling would skip the upload on Reject.
        answer = HITLOperator.execute_complete(self, context=context, event=event)
        user = answer.get("responded_by_user") or {}
        who = user.get("name") or user.get("id") or "(unknown)"
        if answer["chosen_options"][0] != self.APPROVE:
            raise AirflowFailException(refusal(config.source_id, count, settings, f"rejected by {who}"))
        self.log.info("deletes of %s approved by %s", self.entity, who)
        responded = answer.get("responded_at")
        return {
            "needed": True,
            "approved": True,
            "approved_by": who,
            "responded_at": responded.isoformat() if hasattr(responded, "isoformat") else responded,
            **count.as_dict(),
        }
