"""Alerts for a source, built from its ``alerts`` config with Airflow's own notifiers.

* task failures: ``on_failure_callback`` of every task, with the source, task, run, try, error and a link to
  the log (``SmtpNotifier``, ``SlackWebhookNotifier``, ``HttpNotifier``);
* data-quality warnings: sent by the ``report`` task when a run succeeded but quarantined rows.

Messages are Jinja templates rendered with the task's context, as every Airflow notifier's are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import BaseNotifier

    from stock2shop_sync.config import AlertSettings, SourceConfig

FAILURE_SUBJECT = "[Stock2Shop] {{ dag.dag_id }}: {{ ti.task_id }} failed"
FAILURE_TEXT = (
    "Stock2Shop source {source_id} ({source_type}): task {{{{ ti.task_id }}}} failed in run {{{{ run_id }}}} "
    "(try {{{{ ti.try_number }}}}).\nError: {{{{ exception }}}}\nLog: {{{{ ti.log_url }}}}"
)
QUALITY_SUBJECT = "[Stock2Shop] {source_id}: rows quarantined"


def _notifiers(alerts: AlertSettings, subject: str, text: str, payload: dict[str, Any]) -> list[BaseNotifier]:
    notifiers: list[BaseNotifier] = []
    if alerts.email is not None:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        html = "<pre>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</pre>"
        notifiers.append(
            SmtpNotifier(
                to=alerts.email.to,
                from_email=alerts.email.from_email,
                subject=subject,
                html_content=html,
                smtp_conn_id=alerts.email.conn_id,
            )
        )
    if alerts.slack is not None:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        notifiers.append(SlackWebhookNotifier(slack_webhook_conn_id=alerts.slack.conn_id, text=text))
    if alerts.webhook is not None:
        from airflow.providers.http.notifications.http import HttpNotifier

        notifiers.append(
            HttpNotifier(
                http_conn_id=alerts.webhook.conn_id,
                endpoint=alerts.webhook.endpoint,
                json={**payload, "text": text},
                headers={"Content-Type": "application/json"},
            )
        )
    return notifiers


def failure_notifiers(config: SourceConfig) -> list[BaseNotifier]:
    """Notifiers for any failed task of ``config``'s DAG (empty when no alerts are configured)."""
    text = FAILURE_TEXT.format(source_id=config.source_id, source_type=config.type)
    payload = {
        "event": "task_failed",
        "source_id": config.source_id,
        "dag_id": "{{ dag.dag_id }}",
        "task_id": "{{ ti.task_id }}",
        "run_id": "{{ run_id }}",
        "try_number": "{{ ti.try_number }}",
        "error": "{{ exception }}",
        "log_url": "{{ ti.log_url }}",
    }
    return _notifiers(config.alerts, FAILURE_SUBJECT, text, payload)


def quality_notifiers(config: SourceConfig, summary: dict[str, Any]) -> list[BaseNotifier]:
    """Notifiers for a run that succeeded but quarantined rows; empty when nothing was quarantined."""
    if not config.alerts.quality_warnings:
        return []
    counts = {e: c.get("quarantined", 0) for e, c in summary.get("entities", {}).items() if c.get("quarantined")}
    if not counts:
        return []
    detail = ", ".join(f"{n} {entity}" for entity, n in counts.items())
    reports = ", ".join(str(c["quarantine_report"]) for c in summary["entities"].values() if c.get("quarantined"))
    text = (
        f"Stock2Shop source {config.source_id}: run {summary['run_id']} succeeded but quarantined {detail} "
        f"(not sent). Reasons per row and field: {reports}"
    )
    payload = {
        "event": "data_quality",
        "source_id": config.source_id,
        "run_id": summary["run_id"],
        "quarantined": counts,
    }
    return _notifiers(config.alerts, QUALITY_SUBJECT.format(source_id=config.source_id), text, payload)
